"""Every pip requirement form (issue 10 item 2): parsing, the shell gate, the resolver's checks."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from envspec.errors import SpecError
from envspec.loader import load_spec
from envspec.pipeline import expectations_for
from envspec.requirements import RequirementError, read_requirement
from envspec.resolve import resolve
from tests.conftest import resolve_errors as errors_of
from tests.conftest import resolve_text as resolved

COMMIT = "0123456789abcdef0123456789abcdef01234567"
HASH = "sha256:" + "ab" * 32
WHEEL = "tiny_pkg-1.0-py3-none-any.whl"
CONTENT = f"six==1.16.0 --hash={HASH}\n".encode()  # of every file the plan tests write


def spec_with(packages: str, pip_extra: str = "") -> str:
    return ("name: t\nbase:\n  os: debian12\npython:\n  pip:\n"
            f"    packages:\n{packages}{pip_extra}")


# ---------------------------------------------------------------- the forms, parsed


@pytest.mark.parametrize(("text", "kind", "name", "ref", "argument"), [
    ("numpy>=1.26", "named", "numpy", None, "numpy>=1.26"),
    ("black[jupyter]>=24; python_version >= '3.9'", "named", "black", None,
     "black[jupyter]>=24; python_version >= '3.9'"),
    (f"git+https://example.org/r.git@{COMMIT}", "vcs", None, COMMIT,
     f"git+https://example.org/r.git@{COMMIT}"),
    ("git+https://example.org/r.git@v1.2#subdirectory=py&egg=tiny", "vcs", "tiny", "v1.2",
     "git+https://example.org/r.git@v1.2#subdirectory=py&egg=tiny"),
    ("tiny @ git+git://127.0.0.1:9418/r@v1.0", "vcs", "tiny", "v1.0",
     "tiny @ git+git://127.0.0.1:9418/r@v1.0"),
    ("git+ssh://git@example.org/team/r.git@2024.01", "vcs", None, "2024.01",
     "git+ssh://git@example.org/team/r.git@2024.01"),
    ("tiny @ https://example.org/x.whl", "url", "tiny", None, "tiny @ https://example.org/x.whl"),
    (f"https://example.org/p/{WHEEL}", "url", "tiny-pkg", None, f"https://example.org/p/{WHEEL}"),
    ("https://example.org/tiny-2.0.tar.gz#sha256=" + "ab" * 32, "url", "tiny", None,
     "https://example.org/tiny-2.0.tar.gz#sha256=" + "ab" * 32),
    (f"./wheels/{WHEEL}", "local", "tiny-pkg", None, f"/in/image/wheels/{WHEEL}"),
    ("file:dist/tiny-1.0.tar.gz", "local", "tiny", None, "/in/image/dist/tiny-1.0.tar.gz"),
    ("file:./src.zip", "local", None, None, "/in/image/src.zip"),
    ("tiny[cli] @ file:./dist/x.whl", "local", "tiny", None,
     "tiny[cli] @ file:///in/image/dist/x.whl"),
])
def test_every_form_reads_with_its_name_and_what_pip_gets(
    text: str, kind: str, name: str | None, ref: str | None, argument: str,
) -> None:
    parsed = read_requirement(text)
    assert (parsed.kind, parsed.name, parsed.ref) == (kind, name, ref)
    assert parsed.argument("/in/image") == argument


@pytest.mark.parametrize(("text", "words"), [
    ("git+https://example.org/r.git@v1;id", "characters a shell would act on"),
    ("git+https://example.org/r.git@v1$(id)", "characters a shell would act on"),
    ("git+https://example.org/r.git@`id`", "characters a shell would act on"),
    ("git+https://example.org/r.git@v1 && id", "characters a shell would act on"),
    ("https://example.org/x.whl?sig=1&id", "characters a shell would act on"),
    ("https://example.org/x'.whl", "characters a shell would act on"),
    ("git+https://example.org/r.git#egg=x&$(id)", "fragment may hold only"),
    ("git+https://example.org/r.git#egg=x|id", "fragment may hold only"),
    ("git+https://example.org/r.git#subdirectory=../../etc", "fragment may hold only"),
    ("git+https://example.org/r.git#cmd=x", "fragment may hold only"),
    ("x @ https://example.org/x.whl ; python_version > '3' $(id)", "not a pip requirement"),
    ("x`id` @ https://example.org/x.whl", "not a pip requirement"),
    ("x @ https://example.org/x.whl ; python_version > '3$(id)'", "characters a shell"),
    ("x @ https://example.org/x.whl ; python_version > '3|id'", "characters a shell"),
    ("https://user:secret@example.org/x.whl", "password in a URL"),
    ("hg+https://example.org/r", "from git only"),
    ("git+file:///srv/r.git@v1", "from git only"),
    ("git+https://@v1", "names no repository"),
    ("https://example.org/simple/x/", "must name a wheel, sdist or archive"),
    ("/abs/x.whl", "relative to env.yaml"),
    ("file:///abs/x.whl", "relative to env.yaml"),
    ("~/x.whl", "not a pip requirement"),
    ("../x.whl", "stay inside the folder"),
    ("./a/../../x.whl", "stay inside the folder"),
    ("./wheels/x$(id).whl", "stay inside the folder"),
    ("./pkg", "wheel, sdist or archive"),
])
def test_hostile_and_unsupported_forms_are_refused(text: str, words: str) -> None:
    with pytest.raises(RequirementError, match=words.replace("(", r"\(").replace("$", r"\$")):
        read_requirement(text)


def test_an_injection_in_a_mapping_item_is_located_at_its_requirement(
    write_spec: Callable[[str], Path],
) -> None:
    text = spec_with("      - numpy\n      - requirement: 'x @ git+https://h/r.git@v1;id'\n"
                     "        no_deps: true\n")
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(text))
    [error] = caught.value.diagnostics
    assert error.location is not None
    assert error.location.key == "python.pip.packages[1].requirement"
    assert (error.location.line, error.location.column) == (8, 22)
    assert "characters a shell would act on" in error.message


@pytest.mark.parametrize(("item", "key", "words"), [
    ("{requirement: numpy, env: {'A B': x}}", "python.pip.packages[0].env.A B", "environment variable"),
    ("{requirement: numpy, config_settings: {'a;b': x}}", "python.pip.packages[0].config_settings.a;b",
     "build backend setting"),
    ("{requirement: numpy, hashes: ['md5:00']}", "python.pip.packages[0].hashes[0]", "pip hash"),
    ("{requirement: numpy, nodeps: true}", "python.pip.packages[0].nodeps", "unknown key"),
    ("{requirement: numpy, env: {A: \"x\\ny\"}}", "python.pip.packages[0].env.A", "single line"),
])
def test_mapping_options_are_validated_where_written(
    write_spec: Callable[[str], Path], item: str, key: str, words: str,
) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(spec_with(f"      - {item}\n")))
    [error] = caught.value.diagnostics
    assert error.location is not None and error.location.key == key
    assert words in error.message


# ---------------------------------------------------------------- resolver checks


@pytest.mark.parametrize(("requirement", "words"), [
    ("git+https://example.org/r.git", "no tag or commit"),
    ("git+https://example.org/r.git@main", "looks like a branch name"),
    ("x @ git+https://example.org/r.git@abc1234", "abbreviated commit"),
])
def test_git_requirements_not_pinned_to_a_tag_or_commit_warn(
    write_spec: Callable[[str], Path], requirement: str, words: str,
) -> None:
    result = resolved(write_spec, spec_with(f"      - '{requirement}'\n"))
    [warning] = result.warnings
    assert warning.code == "python.pip-unpinned" and words in warning.message
    assert warning.hint and "full 40-hex commit" in warning.hint
    assert warning.location is not None and warning.location.key == "python.pip.packages[0]"


@pytest.mark.parametrize("ref", ["v1.2.0", "1.0", COMMIT])
def test_tags_and_full_commits_do_not_warn(write_spec: Callable[[str], Path], ref: str) -> None:
    result = resolved(write_spec, spec_with(f"      - 'git+https://example.org/r.git@{ref}'\n"))
    assert result.warnings == ()


def test_a_local_version_without_find_links_warns(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec_with("      - torch-scatter==2.0.5+cu101\n"))
    [warning] = result.warnings
    assert warning.code == "python.pip-local-version" and "find_links" in (warning.hint or "")
    links = "    find_links: ['https://data.pyg.org/whl/torch-1.5.0.html']\n"
    assert resolved(write_spec, spec_with("      - torch-scatter==2.0.5+cu101\n", links)).warnings == ()


def test_options_become_pip_flags_and_plain_items_stay_plain(
    write_spec: Callable[[str], Path],
) -> None:
    text = spec_with("      - numpy\n"
                     "      - requirement: tiny @ https://example.org/x.whl\n"
                     "        no_build_isolation: true\n        no_deps: true\n"
                     "        config_settings: {--build-option: [--cpp_ext, --cuda_ext], k: v}\n"
                     "        env: {FORCE_CUDA: '1'}\n")
    py = resolved(write_spec, text).python
    assert py is not None
    plain, special = py.pip_installs
    assert plain.plain and plain.options == ()
    assert not special.plain and dict(special.env) == {"FORCE_CUDA": "1"}
    assert special.options == ("--no-build-isolation", "--no-deps",
                               "--config-settings=--build-option=--cpp_ext",
                               "--config-settings=--build-option=--cuda_ext",
                               "--config-settings=k=v")
    assert py.pip_packages == ("numpy", "tiny @ https://example.org/x.whl")


# ---------------------------------------------------------------- hash-checking mode


def test_hash_mode_accepts_pinned_items_with_hashes(write_spec: Callable[[str], Path]) -> None:
    text = spec_with(f"      - {{requirement: numpy==1.26.4, hashes: ['{HASH}']}}\n",
                     "    require_hashes: true\n")
    py = resolved(write_spec, text).python
    assert py is not None and py.require_hashes and py.pip_installs[0].hashes == (HASH,)


@pytest.mark.parametrize(("items", "extra", "words"), [
    ("      - numpy==1.26.4\n", "    require_hashes: true\n", "has no hashes"),
    (f"      - {{requirement: 'numpy>=1.26', hashes: ['{HASH}']}}\n", "    require_hashes: true\n",
     "needs an exact `==` pin"),
    (f"      - {{requirement: 'git+https://h/r.git@v1', hashes: ['{HASH}']}}\n",
     "    require_hashes: true\n", "cannot hash a git checkout"),
    (f"      - {{requirement: numpy==1.26.4, hashes: ['{HASH}']}}\n", "", "hash-checking mode is off"),
    ("      - torch==2.1.2\n", "    require_hashes: true\n", "cannot carry hashes"),
])
def test_hash_mode_errors_say_what_to_change(
    write_spec: Callable[[str], Path], items: str, extra: str, words: str,
) -> None:
    [error] = errors_of(write_spec, spec_with(items, extra))
    assert error.code in ("python.pip-hashes", "python.torch-hashes") and words in error.message
    assert error.hint and error.location is not None and error.location.line == 7


def test_hash_mode_reads_requirements_files_as_pip_does(write_spec: Callable[[str], Path]) -> None:
    spec = write_spec(spec_with("      []\n", "    require_hashes: true\n"
                                "    requirements: [locked.txt, loose.txt]\n").replace(
                                    "packages:\n      []", "packages: []"))
    (spec.parent / "locked.txt").write_text(  # pip-compile --generate-hashes writes this
        f"numpy==1.26.4 \\\n    --hash={HASH} \\\n    --hash={HASH}\n    # via -r in.txt\n")
    (spec.parent / "loose.txt").write_text(f"six==1.16.0\nidna==3.6 --hash={HASH}\n")
    with pytest.raises(SpecError) as caught:
        resolve(load_spec(spec))
    [error] = caught.value.diagnostics
    assert error.message == "loose.txt: six==1.16.0 have no --hash, and require_hashes is on"
    assert error.location is not None and error.location.key == "python.pip.requirements[1]"
    assert "--generate-hashes" in (error.hint or "")
    assert expectations_for(resolve(load_spec(write_spec(spec.read_text().replace(
        ", loose.txt", ""))))).packages == ("numpy",)


def test_torch_with_options_is_refused_and_a_torch_url_is_taken_as_given(
    write_spec: Callable[[str], Path],
) -> None:
    [error] = errors_of(write_spec, spec_with("      - {requirement: torch==2.1.2, no_deps: true}\n"))
    assert error.code == "python.torch-options" and "python.torch.variant" in (error.hint or "")
    result = resolved(write_spec, spec_with("      - torch @ https://example.org/torch-2.1.2-cp311-"
                                            "cp311-linux_x86_64.whl\n"))
    assert result.python is not None and result.python.torch is None
    assert any(d.code == "python.torch-as-given" for d in result.diagnostics)


# ---------------------------------------------------------------- files and smoke names


def test_local_files_and_constraints_must_exist_inside_the_folder(
    write_spec: Callable[[str], Path], tmp_path: Path,
) -> None:
    outside = tmp_path.parent / f"outside-{tmp_path.name}.whl"
    outside.write_bytes(b"zip")
    os.symlink(outside, tmp_path / "linked-1.0-py3-none-any.whl")
    text = spec_with(f"      - ./wheels/{WHEEL}\n      - ./linked-1.0-py3-none-any.whl\n",
                     "    constraints: [constraints.txt]\n")
    errors = errors_of(write_spec, text)
    assert [(e.code, e.location.key if e.location else None) for e in errors] == [
        ("files.missing", "python.pip.constraints[0]"),
        ("files.missing", "python.pip.packages[0]"),
        ("files.outside", "python.pip.packages[1]"),
    ]


def test_smoke_checks_import_known_names_and_explain_says_which_are_not(
    write_spec: Callable[[str], Path],
) -> None:
    spec = write_spec(spec_with("      - tiny @ git+https://example.org/r.git@v1\n"
                                "      - git+https://example.org/other.git@v2\n"
                                f"      - ./{WHEEL}\n"
                                "      - \"old @ https://example.org/old-1.0.tar.gz ; "
                                "python_version < '3'\"\n"))
    (spec.parent / WHEEL).write_bytes(b"zip")
    result = resolve(load_spec(spec))
    assert expectations_for(result).packages == ("tiny", "tiny-pkg")
    [skipped] = [d for d in result.decisions if d.key == "smoke.imports"]
    assert skipped.value == "git+https://example.org/other.git@v2"
    assert "not import-checked" in skipped.why


def test_git_requirements_bring_git_into_the_image(write_spec: Callable[[str], Path]) -> None:
    result = resolved(write_spec, spec_with("      - git+https://example.org/r.git@v1\n"))
    assert "git" in result.apt.packages
    assert "git" not in resolved(write_spec, spec_with("      - numpy\n")).apt.packages


# ---------------------------------------------------------------- the plan and the Dockerfile


def _dockerfile(write_spec: Callable[[str], Path], text: str) -> tuple[str, dict[str, bytes]]:
    from envspec.pipeline import compile_spec

    spec = write_spec(text)
    for rel in ("wheels/" + WHEEL, "constraints.txt", "requirements.txt"):
        (spec.parent / rel).parent.mkdir(parents=True, exist_ok=True)
        (spec.parent / rel).write_bytes(CONTENT)
    compiled = compile_spec(spec)
    return compiled.dockerfile, {name: entry.data for name, entry in compiled.files.items()}


def test_plain_ones_first_then_each_special_one_alone_in_spec_order(
    write_spec: Callable[[str], Path],
) -> None:
    dockerfile, files = _dockerfile(write_spec, spec_with(
        f"      - ./wheels/{WHEEL}\n      - numpy\n"
        "      - {requirement: 'x @ git+https://h/r.git@v1', no_build_isolation: true, "
        "env: {FORCE_CUDA: '1', ARCH: '8.0;8.6'}}\n      - six\n"))
    plain = dockerfile.index("# --- pip packages ---")
    wheel = dockerfile.index("# --- pip: tiny-pkg ---")
    git = dockerfile.index("# --- pip: x ---")
    assert plain < wheel < git  # plain ones together, then the others as written
    assert "numpy \\\n      six\n" in dockerfile[plain:wheel]
    copy = dockerfile.index(f"COPY wheels/{WHEEL} /tmp/envspec/pip/wheels/{WHEEL}")
    assert wheel < copy < dockerfile.index(f"      /tmp/envspec/pip/wheels/{WHEEL}") < git
    assert ("RUN FORCE_CUDA=1 ARCH='8.0;8.6' python -m pip install --no-cache-dir "
            "--no-build-isolation \\\n      'x @ git+https://h/r.git@v1'") in dockerfile
    assert files[f"wheels/{WHEEL}"] == CONTENT  # the file itself, in the context


def test_constraints_reach_every_pip_install(write_spec: Callable[[str], Path]) -> None:
    text = ("name: t\nbase:\n  os: ubuntu22.04\n  cuda: '12.1'\npython:\n  pip:\n"
            "    constraints: [constraints.txt]\n    requirements: [requirements.txt]\n"
            "    packages: [torch==2.1.2, numpy, {requirement: six, no_deps: true}]\n")
    dockerfile, _ = _dockerfile(write_spec, text)
    copy = dockerfile.index("COPY constraints.txt /tmp/envspec/constraints.txt")
    installs = [i for i in range(len(dockerfile))
                if dockerfile.startswith("RUN python -m pip install", i)]
    assert len(installs) == 4 and copy < installs[0]
    assert dockerfile.count("pip install --no-cache-dir -c /tmp/envspec/constraints.txt") == 3
    assert "--no-deps -c /tmp/envspec/constraints.txt" in dockerfile


def test_hash_mode_installs_from_generated_requirements_files(
    write_spec: Callable[[str], Path],
) -> None:
    other = "sha256:" + "cd" * 32
    dockerfile, files = _dockerfile(write_spec, spec_with(
        f"      - {{requirement: numpy==1.26.4, hashes: ['{HASH}', '{other}']}}\n"
        f"      - {{requirement: ./wheels/{WHEEL}, hashes: ['{HASH}']}}\n",
        "    require_hashes: true\n    requirements: [requirements.txt]\n"))
    assert files["pip-hashes/packages.txt"].decode().splitlines()[1] == (
        f"numpy==1.26.4 --hash={HASH} --hash={other}")
    assert files["pip-hashes/01.txt"].decode().splitlines()[1] == (
        f"/tmp/envspec/pip/wheels/{WHEEL} --hash={HASH}")
    assert dockerfile.count("--require-hashes") == 3
    assert "--require-hashes -r /tmp/envspec/pip-hashes/packages.txt" in dockerfile
    assert "-r /tmp/envspec/requirements.txt" in dockerfile


def test_the_plan_decides_each_special_step_as_typed_instructions(
    write_spec: Callable[[str], Path],
) -> None:
    from envspec.plan import make_plan
    from envspec.plan.steps import Copy, Run

    spec = write_spec(spec_with(
        f"      - {{requirement: ./wheels/{WHEEL}, no_deps: true, env: {{A: 'x y'}}}}\n"))
    (spec.parent / "wheels").mkdir()
    (spec.parent / "wheels" / WHEEL).write_bytes(CONTENT)
    plan = make_plan(resolve(load_spec(spec)), buildkit=True)
    [step] = [s for s in plan.steps if s.name.startswith("pip")]
    copy, install = step.instructions
    assert isinstance(copy, Copy) and isinstance(install, Run)
    assert (copy.src, copy.dest) == (f"wheels/{WHEEL}", f"/tmp/envspec/pip/wheels/{WHEEL}")
    [command] = install.commands
    assert command.text == "A='x y' python -m pip install --no-deps"  # the cache mount holds pip's cache
    assert command.args == (f"/tmp/envspec/pip/wheels/{WHEEL}",)
    assert install.mounts and "pip" in install.mounts[0]
    assert plan.files[f"wheels/{WHEEL}"].source == spec.parent / "wheels" / WHEEL


def test_a_requirement_may_be_as_long_as_a_url(write_spec: Callable[[str], Path]) -> None:
    long_url = "https://example.org/releases/download/v2.5.8/" + "x" * 300 + "-1.0-py3-none-any.whl"
    spec = load_spec(write_spec(spec_with(f"      - 'x @ {long_url}'\n"))).spec
    assert spec.python is not None and spec.python.pip.packages == [f"x @ {long_url}"]
