"""PyTorch as researchers pin it (issue 10 item 6): PEP 440 spellings, +cuNNN local versions,
python.torch.variant, and the devel-image nvcc major check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from envspec.cli import _register_commands, cli
from envspec.errors import SpecError
from envspec.loader import load_spec
from envspec.pipeline import compile_spec
from tests.unit.test_pip_forms import errors_of, resolved

_register_commands()
INDEX = "https://download.pytorch.org/whl"


def torch_spec(packages: str, cuda: str | None = None, flavor: str = "runtime",
               variant: str | None = None, os: str = "ubuntu22.04") -> str:
    text = f"name: t\nbase:\n  os: {os}\n  flavor: {flavor}\n"
    text += f"  cuda: '{cuda}'\n" if cuda else ""
    text += f"python:\n  pip:\n    packages: {packages}\n"
    return text + (f"  torch:\n    variant: {variant}\n" if variant else "")


@pytest.mark.parametrize(("packages", "cuda", "os", "pins", "variant", "index"), [
    # the local version names the wheel build, and implies the variant
    ("['torch==1.5.0+cu101']", "10.1", "ubuntu18.04", ("torch==1.5.0+cu101",), "cu101",
     ("--find-links", f"{INDEX}/torch_stable.html")),
    ("['torch==1.5+cu92', 'torchvision==0.6.0+cu92']", None, "ubuntu18.04",
     ("torch==1.5.0+cu92", "torchvision==0.6.0+cu92"), "cu92",
     ("--find-links", f"{INDEX}/torch_stable.html")),
    ("['torch==2.1.2+cu118']", "12.1", "ubuntu22.04", ("torch==2.1.2",), "cu118",
     ("--index-url", f"{INDEX}/cu118")),
    ("['torch==2.1.2+cpu']", "12.1", "ubuntu22.04", ("torch==2.1.2",), "cpu",
     ("--index-url", f"{INDEX}/cpu")),
    ("['torch===1.9.0']", "11.1", "ubuntu20.04", ("torch==1.9.0+cu111",), "cu111",
     ("--find-links", f"{INDEX}/torch_stable.html")),
])
def test_local_versions_and_arbitrary_equality_resolve(
    write_spec: Callable[[str], Path], packages: str, cuda: str | None, os: str,
    pins: tuple[str, ...], variant: str, index: tuple[str, ...],
) -> None:
    result = resolved(write_spec, torch_spec(packages, cuda, os=os))
    assert result.python is not None and result.python.torch is not None
    torch = result.python.torch
    assert (torch.requirements, torch.variant, torch.index_args) == (pins, variant, index)
    implied = any(d.key == "python.torch.variant" and d.value == variant for d in result.decisions)
    assert implied == ("+" in packages)


@pytest.mark.parametrize(("variant", "cuda", "pins", "index"), [
    ("pypi", "12.1", ("torch==2.1.2",), ()),  # PyPI's wheel for 2.1.2 is built with CUDA 12.1
    ("pypi", None, ("torch==2.1.2",), ()),
    ("cpu", "12.1", ("torch==2.1.2",), ("--index-url", f"{INDEX}/cpu")),
    ("cu118", "12.1", ("torch==2.1.2",), ("--index-url", f"{INDEX}/cu118")),
])
def test_the_variant_setting_chooses_the_wheel_build(
    write_spec: Callable[[str], Path], variant: str, cuda: str | None, pins: tuple[str, ...],
    index: tuple[str, ...],
) -> None:
    result = resolved(write_spec, torch_spec("['torch==2.1.2']", cuda, variant=variant))
    assert result.python is not None and result.python.torch is not None
    assert result.python.torch.requirements == pins and result.python.torch.index_args == index
    assert result.python.torch.variant == variant


def test_pypi_wheels_render_without_an_extra_index(write_spec: Callable[[str], Path]) -> None:
    spec = write_spec(torch_spec("['torch==2.1.2', numpy]", "12.1", variant="pypi"))
    dockerfile = compile_spec(spec).dockerfile
    assert "download.pytorch.org" not in dockerfile and "torch==2.1.2" in dockerfile


def test_pypi_wheels_on_an_older_release_carry_its_default_cuda(
    write_spec: Callable[[str], Path],
) -> None:
    """torch 1.7.1's PyPI wheel was built with CUDA 10.2 (torch.yaml default_cuda)."""
    result = resolved(write_spec, torch_spec("['torch==1.7.1']", "11.0", variant="pypi",
                                             os="ubuntu20.04"))
    [note] = [d for d in result.diagnostics if d.code == "python.torch-cuda-runtime"]
    assert "CUDA 10.2" in note.message and note.severity == "info"
    assert note.location is not None and note.location.key == "python.torch.variant"


