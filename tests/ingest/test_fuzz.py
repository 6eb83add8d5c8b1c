"""Fuzzing every parser with mutated copies of real files: text or a one-line ParseError, never anything else.

Seeds are small real files in tests/data/fuzz/ (see its README for where they come from). Mutations:
byte flips, truncation, splicing in bytes of another seed, and, for the zip containers (DOCX, XLSX,
PPTX), corrupting one member's content inside a valid zip (so the XML parsers see it, not only the
zip checksum). The in-suite run is bounded (``max_examples`` per format); ``bench/fuzz.py`` runs
thousands of inputs through the sandbox and counts the outcomes.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.errors import ParseError
from docket.ingest.parsers import parse_bytes
from docket.ingest.quality import awaits_ocr
from docket.ingest.sandbox import Sandbox
from docket.types import ParsedDocument

FUZZ = Path(__file__).resolve().parents[1] / "data" / "fuzz"
SEEDS = sorted(p for p in FUZZ.iterdir() if p.suffix not in ("", ".md") or p.name == "codeblock.md")
SEED_BYTES = {p.name: p.read_bytes() for p in SEEDS}
EXAMPLES = 50  # per seed file; the whole module takes about 15 s here

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def rezip(data: bytes, member: int, change: st.DrawFn) -> bytes:
    """``data`` (a zip) with the content of its ``member``-th member (modulo their number) changed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        infos = source.infolist()
        chosen = member % len(infos)
        for index, info in enumerate(infos):
            content = source.read(info)
            target.writestr(info, change(content) if index == chosen else content)
    return out.getvalue()


@st.composite
def flips(draw: st.DrawFn, data: bytes) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 16))):
        out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
    return bytes(out)


@st.composite
def mutated(draw: st.DrawFn, name: str) -> bytes:
    data = SEED_BYTES[name]
    kind = draw(st.sampled_from(["flip", "truncate", "splice", "zip-member"]))
    if kind == "flip":
        return draw(flips(data))
    if kind == "truncate":
        return data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    if kind == "splice":
        other = SEED_BYTES[draw(st.sampled_from(sorted(SEED_BYTES)))]
        at, start = draw(st.integers(0, len(data))), draw(st.integers(0, max(len(other) - 1, 0)))
        piece = other[start : start + draw(st.integers(1, 4096))]
        return data[:at] + piece + data[at + draw(st.integers(0, 4096)) :]
    if not data.startswith(b"PK\x03\x04"):
        return draw(flips(data))
    member = draw(st.integers(0, 1000))
    how = draw(st.sampled_from(["flip", "truncate", "empty"]))
    if how == "empty":
        return rezip(data, member, lambda content: b"")
    if how == "truncate":
        cut = draw(st.floats(0, 1))
        return rezip(data, member, lambda content: content[: int(len(content) * cut)])
    return rezip(data, member, lambda content: draw(flips(content)))


def parse_or_reason(data: bytes, name: str) -> ParsedDocument | ParseError:
    try:
        return parse_bytes(data, name)
    except ParseError as exc:
        return exc


@pytest.mark.parametrize("name", sorted(SEED_BYTES))
def test_every_parser_returns_text_or_a_one_line_reason_on_mutated_files(name: str) -> None:
    assert parse_bytes(SEED_BYTES[name], name).text.strip()  # the seed itself parses

    @FUZZ_SETTINGS
    @given(data=mutated(name))
    def check(data: bytes) -> None:
        outcome = parse_or_reason(data, name)  # anything other than ParseError propagates and fails
        if isinstance(outcome, ParseError):
            reason = str(outcome)
            assert reason.strip() and "\n" not in reason, reason
        else:  # text, or a scan's record saying why there is none
            assert isinstance(outcome.text, str) and (outcome.text.strip() or awaits_ocr(outcome.metadata["quality"]))

    check()


def test_the_sandboxed_path_gives_an_outcome_for_every_mutated_file() -> None:
    """Through the worker: each input parses or fails with a reason within the time limit (a hang
    would be reported as one), and the worker keeps serving."""
    outcomes: list[str] = []

    @settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(name=st.sampled_from(sorted(SEED_BYTES)), data=st.data())
    def check(name: str, data: st.DataObject) -> None:
        mutant = data.draw(mutated(name))
        try:
            parsed = sandbox.parse(mutant, name)
        except ParseError as exc:
            assert "\n" not in str(exc)
            outcomes.append("error")
        else:
            assert parsed.text.strip() or awaits_ocr(parsed.metadata["quality"])
            outcomes.append("parsed")

    with Sandbox(timeout=30, memory_mb=1024) as sandbox:
        check()
    assert len(outcomes) >= 1
