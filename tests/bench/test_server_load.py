"""The server load benchmark's own logic: percentiles, goal verdicts and the RESULTS.md text.

The benchmark is never run by the suite (it needs the shared data and minutes of load); these
check only the pure pieces its figures go through.
"""

from __future__ import annotations

from typing import Any

from tests.bench_modules import load_bench

server_load = load_bench("bench_server_load", "server_load.py")


def _phase(rps: float, errors: int, search_p95: float, ask_p95: float) -> dict[str, Any]:
    return {
        "offered_per_s": None,
        "requests": 1000 + errors,
        "requests_per_s": rps,
        "errors": errors,
        "error_kinds": ["search ReadError"] if errors else [],
        "search_p50_ms": 8.0,
        "search_p95_ms": search_p95,
        "ask_p50_ms": 50.0,
        "ask_p95_ms": ask_p95,
    }


def test_percentiles_take_the_value_at_the_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert server_load._pct(values, 0.5) == 51.0
    assert server_load._pct(values, 0.95) == 96.0
    assert server_load._pct([], 0.95) != server_load._pct([], 0.95)  # nan: no requests of that kind


def test_each_goal_is_met_or_missed_on_its_own() -> None:
    goals = server_load._goals(_phase(133.9, 1, 1068.0, 1105.0), rss_peak=906.0, rss_growth=0.143)
    assert goals == {
        "requests_per_s >= 50": "met",
        "search p95 <= 500 ms": "MISSED",
        "ask p95 <= 1.5 s": "met",
        "0 errors": "MISSED",
        "RSS <= 1 GB": "met",
        "RSS flat (last third within 10% of first)": "MISSED",
    }
    assert set(server_load._goals(_phase(49.9, 0, 15.0, 265.0), 1025.0, 0.0).values()) == {"met", "MISSED"}


def test_the_results_text_shows_every_phase_and_marks_missed_goals() -> None:
    paced = {**_phase(50.0, 0, 15.0, 265.0), "offered_per_s": 50.0}
    back_to_back = _phase(133.9, 1, 1068.0, 1105.0)
    run = {
        "date": "2026-12-07 10:17 UTC",
        "nproc": 2,
        "cpu": "AMD EPYC",
        "python": "3.11.7",
        "load_average_before": [0.91, 0.54, 0.25],
        "load_average_after": [5.17, 2.07, 0.84],
        "workers": "auto",
        "chunks": {"demo": 198, "extra": 10586, "total": 10784},
        "clients": 50,
        "seconds": 60.0,
        "paced": paced,
        "back_to_back": back_to_back,
        "single_client": _phase(72.5, 0, 11.0, 42.0),
        "in_process": _phase(18.0, 0, 61.0, 207.0),
        "server_rss_mb": {"before": 687.9, "peak": 906.4, "after": 906.4, "last_third_vs_first_third": "+14.3%"},
        "paced_goals": server_load._goals(paced, 906.4, 0.143),
        "back_to_back_goals": server_load._goals(back_to_back, 906.4, 0.143),
    }
    text = server_load.markdown(run)
    assert "load average (1 / 5 / 15 min) 0.91 / 0.54 / 0.25 before" in text and "10,784 in all" in text
    rows = [line for line in text.splitlines() if line.startswith("| `docket serve") or line.startswith("| Python")]
    assert rows == [
        "| `docket serve --workers auto`, 50 clients, 50 requests/s offered | 50.0 | 0 of 1000 | 8 ms / 15 ms "
        "| 50 ms / 265 ms |",
        "| `docket serve --workers auto`, 50 clients back to back | 133.9 | 1 of 1001 | 8 ms / 1,068 ms "
        "| 50 ms / 1,105 ms |",
        "| `docket serve --workers auto`, 1 client | 72.5 | 0 of 1000 | 8 ms / 11 ms | 50 ms / 42 ms |",
        "| Python API, 1 caller, no HTTP | 18.0 | 0 | 8 ms / 61 ms | 50 ms / 207 ms |",
    ]
    assert "| search p95 <= 500 ms | met | **MISSED** |" in text
    assert "| 0 errors | met | **MISSED** |" in text
    assert "688 MB before, 906 MB at the peak" in text
