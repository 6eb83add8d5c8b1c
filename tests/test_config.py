from __future__ import annotations

from pathlib import Path

import pytest

from docket.config import load_settings
from docket.errors import ConfigError


def test_layers_defaults_file_environment_flags(tmp_path: Path) -> None:
    home = tmp_path / "kb"
    home.mkdir()
    (home / "docket.toml").write_text("[search]\nk = 7\nalpha = 0.2\n[chunking]\nmax_tokens = 128\n")
    s = load_settings(home=home, environ={"DOCKET_SEARCH__ALPHA": "0.4"}, overrides={"chunking": {"max_tokens": 300}})
    assert s.search.k == 7  # file
    assert s.search.alpha == 0.4  # environment beats file
    assert s.chunking.max_tokens == 300  # flag beats file
    assert s.answer.top_k == 6  # default


def test_home_comes_from_flag_then_environment(tmp_path: Path) -> None:
    assert load_settings(environ={"DOCKET_HOME": str(tmp_path / "a")}).home == tmp_path / "a"
    assert load_settings(home=tmp_path / "b", environ={"DOCKET_HOME": str(tmp_path / "a")}).home == tmp_path / "b"


def test_unknown_keys_and_sections_are_rejected_with_valid_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'search.alfa' \(valid here: k, candidates, mode, alpha"):
        load_settings(home=tmp_path, environ={"DOCKET_SEARCH__ALFA": "1"})
    with pytest.raises(ConfigError, match="unknown section 'serch'"):
        load_settings(home=tmp_path, environ={"DOCKET_SERCH__K": "1"})
    (tmp_path / "docket.toml").write_text("[nonsense]\nx = 1\n")
    with pytest.raises(ConfigError, match="nonsense"):
        load_settings(home=tmp_path, environ={})


def test_bad_values_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"search\.alpha"):
        load_settings(home=tmp_path, environ={"DOCKET_SEARCH__ALPHA": "2"})
    (tmp_path / "docket.toml").write_text("[search\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(home=tmp_path, environ={})


def test_list_settings_from_the_environment(tmp_path: Path) -> None:
    s = load_settings(home=tmp_path, environ={"DOCKET_INGEST__IGNORE": "*.log, drafts"})
    assert s.ingest.ignore == ["*.log", "drafts"]
