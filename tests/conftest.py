"""Shared test helpers: paths and a writer for throwaway specs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from envspec.errors import Diagnostic
    from envspec.resolve import Resolved

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.parent for p in (REPO / "examples").glob("*/env.yaml"))
# Real research Dockerfiles rewritten as specs (examples/reproductions/README.md).
REPRODUCTIONS = sorted(p.parent for p in (REPO / "examples" / "reproductions").glob("*/env.yaml"))
ALL_EXAMPLES = EXAMPLES + REPRODUCTIONS


def example_id(folder: Path) -> str:
    """Test id of an example folder: its path under examples/, with '-' for '/'."""
    return "-".join(folder.relative_to(REPO / "examples").parts)


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[str], Path]:
    """Write YAML text as env.yaml in a fresh folder and return its path."""

    def write(text: str, name: str = "env.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


# Imported inside: tests/gpu run on machines where envspec's dependencies may be missing.
def resolve_text(write_spec: Callable[[str], Path], text: str) -> Resolved:
    """Resolve YAML text written as a throwaway env.yaml."""
    from envspec.loader import load_spec
    from envspec.resolve import resolve

    return resolve(load_spec(write_spec(text)))


def resolve_errors(write_spec: Callable[[str], Path], text: str) -> list[Diagnostic]:
    """The errors (not warnings) that resolving YAML text raises; fails if it resolves."""
    from envspec.errors import SpecError

    with pytest.raises(SpecError) as caught:
        resolve_text(write_spec, text)
    return [d for d in caught.value.diagnostics if d.severity == "error"]
