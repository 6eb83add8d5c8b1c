"""Workflows: YAML definitions of steps (retrieve, generate, extract, classify, compute, chart,
render, condition) run over a batch of items. See docs/workflows.md.

    from docket.workflows import load_workflow, resolve_workflow, run_workflow
    summary = run_workflow(resolve_workflow("report"), "sales.csv", params={"spec": "spec.yml"}, output=Path("out"))
"""

from __future__ import annotations

from pathlib import Path

import docket.workflows.data_steps  # noqa: F401  (registers compute, chart, render)
from docket.errors import UserError
from docket.workflows import review_steps  # noqa: F401  (registers review, webhook)
from docket.workflows.runner import RunSummary, items_from, run_workflow
from docket.workflows.spec import Workflow, WorkflowError, load_workflow, parse_workflow
from docket.workflows.steps import STEPS

__all__ = [
    "BUILTIN",
    "STEPS",
    "RunSummary",
    "Workflow",
    "WorkflowError",
    "builtin_names",
    "items_from",
    "load_workflow",
    "parse_workflow",
    "resolve_workflow",
    "run_workflow",
]

BUILTIN = Path(__file__).parent / "builtin"


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN.glob("*.yml"))


def resolve_workflow(name_or_path: str) -> Workflow:
    """A built-in workflow by name (``report``), or a definition file (``my-flow.yml``)."""
    path = Path(name_or_path)
    if path.suffix.lower() in (".yml", ".yaml") or path.is_file():
        return load_workflow(path)
    builtin = BUILTIN / f"{name_or_path}.yml"
    if builtin.is_file():
        return load_workflow(builtin)
    raise UserError(
        f"no workflow '{name_or_path}'. Built-in workflows: {', '.join(builtin_names())}; "
        "or give the path of a workflow file (FILE.yml)"
    )
