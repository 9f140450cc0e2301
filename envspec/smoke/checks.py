"""What a built image should be, and the probe checks that verify it.

`Expectations` is filled from the resolved spec by the pipeline; `derive_checks` turns it into
JSON-able check specs for `probe.py` (and `to_sh_lines` into the input of `probe.sh`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from envspec.catalog import load_catalog
from envspec.requirements import RequirementError, canonical_name, parse_requirement
from envspec.spec import SmokeCheck

GpuPolicy = Literal["required", "auto", "off"]
Check = dict[str, Any]

GPU_KINDS = frozenset({"nvidia_smi", "driver_for_cuda", "torch_gpu", "cupy_gpu", "jax_gpu", "tensorflow_gpu"})
# Framework GPU check ← module imported by a user's package.
FRAMEWORK_CHECKS = {"torch": "torch_gpu", "cupy": "cupy_gpu", "jax": "jax_gpu"}
FRAMEWORK_CHECKS["tensorflow"] = "tensorflow_gpu"
UNIT_SEPARATOR = "\x1f"
_OS_ID = re.compile(r"^(?P<id>[a-z]+?)(?P<version>\d[\d.]*)$")
_CONDA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Expectations:
    """What the built image should provide; None/empty means "don't check"."""

    os_id: str | None = None  # "debian12", "ubuntu22.04"
    gcc: int | None = None
    cuda: str | None = None  # full, "12.4.1"
    nvcc: bool = False
    python: str | None = None  # "3.11"
    python_executable: str | None = None  # "/opt/venv/bin/python"
    packages: tuple[str, ...] = ()  # distribution names as the user wrote them
    uid: int | None = None
    workdir: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    driver_min: str | None = None  # minimum host driver for the image's CUDA (probe.sh uses it)
    # envspec.driver_compat.driver_thresholds of the image's CUDA: the probe's driver verdict
    driver_thresholds: Mapping[str, Any] | None = None
    gpu: GpuPolicy = "auto"
    declared: tuple[SmokeCheck, ...] = ()


def distribution_name(requirement: str) -> str | None:
    """'opencv-python[extra]>=4.8; python_version>"3"' → 'opencv-python' (PEP 508, through
    envspec.requirements); conda 'ch::numpy=1' → 'numpy'. None for requirements without a name
    (a URL, a path, `-r file`)."""
    text = requirement.strip()
    if not text or text.startswith(("-", ".", "/")) or "://" in text:
        return None
    try:
        return parse_requirement(text).name
    except RequirementError:
        pass  # not PEP 508: a conda match spec
    match = _CONDA_NAME.match(text.split("::", 1)[-1])
    return match.group(0) if match else None


def normalize(name: str) -> str:
    """PEP 503 normalisation: lower case, runs of - _ . become one -."""
    return canonical_name(name)


@functools.cache
def _import_table() -> Mapping[str, str | None]:
    names = load_catalog().import_names()
    return MappingProxyType({normalize(k): v for k, v in names.items()})


def import_name(distribution: str) -> str | None:
    """The module to import for a distribution; None when it has none to import."""
    table = _import_table()
    key = normalize(distribution)
    if key in table:
        return table[key]
    return distribution.lower().replace("-", "_")


def _check(name: str, kind: str, timeout: float = 60.0, **params: Any) -> Check:
    return {
        "name": name,
        "kind": kind,
        "gpu": kind in GPU_KINDS,
        "timeout": timeout,
        "params": params,
    }


def _os_check(os_id: str) -> Check:
    match = _OS_ID.match(os_id)
    if match is None:
        return _check("os", "os_release", id=os_id)
    return _check("os", "os_release", id=match.group("id"), version_id=match.group("version"))


def _environment_checks(exp: Expectations) -> list[Check]:
    checks: list[Check] = []
    if exp.os_id:
        checks.append(_os_check(exp.os_id))
    if exp.gcc is not None:
        checks.append(_check("gcc", "gcc", major=exp.gcc))
        checks.append(_check("g++", "gxx", major=exp.gcc))
    if exp.cuda:
        if exp.nvcc:
            checks.append(_check("nvcc", "nvcc", version=exp.cuda))
        checks.append(_check("cuda-runtime", "cuda_runtime", version=exp.cuda))
    if exp.uid is not None:
        checks.append(_check("user", "user", uid=exp.uid))
    if exp.workdir:
        checks.append(_check("workdir", "workdir", path=exp.workdir))
    if exp.env:
        checks.append(_check("env", "env", vars=dict(exp.env)))
    return checks


def _python_checks(exp: Expectations, executable: str) -> tuple[list[Check], set[str]]:
    checks: list[Check] = []
    if exp.python or exp.python_executable:
        checks.append(_check("python", "python", executable=executable, version=exp.python))
    modules: set[str] = set()
    seen: set[str] = set()
    for requirement in exp.packages:
        dist = distribution_name(requirement)
        if dist is None or normalize(dist) in seen:
            continue
        seen.add(normalize(dist))
        module = import_name(dist)
        if module:
            modules.add(module.split(".")[0])
        entry = {"dist": dist, "module": module}
        checks.append(_check(f"import {dist}", "imports", 300.0, executable=executable, modules=[entry]))
    return checks, modules


def _gpu_checks(exp: Expectations, executable: str, modules: set[str]) -> list[Check]:
    if exp.gpu == "off":
        return []
    checks = [_check("nvidia-smi", "nvidia_smi")]
    if exp.cuda or exp.driver_min:
        thresholds = dict(exp.driver_thresholds) if exp.driver_thresholds else None
        checks.append(
            _check("driver", "driver_for_cuda", min=exp.driver_min, cuda=exp.cuda, thresholds=thresholds)
        )
    for module, kind in FRAMEWORK_CHECKS.items():
        if module in modules:
            checks.append(_check(f"{module} on GPU", kind, 300.0, executable=executable))
    return checks


def _declared_checks(declared: tuple[SmokeCheck, ...]) -> list[Check]:
    return [
        _check(
            d.name,
            "command",
            d.timeout,
            command=d.command,
            expect_exit=d.expect_exit,
            expect_output=d.expect_output,
        )
        for d in declared
    ]


def derive_checks(exp: Expectations) -> list[Check]:
    """Every check the expectations imply, in report order: image, Python, GPU, declared."""
    executable = exp.python_executable or "python3"
    python_checks, modules = _python_checks(exp, executable)
    return [
        *_environment_checks(exp),
        *python_checks,
        *_gpu_checks(exp, executable, modules),
        *_declared_checks(exp.declared),
    ]


def probe_document(
    checks: list[Check], policy: GpuPolicy, gpu_skip_reason: str | None = None
) -> dict[str, Any]:
    """The JSON document probe.py reads."""
    doc: dict[str, Any] = {"gpu": policy, "checks": checks}
    if gpu_skip_reason:
        doc["gpu_skip_reason"] = gpu_skip_reason
    return doc


def _sh_params(check: Check) -> list[str]:
    p = check.get("params", {})
    kind = check["kind"]
    values: list[object]
    if kind == "os_release":
        values = [p.get("id"), p.get("version_id")]
    elif kind in ("gcc", "gxx"):
        values = [p.get("program"), p.get("major")]
    elif kind in ("nvcc", "cuda_runtime"):
        values = [p.get("version")]
    elif kind == "driver_for_cuda":
        values = [p.get("min"), p.get("cuda")]
    elif kind == "user":
        values = [p.get("uid")]
    elif kind == "workdir":
        values = [p.get("path")]
    elif kind == "env":
        values = [item for pair in sorted(p.get("vars", {}).items()) for item in pair]
    elif kind == "command":
        values = [p.get("command"), p.get("expect_exit", 0), p.get("expect_output")]
    else:
        values = []
    return ["" if v is None else str(v) for v in values]


def _sh_clean(text: str) -> str:
    return text.replace(UNIT_SEPARATOR, " ").replace("\n", " ").replace("\r", " ")


def to_sh_lines(checks: list[Check], policy: GpuPolicy, gpu_skip_reason: str | None = None) -> str:
    """The line format probe.sh reads (fields separated by the ASCII unit separator)."""
    rows = [["@policy", policy, gpu_skip_reason or ""]]
    for check in checks:
        timeout = str(int(float(check.get("timeout", 60)) + 0.999))
        gpu = "1" if check.get("gpu") else "0"
        rows.append([check["kind"], check["name"], gpu, timeout, *_sh_params(check)])
    return "".join(UNIT_SEPARATOR.join(_sh_clean(cell) for cell in row) + "\n" for row in rows)
