"""`python.provider: image` built for real: a local base image that carries a Python of its own
(a venv at /opt/py, made from the Debian test base, standing in for a framework image's conda
env), then a spec over it whose pip package must land in that interpreter, with no venv or
second Python made by envspec, and the smoke checks run with that interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_spec_builds import HOST_CA, envspec, image_of, run_in

IMAGE_PYTHON = "/opt/py/bin/python"
# Every python executable under a bin/ directory: the image's own set must not grow.
PYTHONS = "find / -xdev -path '*/bin/python*' \\( -type f -o -type l \\) 2>/dev/null | sort"


@pytest.fixture(scope="module")
def image_with_python(docker_client: Any, base_image: str) -> Iterator[str]:
    tag = f"envspec-itest/image-python:{uuid.uuid4().hex[:10]}"
    dockerfile = (
        f"FROM {base_image}\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv"
        f" && python3 -m venv {os.path.dirname(os.path.dirname(IMAGE_PYTHON))}"
        " && rm -rf /var/lib/apt/lists/*\n"
    )
    result = subprocess.run(["docker", "build", "-t", tag, "-"], input=dockerfile, text=True,
                            capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "0"},
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    yield tag
    docker_client.remove_image(tag, force=True)


def _spec(folder: Path, image: str, smoke: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "env.yaml"
    spec.write_text(
        f"name: image-python\nbase:\n  os: debian12\n  image: {image}\n"
        f"python:\n  provider: image\n  interpreter: {IMAGE_PYTHON}\n  version: '3.11'\n"
        "  pip:\n    packages: [six]\nuser:\n  name: dev\n" + smoke
    )
    return spec


def test_pip_installs_into_the_images_own_python(
    docker_client: Any, image_with_python: str, tmp_path: Path, image_cleanup: list[str]
) -> None:
    spec = _spec(tmp_path / "image-python", image_with_python)
    result = envspec("build", str(spec), "--ca-cert", str(HOST_CA), "--progress", "plain")
    image = image_of(result)
    image_cleanup.append(image)
    assert f"{IMAGE_PYTHON} -m pip install" in result.stderr
    before = run_in(docker_client, image_with_python, PYTHONS)
    out = run_in(docker_client, image, f"{PYTHONS}; echo ---; id -u; "
                 f"{IMAGE_PYTHON} -c 'import six; print(six.__file__)'; "
                 "test -e /opt/venv && echo venv-made || echo no-venv; "
                 "/usr/bin/python3 -c 'import six' 2>/dev/null && echo os-python-has-six "
                 "|| echo os-python-untouched")
    after, rest = out.split("---\n")
    assert f"{IMAGE_PYTHON}\n" in before and "/usr/bin/python3.11\n" in before
    assert after == before  # no second interpreter
    lines = rest.split()
    assert lines[0] == "1000"  # the runtime user, though pip ran as root
    assert lines[1].startswith("/opt/py/lib/python3.11/site-packages/six.py")
    assert lines[2:] == ["no-venv", "os-python-untouched"]


def test_smoke_checks_use_the_images_python(
    image_with_python: str, tmp_path: Path, image_cleanup: list[str]
) -> None:
    spec = _spec(tmp_path / "image-python-smoke", image_with_python, "smoke:\n  gpu: off\n")
    report = tmp_path / "smoke.json"
    result = envspec("test", str(spec), "--ca-cert", str(HOST_CA), "--progress", "plain",
                     "--json", str(report))
    image_cleanup.append(image_of(envspec("build", str(spec), "--ca-cert", str(HOST_CA))))
    assert result.returncode == 0
    checks = {c["name"]: c for c in json.loads(report.read_text())["results"]}
    assert checks["python"]["status"] == "pass", checks["python"]
    assert IMAGE_PYTHON in json.dumps(checks["python"]), checks["python"]
    assert checks["import six"]["status"] == "pass", checks["import six"]
