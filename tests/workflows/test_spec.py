"""Workflow definitions: validated without a model; every mistake names the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from docket.workflows import WorkflowError, builtin_names, load_workflow, resolve_workflow

GOOD = """\
version: 1
name: triage
inputs:
  type: object
  required: [text]
  properties:
    text: {type: string}
steps:
  - id: category
    kind: classify
    labels: [billing, bug, other]
  - id: urgent
    kind: condition
    test: "category == 'bug'"
  - id: reply
    kind: generate
    when: urgent
    prompt: "Draft a reply about {{ inputs.text }}"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yml"
    path.write_text(text)
    return path


def test_a_valid_definition_loads_with_typed_steps(tmp_path: Path) -> None:
    flow = load_workflow(_write(tmp_path, GOOD))
    assert [s.kind for s in flow.steps] == ["classify", "condition", "generate"]
    assert flow.needs_model


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_workflow_validates(name: str) -> None:
    assert resolve_workflow(name).name == name


def test_unknown_step_names_file_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("kind: classify", "kind: clasify"))
    with pytest.raises(WorkflowError) as exc:
        load_workflow(path)
    message = str(exc.value)
    assert f"{path}:10: steps[0].kind: unknown step 'clasify'" in message
    assert "Valid steps:" in message and "classify" in message


def test_bad_template_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("{{ inputs.text }}", "{{ inputs.text "))
    with pytest.raises(WorkflowError) as exc:
        load_workflow(path)
    assert f"{path}:18: steps[2].prompt: bad template" in str(exc.value)


def test_invalid_schema_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("text: {type: string}", "text: {type: strin}"))
    with pytest.raises(WorkflowError) as exc:
        load_workflow(path)
    assert f"{path}:7: inputs.properties.text.type: not a valid JSON schema" in str(exc.value)


def test_unknown_option_lists_the_valid_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("labels: [billing, bug, other]", "labels: [a, b]\n    lables: [x]"))
    with pytest.raises(WorkflowError) as exc:
        load_workflow(path)
    assert f"{path}:12: steps[0].lables: step 'classify' has no option 'lables'" in str(exc.value)


def test_missing_field_and_bad_reference_are_all_reported(tmp_path: Path) -> None:
    text = "name: x\nsteps:\n  - id: a\n    kind: chart\n    source: nowhere\n  - id: b\n    kind: extract\n"
    with pytest.raises(WorkflowError) as exc:
        load_workflow(_write(tmp_path, text))
    message = str(exc.value)
    assert "steps[0].source: no earlier step 'nowhere'" in message
    assert ":6: steps[1].schema: Field required" in message or "steps[1].schema" in message


def test_extract_schema_must_be_a_valid_json_schema(tmp_path: Path) -> None:
    text = "name: x\nsteps:\n  - id: a\n    kind: extract\n    schema: {type: 12}\n"
    with pytest.raises(WorkflowError, match=r":5: steps\[0\]\.schema: not a valid JSON schema"):
        load_workflow(_write(tmp_path, text))