def test_another_cuda_on_a_runtime_image_is_a_note(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, torch_spec("['torch==2.1.2+cu118']", "12.1"))
    assert result.warnings == ()
    [note] = [d for d in result.diagnostics if d.code == "python.torch-cuda-runtime"]
    assert note.severity == "info" and "bundle their own CUDA 11.8 runtime" in note.message
    assert note.location is not None and note.location.key == "python.pip.packages"


def test_cuda_wheels_on_a_cpu_image_are_a_note(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, torch_spec("['torch==2.1.2']", None, variant="cu121"))
    [note] = [d for d in result.diagnostics if d.code == "python.torch-cuda-runtime"]
    assert note.severity == "info" and "host driver" in (note.hint or "")


@pytest.mark.parametrize(("packages", "variant", "key", "hint"), [
    ("['torch==2.1.2']", "cu118", "python.torch.variant", "use cu121, or set base.cuda to 11.8"),
    ("['torch==2.1.2+cu118']", None, "python.pip.packages", "use cu121, or set base.cuda to 11.8"),
    ("['torch==2.1.2']", "pypi", None, None),  # PyPI's 2.1.2 wheel is CUDA 12.1: same major
])
def test_devel_nvcc_of_another_major_is_an_error(
    write_spec: Callable[[str], Path], packages: str, variant: str | None, key: str | None,
    hint: str | None,
) -> None:
    text = torch_spec(packages, "12.1", flavor="devel", variant=variant)
    if key is None:
        assert resolved(write_spec, text).python is not None
        return
    [error] = errors_of(write_spec, text)
    assert error.code == "python.torch-nvcc" and "cpp_extension" in error.message
    assert error.location is not None and error.location.key == key
    assert error.hint is not None and hint in error.hint


def test_devel_nvcc_of_another_minor_is_a_warning(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, torch_spec("['torch==2.1.2']", "12.4", flavor="devel",
                                             variant="cu121"))
    [warning] = result.warnings
    assert warning.code == "python.torch-cuda-runtime" and "minor-version" in (warning.hint or "")


@pytest.mark.parametrize(("packages", "variant", "code", "words", "key"), [
    ("['torch==2.1.2+rocm5.6']", None, "python.torch-local", "not a torch wheel build",
     "python.pip.packages[0]"),
    ("['torch==2.1.2+cu121', 'torchvision==0.16.2+cu118']", None, "python.torch-local",
     "different wheel builds", "python.pip.packages[0]"),
    ("['torch==2.1.2+cu121']", "cu118", "python.torch-variant", "asks for +cu121",
     "python.torch.variant"),
    ("['torch==2.1.2']", "cu102", "python.torch-cuda", "no cu102 wheels", "python.torch.variant"),
])
def test_conflicting_or_unknown_builds_are_errors(
    write_spec: Callable[[str], Path], packages: str, variant: str | None, code: str, words: str,
    key: str,
) -> None:
    [error] = errors_of(write_spec, torch_spec(packages, "12.1", variant=variant))
    assert error.code == code and words in error.message
    assert error.location is not None and error.location.key == key and error.hint


def test_a_bad_variant_is_a_spec_error(write_spec: Callable[[str], Path]) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(torch_spec("['torch']", variant="rocm")))
    [error] = caught.value.diagnostics
    assert error.location is not None and error.location.key == "python.torch.variant"


def test_a_variant_without_torch_warns(write_spec: Callable[[str], Path]) -> None:
    [warning] = resolved(write_spec, torch_spec("[numpy]", variant="cu121")).warnings
    assert warning.code == "python.torch-variant-unused"


def test_lock_keeps_pypi_wheels(write_spec: Callable[[str], Path]) -> None:
    spec = write_spec(torch_spec("['torch>=2.1']", "12.1", variant="pypi"))
    runner = CliRunner()
    assert runner.invoke(cli, ["lock", str(spec)]).exit_code == 0
    lock_file = spec.parent / "env.lock"
    lock_file.write_text(lock_file.read_text().replace("torch==2.14.1", "torch==2.2.2"))
    rendered = runner.invoke(cli, ["render", str(spec), "--locked"])
    assert rendered.exit_code == 0, rendered.output
    assert "torch==2.2.2" in rendered.stdout and "download.pytorch.org" not in rendered.stdout
