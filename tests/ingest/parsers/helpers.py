"""Shared helpers for the parser tests: real files from ../shared/data, skipped when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from docket.types import Block, ParsedDocument
from tests.conftest import SHARED_DATA as SHARED

EXAMPLES = SHARED / "unstructured-example-docs" / "example-docs"

__all__ = ["EXAMPLES", "SHARED", "block_with", "example", "read"]


def read(path: Path) -> bytes:
    if not path.is_file():
        pytest.skip(f"shared test data not found: {path}")
    return path.read_bytes()


def example(name: str) -> bytes:
    return read(EXAMPLES / name)


def block_with(doc: ParsedDocument, phrase: str) -> Block:
    found = [b for b in doc.blocks if phrase in b.text]
    assert found, f"{phrase!r} not found"
    return found[0]
