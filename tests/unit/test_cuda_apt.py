"""base.cuda_source and base.cudnn: where CUDA comes from, and every later check judging the CUDA
the image really has (not a substitute)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envspec.catalog import load_catalog
from envspec.doctor import run_doctor
from envspec.pipeline import compile_spec, expectations_for
from envspec.resolve import Resolved
from tests.conftest import REPO
from tests.conftest import resolve_errors as errors
from tests.conftest import resolve_text as resolved
from tests.unit.test_doctor import DATA, SMI_QUERY, gpu_host, items

BLOG = REPO / "examples" / "blog-miniconda" / "env.yaml"


def spec(cuda: str, os: str = "ubuntu18.04", flavor: str = "runtime", extra: str = "") -> str:
    return f"name: t\nbase:\n  os: {os}\n  flavor: {flavor}\n  cuda: '{cuda}'\n{extra}"


def decision(result: Resolved, key: str) -> str:
    [value] = [d.value for d in result.decisions if d.key == key]
    return value


# ------------------------------------------------------------------ where CUDA comes from


def test_auto_installs_a_deleted_cuda_from_nvidias_apt_repository(
    write_spec: Callable[[str], Path],
) -> None:
    result = resolved(write_spec, spec("10.2", flavor="devel"))
    assert result.base.image == "ubuntu:18.04"
    assert result.base.cuda == "10.2.89"
    assert result.base.cuda_apt is not None
    assert "cuda-minimal-build-10-2=10.2.89-1" in result.base.cuda_apt.packages
    assert decision(result, "base.cuda_source") == "nvidia-apt"
    assert not result.warnings


def test_auto_prefers_the_published_image(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec("11.8", os="ubuntu22.04"))
    assert result.base.image == "nvidia/cuda:11.8.0-runtime-ubuntu22.04"
    assert result.base.cuda_apt is None
    assert decision(result, "base.cuda_source") == "image"


def test_image_source_is_an_error_naming_the_other_choices(
    write_spec: Callable[[str], Path],
) -> None:
    [error] = errors(write_spec, spec("10.2", extra="  cuda_source: image\n"))
    assert error.code == "base.tag-deleted"
    assert error.location is not None and error.location.key == "base.cuda"
    assert error.hint is not None and "cuda_source: nvidia-apt" in error.hint


def test_nearest_never_jumps_to_another_cuda_major(write_spec: Callable[[str], Path]) -> None:
    """Every 10.x tag is gone: nearest must refuse rather than hand out 11.0.3."""
    [error] = errors(write_spec, spec("10.2", extra="  cuda_source: nearest\n"))
    assert error.code == "base.tag-deleted"
    assert "11.0" not in (error.hint or "")
    assert "cuda_source: nvidia-apt" in (error.hint or "")


def test_nvidia_apt_refuses_a_release_it_has_no_recipe_for(
    write_spec: Callable[[str], Path],
) -> None:
    # NVIDIA never shipped 9.0 for ubuntu18.04: refused, never filled in from the 16.04 recipe
    [error] = errors(write_spec, spec("9.0", os="ubuntu18.04",
                                      extra="  cuda_source: nvidia-apt\n"))
    assert error.code == "base.cuda-apt"
    assert "9.0.176 (ubuntu16.04)" in (error.hint or "")


def test_nvidia_apt_on_an_explicit_image(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec("10.2", extra="  image: example.org/plain:18.04\n"
                                                     "  cuda_source: nvidia-apt\n"))
    assert result.base.image == "example.org/plain:18.04"
    assert result.base.cuda == "10.2.89" and result.base.cuda_apt is not None


@pytest.mark.parametrize(("repo", "expected"), [
    (None, "https://developer.download.nvidia.com/compute/cuda/repos/ubuntu1804/x86_64"),
    ("http://127.0.0.1:8080/cuda", "http://127.0.0.1:8080/cuda/ubuntu1804/x86_64"),
    ("aliyun", "https://mirrors.aliyun.com/nvidia-cuda/ubuntu1804/x86_64"),
])
def test_repository_url_override_and_mirror_preset(
    write_spec: Callable[[str], Path], repo: str | None, expected: str,
) -> None:
    extra = f"  cuda_repo: {repo}\n" if repo else ""
    install = resolved(write_spec, spec("10.2", extra=extra)).base.cuda_apt
    assert install is not None
    assert install.repository == expected
    assert install.key_url == f"{expected}/3bf863cc.pub"


def test_mirror_preset_without_a_cuda_mirror_is_an_error(
    write_spec: Callable[[str], Path],
) -> None:
    [error] = errors(write_spec, spec("10.2", extra="  cuda_repo: tuna\n"))
    assert error.code == "mirror.missing"


def test_environment_is_nvidias(write_spec: Callable[[str], Path]) -> None:
    install = resolved(write_spec, spec("10.2", flavor="devel", extra="  cudnn: 7\n")).base.cuda_apt
    assert install is not None
    env = install.env
    assert env["CUDA_VERSION"] == "10.2.89"
    assert env["NVIDIA_REQUIRE_CUDA"].startswith("cuda>=10.2 brand=tesla,driver>=396")
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"
    assert env["PATH"].startswith("/usr/local/nvidia/bin:/usr/local/cuda/bin:")
    assert env["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib:/usr/local/nvidia/lib64"
    assert env["CUDNN_VERSION"] == "7.6.5.32" and env["NCCL_VERSION"] == "2.12.10"
    assert install.cuda_dir == "cuda-10.2"
    assert set(install.holds) == {"libcublas10", "libnccl2", "libcublas-dev", "libnccl-dev",
                                  "libcudnn7"}


@pytest.mark.parametrize(("cuda", "os", "nccl", "package"), [
    ("10.1", "ubuntu16.04", "2.7.8", "libnccl2=2.7.8-1+cuda10.1"),
    ("10.1", "ubuntu18.04", "2.8.3", "libnccl2=2.8.3-1+cuda10.1"),
    ("11.0.3", "ubuntu16.04", "2.12.10-1", "libnccl2=2.12.10-1+cuda11.0"),
    ("11.0.3", "ubuntu20.04", "2.15.5-1", "libnccl2=2.15.5-1+cuda11.0"),
    ("11.1.1", "ubuntu16.04", "2.7.8-1", "libnccl2=2.7.8-1+cuda11.1"),
    ("11.2.1", "ubuntu16.04", "2.8.4-1", "libnccl2=2.8.4-1+cuda11.2"),
])
def test_nccl_version_follows_the_os_recipe(
    write_spec: Callable[[str], Path], cuda: str, os: str, nccl: str, package: str,
) -> None:
    """NVIDIA's last ubuntu16.04 recipes pinned an older NCCL: NCCL_VERSION says the one installed."""
    extra = "  cudnn: false\n  cuda_source: nvidia-apt\n"  # 11.0.3's tags still exist
    install = resolved(write_spec, spec(cuda, os=os, extra=extra)).base.cuda_apt
    assert install is not None
    assert [p for p in install.packages if p.startswith("libnccl2=")] == [package]
    assert install.env["NCCL_VERSION"] == nccl


