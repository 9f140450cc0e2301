"""Rendering: quoting that no value can escape, layer order, and BuildKit-free output."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from envspec.grammar import one_line
from envspec.pipeline import compile_spec
from envspec.plan import make_plan
from envspec.render import docker_kv, exec_form, shell_quote
from tests.conftest import EXAMPLES

DOCKERFILE_INSTRUCTIONS = ("FROM", "RUN", "ENV", "COPY", "ADD", "USER", "WORKDIR", "LABEL",
                           "ENTRYPOINT", "CMD", "SHELL", "ARG", "EXPOSE", "VOLUME", "ONBUILD")
one_line_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_one_line_rejects_every_line_break(value: str) -> None:
    try:
        one_line(value)
    except ValueError:
        return
    assert len(value.splitlines()) <= 1


@settings(max_examples=300, deadline=None)
@given(one_line_text)
def test_shell_quote_round_trips_through_the_shell_lexer(value: str) -> None:
    assert shlex.split(shell_quote(value)) == [value]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), one_line_text,
                       min_size=1, max_size=4))
def test_env_values_never_start_a_new_instruction(pairs: dict[str, str]) -> None:
    for value in pairs.values():
        one_line(value)  # what the spec accepts
    rendered = "ENV " + docker_kv(pairs)
    for line in rendered.splitlines()[1:]:
        assert line.startswith("    "), line  # only continuation lines follow ENV
    assert all(line.rstrip().endswith("\\") for line in rendered.splitlines()[:-1])


def test_exec_form_keeps_characters_readable() -> None:
    assert exec_form(["sh", "-c", "a < b && c > d"]) == '["sh", "-c", "a < b && c > d"]'


def _dockerfile(write_spec: Callable[[str], Path], pip: str) -> str:
    spec = write_spec(
        "name: order\nbase:\n  os: debian12\napt:\n  packages: [git]\ncompilers:\n  gcc: 12\n"
        f"python:\n  pip:\n    requirements: [req.txt]\n    packages: [{pip}]\n"
        "copy:\n  - {src: src, dest: /workspace/src}\nrun: [echo built]\n"
    )
    (spec.parent / "req.txt").write_text("six\n")
    (spec.parent / "src").mkdir(exist_ok=True)
    return compile_spec(spec).dockerfile


def test_pip_only_edit_changes_nothing_before_the_pip_layer(
    write_spec: Callable[[str], Path]
) -> None:
    before = _dockerfile(write_spec, "requests").split("# --- pip packages ---")
    after = _dockerfile(write_spec, "requests, idna").split("# --- pip packages ---")
    assert before[0] == after[0]  # apt, compilers, venv, requirements: all cached
    assert before[1] != after[1]


def test_layers_go_from_least_to_most_volatile(write_spec: Callable[[str], Path]) -> None:
    text = _dockerfile(write_spec, "requests")
    order = ["# --- environment", "# --- apt packages", "# --- compilers", "# --- non-root user",
             "# --- Python", "# --- pip requirements", "COPY req.txt", "# --- pip packages",
             "# --- your files", "# --- extra build steps", "# --- runtime", "# --- labels"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)


def test_dependency_manifest_is_copied_alone_before_its_install(
    write_spec: Callable[[str], Path]
) -> None:
    text = _dockerfile(write_spec, "requests")
    copy = text.index("COPY req.txt /tmp/envspec/req.txt")
    install = text.index("-r /tmp/envspec/req.txt")
    assert copy < install < text.index("COPY --chown=1000:1000 src /workspace/src")


def test_no_buildkit_only_syntax_reaches_the_classic_builder() -> None:
    for example in EXAMPLES:
        text = compile_spec(example / "env.yaml").dockerfile
        assert "--mount=" not in text and "<<" not in text and "# syntax=" not in text
        for line in text.splitlines():
            word = line.split(" ", 1)[0]
            if word.isupper() and not line.startswith(" "):
                assert word in DOCKERFILE_INSTRUCTIONS, line


def test_every_apt_layer_cleans_up_in_the_same_layer() -> None:
    for example in EXAMPLES:
        text = compile_spec(example / "env.yaml").dockerfile
        for block in text.split("\nRUN ")[1:]:
            if "apt-get install" in block:
                assert "--no-install-recommends" in block and "rm -rf /var/lib/apt/lists/*" in block


def test_plan_names_only_referenced_files(write_spec: Callable[[str], Path]) -> None:
    spec = write_spec("name: ctx\nbase:\n  os: debian12\npython:\n  pip:\n    requirements: [r.txt]\n")
    (spec.parent / "r.txt").write_text("six\n")
    (spec.parent / "big-data.bin").write_bytes(b"\0" * 4096)
    compiled = compile_spec(spec)
    assert sorted(compiled.files) == [".dockerignore", "Dockerfile", "r.txt"]
    assert sorted(make_plan(compiled.resolved).files) == ["r.txt"]
