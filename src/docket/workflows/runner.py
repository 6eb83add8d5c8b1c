"""Running a workflow over its input: items, per-item errors, resume, results and the run log.

The input is split into items: a folder gives one per file (``path``, ``text``; emails also
``subject``, ``from``, ``date``), a CSV one per row (its columns, plus ``row``), a JSONL file one
per line, an mbox file one per message, any other file one item; a workflow with
``batch: false`` takes the whole input as one item (``path``). Each item runs the steps in order;
an item that fails is recorded with the step and the reason, and the batch goes on.

Resume: every finished item is appended to ``OUTPUT.progress`` as it ends; a re-run skips items
that are done (same id, same content) and the file is removed once a run ends with no failures.
Every run is logged as JSONL under the knowledge base's ``runs/``: the inputs, each step's output,
each prompt and reply with tokens and cost, durations.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docket.errors import DocketError, ModelNotConfiguredError, ParseError, UserError
from docket.models.chat import NO_MODEL_MESSAGE
from docket.protocols import ChatModel
from docket.types import Access
from docket.workflows.review import QueueOpener, ReviewQueue
from docket.workflows.schemas import schema_problem
from docket.workflows.spec import Workflow
from docket.workflows.steps import StepContext, StepFailed, evaluate

__all__ = ["Item", "RunSummary", "items_from", "run_workflow"]

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Item:
    """One unit of work: ``key`` identifies it in results (``path``, ``row`` or ``line``)."""

    id: str
    key: dict[str, Any]
    digest: str
    load: Callable[[], dict[str, Any]]


@dataclass
class RunSummary:
    ok: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: int = 0
    results: str | list[Any] = field(default_factory=list)
    run_id: str = ""
    log: str = ""
    notes: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)  # ids of the documents its steps read

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failed": self.failed,
            "skipped": self.skipped,
            "results": self.results,
            "run_id": self.run_id,
            "log": self.log,
            "notes": self.notes,
            "documents": self.documents,
        }


# ---------------------------------------------------------------------- items


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _document(path: Path, shown: str) -> dict[str, Any]:
    from docket.ingest.parsers import parse_bytes

    data = path.read_bytes()
    item = {"path": shown, "text": parse_bytes(data, path.name).text}
    if path.suffix.lower() == ".eml":
        item.update(_headers(data))
    return item


def _headers(message: bytes) -> dict[str, str]:
    """``subject``, ``from`` and ``date`` of an email, for workflows over a mailbox (ticket-triage)."""
    from email import policy
    from email.parser import BytesHeaderParser

    headers = BytesHeaderParser(policy=policy.default).parsebytes(message)
    return {name: str(headers[name]) for name in ("subject", "from", "date") if headers[name] is not None}


def _mbox_items(path: Path) -> list[Item]:
    """One item per message of an mbox file: ``subject``, ``from``, ``date`` and ``text`` (the body
    and the text of its attachments, as ingestion reads them)."""
    import mailbox

    from docket.ingest.parsers import parse_bytes

    box = mailbox.mbox(str(path), create=False)
    items = []
    try:
        for n, message in enumerate(box, start=1):
            data = message.as_bytes()

            def load(data: bytes = data, n: int = n) -> dict[str, Any]:
                return {
                    "path": f"{path.name}#{n}",
                    "message": n,
                    **_headers(data),
                    "text": parse_bytes(data, "m.eml").text,
                }

            items.append(Item(f"message {n}", {"message": n}, _digest(data), load))
    finally:
        box.close()
    return items


def items_from(source: str, workflow: Workflow, stdin: Any = None) -> list[Item]:
    """The items of ``source`` (a file, a folder, or ``-`` for standard input)."""
    if source == "-":
        text = (stdin or sys.stdin).read()
        return _lines_or_text(text)
    path = Path(source)
    if not path.exists():
        raise UserError(f"no input '{source}': give a file, a folder or - for standard input")
    if not workflow.batch:
        data = path.read_bytes() if path.is_file() else str(sorted(path.rglob("*"))).encode()
        full = str(path.resolve())
        return [Item(path.name, {"path": str(path)}, _digest(data), lambda: {"path": full})]
    if path.is_dir():
        files = [
            p for p in sorted(path.rglob("*")) if p.is_file() and not any(part.startswith(".") for part in p.parts)
        ]
        return [_file_item(p, p.relative_to(path).as_posix()) for p in files]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_items(path.read_bytes())
    if suffix == ".jsonl":
        return _lines_or_text(path.read_text(encoding="utf-8"), jsonl=True)
    if suffix == ".mbox":
        return _mbox_items(path)
    return [_file_item(path, path.name)]


def _file_item(path: Path, shown: str) -> Item:
    return Item(shown, {"path": shown}, _digest(path.read_bytes()), lambda: _document(path, shown))


def _csv_items(data: bytes) -> list[Item]:
    from docket.ingest.parsers.text import decode_text

    reader = csv.DictReader(io.StringIO(decode_text(data).lstrip("\ufeff"), newline=""))
    items = []
    for n, row in enumerate(reader, start=1):
        values = {k: v for k, v in row.items() if k is not None}
        encoded = json.dumps(values, sort_keys=True).encode()
        items.append(Item(f"row {n}", {"row": n}, _digest(encoded), _loader({"row": n, **values})))
    return items


def _loader(inputs: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: dict(inputs)


def _lines_or_text(text: str, jsonl: bool = False) -> list[Item]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed: list[Any] = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            if jsonl:
                raise UserError(f"line {len(parsed) + 1} of the JSONL input is not JSON: {line[:60]}") from None
            return [Item("stdin", {"item": "stdin"}, _digest(text.encode()), lambda: {"text": text})]
    items = []
    for n, value in enumerate(parsed, start=1):
        inputs = value if isinstance(value, dict) else {"value": value}
        encoded = json.dumps(inputs, sort_keys=True).encode()
        items.append(Item(f"line {n}", {"line": n}, _digest(encoded), _loader(inputs)))
    return items


# ---------------------------------------------------------------------- running


class _Log:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: dict[str, Any]) -> None:
        if self.path is None:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"at": time.time(), **event}, ensure_ascii=False, default=str) + "\n")


def run_workflow(
    workflow: Workflow,
    source: str,
    *,
    model: ChatModel | None = None,
    params: dict[str, Any] | None = None,
    output: Path | None = None,
    kb: Callable[[], Any] | None = None,
    runs_dir: Path | None = None,
    price: Sequence[float] | None = None,
    progress: Progress | None = None,
    stdin: Any = None,
    access: Access | None = None,
    workspace: str | None = None,
    reviews: ReviewQueue | None = None,
    allow_private_hosts: Sequence[str] | None = None,
) -> RunSummary:
    """Run ``workflow`` over the items of ``source``; see the module docstring. ``access`` is
    what its retrieval may read (default: the local owner's everything) in ``workspace``.
    ``reviews`` is where review steps park drafts (default: ``reviews.db`` in the knowledge base's home).
    ``allow_private_hosts``: the loopback or private hosts its webhooks may reach (default: the
    knowledge base's ``network.allow_private_hosts``; none without a knowledge base)."""
    if model is None and workflow.needs_model:
        raise ModelNotConfiguredError(f"workflow '{workflow.name}': {NO_MODEL_MESSAGE}")
    params = {**workflow.params, **(params or {})}
    items = items_from(source, workflow, stdin)
    run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    log = _Log(runs_dir / f"{run_id}.jsonl" if runs_dir is not None else None)
    summary = RunSummary(run_id=run_id, log=str(log.path or ""))
    base_dir = Path(workflow.source).parent if workflow.source != "<string>" else Path.cwd()
    output_dir = output if not workflow.batch else None
    progress_file = output.with_name(output.name + ".progress") if workflow.batch and output is not None else None
    done = _load_progress(progress_file)
    log.write(
        {
            "event": "start",
            "run": run_id,
            "workflow": workflow.name,
            "definition": workflow.source,
            "input": source,
            "items": len(items),
            "params": params,
            "model": getattr(model, "name", None),
            "output": str(output) if output else None,
        }
    )
    started = time.perf_counter()
    queue = QueueOpener(reviews, kb)
    records: list[tuple[int, Any]] = []
    read: set[str] = set()
    tokens = [0, 0]
    for index, item in enumerate(items):
        if progress is not None:
            progress(index, len(items), item.id)
        previous = done.get(item.id)
        if previous is not None and previous["digest"] == item.digest and previous["ok"]:
            records.append((index, previous["record"]))
            read.update(previous.get("documents") or ())
            summary.skipped += 1
            summary.ok += 1
            continue
        ctx = StepContext(
            inputs={},
            params=params,
            model=model,
            base_dir=base_dir,
            output_dir=output_dir,
            kb=kb,
            access=access if access is not None else Access.owner(),
            workspace=workspace,
            reviews=queue.slot(workflow.name, run_id, item.id),
            allow_private_hosts=None if allow_private_hosts is None else tuple(allow_private_hosts),
        )
        record, error = _run_item(workflow, item, ctx, log)
        read.update(ctx.documents)
        for call in ctx.calls:
            tokens[0] += call["prompt_tokens"]
            tokens[1] += call["completion_tokens"]
        summary.notes.extend(f"{item.id}: {note}" for note in ctx.notes)
        if error is None:
            summary.ok += 1
            records.append((index, record))
        else:
            summary.failed.append({"item": item.id, "error": error})
        _append_progress(progress_file, item, record, error, ctx.documents)
    queue.close()
    if progress is not None:
        progress(len(items), len(items), "")
    summary.documents = sorted(read)
    results = [r for _, r in sorted(records, key=lambda x: x[0])]
    if output is not None and workflow.batch:
        _write_results(output, results)
        summary.results = str(output)
        if not summary.failed and progress_file is not None:
            progress_file.unlink(missing_ok=True)
    else:
        summary.results = results
    cost = (tokens[0] * price[0] + tokens[1] * price[1]) / 1_000_000 if price else None
    log.write(
        {
            "event": "end",
            "run": run_id,
            "ok": summary.ok,
            "failed": summary.failed,
            "skipped": summary.skipped,
            "prompt_tokens": tokens[0],
            "completion_tokens": tokens[1],
            "cost": cost,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    return summary


def _run_item(workflow: Workflow, item: Item, ctx: StepContext, log: _Log) -> tuple[Any, str | None]:
    try:
        ctx.inputs = item.load()
    except (ParseError, OSError) as exc:
        log.write({"event": "item", "item": item.id, "ok": False, "error": f"could not read: {exc}"})
        return None, f"could not read: {exc}"
    problem = schema_problem(workflow.inputs, ctx.inputs)
    if problem is not None:
        error = f"input does not match the workflow's inputs schema: {problem}"
        log.write({"event": "item", "item": item.id, "ok": False, "error": error})
        return None, error
    last = None
    for definition, step in zip(workflow.steps, workflow.built, strict=True):
        ctx.step_id = definition.id
        calls_before = len(ctx.calls)
        t0 = time.perf_counter()
        try:
            if definition.when is not None and not evaluate(definition.when, ctx.variables()):
                log.write({"event": "step", "item": item.id, "step": definition.id, "skipped": True})
                continue
            value = step.run(ctx)
        except ModelNotConfiguredError:
            raise
        except (StepFailed, DocketError, OSError) as exc:
            error = f"step '{definition.id}' ({definition.kind}): {exc}"
            log.write(
                {
                    "event": "step",
                    "item": item.id,
                    "step": definition.id,
                    "error": error,
                    "calls": ctx.calls[calls_before:],
                    "seconds": round(time.perf_counter() - t0, 4),
                }
            )
            log.write({"event": "item", "item": item.id, "ok": False, "error": error})
            return None, error
        ctx.outputs[definition.id] = value
        last = definition.id
        log.write(
            {
                "event": "step",
                "item": item.id,
                "step": definition.id,
                "kind": definition.kind,
                "output": value,
                "calls": ctx.calls[calls_before:],
                "seconds": round(time.perf_counter() - t0, 4),
            }
        )
    result = ctx.outputs.get(workflow.result or last or "")
    if workflow.output is not None:
        problem = schema_problem(workflow.output, result)
        if problem is not None:
            error = f"the result does not match the workflow's output schema: {problem}"
            log.write({"event": "item", "item": item.id, "ok": False, "error": error})
            return None, error
    record = {**item.key, **result} if isinstance(result, dict) else {**item.key, "result": result}
    log.write({"event": "item", "item": item.id, "ok": True, "inputs": ctx.inputs, "notes": ctx.notes})
    return record, None


# ---------------------------------------------------------------------- progress and results


def _load_progress(path: Path | None) -> dict[str, dict[str, Any]]:
    if path is None or not path.is_file():
        return {}
    done: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by the interruption
        done[entry["item"]] = entry
    return done


def _append_progress(
    path: Path | None, item: Item, record: Any, error: str | None, documents: set[str] | None = None
) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "item": item.id,
        "digest": item.digest,
        "ok": error is None,
        "record": record,
        "error": error,
        "documents": sorted(documents or ()),
    }
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        f.flush()


def _write_results(path: Path, results: list[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        columns: list[str] = []
        for record in results:
            columns.extend(k for k in record if k not in columns)
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for record in results:
                writer.writerow({k: _flat(v) for k, v in record.items()})
        return
    with path.open("w", encoding="utf-8") as f:
        for record in results:
            f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def _flat(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (dict, list)) else value
