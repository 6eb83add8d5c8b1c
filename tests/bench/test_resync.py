"""The re-sync benchmark's own logic: medians, the outside-model share and the table it prints.

The benchmark itself is never run by the suite (it needs the peers' environments and minutes)."""

from __future__ import annotations

from tests.bench_modules import load_bench

resync = load_bench("bench_resync", "resync.py")


def run(seconds: float, embed_s: float, embedded: int = 6) -> dict[str, float]:
    return {"seconds": seconds, "wall_s": seconds + 1.0, "embedded": embedded, "embed_s": embed_s}


def test_summary_takes_medians_and_the_time_outside_the_model() -> None:
    s = resync.summarise([run(0.30, 0.20), run(0.50, 0.20), run(0.40, 0.10)])
    assert s["seconds"] == 0.40 and s["embed_s"] == 0.20 and s["wall_s"] == 1.40
    assert abs(s["outside_model_s"] - 0.30) < 1e-9  # the median of each round's own 0.10, 0.30, 0.30
    # not the difference of the medians (0.5 - 0.2): each round's outside time, then their median
    assert abs(resync.summarise([run(0.3, 0.1), run(0.9, 0.2), run(0.5, 0.45)])["outside_model_s"] - 0.2) < 1e-9


def test_table_shows_every_system_against_docket() -> None:
    updates = {resync.THIS: [run(0.2, 0.1)], resync.BASE: [run(0.6, 0.1)], "LangChain": [run(1.6, 0.7, 26)]}
    cli = {v: {"unchanged": {"wall_s": 2.0, "seconds": 0.05}, "changed": {"wall_s": 3.0, "seconds": 0.3}} for v in
           (resync.THIS, resync.BASE)}  # fmt: skip
    res = {"updates": updates, "summary": {k: resync.summarise(v) for k, v in updates.items()}, "cli": cli}
    table = resync.table(res)
    assert "| Docket | 0.200 | 0.200 | 1.20 | 6 | 0.100 | 0.100 | 1.0× |" in table
    assert "| Docket, baseline | 0.600 |" in table and "| 3.0× |" in table
    assert "| LangChain | 1.600 | 1.600 | 2.60 | 26 | 0.700 | 0.900 | 8.0× |" in table
    assert "| Docket | 2.00 / 0.050 | 3.00 / 0.300 |" in table


def test_headline_has_the_keys_the_figures_generator_reads() -> None:
    updates = {resync.THIS: [run(0.2, 0.1)], resync.BASE: [run(0.6, 0.1)], "LangChain": [run(1.6, 0.7, 26)]}
    res = {"docs": 500, "changed": 5, "summary": {k: resync.summarise(v) for k, v in updates.items()}}
    out = resync.headline(res)
    assert out["docket"]["update_s"] == 0.2 and out["docket"]["model_s"] == 0.1
    assert out["langchain"]["chunks_embedded"] == 26
    assert out["speedup"] == {"baseline": 3.0, "langchain": 8.0}
