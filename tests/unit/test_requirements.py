"""pip requirements on `packaging`: the grammar check, torch specifiers, smoke import names, lock."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from envspec.cli import _register_commands, cli
from envspec.errors import SpecError
from envspec.loader import load_spec
from envspec.pipeline import compile_spec, expectations_for
from envspec.requirements import RequirementError, parse_requirement, requirement_names
from tests.conftest import resolve_text as resolved

_register_commands()
INDEX = "https://download.pytorch.org/whl"


def torch_spec(packages: str, cuda: str | None = "12.1", os: str = "ubuntu22.04") -> str:
    base = f"name: t\nbase:\n  os: {os}\n" + (f"  cuda: '{cuda}'\n" if cuda else "")
    return base + f"python:\n  pip:\n    packages: {packages}\n"


# ---------------------------------------------------------------- parsing and the shell gate


@pytest.mark.parametrize(("text", "name"), [
    ("numpy", "numpy"),
    ("Torch==2.1.2", "Torch"),
    ("black[jupyter]>=24", "black"),
    ("torch>=2.1,<2.3", "torch"),
    ("torch ~= 2.1.0", "torch"),
    ("torch===2.1.2", "torch"),
    ("numpy; python_version >= '3.9'", "numpy"),
    ('numpy>=1.26 ; sys_platform == "linux" and python_version < "3.13"', "numpy"),
    ("zope.interface!=5.*", "zope.interface"),
])
def test_valid_requirements(text: str, name: str) -> None:
    assert parse_requirement(text).name == name


@pytest.mark.parametrize(("text", "reason"), [
    ("numpy && rm -rf /", "not a pip requirement"),
    ("numpy; rm -rf /", "not a pip requirement"),
    ("numpy==1.0; python_version>'3'; id", "not a pip requirement"),
    ("numpy`id`", "not a pip requirement"),
    ("numpy==$(id)", "not a pip requirement"),
    ("numpy; python_version > '3' $HOME", "not a pip requirement"),
    ("'numpy'", "not a pip requirement"),
    ("x @ git+https://example.org/x.git", "direct URL and git+"),
    ("x @ https://example.org/x-1.0.tar.gz", "direct URL and git+"),
    ("", "not a pip requirement"),
])
def test_refused_requirements(text: str, reason: str) -> None:
    with pytest.raises(RequirementError, match=reason):
        parse_requirement(text)


def test_a_bad_requirement_is_located_at_its_spec_key(write_spec: Callable[[str], Path]) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(torch_spec("[numpy, 'torch>=2.1 $(id)']")))
    [error] = caught.value.diagnostics
    assert error.location is not None and error.location.key == "python.pip.packages[1]"
    assert error.location.line == 7 and "not a pip requirement" in error.message


def test_requirements_file_names() -> None:
    text = ("# a comment\n-r other.txt\n--index-url https://example.org/simple\nnumpy>=1.26  # why\n"
            "Pillow[avif] ; python_version >= '3.9'\n./local-package\n"
            "name @ git+https://example.org/x.git#egg=name\n\n"
            "requests==2.31.0 --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f\n")
    assert requirement_names(text) == ("numpy", "Pillow", "name", "requests")


# ---------------------------------------------------------------- torch specifiers


@pytest.mark.parametrize(("packages", "cuda", "pins", "variant"), [
    ("['torch>=2.1']", "12.1", ("torch==2.5.1",), "cu121"),  # newest with cu121 wheels
    ("['torch>=2.1']", "12.4", ("torch==2.6.0",), "cu124"),
    ("['torch>=2.1,<2.3']", "12.1", ("torch==2.2.2",), "cu121"),
    ("['torch~=2.1.0']", "11.8", ("torch==2.1.2",), "cu118"),
    ("['torch==2.1.*']", "12.1", ("torch==2.1.2",), "cu121"),
    ("['torch===2.1.2']", "12.1", ("torch==2.1.2",), "cu121"),
    ("['Torch==2.1.2']", "12.1", ("torch==2.1.2",), "cu121"),
    ("['torch[opt-einsum]==2.1.2']", "12.1", ("torch[opt-einsum]==2.1.2",), "cu121"),
    ("['torch==1.5']", None, ("torch==1.5.0",), "cpu"),  # ==1.5 means 1.5.0
    ("['torch<2.2', 'torchvision>=0.16.1']", "12.1", ("torch==2.1.2", "torchvision==0.16.2"), "cu121"),
    ("['torchvision==0.16.0']", "12.1", ("torchvision==0.16.0",), "cu121"),  # picks torch 2.1.0
    ("[\"torch>=2.1; python_version >= '3.8'\"]", None, ("torch==2.14.1",), "cpu"),
])
def test_torch_specifiers_resolve_to_a_release_with_wheels_for_the_cuda(
    write_spec: Callable[[str], Path], packages: str, cuda: str | None, pins: tuple[str, ...],
    variant: str,
) -> None:
    os = "ubuntu20.04" if "1.5" in packages else "ubuntu22.04"  # torch 1.5 wheels stop at 3.8
    result = resolved(write_spec, torch_spec(packages, cuda, os))
    assert result.python is not None and result.python.torch is not None
    assert result.python.torch.variant == variant
    assert result.python.torch.index_args[-1] in (f"{INDEX}/{variant}", f"{INDEX}/torch_stable.html")
    assert result.python.torch.requirements == pins


def test_torch_range_on_a_cuda_spec_uses_the_cuda_index(write_spec: Callable[[str], Path]) -> None:
    """The bug: `torch>=2.1` was passed to pip as is, from PyPI, without the CUDA index."""
    result = resolved(write_spec, torch_spec("['torch>=2.1', numpy]"))
    assert result.python is not None and result.python.torch is not None
    assert result.python.torch.index_args == ("--index-url", f"{INDEX}/cu121")
    assert result.python.pip_packages == ("numpy",)
    dockerfile = compile_spec(result.spec_path).dockerfile
    assert f"--index-url {INDEX}/cu121" in dockerfile and "torch==2.5.1" in dockerfile


def test_marker_false_in_the_image_drops_the_requirement(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, torch_spec("[\"torch>=2.1; python_version < '3.0'\", numpy]"))
    assert result.python is not None and result.python.torch is None
    assert any(d.key == "python.pip.torch" and "marker" in d.why for d in result.decisions)


@pytest.mark.parametrize(("packages", "cuda", "code", "words"), [
    ("['torch>=2.1,<2.1']", "12.1", "python.torch-unknown", "no torch release envspec knows matches"),
    ("['torch>=3']", "12.1", "python.torch-unknown", "`torch>=3`"),
    ("['torch<2.0']", "12.1", "python.torch-cuda", "has cu121 wheels"),
    ("['torch==2.1.2', 'torchvision>=0.17']", "12.1", "python.torch-pair", "does not pair"),
])
def test_torch_ranges_without_a_release_are_errors_with_hints(
    write_spec: Callable[[str], Path], packages: str, cuda: str, code: str, words: str
) -> None:
    with pytest.raises(SpecError) as caught:
        resolved(write_spec, torch_spec(packages, cuda))
    [error] = [d for d in caught.value.diagnostics if d.severity == "error"]
    assert error.code == code and words in error.message
    assert error.hint and error.location is not None and error.location.line == 7


def test_range_error_hint_names_matching_releases_and_their_variants(
    write_spec: Callable[[str], Path],
) -> None:
    with pytest.raises(SpecError) as caught:
        resolved(write_spec, torch_spec("['torch>=2.0,<2.1']", "12.1"))
    [error] = caught.value.diagnostics
    assert error.hint is not None
    assert "releases that match: 2.0.0, 2.0.1" in error.hint and "cu117, cu118" in error.hint


# ---------------------------------------------------------------- smoke import names


def test_smoke_checks_import_what_the_requirements_name(write_spec: Callable[[str], Path]) -> None:
    spec = write_spec(torch_spec("['Torch>=2.1', 'scikit-learn[alldeps]>=1.3', "
                                 "\"tomli; python_version < '3.0'\"]"))
    (spec.parent / "requirements.txt").write_text("# deps\nPyYAML>=6  # yaml\n-c constraints.txt\n")
    spec.write_text(spec.read_text() + "    requirements: [requirements.txt]\n")
    expectations = expectations_for(compile_spec(spec).resolved)
    assert expectations.packages == ("torch", "PyYAML", "scikit-learn")


# ---------------------------------------------------------------- env.lock


def test_lock_pins_the_torch_release_the_range_resolved_to_and_locked_uses_it(
    write_spec: Callable[[str], Path],
) -> None:
    spec = write_spec(torch_spec("['torch>=2.1', torchvision]"))
    runner = CliRunner()
    assert runner.invoke(cli, ["lock", str(spec)]).exit_code == 0
    lock_file = spec.parent / "env.lock"
    assert yaml.safe_load(lock_file.read_text())["torch"] == ["torch==2.5.1", "torchvision==0.20.1"]

    # A later catalog might pick a newer torch for the range; the lock keeps the one recorded.
    lock_file.write_text(lock_file.read_text().replace("torch==2.5.1", "torch==2.2.2")
                         .replace("torchvision==0.20.1", "torchvision==0.17.2"))
    rendered = runner.invoke(cli, ["render", str(spec), "--locked"])
    assert rendered.exit_code == 0, rendered.output
    assert "torch==2.2.2 \\\n      torchvision==0.17.2" in rendered.stdout
    assert f"--index-url {INDEX}/cu121" in rendered.stdout
    explained = runner.invoke(cli, ["explain", str(spec), "--json"])
    decisions = json.loads(explained.stdout)["decisions"]
    assert {"key": "python.pip.torch", "value": "torch==2.2.2 torchvision==0.17.2", "source": "lock",
            "why": "pinned by env.lock"} in decisions


def test_a_locked_torch_the_catalog_cannot_serve_is_refused_under_locked(
    write_spec: Callable[[str], Path],
) -> None:
    spec = write_spec(torch_spec("['torch>=2.1']"))
    runner = CliRunner()
    assert runner.invoke(cli, ["lock", str(spec)]).exit_code == 0
    lock_file = spec.parent / "env.lock"
    lock_file.write_text(lock_file.read_text().replace("torch==2.5.1", "torch==2.0.1"))  # no cu121
    refused = runner.invoke(cli, ["render", str(spec), "--locked"])
    assert refused.exit_code == 6 and "cannot install with cu121 wheels" in refused.stderr
    warned = runner.invoke(cli, ["render", str(spec)])
    assert warned.exit_code == 0 and "lock.torch" in warned.stderr and "torch==2.5.1" in warned.stdout
