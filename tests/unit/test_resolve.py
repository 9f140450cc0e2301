"""Resolution through the whole pipeline: spec text in, concrete choices (or errors) out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envspec.errors import SpecError
from envspec.loader import load_spec
from envspec.resolve import resolve
from tests.conftest import EXAMPLES
from tests.conftest import resolve_text as resolved


def spec_text(os: str, cuda: str | None = None, flavor: str = "runtime", cudnn: bool = False,
              extra: str = "") -> str:
    base = f"name: t\nbase:\n  os: {os}\n  flavor: {flavor}\n  cudnn: {str(cudnn).lower()}\n"
    if cuda:
        base += f"  cuda: '{cuda}'\n"
    return base + extra


# (os, cuda, flavor, cudnn) -> the FROM line envspec must pick
TAGS = [
    ("ubuntu20.04", "11.0", "base", False, "nvidia/cuda:11.0.3-base-ubuntu20.04"),
    ("ubuntu22.04", "12.4", "devel", True, "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04"),
    ("ubuntu22.04", "12.3", "runtime", True, "nvidia/cuda:12.3.2-cudnn9-runtime-ubuntu22.04"),
    ("ubuntu20.04", "11.8", "devel", True, "nvidia/cuda:11.8.0-cudnn8-devel-ubuntu20.04"),
    ("ubuntu24.04", "13.0", "runtime", False, "nvidia/cuda:13.0.2-runtime-ubuntu24.04"),
    ("ubuntu22.04", "12.6.3", "base", False, "nvidia/cuda:12.6.3-base-ubuntu22.04"),
    ("ubuntu18.04", "11.4", "runtime", False, "nvidia/cuda:11.4.3-runtime-ubuntu18.04"),
    ("ubuntu22.04", None, "runtime", False, "ubuntu:22.04"),
    ("debian12", None, "runtime", False, "debian:bookworm"),
]


@pytest.mark.parametrize(("os", "cuda", "flavor", "cudnn", "image"), TAGS)
def test_cuda_resolves_to_a_tag_that_exists(
    write_spec: Callable[[str], Path], os: str, cuda: str | None, flavor: str, cudnn: bool,
    image: str,
) -> None:
    result = resolved(write_spec, spec_text(os, cuda, flavor, cudnn))
    assert result.base.image == image
    assert not [d for d in result.warnings if d.code == "base.tag-deleted"]


@pytest.mark.parametrize(("os", "cuda", "flavor", "replacement"), [
    ("ubuntu20.04", "11.4.0", "runtime", "nvidia/cuda:11.4.3-runtime-ubuntu20.04"),
    # 11.6.1 is gone on 18.04 but 11.6.2 is still there: same OS, not an ubuntu20.04 image
    ("ubuntu18.04", "11.6.1", "devel", "nvidia/cuda:11.6.2-devel-ubuntu18.04"),
])
def test_nearest_replaces_a_deleted_tag_within_the_cuda_major_and_os(
    write_spec: Callable[[str], Path], os: str, cuda: str, flavor: str, replacement: str
) -> None:
    result = resolved(write_spec, spec_text(os, cuda, flavor) + "  cuda_source: nearest\n")
    assert result.base.image == replacement
    [warning] = [d for d in result.warnings if d.code == "base.tag-substituted"]
    assert "was deleted by NVIDIA" in warning.message and replacement in warning.message
    assert warning.location is not None and warning.location.line == 6  # the cuda: line


@pytest.mark.parametrize(("os", "cuda", "flavor"), [
    ("ubuntu20.04", "11.4.0", "runtime"),
    ("ubuntu18.04", "11.6.1", "devel"),
])
def test_auto_never_substitutes_silently(
    write_spec: Callable[[str], Path], os: str, cuda: str, flavor: str
) -> None:
    """No apt data and no tag: an error naming `nearest`, not another CUDA behind a warning."""
    with pytest.raises(SpecError) as err:
        resolved(write_spec, spec_text(os, cuda, flavor))
    [error] = [d for d in err.value.diagnostics if d.severity == "error"]
    assert error.code == "base.tag-deleted"
    assert error.hint is not None and "cuda_source: nearest" in error.hint


def test_pinning_the_replacement_silences_the_warning(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec_text("ubuntu18.04", "11.0.3", "base"))
    assert not result.warnings


@pytest.mark.parametrize(("cuda", "torch", "index", "pins"), [
    ("12.1", "torch==2.1.2", "https://download.pytorch.org/whl/cu121", ("torch==2.1.2",)),
    ("11.8", "torch==2.1.2", "https://download.pytorch.org/whl/cu118", ("torch==2.1.2",)),
    ("12.4", "torch==2.5.1", "https://download.pytorch.org/whl/cu124", ("torch==2.5.1",)),
    ("11.7", "torch==1.13.1", "https://download.pytorch.org/whl/cu117", ("torch==1.13.1+cu117",)),
    (None, "torch==2.1.2", "https://download.pytorch.org/whl/cpu", ("torch==2.1.2",)),
    # cu129 builds of 2.9 and 2.10, cu130 (torch.yaml, refreshed 2026-12)
    ("12.9", "torch==2.9.0", "https://download.pytorch.org/whl/cu129", ("torch==2.9.0",)),
    ("12.9", "torch==2.9.1", "https://download.pytorch.org/whl/cu129", ("torch==2.9.1",)),
    ("12.9", "torch==2.10.0", "https://download.pytorch.org/whl/cu129", ("torch==2.10.0",)),
    ("13.0", "torch==2.10.0", "https://download.pytorch.org/whl/cu130", ("torch==2.10.0",)),
    ("13.0", "torch==2.9.1", "https://download.pytorch.org/whl/cu130", ("torch==2.9.1",)),
    ("12.9", "torch==2.9.*", "https://download.pytorch.org/whl/cu129", ("torch==2.9.1",)),
    ("12.9", "torch==2.10.*", "https://download.pytorch.org/whl/cu129", ("torch==2.10.0",)),
    ("13.0", "torch==2.10.*", "https://download.pytorch.org/whl/cu130", ("torch==2.10.0",)),
])
def test_torch_gets_the_index_for_the_image_cuda(
    write_spec: Callable[[str], Path], cuda: str | None, torch: str, index: str,
    pins: tuple[str, ...],
) -> None:
    result = resolved(write_spec, spec_text("ubuntu22.04", cuda, extra=f"python:\n  pip:\n"
                                            f"    packages: [{torch}]\n"))
    assert result.python is not None and result.python.torch is not None
    assert result.python.torch.index_args[-1] == index
    assert result.python.torch.requirements == pins


@pytest.mark.parametrize(("cuda", "pins"), [
    ("11.0", ("torch==1.7.1+cu110", "torchvision==0.8.2+cu110")),
    ("11.1", ("torch==1.7.1+cu110", "torchvision==0.8.2+cu110")),  # minor-version compatible
])
def test_old_torch_uses_find_links_and_local_versions(
    write_spec: Callable[[str], Path], cuda: str, pins: tuple[str, ...]
) -> None:
    result = resolved(write_spec, spec_text("ubuntu20.04", cuda, extra="python:\n  pip:\n"
                                            "    packages: [torch==1.7.1, torchvision]\n"))
    assert result.python is not None and result.python.torch is not None
    assert result.python.torch.index_args == ("--find-links",
                                              "https://download.pytorch.org/whl/torch_stable.html")
    assert result.python.torch.requirements == pins


def test_torchvision_is_pinned_to_its_pair(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec_text("ubuntu22.04", "12.1", extra="python:\n  pip:\n"
                                            "    packages: [torch==2.1.2, torchvision, numpy]\n"))
    assert result.python is not None and result.python.torch is not None
    assert result.python.torch.requirements == ("torch==2.1.2", "torchvision==0.16.2")
    assert result.python.pip_packages == ("numpy",)


def test_newer_cuda_minor_uses_compatible_wheels(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec_text("ubuntu22.04", "12.2", extra="python:\n  pip:\n"
                                            "    packages: [torch==2.1.2]\n"))
    assert result.python is not None and result.python.torch is not None
    assert result.python.torch.variant == "cu121"


@pytest.mark.parametrize(("os", "version", "packages", "ppa"), [
    ("debian12", None, ("python3", "python3-venv"), False),
    ("ubuntu22.04", "3.11", ("python3.11", "python3.11-venv"), False),
    ("ubuntu22.04", "3.12", ("python3.12", "python3.12-venv"), True),
])
def test_python_comes_from_the_archive_or_deadsnakes(
    write_spec: Callable[[str], Path], os: str, version: str | None,
    packages: tuple[str, ...], ppa: bool,
) -> None:
    extra = "python:\n" + (f"  version: '{version}'\n" if version else "  provider: system\n")
    result = resolved(write_spec, spec_text(os, extra=extra))
    assert set(packages) <= set(result.apt.packages)
    assert any("deadsnakes" in r.uri for r in result.apt.repositories) == ppa


def test_gcc_packages_are_added(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec_text("ubuntu20.04", "11.0", "devel",
                                            extra="compilers:\n  gcc: 9\n"))
    assert result.gcc == 9 and {"gcc-9", "g++-9"} <= set(result.apt.packages)


def test_default_gcc_too_new_for_nvcc_is_an_error(write_spec: Callable[[str], Path]) -> None:
    # A custom CUDA 12.3 devel image on Ubuntu 24.04: the OS's gcc 13 is newer than nvcc takes.
    text = ("name: t\nbase:\n  os: ubuntu24.04\n  image: registry.example.com/cuda:12.3-devel\n"
            "  cuda: '12.3'\n  flavor: devel\n")
    with pytest.raises(SpecError) as caught:
        resolved(write_spec, text)
    [error] = [d for d in caught.value.diagnostics if d.severity == "error"]
    assert error.code == "toolchain.gcc-cuda"
    assert "default gcc 13 is newer than CUDA 12.3's nvcc accepts (up to 12)" in error.message
    assert error.hint == "set compilers.gcc to 12"


def test_apt_mirror_preset_is_http_and_debian_security_too(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec_text("debian12", extra="apt:\n  mirror: tuna\n"))
    assert result.apt.mirror == "http://mirrors.tuna.tsinghua.edu.cn/debian"
    assert result.apt.security_mirror == "http://mirrors.tuna.tsinghua.edu.cn/debian-security"


def test_pip_mirror_goes_into_pip_conf(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec_text("debian12", extra="python:\n  pip:\n    mirror: tuna\n"))
    assert result.python is not None and result.python.pip_conf is not None
    assert "index-url = https://pypi.tuna.tsinghua.edu.cn/simple" in result.python.pip_conf


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_resolve_without_warnings(example: Path) -> None:
    warnings = resolve(load_spec(example / "env.yaml")).warnings
    assert warnings == ()
