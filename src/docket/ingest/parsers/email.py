"""Email: single messages (.eml, stdlib ``email`` with the modern policy) and mailboxes (.mbox).

A message gives a header block (From, To, Cc, Date, Subject; also in ``metadata``), then its body:
the text/plain alternative when there is one, else the HTML one read by the HTML parser. Attachments
are parsed through :func:`docket.ingest.parsers.parse_bytes` by their file name, and their blocks
carry ``attachment``; an attachment that cannot be read becomes a warning. Forwarded messages
(message/rfc822) are read the same way, at most ``ingest.max_attachment_depth`` messages deep (3 by
default), and at most ``ingest.max_attachments`` attachments of one message are read (see
:mod:`docket.ingest.limits`). In a mailbox every message's blocks sit under the heading path
``(subject,)``.
"""

from __future__ import annotations

import contextvars
import dataclasses
import mailbox
import mimetypes
import os
import tempfile
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import PurePath
from typing import Any, cast

from docket.errors import ParseError, UnsupportedFileError
from docket.ingest.limits import current_limits
from docket.ingest.parsers import PARSERS, parse_bytes
from docket.ingest.parsers.text import decode_text, paragraphs
from docket.types import Block, ParsedDocument

__all__ = ["MAX_DEPTH", "EmailParser"]

MAX_DEPTH = 3  # the default of ingest.max_attachment_depth; current_limits() holds the one in force
_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_ENCRYPTED = {"multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime"}
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("docket_email_depth", default=0)


@dataclasses.dataclass
class _Parsed:
    """What one message yields: its blocks, header fields, attachment names and warnings."""

    blocks: list[Block]
    metadata: dict[str, Any]
    warnings: list[str]
    subject: str


def _read(data: bytes) -> EmailMessage:
    head = data[:1024]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head.count(b"\x00") > len(head) // 4:
        data = decode_text(data).encode("utf-8")  # a whole message saved as UTF-16, with or without BOM
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(data))


def _header(message: Message, name: str) -> str:
    """A header as text; malformed headers fall back to their raw value."""
    try:
        value = message.get(name)
        text = str(value) if value is not None else ""
    except Exception:  # the header parser chokes on some malformed real-world values
        raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), "")
        text = str(raw)
    return " ".join(text.split())


def _date(message: Message) -> str:
    try:
        header = message.get("Date")
        stamp = getattr(header, "datetime", None)
    except Exception:  # unparsable dates
        stamp = None
    return stamp.isoformat() if stamp is not None else _header(message, "Date")


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # badly encoded RFC 2231 parameters
        return None
    return PurePath(str(name).replace("\\", "/")).name.strip() if name else None


