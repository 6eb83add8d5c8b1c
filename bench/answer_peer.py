"""The peer of bench/answers.py --peer: LlamaIndex's query engine with the packaged local model.

The model is the one Docket's ``--model local`` loads (the GGUF assembled once into HOME/models),
served here by llama.cpp's OpenAI-compatible server on 127.0.0.1 (``python -m llama_cpp.server``,
2 threads, 4096-token context) from this interpreter (``pip install 'llama-cpp-python[server]'``).
LlamaIndex runs in bench/.venvs/llamaindex (created by bench/compare.py's ``ensure_venvs`` from the
pinned bench/peers/requirements-llamaindex.txt) and answers with bench/peers/llamaindex_answers.py;
its records are scored here by the same code as Docket's (answer_sets.score). LlamaIndex has no
abstention flag: an answer counts as refused when it says it cannot answer (empty, "I don't know",
"the context does not mention ..."), as the model was asked to in LlamaIndex's default prompt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from answer_sets import HERE, FileQuestion, FileSet, question_record, score, summarise

REFUSAL = re.compile(
    r"^\s*$|empty response|(do(es)? not (contain|mention|provide|include|specify|say|have)|not (mentioned|provided|"
    r"specified|stated|available|found)|no (information|mention|details)|don't know|do not know|cannot (find|"
    r"determine|answer)|can't (find|determine|answer)|couldn't find|unable to (find|determine|answer))",
    re.IGNORECASE,
)


def local_model_file(home: Path) -> Path:
    """The packaged model's GGUF, assembled into HOME/models exactly as Docket's ``--model local`` does."""
    from docket.models.local import DEFAULT_LOCAL_MODEL, assemble

    return assemble(DEFAULT_LOCAL_MODEL, home / "models")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def served(model: Path, log: Path) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server for ``model`` on 127.0.0.1; yields its base URL."""
    port = _free_port()
    argv = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        "2",
    ]
    with log.open("w") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama.cpp server did not start; see {log}") from None
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


VENV = HERE / ".venvs" / "llamaindex"


def ensure_venv() -> Path:
    """bench/.venvs/llamaindex from the pinned requirements, as bench/compare.py makes it (same stamp)."""
    req = HERE / "peers" / "requirements-llamaindex.txt"
    digest = hashlib.sha256(req.read_bytes()).hexdigest()
    stamp = VENV / ".requirements.sha256"
    if not (stamp.is_file() and stamp.read_text() == digest):
        print(f"creating {VENV} from {req.name}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(req)], check=True)
        stamp.write_text(digest)
    return VENV / "bin" / "python"


def run_llamaindex(fs: FileSet, questions: Sequence[FileQuestion], home: Path, split: str) -> dict[str, Any]:
    python = ensure_venv()
    work = home / fs.name / "llamaindex"
    work.mkdir(parents=True, exist_ok=True)
    qfile = work / f"questions-{split}.json"
    qfile.write_text(json.dumps([{"id": q.id, "text": q.text} for q in questions]), encoding="utf-8")
    raw = work / f"raw-{split}.jsonl"
    with served(local_model_file(home), work / "llama-server.log") as url:
        argv = [
            str(python),
            str(HERE / "peers" / "llamaindex_answers.py"),
            *[a for f in fs.folders for a in ("--folder", str(f))],
            "--index",
            str(work / "index"),
            "--questions",
            str(qfile),
            "--out",
            str(raw),
            "--llm-url",
            url,
        ]
        # its summary line goes to stderr with the progress: stdout is this benchmark's JSON
        subprocess.run(argv, check=True, stdout=sys.stderr)
    by_id = {r["id"]: r for r in map(json.loads, raw.read_text(encoding="utf-8").splitlines())}
    records = []
    out = home / fs.name / f"answers-llamaindex-{split}.jsonl"
    entity_of = fs.entity_of
    with out.open("w", encoding="utf-8") as fh:
        for q in questions:
            got = by_id[q.id]
            refused = bool(REFUSAL.search(got["answer"]))
            rec = {
                **question_record(q),
                "answer": got["answer"],
                "abstained": refused,
                "sources": got["sources"],
                "seconds": got["seconds"],
                **score(q, got["answer"], refused, got["sources"], entity_of),
            }
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            records.append(rec)
    return summarise(records, out)
