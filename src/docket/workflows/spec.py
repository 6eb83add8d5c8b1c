"""Workflow definitions: one YAML file validated into typed pydantic models.

A definition names its steps by registered short name (``kind: extract``), never by import path.
:func:`load_workflow` checks everything that can be checked without a model — the top-level
fields, each step's kind and options, every Jinja2 template, every JSON schema, references
between steps — and reports each mistake as ``FILE:LINE: FIELD: what is wrong`` using the YAML
node's line numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from docket.errors import MissingExtraError, UserError
from docket.workflows.schemas import Loc, schema_error_at

__all__ = ["StepDef", "Workflow", "WorkflowError", "load_workflow", "parse_workflow", "yaml_with_lines"]


class WorkflowError(UserError):
    """A workflow definition (or a run's input) that does not validate; lists every problem found."""

    code = "workflow_error"


class StepDef(BaseModel):
    """One step as written: its id, its registered kind, an optional ``when`` and its options."""

    model_config = ConfigDict(frozen=True, extra="allow")

    id: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    kind: str
    when: str | None = None

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Workflow(BaseModel):
    """A validated workflow. ``steps`` holds the built step objects, in order."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    version: int = Field(1, ge=1, le=1)
    name: str = Field(min_length=1)
    description: str = ""
    batch: bool = True
    inputs: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    params: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepDef] = Field(min_length=1)
    result: str | None = None
    output: dict[str, Any] | None = None
    source: str = Field("<string>", exclude=True)
    built: tuple[Any, ...] = Field((), exclude=True)

    @property
    def needs_model(self) -> bool:
        """Whether a step can only run with a language model (an optional narrative does not count)."""
        return any(getattr(step, "needs_model", False) for step in self.built)

    def step(self, step_id: str) -> Any:
        for definition, built in zip(self.steps, self.built, strict=True):
            if definition.id == step_id:
                return built
        raise KeyError(step_id)


# ---------------------------------------------------------------------- YAML with line numbers


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - yaml is a dependency of the workflows extra
        raise MissingExtraError("pyyaml", "workflows", "Workflows") from None
    return yaml


def _to_python(node: Any, loc: Loc, lines: dict[Loc, int]) -> Any:
    """The plain value of a composed YAML node, recording each node's 1-based line in ``lines``."""
    yaml = _yaml()
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            out[key] = _to_python(value_node, (*loc, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*loc, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: Any) -> Any:
    yaml = _yaml()
    return yaml.safe_load(yaml.serialize(node))


def _line(lines: dict[Loc, int], loc: Sequence[str | int]) -> int:
    for n in range(len(loc), -1, -1):
        if tuple(loc[:n]) in lines:
            return lines[tuple(loc[:n])]
    return 1


def _field(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class _Problems:
    def __init__(self, source: str, lines: dict[Loc, int]) -> None:
        self.source, self.lines, self.items = source, lines, []  # type: ignore[var-annotated]

    def add(self, loc: Sequence[str | int], message: str, line_offset: int = 0) -> None:
        line = _line(self.lines, loc) + line_offset
        self.items.append(f"{self.source}:{line}: {_field(loc)}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            head = "invalid workflow" if len(self.items) == 1 else f"invalid workflow ({len(self.items)} problems)"
            raise WorkflowError(f"{head}:\n" + "\n".join(self.items))


# ---------------------------------------------------------------------- loading


def load_workflow(path: str | Path) -> Workflow:
    """Read and validate a workflow file (errors name the file, line and field)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkflowError(f"no workflow file '{path}'") from None
    return parse_workflow(text, str(path))


def parse_workflow(text: str, source: str = "<string>") -> Workflow:
    """Validate a workflow given as YAML text; ``source`` names it in error messages."""
    data, problems = yaml_with_lines(text, source)
    if not isinstance(data, dict):
        problems.add((), "a workflow is a mapping with name, steps, ... at the top level")
        problems.raise_if_any()
    try:
        workflow = Workflow.model_validate({**data, "source": source})
    except ValidationError as exc:
        for err in exc.errors():
            problems.add(tuple(err["loc"]), _pydantic_message(err))
        problems.raise_if_any()
        raise  # unreachable: there was at least one error
    _check_schemas(workflow, problems)
    built = _build_steps(workflow, problems)
    problems.raise_if_any()
    return workflow.model_copy(update={"built": tuple(built)})


def yaml_with_lines(text: str, source: str) -> tuple[Any, _Problems]:
    """The YAML's value, and a problem list that knows each node's line."""
    yaml = _yaml()
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise WorkflowError(f"invalid YAML:\n{source}:{line}: {getattr(exc, 'problem', exc)}") from None
    lines: dict[Loc, int] = {}
    data = _to_python(root, (), lines) if root is not None else None
    return data, _Problems(source, lines)


def _pydantic_message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        valid = ", ".join(sorted(f for f in Workflow.model_fields if f not in ("source", "built")))
        return f"unknown field. Valid fields: {valid}"
    return str(err["msg"])


def _check_schemas(workflow: Workflow, problems: _Problems) -> None:
    for name in ("inputs", "output"):
        schema = getattr(workflow, name)
        if schema is not None:
            found = schema_error_at(schema)
            if found:
                problems.add((name, *found[1]), f"not a valid JSON schema: {found[0]}")


def _build_steps(workflow: Workflow, problems: _Problems) -> list[Any]:
    from docket.errors import UnknownBackendError
    from docket.workflows.steps import STEPS, template_error

    built: list[Any] = []
    seen: set[str] = set()
    for i, definition in enumerate(workflow.steps):
        loc: Loc = ("steps", i)
        if definition.id in seen:
            problems.add((*loc, "id"), f"duplicate step id '{definition.id}'")
        if definition.when is not None:
            error = template_error(definition.when, expression=True)
            if error:
                problems.add((*loc, "when"), error[0], error[1])
        try:
            factory = STEPS.get(definition.kind)
        except UnknownBackendError:
            problems.add((*loc, "kind"), f"unknown step '{definition.kind}'. Valid steps: {', '.join(STEPS.names())}")
            built.append(None)
            seen.add(definition.id)
            continue
        import inspect

        valid = [p for p in inspect.signature(factory).parameters if p != "self"]
        unknown = [o for o in definition.options if o not in valid]
        for option in unknown:
            problems.add(
                (*loc, option),
                f"step '{definition.kind}' has no option '{option}'. Valid options: id, kind, when, {', '.join(valid)}",
            )
        try:
            step = None if unknown else factory(**definition.options)
        except ValidationError as exc:
            for err in exc.errors():
                problems.add((*loc, *err["loc"]), str(err["msg"]))
            step = None
        except UserError as exc:
            problems.add(loc, str(exc))
            step = None
        if step is not None:
            for field, message, offset in step.problems(seen):
                problems.add((*loc, field), message, offset)
        built.append(step)
        seen.add(definition.id)
    if workflow.result is not None and workflow.result not in seen:
        problems.add(("result",), f"no step with id '{workflow.result}'. Steps: {', '.join(sorted(seen))}")
    return built
