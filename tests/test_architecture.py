"""The package keeps the shape docs/architecture.md draws: small modules, a small index protocol,
and a layer table that names every part of the package (the import rules themselves are
import-linter's contracts in pyproject.toml, run by ``make lint``)."""

from __future__ import annotations

import inspect
import re
import tomllib

from docket.protocols import DocumentIndex
from tests.conftest import REPO

SRC = REPO / "src" / "docket"
LONG = 600  # lines: a module longer than this does more than one thing
# at most two, each named here with the reason
ALLOWED_LONG: set[str] = {"types.py"}  # the vocabulary: every dataclass the layers pass each other, in one place


def _layers() -> list[list[str]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    return [[name.strip(" ()") for name in re.split(r"[|:]", layer)] for layer in contract["layers"]]


def test_at_most_two_modules_are_long() -> None:
    long = {
        str(path.relative_to(SRC)): n for path in SRC.rglob("*.py") if (n := len(path.read_text().splitlines())) > LONG
    }
    assert len(ALLOWED_LONG) <= 2
    assert set(long) <= ALLOWED_LONG, f"split these modules (over {LONG} lines): {long}"


def test_the_index_protocol_stays_small() -> None:
    methods = [name for name, _ in inspect.getmembers(DocumentIndex, inspect.isfunction) if not name.startswith("_")]
    assert len(methods) <= 16, methods


def test_every_part_of_the_package_sits_in_a_layer() -> None:
    """A new top-level module or package must be given a layer (pyproject.toml) before it lands."""
    placed = {name.removeprefix("docket.") for layer in _layers() for name in layer}
    parts = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    parts |= {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    parts -= {"demo"}  # the bundled demo handbook: data, no code
    assert parts <= placed, f"give these a layer in pyproject.toml: {sorted(parts - placed)}"


def test_the_architecture_page_draws_the_checked_layers() -> None:
    """docs/architecture.md's table lists the layers in the order the contract checks them."""
    text = (REPO / "docs" / "architecture.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `docket.")]
    shown = [re.findall(r"`(docket[\w.]*)`", row.split("|")[1]) for row in rows]
    assert shown == _layers()
