"""A wheel built from this tree renders on its own: templates and data files are inside it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

# Both tests build a wheel with pip: slow next to the rest of the unit run.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
                   check=True, capture_output=True)
    [built] = out.glob("envspec-*.whl")
    return built


def test_wheel_contains_templates_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "envspec/templates/Dockerfile.j2" in names
    assert "envspec/templates/partials/apt.j2" in names
    assert "envspec/data/cuda_images.yaml" in names
    assert "envspec/smoke/probe.py" in names


def test_installed_wheel_renders_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-m", "envspec", "render",
                             str(REPO / "examples" / "pytorch-cuda12" / "env.yaml")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "FROM nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04" in result.stdout
    probe = subprocess.run([sys.executable, "-c", "import envspec.render as r; print(r.templates_dir())"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.strip().startswith(str(target))