# ------------------------------------------------------------------ cuDNN as a version


@pytest.mark.parametrize(("cudnn", "package"), [
    ("7", "libcudnn7=7.6.5.32-1+cuda10.2"),
    ("8", "libcudnn8=8.5.0.96-1+cuda10.2"),
    ("true", "libcudnn8=8.5.0.96-1+cuda10.2"),
    ("'7.6.5.32'", "libcudnn7=7.6.5.32-1+cuda10.2"),
])
def test_cudnn_major_or_version_from_apt(
    write_spec: Callable[[str], Path], cudnn: str, package: str,
) -> None:
    install = resolved(write_spec, spec("10.2", extra=f"  cudnn: {cudnn}\n")).base.cuda_apt
    assert install is not None and package in install.packages
    assert not any(p.startswith("libcudnn") and p != package for p in install.packages)


def test_cudnn_false_installs_none(write_spec: Callable[[str], Path]) -> None:
    install = resolved(write_spec, spec("10.2", extra="  cudnn: false\n")).base.cuda_apt
    assert install is not None and not any("cudnn" in p for p in install.packages)


@pytest.mark.parametrize("cudnn", ["9", "'7.6.4.38'"])
def test_cudnn_that_was_never_packaged_is_an_error(
    write_spec: Callable[[str], Path], cudnn: str,
) -> None:
    [error] = errors(write_spec, spec("10.2", extra=f"  cudnn: {cudnn}\n"))
    assert error.code == "base.cudnn"
    assert "7.6.5.32, 8.4.0.27, 8.5.0.96" in (error.hint or "")


def test_cudnn_versions_are_per_os(write_spec: Callable[[str], Path]) -> None:
    """8.5.0.96 was only in NVIDIA's 18.04 recipe: on 16.04 `cudnn: 8` is 8.4.0.27."""
    install = resolved(write_spec, spec("10.2", os="ubuntu16.04",
                                        extra="  cudnn: 8\n")).base.cuda_apt
    assert install is not None and "libcudnn8=8.4.0.27-1+cuda10.2" in install.packages
    assert install.bootstrap == ("apt-transport-https",)
    [error] = errors(write_spec, spec("10.2", os="ubuntu16.04", extra="  cudnn: '8.5.0.96'\n"))
    assert error.code == "base.cudnn" and "ubuntu16.04" in error.message


