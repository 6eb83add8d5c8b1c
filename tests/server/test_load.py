"""A bounded load on a real `docket serve`: 20 concurrent loopback clients, 2,000 mixed requests
(search, extractive ask, document list, upload), the fake embedder.

No request may fail (no 4xx/5xx, no dropped connection), every upload's ingestion job must finish,
and the server's resident memory must not trend upwards over the second half of the run: the
least-squares slope of RSS against requests done is asserted, never the time anything took. The
same driver, with the real embedder and 10,000 requests, is `python bench/soak.py`
(figures in docs/security.md, "Load").
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed (pip install 'docket[server]')")

from bench.soak import drive, prepare, serve, slope_per_1000

pytestmark = pytest.mark.slow

CLIENTS = 20
REQUESTS = 2_000
# MB of server RSS per 1,000 requests over the second half. Generous: after warm-up the fake-embedder
# server measured about 0.3 here; a leak of 10 KB a request (10 MB per 1,000) fails it.
SLOPE_LIMIT = 5.0


def test_slope_is_fitted_over_the_second_half_and_ignores_passing_peaks() -> None:
    warm_up = [(n, 50.0 + n / 10) for n in range(0, 500, 10)]
    peaks = [(n, 300.0 if n % 70 == 0 else 100.0) for n in range(500, 1001, 5)]  # an embedding batch now and then
    assert abs(slope_per_1000(warm_up + peaks)) < 1.0
    leaking = [(n, 80.0 + n * 0.01) for n in range(0, 1001, 10)]  # 10 KB a request
    assert slope_per_1000(leaking) == pytest.approx(10.0)


# a small corpus on the topics of the load's questions (the demo handbook takes long to parse)
CORPUS = {
    "leave.md": "# Leave\n\nParental leave is 16 weeks. A sabbatical can be taken after five years.",
    "vacation.md": "# Vacation\n\nEmployees get 25 vacation days a year, plus public holidays.",
    "remote.md": "# Remote work\n\nThe policy on working remotely: up to three days a week from home.",
    "expenses.md": "# Expenses\n\nTo get reimbursed for expenses, submit receipts within 30 days.",
    "equipment.md": "# Equipment\n\nThe company provides a laptop, a screen and a headset.",
    "salaries.md": "# Salaries\n\nSalaries are decided by level and reviewed once a year.",
}


def test_mixed_load_has_no_errors_finishes_every_upload_and_keeps_memory_flat(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in CORPUS.items():
        (corpus / name).write_text(text)
    home = tmp_path / "kb"
    key = prepare(home, "fake", corpus)
    proc, base = serve(home, "fake", tmp_path / "serve.log")
    try:
        warm = asyncio.run(drive(base, key, proc.pid, clients=CLIENTS, requests=100, sample_every=1.0))
        assert not warm.errors, dict(warm.errors)
        result = asyncio.run(drive(base, key, proc.pid, clients=CLIENTS, requests=REQUESTS, sample_every=0.25))
    finally:
        proc.terminate()
        proc.wait(30)
    summary = result.summary()
    assert result.requests == REQUESTS
    assert not result.errors, summary
    uploads = len(result.latencies["upload"])
    assert uploads >= REQUESTS // 10 and len(result.jobs) == uploads
    assert dict(result.job_states) == {"done": uploads}, result.job_errors[:5]
    assert all(len(result.latencies[kind]) > REQUESTS // 10 for kind in ("search", "ask", "documents"))
    assert len(result.samples) >= 10, summary  # enough points to fit a line
    assert result.slope() < SLOPE_LIMIT, summary
