"""The per-machine config file: found by $ENVSPEC_CONFIG, optional, and located on error."""

from __future__ import annotations

from pathlib import Path

import pytest

from envspec.errors import SpecError
from envspec.user_config import CONFIG_ENV_VAR, UserConfig, config_path, load_user_config


def test_missing_file_is_an_empty_config(tmp_path: Path) -> None:
    assert load_user_config(tmp_path / "absent.yaml") == UserConfig()


def test_comment_only_file_is_an_empty_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("# nothing set yet\n")
    assert load_user_config(path) == UserConfig()


def test_env_var_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("catalogs:\n  lab: https://templates.example.org/index.yaml\n")
    monkeypatch.setenv(CONFIG_ENV_VAR, str(path))
    assert config_path() == path
    assert load_user_config().catalog_url("lab") == "https://templates.example.org/index.yaml"


def test_default_location_is_the_platform_config_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV_VAR, raising=False)
    assert config_path().parts[-2:] == ("envspec", "config.yaml")


def test_unknown_key_is_located_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("catalogs: {}\ncatalgs:\n  lab: x\n")
    with pytest.raises(SpecError) as caught:
        load_user_config(path)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.location is not None
    assert (diagnostic.location.file, diagnostic.location.line) == (str(path), 2)
    assert "catalgs" in diagnostic.message
    assert diagnostic.hint == "did you mean `catalogs`?"
