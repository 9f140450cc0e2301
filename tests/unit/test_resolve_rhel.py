"""Rocky Linux and UBI: tags per CUDA from the catalog, gcc-toolset against nvcc, Python from
AppStream, what dnf distributions refuse. Expected tags are from NVIDIA's tag lists of
2025-12-15 (/work/shared/reference/nvidia-cuda), not from the catalog under test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envspec.errors import SpecError
from envspec.loader import load_spec
from envspec.pipeline import expectations_for
from envspec.resolve import Resolved, resolve
from envspec.smoke.checks import derive_checks


def _resolve(write_spec: Callable[[str], Path], base: str, extra: str = "") -> Resolved:
    return resolve(load_spec(write_spec(f"name: t\nbase:\n{base}" + extra)))


def _errors(write_spec: Callable[[str], Path], base: str, extra: str = "") -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        _resolve(write_spec, base, extra)
    return {d.code: f"{d.message} | {d.hint}" for d in caught.value.diagnostics
            if d.severity == "error"}


def _base(os_id: str, cuda: str, flavor: str = "devel", cudnn: bool = False) -> str:
    return f"  os: {os_id}\n  cuda: '{cuda}'\n  flavor: {flavor}\n  cudnn: {str(cudnn).lower()}\n"


@pytest.mark.parametrize(("os_id", "cuda", "flavor", "cudnn", "image"), [
    ("rockylinux8", "11.8", "devel", True, "nvidia/cuda:11.8.0-cudnn8-devel-rockylinux8"),
    ("rockylinux8", "11.3", "runtime", False, "nvidia/cuda:11.3.1-runtime-rockylinux8"),
    ("rockylinux8", "13.1", "base", False, "nvidia/cuda:13.1.0-base-rockylinux8"),
    ("rockylinux9", "12.4", "devel", False, "nvidia/cuda:12.4.1-devel-rockylinux9"),
    ("rockylinux9", "12.3", "runtime", True, "nvidia/cuda:12.3.2-cudnn9-runtime-rockylinux9"),
    ("ubi8", "12.6", "runtime", True, "nvidia/cuda:12.6.3-cudnn-runtime-ubi8"),
    ("ubi8", "11.4", "devel", False, "nvidia/cuda:11.4.3-devel-ubi8"),
    ("ubi9", "13.0", "devel", True, "nvidia/cuda:13.0.2-cudnn-devel-ubi9"),
    ("ubi9", "12.9.0", "base", False, "nvidia/cuda:12.9.0-base-ubi9"),  # eol, still listed
])
def test_cuda_resolves_to_a_published_rhel_tag(
    write_spec: Callable[[str], Path], os_id: str, cuda: str, flavor: str, cudnn: bool,
    image: str,
) -> None:
    assert _resolve(write_spec, _base(os_id, cuda, flavor, cudnn)).base.image == image


def test_el9_images_start_at_cuda_12(write_spec: Callable[[str], Path]) -> None:
    errors = _errors(write_spec, _base("ubi9", "11.8"))
    assert "never published a CUDA 11.8 devel image for ubi9" in errors["base.no-such-image"]


def test_cpu_images_and_os_guessed_from_the_image_name(write_spec: Callable[[str], Path]) -> None:
    assert _resolve(write_spec, "  os: rockylinux9\n").base.image == "rockylinux/rockylinux:9"
    assert _resolve(write_spec, "  os: ubi8\n").base.image == (
        "registry.access.redhat.com/ubi8/ubi:latest")
    guessed = _resolve(write_spec, "  image: nvidia/cuda:12.4.1-devel-rockylinux9\n")
    assert guessed.base.distro.id == "rockylinux9" and guessed.base.cuda == "12.4.1"
    assert _resolve(write_spec, "  image: registry.access.redhat.com/ubi9/ubi:9.4\n"
                    ).base.distro.id == "ubi9"


def test_gcc_toolset_is_installed_and_checked_against_nvcc(
    write_spec: Callable[[str], Path]
) -> None:
    ok = _resolve(write_spec, _base("rockylinux9", "12.4"), "compilers:\n  gcc: 13\n")
    assert ok.gcc == 13
    assert {"gcc-toolset-13-gcc", "gcc-toolset-13-gcc-c++"} <= set(ok.apt.packages)
    # CUDA 12.4's nvcc accepts GCC up to 13: gcc-toolset-14 is refused, 13 suggested.
    errors = _errors(write_spec, _base("rockylinux9", "12.4"), "compilers:\n  gcc: 14\n")
    assert "up to 13; got gcc 14" in errors["toolchain.gcc-cuda"]
    assert "set compilers.gcc to 13 (available on rockylinux9)" in errors["toolchain.gcc-cuda"]
    missing = _errors(write_spec, _base("ubi9", "12.4"), "compilers:\n  gcc: 10\n")
    assert "not packaged on ubi9 (it has 12, 13, 14)" in missing["toolchain.gcc-package"]


def test_the_system_gcc_is_installed_as_is(write_spec: Callable[[str], Path]) -> None:
    system = _resolve(write_spec, _base("rockylinux8", "11.8"), "compilers:\n  gcc: 8\n")
    assert {"gcc", "gcc-c++"} <= set(system.apt.packages)
    assert not [p for p in system.apt.packages if p.startswith("gcc-toolset")]


def test_el8_default_gcc_fits_old_nvcc(write_spec: Callable[[str], Path]) -> None:
    # EL8's GCC 8 is accepted by CUDA 11.0's nvcc (up to 9); EL9's 11 by every 12.x.
    assert _resolve(write_spec, _base("rockylinux8", "11.0")).gcc is None
    assert _resolve(write_spec, _base("ubi9", "12.0")).gcc is None


def test_python_comes_from_appstream_with_rhel_package_names(
    write_spec: Callable[[str], Path]
) -> None:
    el8 = _resolve(write_spec, "  os: rockylinux8\n", "python:\n  version: '3.9'\n")
    assert el8.python is not None and el8.python.interpreter == "/usr/bin/python3.9"
    assert "python39" in el8.apt.packages and "python39-venv" not in el8.apt.packages
    default = _resolve(write_spec, "  os: ubi9\n", "python: {}\n")
    assert default.python is not None and default.python.version == "3.9"
    assert "python3" in default.apt.packages and "python3-venv" not in default.apt.packages
    errors = _errors(write_spec, "  os: rockylinux9\n", "python:\n  version: '3.13'\n")
    assert "not available on rockylinux9" in errors["python.version"]
    assert "deadsnakes" not in errors["python.version"]


def test_user_brings_shadow_utils(write_spec: Callable[[str], Path]) -> None:
    with_user = _resolve(write_spec, "  os: rockylinux9\n")
    assert "shadow-utils" in with_user.apt.packages
    assert "shadow-utils" not in _resolve(write_spec, "  os: rockylinux9\n",
                                          "user: null\n").apt.packages


def test_rocky_mirror_preset_stays_https_and_ubi_has_none(
    write_spec: Callable[[str], Path]
) -> None:
    rocky = _resolve(write_spec, "  os: rockylinux9\n", "apt:\n  mirror: ustc\n")
    assert (rocky.apt.mirror, rocky.apt.security_mirror) == (
        "https://mirrors.ustc.edu.cn/rocky", None)
    missing = _errors(write_spec, "  os: rockylinux9\n", "apt:\n  mirror: tuna\n")
    assert "has no rocky mirror" in missing["mirror.missing"]
    ubi = _errors(write_spec, "  os: ubi9\n", "apt:\n  mirror: https://m.invalid/ubi\n")
    assert "no public mirrors" in ubi["apt.mirror-none"]


def test_apt_repositories_are_refused_on_dnf_distributions(
    write_spec: Callable[[str], Path]
) -> None:
    errors = _errors(write_spec, "  os: rockylinux9\n", "apt:\n  repositories:\n"
                     "    - {url: 'https://e.invalid/repo', key_url: 'https://e.invalid/k'}\n")
    assert "installs with dnf" in errors["apt.repository-os"]


def test_cuda_on_debian_names_the_oses_that_have_images(
    write_spec: Callable[[str], Path]
) -> None:
    errors = _errors(write_spec, _base("debian12", "12.4"))
    assert "rockylinux9" in errors["base.cuda-os"] and "ubuntu22.04" in errors["base.cuda-os"]


def test_smoke_checks_expect_the_images_own_os_release(write_spec: Callable[[str], Path]) -> None:
    """/etc/os-release says ID=rocky on Rocky Linux and ID=rhel on UBI, not the spec's os id."""
    for os_id, release_id in (("rockylinux9", "rocky"), ("ubi8", "rhel")):
        r = _resolve(write_spec, _base(os_id, "12.4"), "compilers:\n  gcc: 13\n")
        checks = {c["name"]: c["params"] for c in derive_checks(expectations_for(r))}
        assert checks["os"] == {"id": release_id, "version_id": os_id[-1]}
        assert checks["gcc"] == {"major": 13}
