"""Plain text: the encoding is detected (UTF-8, UTF-16/32 with or without BOM, cp1252, ...)."""

from __future__ import annotations

from pathlib import PurePath

from docket.errors import ParseError
from docket.ingest.parsers import PARSERS
from docket.types import Block, ParsedDocument


def decode_text(data: bytes) -> str:
    """Decode bytes of unknown encoding; raise ParseError when they are not text at all.

    Order: byte-order mark; UTF-16 without a BOM (NUL bytes in every other position); UTF-8;
    then detection with charset-normalizer, taking windows-1252 whenever it reads the bytes as
    cleanly as the best guess (detection often ties it with windows-1250, which garbles accents).
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec)
    head = data[:4096]
    if len(head) >= 4 and head.count(b"\x00") > len(head) // 4:
        even, odd = head[0::2].count(b"\x00"), head[1::2].count(b"\x00")
        if max(even, odd) > len(head) // 4 and min(even, odd) < len(head) // 16:
            return data.decode("utf-16-le" if odd > even else "utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise ParseError("binary content: not text in any known encoding")
    for match in matches:
        if "cp1252" in match.could_be_from_charset and match.chaos <= best.chaos:
            return data.decode("cp1252", errors="replace")
    return str(best)


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def paragraphs(text: str) -> list[str]:
    """Split on blank lines, keeping paragraphs' inner line breaks."""
    out: list[str] = []
    for para in text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n"):
        para = para.strip()
        if para:
            out.append(para)
    return out


@PARSERS.register("text")
class TextParser:
    name: str = "text"
    extensions: tuple[str, ...] = (".txt", ".text", ".log")

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        text = decode_text(data)
        if "\x00" in text:
            raise ParseError("binary content: the file contains NUL bytes and is not plain text")
        blocks = tuple(Block(text=p) for p in paragraphs(text))
        return ParsedDocument(blocks=blocks, title=PurePath(path).stem)
