"""All six built-in workflows, end to end, with a real OpenAI-compatible server: from the CLI and the API.

The server is llama.cpp's (llama-cpp-python) with the packaged SmolLM2-135M, so the answers are
poor and this checks plumbing, not quality (bench/builtins.py measures quality with any model):
every run finishes with the contract's summary, every item either gives a result or is reported
failed with a reason (the tiny model may break a schema even after the repair), the report's HTML
and PDF are written, and extraction replies are schema-valid JSON (the schema is sent as the
server's ``response_format``). Inputs come from ../shared/data where the set is there.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
pytest.importorskip("jsonschema")

from fastapi.testclient import TestClient

from docket.config import load_settings
from docket.server.app import create_app
from tests.cli.conftest import docket
from tests.conftest import DEMO
from tests.models.conftest import llama_cpp_server

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
INVOICE = SHARED / "invoice2data-samples" / "tests" / "compare" / "AmazonWebServices.pdf"
SALES = (
    "Order Date,Region,Sales,Order ID\n2023-01-05,East,120.50,A1\n2023-02-11,West,80.00,A2\n2024-03-02,East,200,A3\n"
)
SPEC = "title: Sales\ndate_column: Order Date\nperiod: year\nmetrics:\n  - {name: revenue, column: Sales, agg: sum}\n"
TICKET = {"subject": "Parental leave", "text": "How many weeks of paid parental leave do new parents get?"}
CALL = {"text": "Call with Dana Lee of Acme Robotics (dana@acme.io). Budget 12,000 USD, decision by Q3."}
PROSPECT = {"notes": "Dana asked about paid leave for new parents.", "prospect": {"name": "Dana", "company": "Acme"}}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """The model server's URL, a knowledge base holding the demo handbook's benefits pages, and the inputs."""
    root = tmp_path_factory.mktemp("served")
    with llama_cpp_server(root) as url:
        home = root / "kb"
        (home).mkdir()
        (home / "docket.toml").write_text('[embedder]\nname = "fake"\n[model]\nmax_tokens = 200\ntimeout = 300\n')
        docket("ingest", str(DEMO / "Benefits and Perks"), "--home", str(home), "--json")
        inputs = root / "inputs"
        inputs.mkdir()
        invoices = inputs / "invoices"
        invoices.mkdir()
        if INVOICE.is_file():
            shutil.copy(INVOICE, invoices / INVOICE.name)
        else:  # the shared data is not there: an invoice as text
            (invoices / "invoice.txt").write_text(
                "INVOICE 2024-17 from Acme Supplies Ltd, 2024-03-01. Total 1,250.00 EUR"
            )
        (inputs / "sales.csv").write_text(SALES)
        (inputs / "spec.yml").write_text(SPEC)
        for name, item in {"tickets": TICKET, "calls": CALL, "prospects": PROSPECT}.items():
            (inputs / f"{name}.jsonl").write_text(json.dumps(item) + "\n")
        yield url, home, inputs


CLI_RUNS = {
    "extract": ["--input", "invoices", "--schema", "invoice"],
    "ticket-triage": ["--input", "tickets.jsonl"],
    "support-reply": ["--input", "tickets.jsonl", "--param", "review=false"],
    "call-to-crm": ["--input", "calls.jsonl"],
    "sales-followup": ["--input", "prospects.jsonl", "--param", "sender=Sam"],
    "report": ["--input", "sales.csv", "--spec", "spec.yml"],
}


def _finished_with_reasons(summary: dict[str, Any], items: int) -> None:
    results = summary["results"]
    produced = len(results) if isinstance(results, list) else sum(1 for _ in Path(results).read_text().splitlines())
    assert summary["ok"] + len(summary["failed"]) == items and produced == summary["ok"], summary
    for failure in summary["failed"]:  # a tiny model may break a schema; the reason says so
        assert failure["error"].strip() and failure["item"], failure


@pytest.mark.parametrize("name", sorted(CLI_RUNS))
def test_each_builtin_runs_from_the_cli_with_an_openai_compatible_server(
    served: tuple[str, Path, Path], name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, home, inputs = served
    monkeypatch.setenv("DOCKET_OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    args = [inputs / a if a.endswith((".jsonl", ".csv", ".yml")) or a == "invoices" else a for a in CLI_RUNS[name]]
    output = tmp_path / ("out" if name == "report" else "out.jsonl")
    proc = docket(
        "run",
        name,
        *map(str, args),
        "--model",
        "openai:local",
        "--output",
        str(output),
        "--home",
        str(home),
        "--json",
        check=False,
    )
    summary = json.loads(proc.stdout)
    assert proc.returncode == (1 if summary["failed"] else 0), proc.stderr  # exit 1 when an item failed
    if name == "report":
        assert summary["ok"] == 1 and (output / "report.html").is_file() and (output / "report.pdf").is_file()
        assert "<table" in (output / "report.html").read_text()
        return
    _finished_with_reasons(summary, 1)
    if name == "extract" and summary["ok"]:
        row = json.loads(output.read_text().splitlines()[0])
        assert row["path"] and set(row) >= {"vendor", "total"}


@pytest.fixture(scope="module")
def api(served: tuple[str, Path, Path]) -> Iterator[tuple[TestClient, dict[str, str]]]:
    url, home, _ = served
    settings = load_settings(
        home=home,
        overrides={"model": {"name": "openai:local", "base_url": url, "api_key": "test", "timeout": 300}},
        environ={},
    )
    app = create_app(settings, start_jobs=True)
    with TestClient(app) as client:
        accounts = app.state.docket.accounts
        owner = accounts.users.create("owner@example.com", "owner-password", "owner")
        yield client, {"Authorization": f"Bearer {accounts.keys.create(owner.id)[1]}"}


API_RUNS = {
    "ticket-triage": {"input": TICKET},
    "support-reply": {"input": TICKET, "params": {"review": False}},
    "call-to-crm": {"input": CALL},
    "sales-followup": {"input": PROSPECT, "params": {"sender": "Sam"}},
}


@pytest.mark.parametrize("name", [*sorted(API_RUNS), "extract", "report"])
def test_each_builtin_runs_over_the_api_with_the_servers_model(
    api: tuple[TestClient, dict[str, str]], served: tuple[str, Path, Path], name: str
) -> None:
    client, auth = api
    _, _, inputs = served
    path = f"/api/workflows/{name}/runs?wait=true"
    if name == "report":
        files = {"file": ("sales.csv", (inputs / "sales.csv").read_bytes(), "text/csv")}
        response = client.post(path, files=files, data={"params": json.dumps({"spec": SPEC})}, headers=auth)
    elif name == "extract":
        invoice = next((inputs / "invoices").iterdir())
        files = {"file": (invoice.name, invoice.read_bytes(), "application/octet-stream")}
        response = client.post(path, files=files, data={"params": json.dumps({"schema": "invoice"})}, headers=auth)
    else:
        response = client.post(path, json=API_RUNS[name], headers=auth)
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "done", run
    if name == "report":
        assert {"report.html", "report.pdf"} <= set(run["summary"]["files"])
        return
    results = client.get(f"/api/workflows/runs/{run['id']}/results", headers=auth).json()
    summary = run["summary"]
    assert summary["ok"] + len(summary["failed"]) == 1 and len(results) == summary["ok"], (summary, results)
    for failure in summary["failed"]:
        assert failure["error"].strip(), failure
