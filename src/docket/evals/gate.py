"""The regression gate of ``docket eval run``: a report compared with a baseline report (drops beyond
a tolerance) and with absolute floors (``--fail-below PART.METRIC=VALUE``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from docket.errors import UserError
from docket.evals.results import EvalReport, metric_value

__all__ = ["compare", "load_baseline", "parse_floors"]

# Parts of the report and the metrics the gate compares; "lower" metrics fail when they rise.
HIGHER = ("retrieval", "answers", "grounding", "abstention")
LOWER = frozenset({"abstention.wrong_abstention"})
NOT_COMPARED = frozenset({"grounding.citations_per_answer"})  # more citations is not better or worse
# latency_ms and cost depend on the machine and prices: floors only, never against a baseline
PARTS = ("retrieval", "answers", "grounding", "abstention", "latency_ms", "cost")


def parse_floors(values: Iterable[str]) -> dict[str, float]:
    """``METRIC=VALUE`` strings (``retrieval.ndcg@10=0.6``) as a mapping; a clear error otherwise."""
    floors: dict[str, float] = {}
    for text in values:
        name, sep, value = text.partition("=")
        name = name.strip()
        part = name.partition(".")[0]
        if not sep or "." not in name or part not in PARTS:
            raise UserError(
                f"--fail-below '{text}': write PART.METRIC=VALUE, e.g. retrieval.ndcg@10=0.6 "
                f"(parts: {', '.join(PARTS)})"
            )
        try:
            floors[name] = float(value)
        except ValueError:
            raise UserError(f"--fail-below '{text}': '{value}' is not a number") from None
    return floors


def _metrics_of(report: EvalReport | Mapping[str, Any]) -> Mapping[str, Any]:
    return report.metrics if isinstance(report, EvalReport) else report


def compare(
    report: EvalReport | Mapping[str, Any],
    baseline: Mapping[str, Any] | None = None,
    tolerance: float = 0.01,
    floors: Mapping[str, float] | None = None,
) -> list[str]:
    """The failed checks, one line each (empty: the gate passes).

    Against ``baseline`` (a previous ``--json`` output) every metric both hold in retrieval,
    answers, grounding and abstention must not drop by more than ``tolerance``
    (``abstention.wrong_abstention`` must not rise by more); latency and cost are not compared.
    Each floor ``PART.METRIC: VALUE`` fails when the metric is below it or was not measured.
    """
    current = _metrics_of(report)
    failures: list[str] = []
    for part in HIGHER if baseline is not None else ():
        base_part = baseline.get(part) if baseline is not None else None
        if not isinstance(base_part, Mapping) or not isinstance(current.get(part), Mapping):
            continue
        for metric in base_part:
            name = f"{part}.{metric}"
            before, now = metric_value(baseline or {}, name), metric_value(current, name)
            if name in NOT_COMPARED or before is None or now is None:
                continue
            change = now - before
            if name in LOWER and change > tolerance + 1e-12:
                failures.append(f"{name} rose from {before:g} to {now:g} ({change:+.4g}, tolerance {tolerance:g})")
            elif name not in LOWER and -change > tolerance + 1e-12:
                failures.append(f"{name} fell from {before:g} to {now:g} ({change:+.4g}, tolerance {tolerance:g})")
    for name, floor in (floors or {}).items():
        now = metric_value(current, name)
        if now is None:
            failures.append(f"{name} was not measured (floor {floor:g})")
        elif now < floor:
            failures.append(f"{name} is {now:g}, below the floor {floor:g} ({now - floor:+.4g})")
    return failures


def load_baseline(path: str | Path) -> dict[str, Any]:
    """A previous ``docket eval run --json`` output; a clear error when it is not one."""
    import json

    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"--baseline {path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"--baseline {path}: not JSON ({exc}); give a `docket eval run --json` output") from None
    if not isinstance(data, dict) or not any(isinstance(data.get(p), dict) for p in PARTS):
        raise UserError(f"--baseline {path}: no metrics in it; give a `docket eval run --json` output")
    return data