def test_cuda_11_2_2_on_ubuntu16_04_has_no_nccl(write_spec: Callable[[str], Path]) -> None:
    """NVIDIA's 11.2.2 ubuntu16.04 recipes install no NCCL: neither do we, nor set NCCL_VERSION."""
    install = resolved(write_spec, spec("11.2.2", os="ubuntu16.04", flavor="devel",
                                        extra="  cudnn: 8\n  cuda_source: nvidia-apt\n"
                                        )).base.cuda_apt
    assert install is not None
    assert not any(p.startswith("libnccl") for p in install.packages)
    assert "NCCL_VERSION" not in install.env
    assert "libcudnn8-dev=8.1.1.33-1+cuda11.2" in install.packages


def test_cudnn_7_for_cuda_9_2(write_spec: Callable[[str], Path]) -> None:
    install = resolved(write_spec, spec("9.2", os="ubuntu16.04", flavor="devel",
                                        extra="  cudnn: 7\n")).base.cuda_apt
    assert install is not None
    assert install.packages[-2:] == ("libcudnn7=7.6.5.32-1+cuda9.2",
                                     "libcudnn7-dev=7.6.5.32-1+cuda9.2")
    assert "libcudnn7" in install.holds and "libcudnn7-dev" not in install.holds


@pytest.mark.parametrize("cuda", ["11.0.3", "11.1.1"])
def test_cudnn_8_for_11_0_and_11_1_on_ubuntu16_04_is_refused(
    write_spec: Callable[[str], Path], cuda: str,
) -> None:
    """Their 16.04 cudnn8 recipes contradict the other OS's (see the data file's header): no
    cuDNN is offered rather than a guessed one; the CUDA stack itself is built."""
    extra = "  cuda_source: nvidia-apt\n"
    [error] = errors(write_spec, spec(cuda, os="ubuntu16.04", extra=f"  cudnn: 8\n{extra}"))
    assert error.code == "base.cudnn" and "none" in (error.hint or "")
    assert resolved(write_spec, spec(cuda, os="ubuntu16.04",
                                     extra=f"  cudnn: false\n{extra}")).base.cuda_apt is not None


@pytest.mark.parametrize(("os", "cuda", "cudnn", "image"), [
    ("ubuntu22.04", "11.8", "8", "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04"),
    ("ubuntu22.04", "12.3", "9", "nvidia/cuda:12.3.2-cudnn9-runtime-ubuntu22.04"),
    ("ubuntu22.04", "12.4", "9", "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04"),
])
def test_cudnn_major_picks_the_image_variant(
    write_spec: Callable[[str], Path], os: str, cuda: str, cudnn: str, image: str,
) -> None:
    result = resolved(write_spec, spec(cuda, os=os, extra=f"  cudnn: {cudnn}\n"))
    assert result.base.image == image


def test_cudnn_major_an_image_never_had_is_an_error(write_spec: Callable[[str], Path]) -> None:
    [error] = errors(write_spec, spec("11.8", os="ubuntu22.04", extra="  cudnn: 9\n"))
    assert error.code == "base.no-such-image"


def test_full_cudnn_version_needs_apt(write_spec: Callable[[str], Path]) -> None:
    [error] = errors(write_spec, spec("11.8", os="ubuntu22.04",
                                      extra="  cudnn: '8.9.6.50'\n  cuda_source: image\n"))
    assert error.code == "base.cudnn" and "nvidia-apt" in (error.hint or "")


# ------------------------------------------------------------------ later checks, real CUDA


def test_gcc_9_on_cuda_10_2_is_an_error_at_compilers_gcc(
    write_spec: Callable[[str], Path],
) -> None:
    found = errors(write_spec, spec("10.2", flavor="devel", extra="compilers:\n  gcc: 9\n"))
    [error] = [e for e in found if e.code == "toolchain.gcc-cuda"]
    assert error.location is not None and error.location.key == "compilers.gcc"
    assert "CUDA 10.2.89's nvcc accepts GCC up to 8" in error.message


def test_torch_1_6_0_gets_the_cu102_wheels(write_spec: Callable[[str], Path]) -> None:
    extra = "python:\n  version: '3.6'\n  pip:\n    packages: [torch==1.6.0]\nuser: null\n"
    result = resolved(write_spec, spec("10.2", extra=extra))
    assert result.python is not None and result.python.torch is not None
    assert result.python.torch.variant == "cu102"
    # 10.2 was torch 1.6.0's default CUDA: the plain wheel from torch_stable.html
    assert result.python.torch.requirements == ("torch==1.6.0",)
    assert result.python.torch.index_args == ("--find-links",
                                              "https://download.pytorch.org/whl/torch_stable.html")


