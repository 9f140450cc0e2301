"""Every CUDA stack envspec can install from NVIDIA's apt repository, rendered and pinned.

One case per release × OS × flavour × cuDNN in envspec/data/cuda_apt.yaml: the Dockerfile is a
syrupy snapshot, passes hadolint, and installs exactly the packages the data file lists for it
(read here from the raw YAML, so a renderer that drops or changes a pin fails).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from syrupy.assertion import SnapshotAssertion

from envspec.pipeline import compile_spec
from tests.conftest import REPO
from tests.unit.test_hadolint import _hadolint

DATA = yaml.safe_load((REPO / "envspec" / "data" / "cuda_apt.yaml").read_text())
FLAVORS = ("base", "runtime", "devel")


def _cases() -> list[tuple[str, str, str, str | None]]:
    cases = []
    for release in DATA["releases"]:
        for os_id in release["os"]:
            for flavor in FLAVORS:
                cases.append((release["cuda"], os_id, flavor, None))
                if flavor != "base":  # NVIDIA published cuDNN only for runtime and devel
                    cases += [(release["cuda"], os_id, flavor, c["version"])
                              for c in release.get("cudnn", [])
                              if os_id in c.get("os", release["os"])]
    return cases


CASES = _cases()


def _id(case: tuple[str, str, str, str | None]) -> str:
    cuda, os_id, flavor, cudnn = case
    return f"{cuda}-{f'cudnn{cudnn}-' if cudnn else ''}{flavor}-{os_id}"


def _dockerfile(tmp_path: Path, case: tuple[str, str, str, str | None]) -> str:
    cuda, os_id, flavor, cudnn = case
    spec = tmp_path / "env.yaml"
    spec.write_text(
        f"name: cuda-apt\nbase:\n  os: {os_id}\n  cuda: '{cuda}'\n  flavor: {flavor}\n"
        f"  cudnn: {repr(cudnn) if cudnn else 'false'}\n  cuda_source: nvidia-apt\n"
    )
    return compile_spec(spec).dockerfile


def _expected(case: tuple[str, str, str, str | None]) -> tuple[list[str], set[str]]:
    """(name=version list, held names) straight from the YAML."""
    cuda, os_id, flavor, cudnn = case
    release: dict[str, Any] = next(r for r in DATA["releases"] if r["cuda"] == cuda)
    pins = [p for f in FLAVORS[: FLAVORS.index(flavor) + 1] for p in release[f]]
    if cudnn:
        chosen = next(c for c in release["cudnn"] if c["version"] == cudnn)
        pins += chosen["runtime"] + (chosen["devel"] if flavor == "devel" else [])
    pins = [p for p in pins if os_id in p.get("os", [os_id])]
    specs = [f"{p['name']}={p['version']}" if p.get("version") else p["name"] for p in pins]
    return specs, {p["name"] for p in pins if p.get("hold")}


def _installed(dockerfile: str) -> tuple[list[str], set[str]]:
    """The package list and holds of the CUDA section of a rendered Dockerfile."""
    section = dockerfile.split("from NVIDIA's apt repository ---", 1)[1].split("\n# ---", 1)[0]
    lines = section.splitlines()
    installs = _argument_blocks(lines, "apt-get install -y --no-install-recommends \\")
    # first the tools that fetch the repository's key, then the CUDA packages
    assert len(installs) == 2, section
    holds = _argument_blocks(lines, "apt-mark hold \\")
    return installs[1], set(holds[0]) if holds else set()


def _argument_blocks(lines: list[str], command: str) -> list[list[str]]:
    """The arguments laid out one per continuation line after each `command` line."""
    blocks = []
    for start, line in enumerate(lines):
        if not line.endswith(command):
            continue
        args = []
        for arg in lines[start + 1:]:
            if not arg.startswith("      "):  # arguments are indented by six spaces
                break
            args.append(arg.strip().removesuffix("\\").strip())
        blocks.append(args)
    return blocks


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_cuda_apt_dockerfile(tmp_path: Path, case: tuple[str, str, str, str | None],
                             snapshot: SnapshotAssertion) -> None:
    assert _dockerfile(tmp_path, case) == snapshot


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_cuda_apt_installs_exactly_the_data_files_pins(
    tmp_path: Path, case: tuple[str, str, str, str | None]
) -> None:
    packages, held = _installed(_dockerfile(tmp_path, case))
    expected, expected_held = _expected(case)
    assert packages == expected
    assert held == expected_held


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_cuda_apt_dockerfile_is_lint_clean(
    tmp_path: Path, case: tuple[str, str, str, str | None]
) -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "--config", str(REPO / ".hadolint.yaml"), "-"],
        input=_dockerfile(tmp_path, case), capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_release_has_cases() -> None:
    assert {c[0] for c in CASES} == {r["cuda"] for r in DATA["releases"]}
    assert len(CASES) >= 3 * len(DATA["releases"])
