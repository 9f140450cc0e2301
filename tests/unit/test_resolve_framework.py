"""Framework base images and `python.provider: image`: what the catalog knows of a tag is
checked against the spec, and the image's own Python is used (never a second one)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envspec.errors import SpecError
from envspec.pipeline import compile_spec, expectations_for
from envspec.resolve import Resolved
from envspec.spec import Spec
from tests.conftest import resolve_errors as errors
from tests.conftest import resolve_text as resolved

PYTORCH = "pytorch/pytorch:2.1.2-cuda12.1-cudnn8-runtime"  # CUDA 12.1, Python 3.10, torch 2.1.2
NGC = "nvcr.io/nvidia/pytorch:23.10-py3"  # CUDA 12.2.2, Python 3.10 in /usr/bin/python3
TF1_EOL = "nvcr.io/nvidia/tensorflow:23.03-tf1-py3"


def spec(image: str, base: str = "", python: str = "  provider: image\n") -> str:
    return f"name: t\nbase:\n  image: {image}\n{base}python:\n{python}"


def decision(result: Resolved, key: str) -> tuple[str, str]:
    [found] = [d for d in result.decisions if d.key == key]
    return found.value, found.source


def test_known_tag_gives_os_cuda_python_and_interpreter(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec(PYTORCH))
    assert (result.base.distro.id, result.base.cuda, result.base.flavor) == (
        "ubuntu20.04", "12.1", "runtime")
    assert decision(result, "base.cuda") == ("12.1", "catalog")
    assert decision(result, "base.os") == ("ubuntu20.04", "catalog")
    assert "torch 2.1.2" in next(d.why for d in result.decisions if d.key == "base.framework")
    py = result.python
    assert py is not None
    assert (py.provider, py.version, py.interpreter) == ("image", "3.10", "/opt/conda/bin/python")
    assert py.executable == "/opt/conda/bin/python"
    assert expectations_for(result).python_executable == "/opt/conda/bin/python"
    assert not result.warnings


def test_ngc_interpreter_is_the_system_python(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec(NGC))
    assert result.python is not None and result.python.interpreter == "/usr/bin/python3"
    assert result.base.cuda == "12.2.2"


def test_base_cuda_must_match_the_image(write_spec: Callable[[str], Path]) -> None:
    [error] = errors(write_spec, spec(PYTORCH, "  cuda: '11.8'\n"))
    assert error.code == "base.framework-cuda"
    assert error.location is not None and error.location.line == 4  # the `cuda:` line
    assert error.hint == 'set `cuda: "12.1"` or drop `cuda:`'
    assert resolved(write_spec, spec(PYTORCH, "  cuda: '12.1'\n")).base.cuda == "12.1"


def test_base_os_must_match_the_image(write_spec: Callable[[str], Path]) -> None:
    [error] = errors(write_spec, spec(PYTORCH, "  os: ubuntu22.04\n"))
    assert error.code == "base.framework-os"
    assert "ubuntu20.04" in error.hint


def test_python_version_must_match_the_image(write_spec: Callable[[str], Path]) -> None:
    [error] = errors(write_spec, spec(PYTORCH, python="  provider: image\n  version: '3.11'\n"))
    assert error.code == "python.image-version"
    assert error.hint == 'set `version: "3.10"` or drop `version:`'


@pytest.mark.parametrize("provider", ["system", "conda"])
def test_second_interpreter_over_a_framework_image_is_an_error(
    write_spec: Callable[[str], Path], provider: str
) -> None:
    # One error: not also one about the Python 3.10 ubuntu20.04's archive lacks.
    text = spec(PYTORCH, python=f"  provider: {provider}\n  version: '3.10'\n")
    [error] = errors(write_spec, text)
    assert error.code == "python.second-interpreter"
    assert "already has Python 3.10" in error.message
    assert error.hint is not None and "use `provider: image`" in error.hint


def test_the_default_provider_is_refused_too(write_spec: Callable[[str], Path]) -> None:
    [error] = errors(write_spec, spec(PYTORCH, python="  pip:\n    packages: [einops]\n"))
    assert error.code == "python.second-interpreter"


def test_torch_pin_the_image_meets_is_not_reinstalled(write_spec: Callable[[str], Path]) -> None:
    pip = "  provider: image\n  pip:\n    packages: [torch==2.1.2, einops]\n"
    result = resolved(write_spec, spec(PYTORCH, python=pip))
    assert result.python is not None
    assert result.python.torch is None and result.python.pip_packages == ("einops",)
    assert decision(result, "python.torch") == ("2.1.2", "catalog")


def test_torch_pin_that_differs_warns_and_installs(write_spec: Callable[[str], Path]) -> None:
    pip = "  provider: image\n  pip:\n    packages: [torch==2.2.0]\n"
    result = resolved(write_spec, spec(PYTORCH, python=pip))
    [warning] = [w for w in result.warnings if w.code == "python.image-torch"]
    assert "already has torch 2.1.2" in warning.message
    assert result.python is not None and result.python.torch is not None


def test_gcc_limit_is_judged_with_the_images_cuda(write_spec: Callable[[str], Path]) -> None:
    text = spec("pytorch/pytorch:1.6.0-cuda10.1-cudnn7-devel", "", "  provider: image\n")
    text += "compilers:\n  gcc: 9\n"
    with pytest.raises(SpecError) as caught:
        resolved(write_spec, text)
    found = [d for d in caught.value.diagnostics if d.code == "toolchain.gcc-cuda"]
    assert found and "CUDA 10.1's nvcc accepts GCC up to 8" in found[0].message


def test_eol_tag_is_a_warning_naming_the_status(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec(TF1_EOL))
    [warning] = [w for w in result.warnings if w.code == "base.framework-status"]
    assert warning.message == f"{TF1_EOL} is end-of-life"
    assert "nvcr.io/nvidia/tensorflow" in (warning.hint or "")


def test_unknown_image_trusts_the_user(write_spec: Callable[[str], Path]) -> None:
    text = spec("registry.example.com/team/py:1", "  os: debian12\n",
                "  provider: image\n  version: '3.11'\n  pip:\n    packages: [six]\n")
    result = resolved(write_spec, text)
    assert result.python is not None and result.python.interpreter == "python3"
    assert decision(result, "python.interpreter") == ("python3", "default")
    assert [n.code for n in result.diagnostics if n.severity == "info"] == ["python.image-unknown"]
    assert "RUN python3 -m pip install --no-cache-dir \\\n      six" in compile_spec(
        write_spec(text)).dockerfile


def test_unknown_image_needs_the_python_version(write_spec: Callable[[str], Path]) -> None:
    [error] = errors(write_spec, spec("registry.example.com/team/py:1", "  os: debian12\n"))
    assert error.code == "python.image-version"


def test_interpreter_needs_provider_image_and_an_absolute_path() -> None:
    base = {"name": "t", "base": {"os": "debian12"}}
    with pytest.raises(ValueError, match="`interpreter` needs `provider: image`"):
        Spec.model_validate({**base, "python": {"interpreter": "/opt/py/bin/python"}})
    with pytest.raises(ValueError, match="absolute path"):
        Spec.model_validate({**base, "python": {"provider": "image", "interpreter": "python3"}})
    with pytest.raises(ValueError, match="letters, digits"):
        Spec.model_validate({**base, "python": {"provider": "image",
                                                "interpreter": "/opt/py;rm -rf /"}})


def test_no_venv_and_pip_runs_as_root_with_the_interpreter(
    write_spec: Callable[[str], Path],
) -> None:
    text = spec(PYTORCH, python="  provider: image\n  pip:\n    packages: [einops]\n")
    dockerfile = compile_spec(write_spec(text + "user:\n  name: dev\n")).dockerfile
    assert "-m venv" not in dockerfile and "VIRTUAL_ENV" not in dockerfile
    pip_at, user_at = dockerfile.index("/opt/conda/bin/python -m pip"), dockerfile.index("USER ")
    assert pip_at < user_at  # the image's env is root's; the runtime step switches user after
    assert "chown 1000:1000 /workspace\n" in dockerfile  # the image's env is not chowned


def test_conda_packages_use_the_images_own_conda(write_spec: Callable[[str], Path]) -> None:
    python = "  provider: image\n  conda:\n    packages: [ffmpeg=6]\n"
    dockerfile = compile_spec(write_spec(spec(PYTORCH, python=python))).dockerfile
    assert "RUN /opt/conda/bin/conda install -y -p /opt/conda \\\n      ffmpeg=6" in dockerfile
    assert "conda-installer" not in dockerfile and "conda create" not in dockerfile


def test_conda_packages_over_an_image_without_conda_are_an_error(
    write_spec: Callable[[str], Path],
) -> None:
    [error] = errors(write_spec, spec(NGC, python="  provider: image\n  conda:\n"
                                      "    packages: [ffmpeg]\n"))
    assert error.code == "python.image-no-conda"
    assert error.hint is not None and "pip" in error.hint


def test_conda_installer_settings_over_an_image_are_an_error(
    write_spec: Callable[[str], Path],
) -> None:
    [error] = errors(write_spec, spec(PYTORCH, python="  provider: image\n  conda:\n"
                                      "    distribution: miniforge\n"))
    assert error.code == "python.ignored"
    assert "`python.conda.distribution` only applies with `provider: conda`" in error.message


def test_venv_over_an_image_is_an_error(write_spec: Callable[[str], Path]) -> None:
    [error] = errors(write_spec, spec(PYTORCH, python="  provider: image\n  venv: /opt/v\n"))
    assert error.code == "python.ignored"


def test_smoke_checks_import_the_images_torch(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec(PYTORCH, python="  provider: image\n  pip:\n"
                                       "    packages: [einops]\n"))
    assert expectations_for(result).packages == ("torch", "einops")
    tf = resolved(write_spec, spec("tensorflow/tensorflow:2.10.0-gpu"))
    assert expectations_for(tf).packages == ()


def test_conda_over_an_unknown_image_needs_the_interpreter(
    write_spec: Callable[[str], Path],
) -> None:
    python = "  provider: image\n  version: '3.11'\n  conda:\n    packages: [ffmpeg]\n"
    [error] = errors(write_spec, spec("registry.example.com/team/py:1", "  os: debian12\n", python))
    assert error.code == "python.image-conda-where"
    text = spec("registry.example.com/team/py:1", "  os: debian12\n",
                python + "  interpreter: /opt/env/bin/python\n")
    assert "RUN /opt/env/bin/conda install -y -p /opt/env" in compile_spec(write_spec(text)).dockerfile
