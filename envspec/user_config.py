"""Per-machine settings: what belongs to this machine (mirrors, CA certificates, catalogs of
templates), not to the committed spec. One YAML file, found at `$ENVSPEC_CONFIG` or in the
platform's user config folder (`~/.config/envspec/config.yaml` on Linux).

The file is read with the spec's own safety limits and located errors, so a typo in it is
reported as `config.yaml:3:1: unknown key …` like a typo in env.yaml. A missing file is an
empty configuration, never an error.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

CONFIG_ENV_VAR = "ENVSPEC_CONFIG"
CONFIG_FILE_NAME = "config.yaml"


class UserConfig(BaseModel):
    """Every field is optional: an empty file, or none, changes nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    catalogs: dict[str, str] = Field(
        default_factory=dict,
        description="Template catalogs by name: `lab: https://example.org/templates/index.yaml`.",
        max_length=64,
    )

    def catalog_url(self, name: str) -> str | None:
        return self.catalogs.get(name)


def config_path() -> Path:
    """`$ENVSPEC_CONFIG` when set (tests and CI point it at a file of their own), else the
    platform's user config folder."""
    override = os.environ.get(CONFIG_ENV_VAR)
    if override:
        return Path(override)
    import platformdirs  # only the commands that look for the file pay for it

    return Path(platformdirs.user_config_dir("envspec", appauthor=False)) / CONFIG_FILE_NAME


def load_user_config(path: Path | None = None) -> UserConfig:
    """The user's settings; `UserConfig()` when the file does not exist. Raises SpecError,
    located in the config file, when it exists but is wrong."""
    from envspec.loader import load_model  # the loader pulls in the spec models

    target = path or config_path()
    if not target.is_file():
        return UserConfig()
    return load_model(target, UserConfig)
