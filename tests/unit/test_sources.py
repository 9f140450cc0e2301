"""`sources:` and `compilers.cuda_arch`: the model, the resolver, the plan and the lock."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from envspec.errors import SpecError
from envspec.loader import load_spec
from envspec.lockfile import Lock, LockedSource, dump_lock, lock_from, read_lock
from envspec.plan import make_plan
from envspec.plan.steps import Run, User
from envspec.resolve import Resolved, ResolveInputs, resolve
from envspec.source_lock import lock_sources, ls_remote
from envspec.spec_sources import Source

COMMIT = "0123456789abcdef0123456789abcdef01234567"
GIT = "https://example.org/lib.git"
HEAD = "name: t\nbase:\n  os: debian12\npython: {}\n"
CUDA = "name: t\nbase:\n  os: ubuntu22.04\n  cuda: '12.1'\n  flavor: devel\npython: {}\n"


def _source(**fields: object) -> Source:
    return Source.model_validate({"name": "lib", "builder": "pip", **fields})


def _resolved(write_spec: Callable[[str], Path], text: str, head: str = HEAD,
              inputs: ResolveInputs | None = None) -> Resolved:
    return resolve(load_spec(write_spec(head + text)), inputs=inputs)


def _codes(write_spec: Callable[[str], Path], text: str, head: str = HEAD) -> list[str]:
    with pytest.raises(SpecError) as caught:
        _resolved(write_spec, text, head)
    return [d.code for d in caught.value.diagnostics if d.severity == "error"]


# ---------------------------------------------------------------- the model


def test_a_git_source_at_a_tag_and_an_archive_with_its_digest_are_valid() -> None:
    assert _source(git=GIT, ref="v1.2.0").folder == "/opt/src/lib"
    archive = _source(archive="https://example.org/lib-1.0.tar.gz", sha256="a" * 64,
                      builder="cmake", dest="/opt/lib", build_type="Debug")
    assert archive.folder == "/opt/lib"


@pytest.mark.parametrize(("fields", "message"), [
    ({"git": GIT}, "needs `ref`"),
    ({"archive": "https://example.org/a.tgz"}, "needs its `sha256`"),
    ({"git": GIT, "ref": "v1", "archive": "https://example.org/a.tgz", "sha256": "a" * 64},
     "exactly one of"),
    ({}, "exactly one of"),
    ({"git": GIT, "ref": "v1", "build_type": "Debug"}, "`builder: cmake` option"),
    ({"git": GIT, "ref": "v1", "editable": True, "keep": False}, "editable"),
    ({"git": GIT, "ref": "v1", "builder": "script"}, "needs `commands`"),
])
def test_incoherent_sources_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _source(**fields)


@pytest.mark.parametrize("fields", [
    {"git": "https://example.org/x.git;rm -rf /", "ref": "v1"},
    {"git": "https://example.org/$(id).git", "ref": "v1"},
    {"git": "ext::sh -c touch% /tmp/pwned", "ref": "v1"},
    {"git": "file:///etc", "ref": "v1"},
    {"git": GIT, "ref": "--upload-pack=touch /tmp/x"},
    {"git": GIT, "ref": "v1;id"},
    {"git": GIT, "ref": "v1\nRUN id"},
    {"git": GIT, "ref": "a..b"},
    {"git": GIT, "ref": "v1", "args": ["$(id)"]},
    {"git": GIT, "ref": "v1", "args": ["-DX=1;id"]},
    {"git": GIT, "ref": "v1", "args": ["`id`"]},
    {"git": GIT, "ref": "v1", "name": "../etc"},
    {"git": GIT, "ref": "v1", "dest": "/opt/../etc"},
    {"git": GIT, "ref": "v1", "env": {"A B": "1"}},
    {"git": GIT, "ref": "v1", "builder": "script", "commands": ["echo 'open"]},
])
def test_hostile_values_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _source(**fields)


# ---------------------------------------------------------------- the resolver


def test_a_branch_ref_is_an_error(write_spec: Callable[[str], Path]) -> None:
    text = f"sources:\n  - {{name: lib, git: '{GIT}', ref: main, builder: pip}}\n"
    assert _codes(write_spec, text) == ["sources.branch"]


def test_an_abbreviated_commit_is_an_error(write_spec: Callable[[str], Path]) -> None:
    text = f"sources:\n  - {{name: lib, git: '{GIT}', ref: 0123abc, builder: pip}}\n"
    assert _codes(write_spec, text) == ["sources.short-commit"]


def test_duplicate_names_and_pip_without_python_are_errors(
    write_spec: Callable[[str], Path]
) -> None:
    text = (f"sources:\n  - {{name: lib, git: '{GIT}', ref: v1, builder: pip}}\n"
            f"  - {{name: lib, git: '{GIT}', ref: v2, builder: cmake}}\n")
    assert sorted(_codes(write_spec, text, "name: t\nbase:\n  os: debian12\n")) == [
        "sources.duplicate", "sources.pip-needs-python"]


def test_a_full_commit_is_checked_out_and_git_is_implied(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, f"sources:\n  - {{name: lib, git: '{GIT}', ref: {COMMIT}, "
                  "builder: cmake}\n")
    assert r.sources[0].commit == COMMIT
    assert {"git", "ca-certificates", "cmake", "make"} <= set(r.apt.packages)


def test_an_archive_implies_curl_not_git(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, "sources:\n  - {name: lib, archive: 'https://example.org/a.tgz', "
                  f"sha256: '{'b' * 64}', builder: make, configure: true}}\n")
    assert "curl" in r.apt.packages and "git" not in r.apt.packages


def test_cuda_arch_families_expand_into_both_spellings(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, "compilers:\n  cuda_arch: ['7.0', ampere, '8.9+PTX']\n", CUDA)
    assert r.cuda_archs is not None
    assert r.cuda_archs.torch == "7.0;8.0;8.6;8.9+PTX"
    assert r.cuda_archs.cmake == "70-real;80-real;86-real;89"


@pytest.mark.parametrize(("head", "arch", "code"), [
    (CUDA, "'10.0'", "sources.cuda-arch"),  # sm_100 needs CUDA 12.8
    (CUDA.replace("12.1", "11.0").replace("22.04", "20.04"), "'8.6'", "sources.cuda-arch"),  # 11.1 added sm_86
    (CUDA.replace("12.1", "12.4"), "'3.5'", "sources.cuda-arch"),  # Kepler left in 12.0
    (CUDA, "fermi", "sources.cuda-arch-family"),
    (HEAD, "'8.0'", "sources.cuda-arch-no-cuda"),
])
def test_architectures_the_nvcc_cannot_build_are_errors(
    write_spec: Callable[[str], Path], head: str, arch: str, code: str
) -> None:
    assert _codes(write_spec, f"compilers:\n  cuda_arch: [{arch}]\n", head) == [code]


def test_blackwell_is_fine_on_cuda_12_8(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, "compilers:\n  cuda_arch: [blackwell]\n", CUDA.replace("12.1", "12.8"))
    assert r.cuda_archs is not None and r.cuda_archs.torch == "10.0;12.0"


# ---------------------------------------------------------------- the plan

TWO = (f"sources:\n  - {{name: ext, git: '{GIT}', ref: v1, builder: pip, env: {{MAX_JOBS: '2'}}}}\n"
       f"  - {{name: tool, git: '{GIT}', ref: v2, builder: cmake, keep: false, args: [-DX=ON]}}\n"
       "copy:\n  - {src: env.yaml, dest: /opt/env.yaml}\n")


def test_sources_come_after_pip_before_copy_one_layer_each(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, TWO, CUDA.replace("python: {}", "python:\n  pip:\n    packages: "
                                                "[wheel]\ncompilers:\n  cuda_arch: ['8.0']"))
    plan = make_plan(r)
    names = [s.name for s in plan.steps]
    assert names.index("pip") < names.index("sources") < names.index("copy")
    (step,) = [s for s in plan.steps if s.name == "sources"]
    assert isinstance(step.instructions[0], User)
    runs = [i for i in step.instructions if isinstance(i, Run)]
    assert len(runs) == 2
    pip_texts = [c.text for c in runs[0].commands]
    cmake_texts = [c.text for c in runs[1].commands]
    assert pip_texts[0] == "export TORCH_CUDA_ARCH_LIST=8.0 CUDAARCHS=80-real MAX_JOBS=2"
    assert pip_texts[1] == f"git clone --depth 1 --branch v1 {GIT} /opt/src/ext"
    assert pip_texts[-1] == "chown -R 1000:1000 /opt/src/ext"  # kept: the user's to work in
    assert "-DCMAKE_CUDA_ARCHITECTURES=80-real" in cmake_texts[1]
    assert not any("TORCH_CUDA_ARCH_LIST" in t for t in cmake_texts)
    assert cmake_texts[-1] == "rm -rf /opt/src/tool"
    # Only the source builds see the architectures: nothing is set in the image's ENV.
    dockerfile_env = next(s for s in plan.steps if s.name == "env")
    assert "TORCH_CUDA_ARCH_LIST" not in str(dockerfile_env)


def test_script_commands_are_quoted_whole(write_spec: Callable[[str], Path]) -> None:
    r = _resolved(write_spec, f"sources:\n  - {{name: s, git: '{GIT}', ref: v1, builder: script, "
                  "commands: ['echo hi # a comment', 'make']}\n")
    (step,) = [s for s in make_plan(r).steps if s.name == "sources"]
    run = step.instructions[-1]
    assert isinstance(run, Run)
    assert [c.text for c in run.commands][-3:-1] == [
        "sh -ec 'cd /opt/src/s && echo hi # a comment'", "sh -ec 'cd /opt/src/s && make'"]


def test_the_locked_commit_is_checked_out(write_spec: Callable[[str], Path]) -> None:
    text = f"sources:\n  - {{name: lib, git: '{GIT}', ref: v1, builder: pip}}\n"
    first = _resolved(write_spec, text)
    lock = lock_from(first, sources=(LockedSource(name="lib", url=GIT, ref="v1", commit=COMMIT),))
    r = _resolved(write_spec, text, inputs=ResolveInputs(lock=lock))
    assert r.sources[0].commit == COMMIT
    (step,) = [s for s in make_plan(r).steps if s.name == "sources"]
    run = step.instructions[-1]
    assert isinstance(run, Run)
    assert [c.text for c in run.commands][:2] == [
        f"git clone --no-checkout {GIT} /opt/src/lib",
        f"git -C /opt/src/lib checkout --detach {COMMIT}"]


# ---------------------------------------------------------------- the lock


def test_lock_round_trips_sources_and_old_locks_still_read(
    write_spec: Callable[[str], Path], tmp_path: Path
) -> None:
    r = _resolved(write_spec, f"sources:\n  - {{name: lib, git: '{GIT}', ref: v1, builder: pip}}\n")
    lock = lock_from(r, sources=(LockedSource(name="lib", url=GIT, ref="v1", commit=None),))
    path = tmp_path / "env.lock"
    path.write_text(dump_lock(lock))
    assert read_lock(path) == lock
    plain = lock_from(r)
    assert "sources" not in dump_lock(plain)
    path.write_text(dump_lock(plain))
    assert isinstance(read_lock(path), Lock)


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_ls_remote_finds_annotated_tags_commits_and_branches(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", "-b", "trunk", cwd=repo)
    (repo / "f").write_text("x")
    _git("add", "f", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "c", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@e", "tag", "-a", "-m", "m", "v1", cwd=repo)
    commit = _git("rev-parse", "HEAD", cwd=repo)
    refs = ls_remote(str(repo), "v1")
    assert refs is not None and refs["refs/tags/v1^{}"] == commit
    assert refs["refs/tags/v1"] != commit  # the tag object itself
    assert ls_remote(str(repo), "trunk") == {"refs/heads/trunk": commit}
    assert ls_remote(str(tmp_path / "missing"), "v1") is None


def test_an_unreachable_repository_is_recorded_without_its_commit(
    write_spec: Callable[[str], Path]
) -> None:
    url = "git://127.0.0.1:9/nothing.git"  # the discard port: nothing answers
    r = _resolved(write_spec, f"sources:\n  - {{name: lib, git: '{url}', ref: v1, builder: pip}}\n")
    result = lock_sources(r.sources, r.spec_path)
    assert result.sources == (LockedSource(name="lib", url=url, ref="v1", commit=None),)
    assert [d.code for d in result.notices] == ["lock.source-unreachable"]


def test_the_architecture_table_is_coherent() -> None:
    from envspec.catalog import load_catalog

    catalog = load_catalog()
    newest = {sm for cuda in ("11.8", "12.8", "13.0") for sm in catalog.nvcc_archs(cuda).sms}  # type: ignore[union-attr]
    for family in catalog.arch_families():
        assert set(catalog.arch_family(family) or ()) <= newest, family
    assert catalog.nvcc_archs("9.2") is None  # older than the table: unknown, not guessed
    assert "8.6" not in catalog.nvcc_archs("11.0.3").sms  # type: ignore[union-attr]
    assert "3.5" not in catalog.nvcc_archs("12.0").sms  # type: ignore[union-attr]


def test_a_lock_without_the_commit_warns(write_spec: Callable[[str], Path]) -> None:
    text = f"sources:\n  - {{name: lib, git: '{GIT}', ref: v1, builder: pip}}\n"
    first = _resolved(write_spec, text)
    lock = lock_from(first, sources=(LockedSource(name="lib", url=GIT, ref="v1"),))
    r = _resolved(write_spec, text, inputs=ResolveInputs(lock=lock))
    assert r.sources[0].commit is None
    assert [w.code for w in r.warnings] == ["lock.source-unpinned"]
    decision = r.decision("sources.lib")
    assert decision is not None and (decision.value, decision.source) == ("v1", "spec")
