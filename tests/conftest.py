"""Shared test helpers: paths and a writer for throwaway specs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

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
