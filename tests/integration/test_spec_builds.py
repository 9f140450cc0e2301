"""Specs built for real, end to end through the `envspec` CLI, then checked inside the image.

Spec features exercised here by a real build: Debian 12 base (local debootstrap image via
--base-image), apt packages in one layer, a pinned gcc/g++ made the default, OS Python in a venv
(PEP 668), a requirements file copied alone before its install, pip packages, extra CA
certificates (the host bundle, so pip works behind this machine's TLS-intercepting proxy) and
their removal, env vars, a non-root user owning the workdir, `copy`, `run`, the apt mirror
rewrite (classic sources.list and deb822 .sources) through a real apt-cacher-ng, layer reuse
after a pip-only edit, the no-op rebuild, and a failing build's exit code and message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

ENVSPEC = [sys.executable, "-m", "envspec"]
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def envspec(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*ENVSPEC, *args], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"envspec {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def image_of(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.strip().splitlines()[-1].split()[0]


def run_in(client: Any, image: str, script: str) -> str:
    container = client.create_container(image, ["bash", "-c", script])
    try:
        client.start(container)
        code = client.wait(container, timeout=120)["StatusCode"]
        output = client.logs(container).decode()
    finally:
        client.remove_container(container, force=True)
    assert code == 0, output
    return output


@pytest.fixture
def built_cpu_debian(docker_client: Any, base_image: str, image_cleanup: list[str]) -> str:
    result = envspec("build", "examples/cpu-debian/env.yaml", "--base-image", base_image,
                     "--ca-cert", str(HOST_CA), "--progress", "plain")
    image = image_of(result)
    image_cleanup.append(image)
    return image


def test_cpu_debian_example_is_what_the_spec_says(docker_client: Any, built_cpu_debian: str) -> None:
    out = run_in(docker_client, built_cpu_debian, "id -u; id -g; pwd; stat -c %u /workspace; "
                 "gcc -dumpversion; g++ -dumpversion; cc -dumpversion; python --version; "
                 "which python; echo $APP_MODE; python src/main.py; "
                 "python -c 'import sys; print(sys.prefix != sys.base_prefix)'")
    lines = out.split()
    assert lines[:4] == ["1000", "1000", "/workspace", "1000"]  # non-root, owns the workdir
    assert lines[4:7] == ["11", "11", "11"]  # the pinned gcc is the default, also as cc
    assert lines[7:9] == ["Python", "3.11.2"]  # bookworm's own python3 ...
    assert lines[9] == "/opt/venv/bin/python"  # ... with packages in a venv
    assert lines[10] == "test"
    assert lines[11] == "ok"  # numpy (requirements.txt) and requests (pip list) import
    assert lines[-1] == "True"


def test_unchanged_spec_is_not_rebuilt(built_cpu_debian: str, base_image: str) -> None:
    again = envspec("build", "examples/cpu-debian/env.yaml", "--base-image", base_image,
                    "--ca-cert", str(HOST_CA), "--progress", "plain")
    assert image_of(again) == built_cpu_debian
    assert "(up to date)" in again.stdout
    assert "Step " not in again.stderr  # the builder was not called at all


def _small_spec(folder: Path, base_image: str, *, pip: list[str], extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "env.yaml"
    spec.write_text(
        f"name: {folder.name}\nbase:\n  os: debian12\n  image: {base_image}\n"
        "apt:\n  packages: [python3-venv]\n"
        f"python:\n  pip:\n    packages: {pip}\n{extra}"
    )
    return spec


def _history(client: Any, image: str) -> list[str]:
    """Layer ids oldest first (each entry is one Dockerfile instruction)."""
    return [entry["Id"] for entry in reversed(client.history(image))]


def test_pip_only_edit_rebuilds_only_the_pip_layer(
    docker_client: Any, base_image: str, tmp_path: Path, image_cleanup: list[str]
) -> None:
    spec = _small_spec(tmp_path / "pip-edit", base_image, pip=["six"])
    first = image_of(envspec("build", str(spec), "--ca-cert", str(HOST_CA), "--progress", "plain"))
    image_cleanup.append(first)
    _small_spec(tmp_path / "pip-edit", base_image, pip=["six", "idna"])
    second_run = envspec("build", str(spec), "--ca-cert", str(HOST_CA), "--progress", "plain")
    second = image_of(second_run)
    image_cleanup.append(second)
    old, new = _history(docker_client, first), _history(docker_client, second)
    pip_index = next(i for i, line in enumerate(second_run.stderr.splitlines()) if "pip install" in line)
    assert pip_index > 0
    # Every layer up to the venv is reused; only the pip layer and what follows differ.
    shared = sum(1 for a, b in zip(old, new, strict=False) if a == b and a != "<missing>")
    assert shared >= len(new) - 4, (old, new)
    assert second_run.stderr.count("Using cache") >= 8


def test_ca_certificates_can_be_kept_out_of_the_final_image(
    docker_client: Any, base_image: str, tmp_path: Path, image_cleanup: list[str]
) -> None:
    folder = tmp_path / "ca-drop"
    folder.mkdir()
    shutil.copy(HOST_CA, folder / "corp-ca.crt")
    spec = _small_spec(folder, base_image, pip=["six"],
                       extra="build:\n  ca_certificates: [corp-ca.crt]\n  keep_ca_certificates: false\n")
    image = image_of(envspec("build", str(spec), "--progress", "plain"))
    image_cleanup.append(image)
    out = run_in(docker_client, image, "ls /usr/local/share/ca-certificates/envspec 2>&1 || true; "
                 "python -c 'import six; print(six.__name__)'")
    assert "No such file or directory" in out
    assert "six" in out


@pytest.mark.parametrize("base_fixture", ["base_image", "base_image_deb822"])
def test_apt_mirror_is_really_used(
    request: pytest.FixtureRequest, docker_client: Any, apt_cacher: Any, tmp_path: Path,
    image_cleanup: list[str], base_fixture: str,
) -> None:
    base = request.getfixturevalue(base_fixture)
    folder = tmp_path / f"mirror-{base_fixture.replace('_', '-')}"
    folder.mkdir()
    (folder / "env.yaml").write_text(
        f"name: {folder.name}\nbase:\n  os: debian12\n  image: {base}\n"
        f"apt:\n  mirror: {apt_cacher.mirror_url}\n  packages: [tree]\npython: null\nuser: null\n"
    )
    offset = apt_cacher.log_size()
    result = envspec("build", str(folder / "env.yaml"), "--network", "host", "--no-cache",
                     "--progress", "plain")
    image = image_of(result)
    image_cleanup.append(image)
    served = apt_cacher.log_since(offset)
    assert "tree" in served, "apt-cacher-ng's log shows no download of the package"
    sources = run_in(docker_client, image, "cat /etc/apt/sources.list /etc/apt/sources.list.d/* "
                     "2>/dev/null; tree --version")
    assert apt_cacher.mirror_url in sources
    assert "tree v" in sources


def test_broken_package_fails_with_build_exit_code(base_image: str, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "env.yaml").write_text(
        f"name: broken\nbase:\n  os: debian12\n  image: {base_image}\n"
        "apt:\n  packages: [no-such-package-envspec]\npython: null\n"
    )
    result = envspec("build", str(folder / "env.yaml"), "--progress", "plain", check=False)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "apt-get install" in result.stderr
    assert "Unable to locate package no-such-package-envspec" in result.stderr


def test_envspec_test_runs_the_smoke_checks_in_the_image(built_cpu_debian: str, base_image: str,
                                                         tmp_path: Path) -> None:
    import json

    report = tmp_path / "smoke.json"
    junit = tmp_path / "smoke.xml"
    result = envspec("test", "examples/cpu-debian/env.yaml", "--base-image", base_image,
                     "--ca-cert", str(HOST_CA), "--progress", "plain",
                     "--json", str(report), "--junit", str(junit))
    assert result.returncode == 0
    results = json.loads(report.read_text())["results"]
    checks = {c["name"]: c["status"] for c in results}
    for name in ("os", "gcc", "g++", "user", "workdir", "python", "import numpy", "import requests"):
        assert checks[name] == "pass", checks
    gpu_checks = [c["status"] for c in results if c["gpu"]]
    assert gpu_checks and set(gpu_checks) == {"skip"}  # no NVIDIA runtime here: skipped, not failed
    assert "<testsuite" in junit.read_text()


def test_failing_declared_check_exits_4(base_image: str, tmp_path: Path,
                                        image_cleanup: list[str]) -> None:
    folder = tmp_path / "smoke-fail"
    folder.mkdir()
    (folder / "env.yaml").write_text(
        f"name: smoke-fail\nbase:\n  os: debian12\n  image: {base_image}\npython: null\n"
        "smoke:\n  gpu: off\n  checks:\n    - name: must fail\n      command: 'exit 3'\n")
    result = envspec("build", str(folder / "env.yaml"), "--test", "--progress", "plain", check=False)
    assert result.returncode == 4, result.stderr
    image_cleanup.append(result.stdout.strip().splitlines()[0].split()[0])
    assert "must fail" in result.stdout + result.stderr
