"""JSON schemas in workflows: the built-in ones, resolving a step's ``schema`` option, checking that
a schema is valid (draft 2020-12) and that a value fits one. Used both when a definition is checked
(:mod:`docket.workflows.spec`) and when steps run (:mod:`docket.workflows.steps`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from docket.errors import MissingExtraError, UserError

__all__ = [
    "BUILTIN_SCHEMAS",
    "jsonschema_module",
    "resolve_schema",
    "schema_error",
    "schema_error_at",
    "schema_problem",
]

Loc = tuple[str | int, ...]

BUILTIN_SCHEMAS = Path(__file__).parent / "builtin" / "schemas"


def jsonschema_module() -> Any:
    try:
        import jsonschema
    except ImportError:
        raise MissingExtraError("jsonschema", "workflows", "Workflows") from None
    return jsonschema


def schema_problem(schema: Any, value: Any) -> str | None:
    """The first way ``value`` breaks ``schema`` (``field.path: why``), or None when it fits."""
    js = jsonschema_module()
    validator = js.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    err = errors[0]
    where = ".".join(str(p) for p in err.absolute_path) or "(whole object)"
    return f"{where}: {err.message}"


def resolve_schema(spec: str | dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """A JSON schema from a built-in name (``invoice``), a .json file, or an inline mapping."""
    if isinstance(spec, dict):
        return spec
    builtin = BUILTIN_SCHEMAS / f"{spec}.json"
    candidates = [builtin] if re.fullmatch(r"[\w-]+", spec) else []
    candidates += [Path(spec), base_dir / spec]
    for path in candidates:
        if path.is_file():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise UserError(f"schema file '{path}' is not valid JSON: {exc}") from exc
            if not isinstance(loaded, dict):
                raise UserError(f"schema file '{path}' does not hold a JSON object")
            return loaded
    names = ", ".join(sorted(p.stem for p in BUILTIN_SCHEMAS.glob("*.json")))
    raise UserError(f"no schema '{spec}': give a built-in schema ({names}) or the path of a JSON schema file")


def schema_error(schema: Any) -> str | None:
    """Why ``schema`` is not a valid JSON schema (draft 2020-12), or None."""
    found = schema_error_at(schema)
    if found is None:
        return None
    where = "/".join(str(p) for p in found[1])
    return found[0] + (f" (at {where})" if where else "")


def schema_error_at(schema: Any) -> tuple[str, Loc] | None:
    """(why, where inside the schema) when ``schema`` is not a valid JSON schema, or None."""
    js = jsonschema_module()
    try:
        js.Draft202012Validator.check_schema(schema)
    except js.SchemaError as exc:
        return exc.message, tuple(exc.absolute_path)
    return None
