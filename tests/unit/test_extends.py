"""`extends:` lets a published spec template be reused: mappings merge, lists replace."""

from __future__ import annotations

from pathlib import Path

import pytest

from envspec.errors import SpecError
from envspec.loader import load_spec


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_child_overrides_and_merges_with_its_template(tmp_path: Path) -> None:
    _write(tmp_path / "templates" / "lab.yaml",
           "name: lab\nbase:\n  os: ubuntu22.04\n  cuda: '12.4'\napt:\n  mirror: tuna\n"
           "  packages: [git]\nenv:\n  A: '1'\n")
    child = _write(tmp_path / "paper" / "env.yaml",
                   "extends: ../templates/lab.yaml\nname: paper\nbase:\n  flavor: devel\n"
                   "apt:\n  packages: [vim]\nenv:\n  B: '2'\n")
    loaded = load_spec(child)
    spec = loaded.spec
    assert spec.name == "paper"
    assert (spec.base.os, spec.base.cuda, spec.base.flavor) == ("ubuntu22.04", "12.4", "devel")
    assert spec.apt.mirror == "tuna" and spec.apt.packages == ["vim"]  # lists are replaced
    assert spec.env == {"A": "1", "B": "2"}
    assert loaded.sources == (child, (tmp_path / "templates" / "lab.yaml").resolve())


def test_errors_point_into_the_file_that_has_them(tmp_path: Path) -> None:
    parent = _write(tmp_path / "base.yaml", "name: lab\nbase:\n  os: ubuntu22.04\n  flavour: devel\n")
    child = _write(tmp_path / "env.yaml", "extends: base.yaml\nname: paper\n")
    with pytest.raises(SpecError) as caught:
        load_spec(child)
    [problem] = caught.value.diagnostics
    assert problem.location is not None
    assert (Path(problem.location.file).resolve(), problem.location.line) == (parent.resolve(), 4)


def test_cycles_and_missing_templates_are_reported(tmp_path: Path) -> None:
    loop = _write(tmp_path / "a.yaml", "extends: a.yaml\nname: a\n")
    with pytest.raises(SpecError, match="problem"):
        load_spec(loop)
    missing = _write(tmp_path / "b.yaml", "extends: nowhere.yaml\nname: b\n")
    with pytest.raises(SpecError) as caught:
        load_spec(missing)
    assert "does not exist" in caught.value.diagnostics[0].message
