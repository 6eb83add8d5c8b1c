"""The docs stay true: every command and every setting is documented; the README's commands are the CI's."""

from __future__ import annotations

import typer.main

from docket.cli import app
from docket.config import SECTIONS, Settings
from tests.conftest import REPO


def _command_names() -> list[str]:
    group = typer.main.get_command(app)
    names = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(cmd, "commands", None)
        names.extend(f"{name} {s}" for s in sub) if sub else names.append(name)
    return names


def test_every_cli_command_is_documented() -> None:
    text = (REPO / "docs" / "cli.md").read_text()
    missing = [n for n in _command_names() if f"`docket {n}" not in text]
    assert not missing, f"document these commands in docs/cli.md: {missing}"


def test_every_setting_is_documented() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    missing = []
    for section in SECTIONS:
        model = Settings.model_fields[section].annotation
        for key in model.model_fields:  # type: ignore[union-attr]
            if f"`{section}.{key}`" not in text:
                missing.append(f"{section}.{key}")
    assert not missing, f"document these settings in docs/configuration.md: {missing}"


def test_documented_defaults_match_the_code() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    defaults = Settings(home=REPO)
    for section in SECTIONS:
        for key, value in getattr(defaults, section).model_dump().items():
            if isinstance(value, list):
                continue
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            assert f"| `{section}.{key}` | `{shown}` |" in text, f"{section}.{key} default {shown}"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in ci


def test_the_security_policy_states_the_limits_the_code_has() -> None:
    """docs/security.md's Limits table names each setting with its default, and its policy table
    lists exactly the routes the server lets through without a sign-in."""
    import re

    from docket.server.limits import PUBLIC_ROUTES

    text = (REPO / "docs" / "security.md").read_text()
    limits = text[text.index("## Limits") : text.index("## Outbound requests")]
    defaults = Settings(home=REPO).model_dump()
    named = re.findall(r"`server\.(\w+)` \(([\d,]+)", limits)
    assert len(named) >= 8
    for key, shown in named:
        assert str(defaults["server"][key]).removesuffix(".0") == shown.replace(",", ""), key
    policy = text[text.index("## The policy") : text.index("## Limits")]
    anyone = next(line for line in policy.splitlines() if line.startswith("| `POST /api/session`"))
    for method, pattern in PUBLIC_ROUTES:
        example = pattern.pattern.replace("[^/]+", "{workspace}")
        assert f"`{method or 'POST'} {example}`" in anyone, example
