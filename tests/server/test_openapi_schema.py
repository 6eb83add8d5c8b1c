"""The HTTP API's schema is pinned: a change to any route, parameter, body or response model shows
up here, in review, and goes into the CHANGELOG. Regenerate the snapshot on purpose with
``DOCKET_UPDATE_SNAPSHOTS=1 pytest tests/server/test_openapi_schema.py``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from docket.config import load_settings
from docket.server.app import create_app
from docket.version import __version__
from tests.conftest import REPO

SNAPSHOT = REPO / "tests" / "data" / "openapi.json"


def test_the_api_schema_is_the_documented_one(tmp_path: Path) -> None:
    app = create_app(load_settings(home=tmp_path / "kb", overrides={"embedder": {"name": "fake"}}), start_jobs=False)
    schema = app.openapi()
    schema["info"].pop("version", None)  # the release number is not part of the contract
    text = json.dumps(schema, indent=1, sort_keys=True) + "\n"
    if os.environ.get("DOCKET_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(text)
    assert text == SNAPSHOT.read_text(), (
        f"the API schema changed (Docket {__version__}): review the difference, say it in CHANGELOG.md, "
        "then regenerate tests/data/openapi.json"
    )
