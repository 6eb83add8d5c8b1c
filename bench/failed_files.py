"""What a re-sync costs when a folder holds files that fail to parse, with and without remembering them.

    python bench/failed_files.py --good 200 --broken 200 --hanging 2 --timeout 2 --rounds 3 --json

A folder of ``--good`` Markdown files, ``--broken`` corrupt files (PDFs, DOCX, XLSX that are not
what they claim, empty files) and ``--hanging`` files on which the parser hangs until the sandbox's
time limit (``--timeout`` seconds) is indexed once, through a real sandbox. Then, per round, the
folder is synced again with nothing changed, two ways, interleaved:

- ``remembered``: as Docket syncs now: files that failed before are not read nor parsed again;
- ``retried``: with ``retry_failed=True``, which parses every failed file again: what every sync
  (and every upload job of the server) did before failures were remembered.

It reports the median seconds of each and how many files were handed to the sandbox.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from docket.index.sqlite import SqliteStore
from docket.ingest.parsers import parse_bytes
from docket.ingest.sandbox import Sandbox
from docket.ingest.sync import source_for_path, sync_source
from docket.models.embedders import FakeEmbedder
from docket.types import ParsedDocument


def hangs_on_request(data: bytes, path: str) -> ParsedDocument:
    """The sandbox's parse function: sleeps past any time limit on files named hang-*."""
    if path.startswith("hang-"):
        time.sleep(3600)
    return parse_bytes(data, path)


def _target() -> object:
    """:func:`hangs_on_request` from this file imported by its module name: a worker imports its
    target by name (with this process's module search path, which holds bench/)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    return importlib.import_module(Path(__file__).stem).hangs_on_request


BROKEN = (
    ("pdf", b"%PDF-1.4 this is not a PDF body"),
    ("docx", b"not a zip container at all"),
    ("xlsx", b"PK\x03\x04 truncated"),
    ("txt", b"   \n\n  "),
)


def make_folder(root: Path, good: int, broken: int, hanging: int) -> Path:
    folder = root / "docs"
    folder.mkdir()
    for i in range(good):
        text = f"# Policy {i}\n\nRefunds for order class {i} are paid within {i % 30 + 1} days.\n"
        (folder / f"good-{i:04d}.md").write_text(text, encoding="utf-8")
    for i in range(broken):
        ext, data = BROKEN[i % len(BROKEN)]
        (folder / f"broken-{i:04d}.{ext}").write_bytes(data if ext == "txt" else data + str(i).encode())
    for i in range(hanging):
        (folder / f"hang-{i:02d}.txt").write_text(f"This file hangs the parser ({i}).", encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--good", type=int, default=200)
    parser.add_argument("--broken", type=int, default=200)
    parser.add_argument("--hanging", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds per file (ingest.parse_timeout)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    target = _target()
    times: dict[str, list[float]] = {"remembered": [], "retried": []}
    parsed: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_folder(Path(tmp), args.good, args.broken, args.hanging)
        store = SqliteStore(Path(tmp) / "kb.db")
        source = source_for_path(str(folder))
        with Sandbox(timeout=args.timeout, target=target) as sandbox:  # type: ignore[arg-type]
            started = time.perf_counter()
            first = sync_source(store, FakeEmbedder(), source, sandbox=sandbox)
            first_s = time.perf_counter() - started
            failed = len(first.failed)
            for _ in range(args.rounds):
                for mode in ("remembered", "retried"):
                    before = sandbox.parsed
                    started = time.perf_counter()
                    report = sync_source(store, FakeEmbedder(), source, sandbox=sandbox, retry_failed=mode == "retried")
                    times[mode].append(time.perf_counter() - started)
                    parsed[mode] = sandbox.parsed - before
                    assert report.unchanged == args.good and len(report.failed) + len(report.failed_before) == failed
        store.close()
    result = {
        "files": args.good + args.broken + args.hanging,
        "failed": failed,
        "timeout_s": args.timeout,
        "first_ingest_s": round(first_s, 3),
        "resync_remembered_s": round(statistics.median(times["remembered"]), 3),
        "resync_retried_s": round(statistics.median(times["retried"]), 3),
        "parsed_per_resync": parsed,
        "rounds": args.rounds,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{result['files']} files, {failed} failing ({args.hanging} hang until the {args.timeout:g} s limit); "
        f"first ingest {result['first_ingest_s']} s\n"
        f"re-sync, nothing changed: {result['resync_remembered_s']} s remembering failures "
        f"({parsed['remembered']} parsed) vs {result['resync_retried_s']} s parsing them again "
        f"({parsed['retried']} parsed), median of {args.rounds}"
    )


if __name__ == "__main__":
    main()
