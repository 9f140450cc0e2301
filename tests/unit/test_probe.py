"""The probe, run for real on this machine in a subprocess (and the sh fallback with /bin/sh).

GPU checks skip with a reason here (no GPU), or fail under `gpu: required`.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envspec.smoke import probe
from envspec.smoke.checks import (
    Expectations,
    derive_checks,
    distribution_name,
    import_name,
    probe_document,
    to_sh_lines,
)
from envspec.smoke.runner import PROBE_PY, PROBE_SH, run_here
from envspec.spec import SmokeCheck

HAS_GPU = shutil.which("nvidia-smi") is not None
no_gpu_here = pytest.mark.skipif(HAS_GPU, reason="this host has nvidia-smi; see tests/gpu")


def os_release() -> dict[str, str]:
    text = Path("/etc/os-release").read_text(encoding="utf-8")
    return probe.parse_os_release(text)


def run_probe(doc: Any, *args: str, python: str = sys.executable) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [python, str(PROBE_PY), *args, "-"],
        input=json.dumps(doc),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in report["results"]}


def base_checks() -> list[dict[str, Any]]:
    osr = os_release()
    version = "{}.{}".format(*sys.version_info[:2])
    return [
        {
            "name": "os",
            "kind": "os_release",
            "params": {"id": osr["ID"], "version_id": osr.get("VERSION_ID")},
        },
        {"name": "os-wrong", "kind": "os_release", "params": {"id": "plan9", "version_id": "4"}},
        {"name": "python", "kind": "python", "params": {"executable": sys.executable, "version": version}},
        {
            "name": "python-wrong",
            "kind": "python",
            "params": {"executable": sys.executable, "version": "2.7"},
        },
        {
            "name": "imports",
            "kind": "imports",
            "params": {
                "executable": sys.executable,
                "modules": [{"dist": "pyyaml", "module": "yaml"}, {"dist": "pip", "module": "not_pips_name"}],
            },
        },
        {
            "name": "imports-missing",
            "kind": "imports",
            "params": {
                "executable": sys.executable,
                "modules": [{"dist": "surely-not-installed-xyz", "module": "surely_not_xyz"}],
            },
        },
        {"name": "user", "kind": "user", "params": {"uid": os.getuid()}},
        {"name": "workdir", "kind": "workdir", "params": {"path": os.getcwd()}},
        {"name": "env", "kind": "env", "params": {"vars": {"ENVSPEC_T": "1"}}},
        {"name": "env-wrong", "kind": "env", "params": {"vars": {"ENVSPEC_T": "2"}}},
        {
            "name": "cmd",
            "kind": "command",
            "timeout": 10,
            "params": {"command": "echo hello; exit 3", "expect_exit": 3, "expect_output": "hel+o"},
        },
        {
            "name": "cmd-regex",
            "kind": "command",
            "params": {"command": "echo hello", "expect_output": "^bye"},
        },
        {"name": "cmd-timeout", "kind": "command", "timeout": 0.5, "params": {"command": "sleep 30"}},
        {"name": "nvidia-smi", "kind": "nvidia_smi", "gpu": True},
        {"name": "driver", "kind": "driver_for_cuda", "gpu": True, "params": {"min": "525.60.13"}},
        {"name": "torch", "kind": "torch_gpu", "gpu": True, "params": {"executable": sys.executable}},
        {"name": "unknown", "kind": "teleport"},
    ]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVSPEC_T", "1")


@no_gpu_here
def test_python_probe_here_auto() -> None:
    code, report = run_probe({"gpu": "auto", "checks": base_checks()}, "--here")
    results = by_name(report)
    assert code == 1 and report["probe"] == "python" and report["here"] is True
    expected = {
        "os": "pass",
        "os-wrong": "fail",
        "python": "pass",
        "python-wrong": "fail",
        "imports": "pass",
        "imports-missing": "fail",
        "user": "pass",
        "workdir": "pass",
        "env": "pass",
        "env-wrong": "fail",
        "cmd": "pass",
        "cmd-regex": "fail",
        "cmd-timeout": "fail",
        "nvidia-smi": "skip",
        "driver": "skip",
        "torch": "skip",
        "unknown": "fail",
    }
    assert {name: r["status"] for name, r in results.items()} == expected
    assert "installed per pip" in results["imports"]["detail"]
    assert "timed out" in results["cmd-timeout"]["detail"]
    assert results["cmd-timeout"]["duration"] < 10  # the sleep's process group was killed
    assert "no GPU" in results["nvidia-smi"]["detail"]
    assert results["nvidia-smi"]["gpu"] is True
    for r in report["results"]:
        assert set(r) >= {"name", "kind", "status", "detail", "duration"}


@no_gpu_here
def test_required_policy_fails_gpu_checks_and_off_skips_them() -> None:
    gpu_only = [c for c in base_checks() if c.get("gpu")]
    _, required = run_probe({"gpu": "required", "checks": gpu_only})
    statuses = {r["name"]: r["status"] for r in required["results"]}
    # torch is not installed here: that is a skip (nothing to test), not a missing GPU
    assert statuses["nvidia-smi"] == "fail" and statuses["driver"] == "fail"
    assert "smoke.gpu is required" in by_name(required)["nvidia-smi"]["detail"]
    _, off = run_probe({"gpu": "off", "checks": gpu_only})
    assert {r["status"] for r in off["results"]} == {"skip"}


def test_gpu_skip_reason_from_the_host_side() -> None:
    doc = probe_document(
        [{"name": "smi", "kind": "nvidia_smi", "gpu": True}],
        "auto",
        "the NVIDIA Container Toolkit is missing",
    )
    code, report = run_probe(doc)
    assert code == 0
    assert report["results"][0]["status"] == "skip"
    assert "NVIDIA Container Toolkit" in report["results"][0]["detail"]


def test_input_forms_and_bad_input(tmp_path: Path) -> None:
    checks = [{"name": "u", "kind": "user"}]
    file = tmp_path / "checks.json"
    file.write_text(json.dumps(checks))
    for arg in (json.dumps(checks), str(file), "@" + str(file)):
        done = subprocess.run(
            [sys.executable, str(PROBE_PY), arg], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["results"][0]["status"] == "pass"
    bad = subprocess.run(
        [sys.executable, str(PROBE_PY), '{"checks": 3}'], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and "unusable input" in bad.stderr


def test_module_invocation_here() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "envspec.smoke.probe", "--here", '[{"name":"u","kind":"user"}]'],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["here"] is True


def _old_pythons() -> list[str]:
    found = glob.glob("/root/.pyenv/versions/3.6*/bin/python3.6")
    found += [p for p in ("/usr/bin/python3.6",) if os.path.exists(p)]
    return found[:1]


@pytest.mark.parametrize(
    "python",
    _old_pythons()
    or [pytest.param("", marks=pytest.mark.skip(reason="no Python 3.6 interpreter on this machine"))],
)
def test_probe_runs_on_python_36(python: str) -> None:
    _, report = run_probe({"gpu": "auto", "checks": base_checks()}, python=python)
    assert report["python"].startswith("3.6.")
    assert by_name(report)["os"]["status"] == "pass"
    assert by_name(report)["cmd"]["status"] == "pass"


def test_probe_source_is_python36_syntax() -> None:
    import ast

    ast.parse(PROBE_PY.read_text(encoding="utf-8"), feature_version=(3, 6))


@no_gpu_here
@pytest.mark.parametrize("shell", [s for s in ("/bin/sh", "/bin/dash", "/bin/bash") if os.path.exists(s)])
def test_sh_probe(shell: str, tmp_path: Path) -> None:
    lines = tmp_path / "checks.txt"
    checks = [c for c in base_checks() if c["kind"] not in ("imports",)]
    checks.append({"name": "gcc-any", "kind": "gcc", "params": {}})
    lines.write_text(to_sh_lines(checks, "auto"))
    done = subprocess.run(
        [shell, str(PROBE_SH), str(lines)], capture_output=True, text=True, timeout=60, check=False
    )
    report = json.loads(done.stdout)
    statuses = {r["name"]: r["status"] for r in report["results"]}
    assert report["probe"] == "sh" and done.returncode == 1
    assert statuses["os"] == "pass" and statuses["os-wrong"] == "fail"
    assert statuses["cmd"] == "pass" and statuses["cmd-regex"] == "fail"
    assert statuses["cmd-timeout"] == "fail"
    assert statuses["env"] == "pass" and statuses["env-wrong"] == "fail"
    assert statuses["user"] == "pass" and statuses["workdir"] == "pass"
    assert statuses["nvidia-smi"] == "skip" and statuses["driver"] == "skip"
    assert statuses["python"] == "fail"  # the sh probe means there is no Python
    assert statuses["gcc-any"] == ("pass" if shutil.which("gcc") else "fail")


def test_sh_probe_escapes_json(tmp_path: Path) -> None:
    lines = tmp_path / "checks.txt"
    nasty = "printf 'a \"quoted\" \\\\ back\\tslash\\n'"
    lines.write_text(to_sh_lines([{"name": 'q"n', "kind": "command", "params": {"command": nasty}}], "auto"))
    done = subprocess.run(["sh", str(PROBE_SH), str(lines)], capture_output=True, text=True, check=False)
    result = json.loads(done.stdout)["results"][0]
    assert result["name"] == 'q"n' and result["status"] == "pass"
    assert '"quoted"' in result["detail"]


# ---------------------------------------------------------------- host side: derived checks
def test_distribution_and_import_names() -> None:
    assert distribution_name("opencv-python[contrib]>=4.8; python_version>'3'") == "opencv-python"
    assert distribution_name("conda-forge::numpy=1.26") == "numpy"
    assert distribution_name("torch==2.4.1") == "torch"
    assert distribution_name("git+https://example.org/x.git") is None
    assert import_name("opencv-python") == "cv2"
    assert import_name("Pillow") == "PIL"
    assert import_name("scikit_learn") == "sklearn"
    assert import_name("PyYAML") == "yaml"
    assert import_name("my-package") == "my_package"
    assert import_name("cudatoolkit") is None


def test_derive_checks_from_expectations() -> None:
    exp = Expectations(
        os_id="ubuntu22.04",
        gcc=11,
        cuda="12.4.1",
        nvcc=True,
        python="3.11",
        python_executable="/opt/venv/bin/python",
        packages=("torch==2.4.1", "opencv-python>=4", "Pillow", "cupy-cuda12x", "torch"),
        uid=1000,
        workdir="/workspace",
        env={"A": "1"},
        driver_min="525.60.13",
        gpu="auto",
        declared=(SmokeCheck(name="hi", command="echo hi", expect_output="hi", timeout=5),),
    )
    checks = derive_checks(exp)
    names = [c["name"] for c in checks]
    assert names == [
        "os",
        "gcc",
        "g++",
        "nvcc",
        "cuda-runtime",
        "user",
        "workdir",
        "env",
        "python",
        "import torch",
        "import opencv-python",
        "import Pillow",
        "import cupy-cuda12x",
        "nvidia-smi",
        "driver",
        "torch on GPU",
        "cupy on GPU",
        "hi",
    ]
    first = checks[0]
    assert first["params"] == {"id": "ubuntu", "version_id": "22.04"}
    assert {c["kind"] for c in checks if c["gpu"]} == {
        "nvidia_smi",
        "driver_for_cuda",
        "torch_gpu",
        "cupy_gpu",
    }
    by = {c["name"]: c for c in checks}
    assert by["import opencv-python"]["params"]["modules"] == [{"dist": "opencv-python", "module": "cv2"}]
    assert by["hi"]["params"]["expect_output"] == "hi" and by["hi"]["timeout"] == 5
    json.dumps(checks)  # JSON-able
    off = derive_checks(Expectations(gpu="off", cuda="12.4.1", packages=("torch",)))
    assert not [c for c in off if c["gpu"]]


def test_run_here_with_expectations() -> None:
    osr = os_release()
    exp = Expectations(
        os_id=f"{osr['ID']}{osr.get('VERSION_ID', '')}",
        python="{}.{}".format(*sys.version_info[:2]),
        python_executable=sys.executable,
        packages=("PyYAML", "click"),
        uid=os.getuid(),
        gpu="auto",
        declared=(SmokeCheck(name="true", command="true"),),
    )
    report = run_here(exp)
    statuses = {r.name: r.status for r in report.results}
    assert report.target == "here"
    assert statuses["os"] == "pass" and statuses["python"] == "pass"
    assert statuses["import PyYAML"] == "pass" and statuses["true"] == "pass"
    if not HAS_GPU:
        assert statuses["nvidia-smi"] == "skip" and not report.failed
    assert platform.system() == "Linux"
