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


FLAT_KEY = "RSS flat (last third of the phase within 5% of its middle third)"


def test_memory_is_judged_within_one_phase_after_its_warm_up() -> None:
    # a step up while warming up, then level: flat, however far above the start it settled
    stepped = server_load.rss_trend([688.0] * 5 + [850.0] * 10 + [852.0] * 15 + [851.0] * 15)
    assert stepped["flat"] is True
    assert (stepped["start"], stepped["peak"], stepped["end"], stepped["samples"]) == (688.0, 852.0, 851.0, 45)
    assert abs(stepped["last_vs_middle_third"]) < 0.01
    # still growing through the phase: 1% a sample, the last third well above the middle one
    growing = server_load.rss_trend([700.0 * 1.01**i for i in range(60)])
    assert growing["flat"] is False and growing["last_vs_middle_third"] > 0.05
    assert growing["peak"] == growing["end"]
    # falling back (memory returned) is flat, not a miss
    assert server_load.rss_trend([900.0] * 20 + [800.0] * 20 + [700.0] * 20)["flat"] is True


def test_too_few_memory_samples_judge_nothing() -> None:
    assert server_load.rss_trend([])["flat"] is None
    short = server_load.rss_trend([700.0, 900.0])
    assert short["flat"] is None and short["peak"] == 900.0
    assert server_load._goals(_phase(50.0, 0, 15.0, 265.0), short)[FLAT_KEY] == "not judged"


def test_each_goal_is_met_or_missed_on_its_own() -> None:
    growing = server_load.rss_trend([800.0 + 3 * i for i in range(60)])  # 800 -> 977 MB, still rising
    goals = server_load._goals(_phase(133.9, 1, 1068.0, 1105.0), growing)
    assert goals == {
        "requests_per_s >= 50": "met",
        "search p95 <= 500 ms": "MISSED",
        "ask p95 <= 1.5 s": "met",
        "0 errors": "MISSED",
        "RSS <= 1 GB": "met",
        FLAT_KEY: "MISSED",
    }
    level_but_large = server_load.rss_trend([1025.0] * 30)
    verdicts = server_load._goals(_phase(49.9, 0, 15.0, 265.0), level_but_large)
    assert verdicts["RSS <= 1 GB"] == "MISSED" and verdicts[FLAT_KEY] == "met"
    assert set(verdicts.values()) == {"met", "MISSED"}


def test_the_results_text_shows_every_phase_and_marks_missed_goals() -> None:
    paced = {**_phase(50.0, 0, 15.0, 265.0), "offered_per_s": 50.0}
    paced["rss_mb"] = server_load.rss_trend([687.9] * 10 + [760.0] * 50)
    back_to_back = _phase(133.9, 1, 1068.0, 1105.0)
    back_to_back["rss_mb"] = server_load.rss_trend([760.0 + 2.5 * i for i in range(60)])
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
        "server_rss_mb": {"before": 687.9, "peak": 906.4, "after": 906.4},
        "paced_goals": server_load._goals(paced, paced["rss_mb"]),
        "back_to_back_goals": server_load._goals(back_to_back, back_to_back["rss_mb"]),
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
    assert "compares the mean of its last third with that of its middle third" in text
    assert (
        "- 50 clients, 50 requests/s offered: 688 MB at its start, 760 MB at the peak, 760 MB at its end; "
        "the last third +0.0% against the middle third (60 samples)" in text
    )
    back = "- 50 clients back to back: 760 MB at its start, 908 MB at the peak, 908 MB at its end; the last third +"
    assert back in text
    assert f"| {FLAT_KEY} | met | **MISSED** |" in text
