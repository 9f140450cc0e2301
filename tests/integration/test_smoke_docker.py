"""Smoke tests inside real containers on the real engine (no GPU, no NVIDIA runtime here).

The debootstrap'ed base image has no Python, so it exercises the sh probe; a small image built
from it with python3 and a non-root user exercises the Python probe.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

import pytest

from envspec.doctor import run_doctor
from envspec.engine import Engine
from envspec.errors import DockerUnavailableError
from envspec.gpus import NvidiaRuntimeMissingError
from envspec.smoke.checks import Expectations
from envspec.smoke.runner import run_smoke
from envspec.spec import SmokeCheck

pytestmark = pytest.mark.docker
PYTHON_IMAGE = "envspec-test/smoke-python:bookworm"
DECLARED = (
    SmokeCheck(name="echo", command="echo smoke-ok; uname -s", expect_output="smoke-ok"),
    SmokeCheck(name="must-fail", command="exit 3"),
)


@pytest.fixture(scope="module")
def python_image(docker_client: Any, base_image: str) -> str:
    dockerfile = (
        f"FROM {base_image}\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends python3 "
        "&& rm -rf /var/lib/apt/lists/*\n"
        "RUN useradd -u 1234 -m tester\n"
        "ENV ENVSPEC_SMOKE=yes\n"
        "USER tester\n"
        "WORKDIR /home/tester\n"
    )
    for _ in docker_client.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=PYTHON_IMAGE, rm=True, decode=True
    ):
        pass
    return PYTHON_IMAGE


def statuses(report: Any) -> dict[str, str]:
    return {r.name: r.status for r in report.results}


def smoke_containers(client: Any) -> list[Any]:
    return list(client.containers(all=True, filters={"label": "envspec.role=smoke"}))


def test_sh_probe_in_base_image(docker_client: Any, base_image: str) -> None:
    exp = Expectations(os_id="debian12", uid=0, gpu="off", declared=DECLARED)
    report = run_smoke(Engine(docker_client), base_image, exp)
    got = statuses(report)
    assert report.probe == "sh"
    assert got == {"os": "pass", "user": "pass", "echo": "pass", "must-fail": "fail"}
    assert report.failed
    assert "exit 3, expected 0" in next(r.detail for r in report.results if r.name == "must-fail")
    assert not smoke_containers(docker_client)


def test_wrong_os_fails(docker_client: Any, base_image: str) -> None:
    report = run_smoke(Engine(docker_client), base_image, Expectations(os_id="ubuntu22.04", gpu="off"))
    assert statuses(report) == {"os": "fail"}


def test_python_probe_as_the_images_user(docker_client: Any, python_image: str) -> None:
    exp = Expectations(
        os_id="debian12",
        python="3.11",
        python_executable="/usr/bin/python3",
        packages=("json", "definitely-not-here"),
        uid=1234,
        workdir="/home/tester",
        env={"ENVSPEC_SMOKE": "yes"},
        gpu="off",
        declared=DECLARED,
    )
    report = run_smoke(Engine(docker_client), python_image, exp)
    assert report.probe == "python"
    assert statuses(report) == {
        "os": "pass",
        "user": "pass",
        "workdir": "pass",
        "env": "pass",
        "python": "pass",
        "import json": "pass",
        "import definitely-not-here": "fail",
        "echo": "pass",
        "must-fail": "fail",
    }


def test_gpu_request_without_nvidia_runtime_is_a_typed_error(docker_client: Any, base_image: str) -> None:
    exp = Expectations(os_id="debian12", gpu="required")
    with pytest.raises(DockerUnavailableError) as caught:
        run_smoke(Engine(docker_client), base_image, exp, gpus="all")
    err = caught.value
    assert isinstance(err, NvidiaRuntimeMissingError)
    assert "NVIDIA Container Toolkit" in err.message
    assert 'could not select device driver "" with capabilities: [[gpu]]' in err.message
    assert err.hint and "nvidia-ctk runtime configure --runtime=docker" in err.hint
    assert not smoke_containers(docker_client)


def test_gpu_auto_skips_gpu_checks_with_the_reason(docker_client: Any, python_image: str) -> None:
    exp = Expectations(
        os_id="debian12",
        cuda="12.4.1",
        driver_min="525.60.13",
        packages=("torch",),
        python_executable="/usr/bin/python3",
        gpu="auto",
    )
    report = run_smoke(Engine(docker_client), python_image, exp, gpus="device=0")
    by = {r.name: r for r in report.results}
    for name in ("nvidia-smi", "driver", "torch on GPU"):
        assert by[name].status == "skip", by[name]
        assert "NVIDIA Container Toolkit" in by[name].detail
    assert by["cuda-runtime"].status == "fail"  # a plain Debian image has no CUDA
    assert any("ran again without GPUs" in note for note in report.notes)
    assert report.gpus is None


def test_doctor_against_the_real_engine() -> None:
    report = run_doctor()
    by = {item.name: item for item in report.items}
    assert by["docker CLI"].status == "ok"
    assert by["docker daemon"].status == "ok"
    assert by["docker socket"].status == "ok"
    assert by["disk space"].status in ("ok", "warn")
    done = subprocess.run(
        [sys.executable, "-m", "envspec", "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 7), done.stderr
    data = json.loads(done.stdout)
    assert (done.returncode == 7) == data["problems"]
