"""What the command-line tests share: running the real `docket` process, and one indexed knowledge base."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO


def docket(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "docket", *args], capture_output=True, text=True, cwd=cwd, env=os.environ.copy()
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"docket {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="package")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("cli")
    docs = root / "company-docs"
    shutil.copytree(DEMO / "Benefits and Perks", docs / "benefits")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    home = root / "kb"
    report = json.loads(docket("ingest", str(docs), "--home", str(home), "--json").stdout)
    return home, docs, report
