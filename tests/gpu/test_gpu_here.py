"""The smoke probe on a real GPU, here (no Docker): nvidia-smi, driver vs CUDA, torch matmul.

Run with `python3 -m pytest -s tests/gpu` to see the probe's full JSON report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envspec import nvidia
from envspec.smoke import probe

PROBE = Path(probe.__file__).resolve()
# Minimum driver for each CUDA major under minor-version compatibility (NVIDIA's release notes).
MINOR_COMPAT_FLOOR = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}


def torch_cuda() -> str | None:
    code = "import torch; print(torch.version.cuda or '')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or None if done.returncode == 0 else None


def run_probe(checks: list[dict[str, Any]]) -> dict[str, Any]:
    doc = {"gpu": "required", "checks": checks}
    done = subprocess.run(
        [sys.executable, str(PROBE), "--here", "-"],
        input=json.dumps(doc),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    print(done.stdout)  # the full report, for the record (pytest -s)
    print(done.stderr, file=sys.stderr)
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.gpu
def test_probe_sees_the_gpu_the_driver_and_torch_computes() -> None:
    cuda = torch_cuda()
    if cuda is None:
        pytest.skip(f"torch with CUDA is not importable with {sys.executable}")
    floor = MINOR_COMPAT_FLOOR.get(int(cuda.split(".")[0]))
    checks = [
        {"name": "nvidia-smi", "kind": "nvidia_smi", "gpu": True},
        {"name": "driver", "kind": "driver_for_cuda", "gpu": True, "params": {"min": floor, "cuda": cuda}},
        {
            "name": "torch on GPU",
            "kind": "torch_gpu",
            "gpu": True,
            "timeout": 600,
            "params": {"executable": sys.executable, "tolerance": 1e-6},
        },
        {"name": "python", "kind": "python", "params": {"executable": sys.executable}},
    ]
    report = run_probe(checks)
    results = {r["name"]: r for r in report["results"]}
    for name in ("nvidia-smi", "driver", "torch on GPU", "python"):
        assert results[name]["status"] == "pass", results[name]
    # a single minimum (no catalog here) is taken as full support: this driver meets it
    assert results["driver"]["data"]["verdict"]["kind"] == "full", results["driver"]
    gpus = results["nvidia-smi"]["data"]["gpus"]
    assert gpus and all(g["uuid"].startswith(("GPU-", "MIG-")) for g in gpus)
    torch_data = results["torch on GPU"]["data"]
    assert torch_data["gpu"] is True and torch_data["err"] <= 1e-6


@pytest.mark.gpu
def test_driver_verdict_on_this_driver() -> None:
    """The probe judges the real driver on the catalog's thresholds as the doctor would."""
    for module in ("yaml", "pydantic"):  # the catalog's dependencies (pip install -e .)
        pytest.importorskip(module, reason=f"the catalog needs {module} (pip install -e .)")
    from envspec.driver_compat import driver_thresholds, driver_verdict

    cuda = torch_cuda()
    if cuda is None:
        pytest.skip(f"torch with CUDA is not importable with {sys.executable}")
    host = nvidia.query_host()
    assert host.driver_version is not None and host.gpus, host.problem
    check = {"name": "driver", "kind": "driver_for_cuda", "gpu": True,
             "params": {"cuda": cuda, "thresholds": driver_thresholds(cuda)}}
    result = run_probe([check])["results"][0]
    assert result["status"] == "pass", result
    verdict = result["data"]["verdict"]
    on_host = driver_verdict(cuda, host.driver_version, host.gpus[0].name)
    assert (verdict["kind"], verdict["detail"]) == (on_host.kind, on_host.detail)
    # torch computes on this GPU (test above), so its CUDA is supported or minor-compatible
    assert verdict["kind"] in ("full", "minor-compat"), verdict
    if any(model in host.gpus[0].name for model in ("H100", "H200", "A100")):
        assert verdict["datacenter"] is True


@pytest.mark.gpu
def test_host_parsers_agree_with_the_probe() -> None:
    host = nvidia.query_host()
    assert host.source == "nvidia-smi" and host.gpus, host.problem
    assert host.cuda_version is not None  # from the banner
    report = run_probe([{"name": "nvidia-smi", "kind": "nvidia_smi", "gpu": True}])
    probe_gpus = report["results"][0]["data"]["gpus"]
    assert [g["uuid"] for g in probe_gpus] == [g.uuid for g in host.gpus]
    assert probe_gpus[0]["driver_version"] == host.driver_version
    proc = Path(nvidia.PROC_VERSION)
    if proc.exists():
        assert nvidia.parse_proc_version(proc.read_text()) == host.driver_version


@pytest.mark.gpu
def test_gpu_preset_from_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, str(PROBE), "--here", "--preset", "gpu"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    print(done.stdout)
    report = json.loads(done.stdout)
    results = {r["name"]: r for r in report["results"]}
    assert results["nvidia-smi"]["status"] == "pass"
    assert results["driver"]["status"] == "pass"
    # frameworks that are not installed skip; any that are installed must pass
    for kind in ("torch-gpu", "cupy-gpu", "jax-gpu", "tensorflow-gpu"):
        assert results[kind]["status"] in ("pass", "skip"), results[kind]
