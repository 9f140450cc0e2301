"""What the command line adds to a spec before it is compiled (kept light: the CLI imports it
to build its options, and `envspec --help` must stay fast)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BuildInputs:
    """The inputs to `compile_spec` / `ensure_image` that are not in the spec file."""

    base_image: str | None = None  # FROM this instead of the resolved image
    locked: bool = False  # fail unless env.lock exists and matches the spec
    extra_ca_certs: tuple[Path, ...] = ()  # trusted during the build; may live anywhere


NO_INPUTS = BuildInputs()  # the spec as it is
