"""JSON and JSON Lines (stdlib ``json``): values flattened into ``key.path: value`` lines.

A top-level list gives one block per item (heading ``item N``); a top-level object gives one block
per key holding an object or a list (heading ``key``), with its plain values gathered in one block.
JSON Lines gives one block per record, under ``record N`` where N is the line in the file; a bad
line is skipped with a warning. Invalid JSON is refused with the line and column of the error. A
``.json`` file that holds one JSON value per line is read as JSON Lines.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from docket.errors import ParseError
from docket.ingest.parsers import PARSERS
from docket.ingest.parsers.text import decode_text
from docket.types import Block, ParsedDocument

__all__ = ["JsonParser", "flatten"]


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return str(value)


def flatten(value: Any, prefix: str = "") -> list[str]:
    """``key.path: value`` lines for every leaf value (``items[0].name: ...``)."""
    lines: list[str] = []
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict) and item:
            children = [(f"{path}.{key}" if path else str(key), child) for key, child in item.items()]
        elif isinstance(item, list) and item:
            children = [(f"{path}[{index}]", child) for index, child in enumerate(item)]
        else:
            lines.append(f"{path}: {_scalar(item)}" if path else _scalar(item))
            continue
        stack.extend(reversed(children))
    return lines


def _blocks(value: Any) -> list[Block]:
    if isinstance(value, list):
        items = [("\n".join(flatten(item)), number) for number, item in enumerate(value, start=1)]
        return [Block(text=text, heading_path=(f"item {number}",)) for text, number in items if text.strip()]
    if isinstance(value, dict):
        blocks: list[Block] = []
        plain: list[str] = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                blocks.append(Block(text="\n".join(flatten(item, str(key))), heading_path=(str(key),)))
            else:
                plain.extend(flatten(item, str(key)))
        if plain:
            blocks.insert(0, Block(text="\n".join(plain)))
        return blocks
    return [Block(text=_scalar(value))]


def _error(exc: json.JSONDecodeError, line_offset: int = 0) -> ParseError:
    return ParseError(f"invalid JSON at line {exc.lineno + line_offset} column {exc.colno}: {exc.msg}")


def _json_lines(text: str) -> tuple[list[Block], list[str], int]:
    blocks: list[Block] = []
    warnings: list[str] = []
    first_error: json.JSONDecodeError | None = None
    first_error_line = 0
    records = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if first_error is None:
                first_error, first_error_line = exc, number - 1
            warnings.append(f"line {number} is not valid JSON and was skipped ({exc.msg})")
            continue
        records += 1
        blocks.append(Block(text="\n".join(flatten(record)), heading_path=(f"record {number}",)))
    if first_error is not None and records == 0:
        raise _error(first_error, first_error_line)
    return blocks, warnings, records


@PARSERS.register("json")
class JsonParser:
    name: str = "json"
    extensions: tuple[str, ...] = (".json", ".jsonl", ".ndjson")

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        text = decode_text(data)
        title = PurePath(path).stem
        try:
            if PurePath(path).suffix.lower() in (".jsonl", ".ndjson"):
                blocks, warnings, records = _json_lines(text)
                return ParsedDocument(
                    blocks=tuple(blocks), title=title, metadata={"records": records}, warnings=tuple(warnings)
                )
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                if exc.msg == "Extra data" and exc.lineno > 1:
                    try:  # one JSON value per line, saved as .json
                        blocks, warnings, records = _json_lines(text)
                    except ParseError:
                        raise _error(exc) from exc
                    if not warnings:
                        return ParsedDocument(blocks=tuple(blocks), title=title, metadata={"records": records})
                raise _error(exc) from exc
            metadata: dict[str, Any] = {}
            if isinstance(value, list):
                metadata["items"] = len(value)
            elif isinstance(value, dict):
                metadata["keys"] = [str(k) for k in list(value)[:50]]
            return ParsedDocument(blocks=tuple(_blocks(value)), title=title, metadata=metadata)
        except RecursionError as exc:
            raise ParseError("JSON nested too deeply to read") from exc
