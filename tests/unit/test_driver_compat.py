"""The driver-vs-CUDA verdict: one table, one function, the same sentence in doctor and smoke."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envspec.catalog import load_catalog
from envspec.doctor import run_doctor
from envspec.driver_compat import driver_minimum, driver_thresholds, driver_verdict
from envspec.pipeline import compile_spec, expectations_for
from envspec.smoke import probe
from envspec.smoke.checks import Expectations, derive_checks
from envspec.smoke.runner import PROBE_PY
from tests.unit.test_doctor import SMI_QUERY, gpu_host, items

DATA = Path(__file__).parent / "data" / "nvidia"
ROOT = Path(__file__).resolve().parents[2]
H200, A100, T4, TITAN = "NVIDIA H200", "NVIDIA A100-SXM4-40GB", "Tesla T4", "TITAN RTX"

# (cuda, driver, GPU name, kind, minimum quoted, full-support minimum)
CASES = [
    # CUDA 10.x: no minor-version compatibility, the exact minimum is the only floor
    ("10.2", "440.33", None, "full", "440.33", "440.33"),
    ("10.2", "440.32", "Tesla V100-SXM2-16GB", "unsupported", "440.33", "440.33"),  # no fwd data
    # 11.x: minor-version compatibility from 450.80.02
    ("11.4.0", "470.42.01", None, "full", "450.80.02", "470.42.01"),
    ("11.4.0", "470.42.00", None, "minor-compat", "450.80.02", "470.42.01"),
    ("11.8.0", "450.80.02", TITAN, "minor-compat", "450.80.02", "520.61.05"),
    ("11.8.0", "450.80.01", TITAN, "unsupported", "450.80.02", "520.61.05"),
    ("11.0.2", "450.51.05", None, "full", "450.51.05", "450.51.05"),  # exact < 11.x floor
    # 12.x: minor-version compatibility from 525.60.13
    ("12.0.0", "525.60.13", None, "full", "525.60.13", "525.60.13"),
    ("12.4.1", "550.54.15", TITAN, "full", "525.60.13", "550.54.15"),
    ("12.4.1", "550.54.14", TITAN, "minor-compat", "525.60.13", "550.54.15"),
    ("12.4.1", "525.60.13", TITAN, "minor-compat", "525.60.13", "550.54.15"),
    ("12.4.1", "525.60.12", TITAN, "unsupported", "525.60.13", "550.54.15"),
    ("12.9.2", "530.30.02", None, "minor-compat", "525.60.13", None),  # no Table 3 row
    # forward compatibility: data-center GPU and a branch the images accept
    ("12.4.1", "470.57.02", T4, "forward-compat", "525.60.13", "550.54.15"),
    ("12.4.1", "470.57.02", "NVIDIA GeForce RTX 3090", "unsupported", "525.60.13", "550.54.15"),
    ("12.4.1", "470.57.02", None, "unsupported", "525.60.13", "550.54.15"),  # GPU unknown
    ("12.8.1", "470.57.02", "NVIDIA A10G", "forward-compat", "525.60.13", "570.124.06"),
    ("13.0.2", "575.57.08", "NVIDIA H100 80GB HBM3", "forward-compat", "580.65.06", "580.95.05"),
    ("13.0.2", "535.104.05", A100, "forward-compat", "580.65.06", "580.95.05"),
    ("13.0.2", "535.104.05", "NVIDIA RTX A6000", "unsupported", "580.65.06", "580.95.05"),
    ("13.0.2", "530.30.02", H200, "unsupported", "580.65.06", "580.95.05"),  # R530 not listed
    ("13.2.0", "535.104.05", H200, "unsupported", "580.65.06", "595.45.04"),  # no list for 13.2
    # 13.x: minor-version compatibility from 580.65.06
    ("13.0.0", "580.65.06", H200, "full", "580.65.06", "580.65.06"),
    ("13.0.2", "580.65.06", H200, "minor-compat", "580.65.06", "580.95.05"),
    ("13.1.0", "580.65.06", H200, "minor-compat", "580.65.06", "590.44.01"),
    ("13.5", "580.65.06", H200, "minor-compat", "580.65.06", None),
    ("13.0.0", "575.57.08", None, "unsupported", "580.65.06", "580.65.06"),
    ("13.0", "580.159.04", H200, "full", "580.65.06", "580.65.06"),  # the H200 test machine, torch cu130
    # nothing known
    ("8.0", "375.26", None, "unknown", None, None),
]


@pytest.mark.parametrize(("cuda", "driver", "gpu", "kind", "minimum", "full"), CASES)
def test_verdict(cuda: str, driver: str, gpu: str | None, kind: str, minimum: str | None,
                 full: str | None) -> None:
    verdict = driver_verdict(cuda, driver, gpu)
    assert (verdict.kind, verdict.minimum, verdict.full) == (kind, minimum, full), verdict.detail
    assert driver in verdict.detail and cuda in verdict.detail
    if minimum is not None and kind != "full":
        assert minimum in verdict.detail


def test_verdict_says_why_forward_compatibility_does_not_apply() -> None:
    assert "needs a data-center GPU, not NVIDIA GeForce" in driver_verdict(
        "12.4.1", "470.57.02", "NVIDIA GeForce RTX 3090").detail
    assert "GPU model unknown" in driver_verdict("12.4.1", "470.57.02", None).detail
    assert "R530 is not a forward-compatible branch for CUDA 13.0" in driver_verdict(
        "13.0.2", "530.30.02", H200).detail
    assert "no forward-compatibility data for CUDA 13.2" in driver_verdict(
        "13.2.0", "535.104.05", H200).detail
    limits = load_catalog().driver_limits()
    assert limits.minor_compat in driver_verdict("12.4.1", "525.60.13", None).detail
    assert limits.forward_compat in driver_verdict("12.4.1", "470.57.02", T4).detail


@pytest.mark.parametrize(
    ("name", "datacenter"),
    [
        ("NVIDIA H200", True), ("NVIDIA H100 80GB HBM3", True), ("NVIDIA A100-SXM4-80GB", True),
        ("Tesla V100-SXM2-16GB", True), ("Tesla T4", True), ("NVIDIA L40S", True),
        ("NVIDIA L4", True), ("NVIDIA A10G", True), ("NVIDIA GH200 480GB", True),
        ("NVIDIA B200", True), ("Tesla K80", True),
        ("TITAN RTX", False), ("NVIDIA GeForce RTX 4090", False), ("Quadro P4000", False),
        ("NVIDIA RTX A6000", False), ("NVIDIA RTX 6000 Ada Generation", False),
        ("NVIDIA T400", False), ("NVIDIA A1000", False), ("NVIDIA GeForce GTX 1080 Ti", False),
        ("", None), (None, None),
    ],
)
def test_datacenter_gpu_rule(name: str | None, datacenter: bool | None) -> None:
    rules = driver_thresholds("13.0.2")["datacenter"]
    assert probe.is_datacenter_gpu(name, rules) is datacenter


def test_thresholds_come_from_the_catalog_table() -> None:
    need = load_catalog().driver_requirement("12.4.1")
    thresholds = driver_thresholds("12.4.1")
    assert (thresholds["full"], thresholds["minor"]) == (need.exact_min, need.minor_compat_min)
    assert thresholds["forward_branches"] == [470]
    assert driver_thresholds("13.2.0")["forward_branches"] is None
    json.dumps(thresholds)  # goes to the probe as JSON


def fake_nvidia_smi(tmp_path: Path, csv: str) -> dict[str, str]:
    """A PATH whose nvidia-smi prints a recorded `--query-gpu` answer."""
    (tmp_path / "smi.csv").write_text(csv, encoding="utf-8")
    tool = tmp_path / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\ncat '{tmp_path / 'smi.csv'}'\n", encoding="utf-8")
    tool.chmod(0o755)
    return {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}


def smoke_driver_result(cuda: str, env: dict[str, str]) -> dict[str, Any]:
    thresholds = driver_thresholds(cuda)
    exp = Expectations(cuda=cuda, driver_min=driver_minimum(thresholds),
                       driver_thresholds=thresholds, gpu="required")
    checks = [c for c in derive_checks(exp) if c["kind"] == "driver_for_cuda"]
    done = subprocess.run([sys.executable, str(PROBE_PY), "-"], input=json.dumps(
        {"gpu": "required", "checks": checks}), capture_output=True, text=True, env=env,
        timeout=60, check=False)
    result: dict[str, Any] = json.loads(done.stdout)["results"][0]
    return result


@pytest.mark.parametrize(
    ("fixture", "cuda", "kind", "doctor_status", "smoke_status"),
    [
        ("query_csv_noheader.txt", "13.0.0", "full", "ok", "pass"),
        ("query_csv_noheader.txt", "13.1.0", "minor-compat", "warn", "pass"),
        ("query_csv_noheader.txt", "12.4.1", "full", "ok", "pass"),
        ("query_csv_header.txt", "12.4.1", "unsupported", "fail", "fail"),
        ("query_csv_header.txt", "10.2", "full", "ok", "pass"),
        ("query_csv_535_a100.txt", "13.0.2", "forward-compat", "warn", "pass"),
        ("query_csv_535_a100.txt", "12.8.1", "minor-compat", "warn", "pass"),
    ],
)
def test_doctor_and_smoke_quote_the_same_verdict(
    tmp_path: Path, fixture: str, cuda: str, kind: str, doctor_status: str, smoke_status: str
) -> None:
    csv = (DATA / fixture).read_text(encoding="utf-8")
    doctor_item = items(run_doctor(gpu_host(commands={SMI_QUERY: (0, csv, "")}), cuda=cuda))[
        f"driver for CUDA {cuda}"]
    smoke = smoke_driver_result(cuda, fake_nvidia_smi(tmp_path, csv))
    assert smoke["data"]["verdict"]["kind"] == kind
    assert (doctor_item.status, smoke["status"]) == (doctor_status, smoke_status)
    assert doctor_item.detail == smoke["detail"]  # the same sentence, the same minimum


def test_smoke_expectations_carry_the_thresholds() -> None:
    compiled = compile_spec(ROOT / "examples" / "pytorch-cuda12" / "env.yaml")
    exp = expectations_for(compiled.resolved)
    cuda = compiled.resolved.base.cuda
    assert cuda is not None and exp.driver_thresholds == driver_thresholds(cuda)
    assert exp.driver_min == driver_minimum(driver_thresholds(cuda)) == "525.60.13"
    check = next(c for c in derive_checks(exp) if c["kind"] == "driver_for_cuda")
    assert check["params"]["thresholds"] == driver_thresholds(cuda)


@pytest.mark.parametrize(("fixture", "status", "kind"), [
    ("query_csv_header.txt", "fail", "unsupported"), ("query_csv_noheader.txt", "pass", "full")])
def test_probe_without_thresholds_takes_min_as_full_support(
    tmp_path: Path, fixture: str, status: str, kind: str
) -> None:
    """What an older host (or `--preset gpu --driver-min`) sends: a single minimum."""
    env = fake_nvidia_smi(tmp_path, (DATA / fixture).read_text(encoding="utf-8"))
    check = {"name": "driver", "kind": "driver_for_cuda", "gpu": True,
             "params": {"min": "525.60.13", "cuda": "12.4.1"}}
    done = subprocess.run([sys.executable, str(PROBE_PY), "-"], input=json.dumps([check]),
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    result = json.loads(done.stdout)["results"][0]
    assert (result["status"], result["data"]["verdict"]["kind"]) == (status, kind)
    assert "525.60.13" in result["detail"]


def test_doctor_names_the_compat_package_for_forward_compatibility() -> None:
    csv = (DATA / "query_csv_535_a100.txt").read_text(encoding="utf-8")
    item = items(run_doctor(gpu_host(commands={SMI_QUERY: (0, csv, "")}), cuda="13.0.2"))[
        "driver for CUDA 13.0.2"]
    assert "cuda-compat-13-0" in item.fix[0]
    assert any("ubuntu-drivers" in line for line in item.fix)  # or upgrade to full support
    assert "580.95.05" in item.fix[1]