def _is_attachment(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
    except Exception:
        disposition = None
    return disposition == "attachment" or _filename(part) is not None


def _is_inline_media(part: Message) -> bool:
    """Pictures and sounds shown inside the body (logos, signatures), not attached for reading."""
    try:
        disposition = part.get_content_disposition()
    except Exception:
        disposition = None
    return disposition != "attachment" and part.get_content_maintype() in ("image", "audio", "video")


def _collect(part: EmailMessage, out: list[tuple[str, EmailMessage]], warnings: list[str]) -> None:
    """Sort a message's leaf parts into ("body", part), ("attachment", part) and ("message", part)."""
    ctype = part.get_content_type()
    if ctype in _ENCRYPTED:
        warnings.append("the message body is encrypted and cannot be read")
        return
    if ctype == "message/rfc822":
        out.append(("message", part))
        return
    if part.is_multipart():
        children = [child for child in part.iter_parts() if isinstance(child, EmailMessage)]
        if ctype == "multipart/alternative":
            readable = [c for c in children if not _is_attachment(c)]
            chosen = next((c for c in readable if c.get_content_type() == "text/plain"), None)
            chosen = chosen or next((c for c in readable if c.is_multipart()), None)
            chosen = chosen or next((c for c in readable if c.get_content_type() == "text/html"), None)
            children = [chosen] if chosen is not None else children[-1:]
        for child in children:
            _collect(child, out, warnings)
        return
    if _is_attachment(part) and not _is_inline_media(part):
        out.append(("attachment", part))
    elif part.get_content_maintype() == "text" and not _is_attachment(part):
        out.append(("body", part))
    # inline images of an HTML body, logos and other unnamed parts carry no text


def _text_content(part: Message) -> str:
    """A text part's content. Valid UTF-8 wins over the declared charset, which mail software
    often gets wrong (UTF-8 labelled iso-8859-1); then the declared charset; then detection."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload:
        return ""
    declared = (part.get_content_charset() or "").lower()
    candidates = [declared] if declared.startswith(("utf-16", "utf-32")) else ["utf-8", declared]
    for charset in candidates:
        if not charset:
            continue
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return decode_text(payload)


def _body_blocks(part: Message) -> list[Block]:
    text = _text_content(part)
    if part.get_content_subtype() == "html":
        from docket.ingest.parsers.html import html_document

        return list(html_document(text, "").blocks)
    return [Block(text=p) for p in paragraphs(text)]


def _with_attachment(blocks: list[Block] | tuple[Block, ...], name: str) -> list[Block]:
    return [dataclasses.replace(b, attachment=f"{name}/{b.attachment}" if b.attachment else name) for b in blocks]


def _attachment(part: Message, index: int, depth: int) -> tuple[str, list[Block], list[str]]:
    name = _filename(part)
    if not name:
        ext = mimetypes.guess_extension(part.get_content_type()) or ".bin"
        name = f"attachment-{index}{ext}"
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload.strip():
        return name, [], [f"attachment {name} is empty"]
    token = _depth.set(depth)
    try:
        parsed = parse_bytes(payload, name)
    except UnsupportedFileError as exc:
        return name, [], [f"attachment {name} skipped: {exc}"]
    except ParseError as exc:
        return name, [], [f"attachment {name} could not be read: {exc}"]
    finally:
        _depth.reset(token)
    notes = [f"attachment {name}: {w}" for w in parsed.warnings]
    return name, _with_attachment(parsed.blocks, name), notes


def _message(message: EmailMessage, depth: int) -> _Parsed:
    """Blocks of one message at nesting ``depth`` (1 for the file's own message)."""
    fields = {name: (_date(message) if name == "Date" else _header(message, name)) for name in _HEADERS}
    header_lines = [f"{name}: {value}" for name, value in fields.items() if value]
    blocks = [Block(text="\n".join(header_lines))] if header_lines else []
    metadata: dict[str, Any] = {name.lower(): value for name, value in fields.items() if value}
    message_id = _header(message, "Message-ID")
    if message_id:
        metadata["message_id"] = message_id

    warnings: list[str] = []
    parts: list[tuple[str, EmailMessage]] = []
    _collect(message, parts, warnings)
    names: list[str] = []
    limits = current_limits()
    max_depth = limits.max_attachment_depth
    attached = [p for p in parts if p[0] != "body"]
    if len(attached) > limits.max_attachments:
        skipped = {id(p[1]) for p in attached[limits.max_attachments :]}
        parts = [p for p in parts if id(p[1]) not in skipped]
        warnings.append(
            f"{len(attached):,} attachments: only the first {limits.max_attachments} were read "
            "(raise ingest.max_attachments to read more)"
        )
    for index, (kind, part) in enumerate(parts, start=1):
        if kind == "body":
            blocks.extend(_body_blocks(part))
        elif kind == "attachment":
            name, found, notes = _attachment(part, index, depth)
            names.append(name)
            blocks.extend(found)
            warnings.extend(notes)
        else:
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload and isinstance(payload[0], Message) else None
            subject = _header(inner, "Subject") if inner is not None else ""
            name = _filename(part) or f"{(subject or f'message-{index}').replace('/', '-')}.eml"
            names.append(name)
            if inner is None:
                warnings.append(f"attached message {name} is empty")
            elif depth >= max_depth:
                warnings.append(
                    f"attached message {name} skipped: messages nest more than {max_depth} deep "
                    "(ingest.max_attachment_depth)"
                )
            else:
                nested = _message(cast(EmailMessage, inner), depth + 1)
                blocks.extend(_with_attachment(nested.blocks, name))
                warnings.extend(f"attachment {name}: {w}" for w in nested.warnings)
    if names:
        metadata["attachments"] = names
    return _Parsed(blocks=blocks, metadata=metadata, warnings=warnings, subject=fields["Subject"])


def _mbox_messages(data: bytes) -> list[bytes]:
    if not data.lstrip().startswith(b"From "):
        raise ParseError("not an mbox file: it does not start with a 'From ' line")
    with tempfile.TemporaryDirectory(prefix="docket-mbox-") as folder:
        path = os.path.join(folder, "mail.mbox")
        with open(path, "wb") as handle:
            handle.write(data.lstrip())
        box = mailbox.mbox(path, create=False)
        try:
            return [box.get_bytes(key) for key in box.iterkeys()]
        finally:
            box.close()


@PARSERS.register("email")
class EmailParser:
    name: str = "email"
    extensions: tuple[str, ...] = (".eml", ".mbox")

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        depth = _depth.get() + 1
        max_depth = current_limits().max_attachment_depth
        if depth > max_depth:
            raise ParseError(
                f"email nested too deeply: messages inside messages more than {max_depth} levels "
                "(ingest.max_attachment_depth)"
            )
        if PurePath(path).suffix.lower() == ".mbox":
            return self._mbox(data, path, depth)
        found = _message(_read(data), depth)
        return ParsedDocument(
            blocks=tuple(found.blocks),
            title=found.subject or PurePath(path).stem,
            metadata=found.metadata,
            warnings=tuple(found.warnings),
        )

    def _mbox(self, data: bytes, path: str, depth: int) -> ParsedDocument:
        blocks: list[Block] = []
        warnings: list[str] = []
        subjects: list[str] = []
        raw_messages = _mbox_messages(data)
        if not raw_messages:
            raise ParseError("empty mailbox: no messages found")
        for number, raw in enumerate(raw_messages, start=1):
            found = _message(_read(raw), depth)
            subject = found.subject or f"message {number}"
            subjects.append(subject)
            blocks.extend(dataclasses.replace(b, heading_path=(subject, *b.heading_path)) for b in found.blocks)
            warnings.extend(f"message {number} ({subject}): {w}" for w in found.warnings)
        return ParsedDocument(
            blocks=tuple(blocks),
            title=PurePath(path).stem,
            metadata={"messages": len(raw_messages), "subjects": subjects[:100]},
            warnings=tuple(warnings),
        )