def test_doctor_and_smoke_quote_cuda_10_2s_driver_minimum() -> None:
    resolved_blog = compile_spec(BLOG).resolved
    assert resolved_blog.base.cuda == "10.2.89"
    assert expectations_for(resolved_blog).driver_min == "440.33"
    old = {SMI_QUERY: (0, (DATA / "query_csv_header.txt").read_text(), ""),
           "nvidia-smi": (0, (DATA / "smi_460_titan_rtx.txt").read_text(), "")}
    report = run_doctor(gpu_host(commands=old), cuda=resolved_blog.base.cuda)
    item = items(report)["driver for CUDA 10.2.89"]
    assert item.status == "ok" and ">= 440.33" in item.detail


def test_smoke_expects_the_cuda_the_image_has() -> None:
    exp = expectations_for(compile_spec(BLOG).resolved)
    assert exp.cuda == "10.2.89" and exp.nvcc is False


def test_data_file_releases_are_loaded_through_the_catalog() -> None:
    data = load_catalog().cuda_apt()
    assert [r.cuda for r in data.releases] == ["9.0.176", "9.2.148", "10.0.130", "10.1.243",
                                                 "10.2.89", "11.0.3", "11.1.1", "11.2.0",
                                                 "11.2.1", "11.2.2"]
    assert data.release("10.2") is data.release("10.2.89")
    assert data.release("11.2") is data.release("11.2.2")  # the newest patch of a minor
    assert data.release("10.3") is None


@pytest.mark.parametrize(("os", "extras"), [("ubuntu20.04", True), ("ubuntu18.04", False)])
def test_os_specific_packages_of_a_recipe(
    write_spec: Callable[[str], Path], os: str, extras: bool,
) -> None:
    """NVIDIA's 11.2.2 devel recipe for 20.04 adds libtinfo5/libncursesw5; the 18.04 one not."""
    text = spec("11.2", os=os, flavor="devel", extra="  cuda_source: nvidia-apt\n")
    install = resolved(write_spec, text).base.cuda_apt
    assert install is not None and "cuda-minimal-build-11-2=11.2.2-1" in install.packages
    assert ("libtinfo5" in install.packages) is extras


def test_a_release_published_in_another_os_directory(write_spec: Callable[[str], Path]) -> None:
    """CUDA 9.2 for 18.04 lived in NVIDIA's ubuntu1710 repository; on 16.04 in ubuntu1604.
    Its 16.04 runtime recipe had no NCCL, so no NCCL_VERSION either."""
    on_18 = resolved(write_spec, spec("9.2", extra="  cuda_source: nvidia-apt\n")).base.cuda_apt
    assert on_18 is not None and on_18.repository.endswith("/ubuntu1710/x86_64")
    assert on_18.env["NCCL_VERSION"] == "2.4.8"
    on_16 = resolved(write_spec, spec("9.2", os="ubuntu16.04",
                                      extra="  cuda_source: nvidia-apt\n")).base.cuda_apt
    assert on_16 is not None and on_16.repository.endswith("/ubuntu1604/x86_64")
    assert "NCCL_VERSION" not in on_16.env
    assert not any(p.startswith("libnccl2") for p in on_16.packages)


def test_a_deleted_patch_release_is_built_exactly(write_spec: Callable[[str], Path]) -> None:
    """11.2.1's tags are gone while 11.2.2's exist: auto installs 11.2.1 itself."""
    result = resolved(write_spec, spec("11.2.1", extra="  cudnn: 8\n"))
    assert result.base.image == "ubuntu:18.04" and result.base.cuda == "11.2.1"
    assert result.base.cuda_apt is not None
    assert "cuda-cudart-11-2=11.2.146-1" in result.base.cuda_apt.packages


def test_an_explicit_deleted_tag_points_at_the_apt_stack(write_spec: Callable[[str], Path]) -> None:
    text = "name: t\nbase:\n  os: ubuntu18.04\n  image: nvidia/cuda:10.2-devel-ubuntu18.04\n"
    result = resolved(write_spec, text)
    [warning] = [d for d in result.warnings if d.code == "base.tag-deleted"]
    assert warning.hint is not None and 'cuda: "10.2"' in warning.hint
    assert "NVIDIA's apt repository" in warning.hint


def test_cuda_repo_with_a_published_image_is_noted(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec("11.8", os="ubuntu22.04", extra="  cuda_repo: aliyun\n"))
    assert result.base.cuda_apt is None
    assert [d.code for d in result.diagnostics if d.severity == "info"] == ["base.cuda-repo-unused"]
