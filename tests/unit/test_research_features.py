"""Issue 10 items 3, 5 and 7: env values with references, run phases, sudo and groups,
EXPOSE/VOLUME, conda patch versions and Anaconda, apt key forms and version globs, tencent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envspec import grammar
from envspec.loader import load_spec
from envspec.plan import make_plan
from envspec.plan.steps import Env, Expose, Run, User, Volume
from envspec.render import docker_kv, render_dockerfile
from envspec.resolve import Resolved, resolve


def _resolved(write_spec: Callable[[str], Path], text: str, head: str = "os: debian12") -> Resolved:
    return resolve(load_spec(write_spec(f"name: t\nbase:\n  {head}\n" + text)))


# --- item 3: env values that reference variables ---

@pytest.mark.parametrize(("value", "names"), [
    ("/opt/x/bin:${PATH}", ["PATH"]),
    ("$A-$B_2 ${C:-x y} ${D:+on}", ["A", "B_2", "C", "D"]),
    ("costs $$5 and $$HOME", []),
    ("$$$PATH", ["PATH"]),
    ("no dollar, `backticks` and \"quotes\" stay literal", []),
])
def test_env_values_and_the_names_they_refer_to(value: str, names: list[str]) -> None:
    assert grammar.env_value(value) == value
    assert grammar.env_references(value) == names


@pytest.mark.parametrize("value", ["$(id)", "5$", "${A:?unset}", "$1", "${A", "${A:-$B}", "a\nb"])
def test_env_values_refuse_what_docker_would_not_expand_as_written(value: str) -> None:
    with pytest.raises(ValueError):
        grammar.env_value(value)


def test_expanding_env_values_keep_references_and_escape_the_rest() -> None:
    pairs = {"PATH": "/opt/x/bin:${PATH}", "P": "costs $$5", "Q": 'say "hi" \\ ${A:-x y}'}
    assert docker_kv(pairs, expand=True).split(" \\\n    ") == [
        "PATH=/opt/x/bin:${PATH}", 'P="costs \\$5"', 'Q="say \\"hi\\" \\\\ ${A:-x y}"']
    assert docker_kv({"P": "costs $5"}) == 'P="costs \\$5"'  # labels: every $ literal


def test_a_reference_to_an_earlier_key_starts_a_new_env_instruction(
    write_spec: Callable[[str], Path]
) -> None:
    r = _resolved(write_spec, "env:\n  HOME_X: /opt/x\n  DATA: ${HOME_X}/data\n  OTHER: '1'\n")
    envs = [i for step in make_plan(r).steps if step.name == "env" for i in step.instructions]
    assert all(isinstance(e, Env) and e.expand for e in envs)
    assert [list(e.pairs) for e in envs if isinstance(e, Env)] == [
        ["LANG", "LC_ALL", "HOME_X"], ["DATA", "OTHER"]]
    assert r.warnings == ()


def test_undefined_references_warn_at_their_key(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, "env:\n  PATH: /x:${PATH}\n  LIB: /l:${LD_LIBRARY_PATH}\n"
                  "  LATER: $DEFINED_BELOW\n  DEFINED_BELOW: x\n  LIT: $$NOPE\n")
    warned = [(w.code, w.location.line if w.location else None, w.message) for w in r.warnings]
    assert [(code, line) for code, line, _ in warned] == [("env.undefined", 6),
                                                        ("env.undefined", 7)]
    assert "LD_LIBRARY_PATH" in warned[0][2] and "DEFINED_BELOW" in warned[1][2]


def test_cuda_images_define_their_library_path(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, "env:\n  LD_LIBRARY_PATH: /l:${LD_LIBRARY_PATH}\n"
                  "  LIBRARY_PATH: /s:${LIBRARY_PATH}\n",
                  head="os: ubuntu22.04\n  cuda: '12.4'\n  flavor: devel")
    assert [w for w in r.warnings if w.code == "env.undefined"] == []


def test_envspecs_own_python_variables_count_as_defined(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, "python: {}\nenv:\n  X: ${PYTHONUNBUFFERED}${LANG}\n")
    assert [w for w in r.warnings if w.code == "env.undefined"] == []


# --- item 5: run steps at named phases ---

def test_phases_land_at_their_layers_one_run_each_as_root(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, "apt:\n  packages: [git]\npython: {}\ncopy: []\nrun:\n"
                  "  - echo final-1\n  - {phase: after_python, command: echo py}\n"
                  "  - {phase: before_apt, command: echo fix-key}\n  - echo final-2\n"
                  "  - {phase: after_apt, command: echo apt}\n"
                  "  - {phase: after_sources, command: echo src}\n")
    steps = make_plan(r).steps
    names = [s.name for s in steps]
    order = [s.title for s in steps if s.name == "run"]
    assert order == ["build steps before_apt (as root)", "build steps after_apt (as root)",
                     "build steps after_python (as root)", "build steps after_sources (as root)",
                     "extra build steps (as root)"]
    assert names.index("run") < names.index("apt") < names.index("user") < names.index("venv")
    final = next(s for s in steps if s.title.startswith("extra"))
    (final_run,) = [i for i in final.instructions if isinstance(i, Run)]
    assert [c.text for c in final_run.commands] == ["echo final-1", "echo final-2"]
    # Root only once, after the python step's USER; the early phases already run as root.
    users = {s.title: [i for i in s.instructions if isinstance(i, User)] for s in steps
             if s.name == "run"}
    assert [len(u) for u in users.values()] == [0, 0, 1, 0, 0]


def test_plain_strings_and_final_phase_are_the_same(write_spec: Callable[[str], Path]) -> None:
    plain = make_plan(_resolved(write_spec, "run: [echo a]\n")).steps
    tagged = make_plan(_resolved(write_spec, "run:\n  - {phase: final, command: echo a}\n")).steps
    assert [s for s in plain if s.name == "run"] == [s for s in tagged if s.name == "run"]


# --- item 7: user, metadata, Python, apt, mirrors ---

def test_sudo_user_in_groups(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, "user:\n  name: ana\n  sudo: true\n  groups: [video, lab]\n")
    assert "sudo" in r.apt.packages
    (user_step,) = [s for s in make_plan(r).steps if s.name == "user"]
    (run,) = user_step.instructions
    assert isinstance(run, Run)
    texts = [c.text for c in run.commands]
    assert "if ! getent group lab >/dev/null; then groupadd lab; fi" in texts
    assert any("--groups video,lab" in t and t.startswith("useradd") for t in texts)
    assert "echo 'ana ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/ana" in texts
    assert texts.index("chmod 0440 /etc/sudoers.d/ana") > texts.index(
        "echo 'ana ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/ana")


def test_no_sudo_package_without_sudo(write_spec: Callable[[str], Path]) -> None:
    assert "sudo" not in _resolved(write_spec, "apt:\n  packages: [git]\n").apt.packages


def test_expose_and_volumes_come_after_every_run(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, "expose: ['8888', 6006/udp]\nvolumes: [/data, /cache]\nrun: [echo a]\n")
    plan = make_plan(r)
    runtime = next(s for s in plan.steps if s.name == "runtime").instructions
    assert Expose(("8888", "6006/udp")) in runtime and Volume(("/data", "/cache")) in runtime
    text = render_dockerfile(plan)
    assert 'EXPOSE 8888 6006/udp\nVOLUME ["/data", "/cache"]\n' in text
    assert text.rindex("RUN ") < text.index("VOLUME")


def test_conda_honours_a_patch_version(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, "python:\n  provider: conda\n  version: '3.8.13'\n")
    assert r.python is not None and r.python.version == "3.8.13"
    assert "python=3.8.13" in render_dockerfile(make_plan(r))


def test_anaconda_installer_and_its_mirror_folder(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, "python:\n  provider: conda\n  conda:\n    distribution: anaconda\n")
    assert r.python is not None and r.python.conda is not None
    assert r.python.conda.installer_url.startswith("https://repo.anaconda.com/archive/Anaconda3-")
    mirrored = _resolved(write_spec, "python:\n  provider: conda\n  conda:\n"
                         "    distribution: anaconda\n    mirror: tencent\n")
    assert mirrored.python is not None and mirrored.python.conda is not None
    assert mirrored.python.conda.installer_url.startswith(
        "https://mirrors.cloud.tencent.com/anaconda/archive/Anaconda3-")


def test_tencent_preset(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, "apt:\n  mirror: tencent\npython:\n  pip:\n    mirror: tencent\n")
    assert r.apt.mirror == "http://mirrors.cloud.tencent.com/debian"
    assert r.apt.security_mirror == "http://mirrors.cloud.tencent.com/debian-security"
    assert r.python is not None and r.python.pip_conf is not None
    assert "index-url = https://mirrors.cloud.tencent.com/pypi/simple" in r.python.pip_conf


@pytest.mark.parametrize("package", ["libfoo=7:*", "tree=2.*", "gcc=*", "libc6:amd64=2.36*"])
def test_apt_version_globs(package: str) -> None:
    assert grammar.apt_package(package) == package


def test_key_urls_may_carry_a_query_and_reach_the_shell_quoted(
    write_spec: Callable[[str], Path]
) -> None:
    url = "https://keyserver.ubuntu.com/pks/lookup?op=get&search=0xABCDEF"
    r = _resolved(write_spec, "apt:\n  repositories:\n    - url: https://example.org/debian\n"
                  f"      key_url: '{url}'\n")
    assert f"curl -fsSL '{url}' -o" in render_dockerfile(make_plan(r))
    with pytest.raises(ValueError):
        grammar.url(url)  # elsewhere (mirrors, indexes) `&` stays refused


def test_smoke_expects_literal_env_values_only(write_spec: Callable[[str], Path]) -> None:
    from envspec.pipeline import expectations_for

    r = _resolved(write_spec, "python: {}\nenv:\n  PATH: /x:${PATH}\n  PRICE: costs $$5\n"
                  "  PLAIN: a\n  VIRTUAL_ENV: /elsewhere\n")
    # PATH refers to itself and VIRTUAL_ENV is set again by the venv step: neither is compared.
    assert expectations_for(r).env == {"PRICE": "costs $5", "PLAIN": "a"}


def test_cuda_from_nvidias_apt_repository_is_not_defined_yet_at_the_env_step(
    write_spec: Callable[[str], Path]
) -> None:
    # CUDA 10.2's images are deleted: FROM ubuntu:18.04, and the CUDA step sets its ENV later.
    r = _resolved(write_spec, "env:\n  LD_LIBRARY_PATH: /l:${LD_LIBRARY_PATH}\n",
                  head="os: ubuntu18.04\n  cuda: '10.2'\n  flavor: devel")
    assert r.base.cuda_apt is not None
    assert [w.code for w in r.warnings if w.code == "env.undefined"] == ["env.undefined"]
