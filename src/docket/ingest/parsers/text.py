"""Plain text: the encoding is detected (UTF-8, UTF-16/32 with or without BOM, cp1252, ...)."""

from __future__ import annotations

from pathlib import PurePath

from docket.errors import ParseError
from docket.ingest.parsers import PARSERS
from docket.types import Block, ParsedDocument


def decode_text(data: bytes) -> str:
    """Decode bytes of unknown encoding; raise ParseError when they are not text at all."""
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(codec)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ParseError("binary content: not text in any known encoding")
    return str(best)


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
    name = "text"
    extensions = (".txt", ".text", ".log")

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        text = decode_text(data)
        if "\x00" in text:
            raise ParseError("binary content: the file contains NUL bytes and is not plain text")
        blocks = tuple(Block(text=p) for p in paragraphs(text))
        return ParsedDocument(blocks=blocks, title=PurePath(path).stem)
