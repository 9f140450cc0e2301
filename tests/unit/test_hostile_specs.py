"""Hostile specs, class by class, through the CLI: each must exit 1 with a located error
(file:line:col, code, message) within the time budget, and never with a traceback.

The classes are issue 13's findings: resource exhaustion (alias bombs, nesting, size), YAML
tags and encodings, syntax errors with hints of their own kind, values beyond what Docker or
Linux accept, reserved accounts and ids, settings the chosen provider would ignore, shell
fragments that would run into the next Dockerfile line, and locations outside the user's file.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from envspec import yaml_safe
from envspec.cli import _register_commands, cli
from envspec.errors import Diagnostic, SpecError

_register_commands()
HEAD = "name: demo\nbase:\n  os: ubuntu22.04\n"  # lines 1-3
TIME_BUDGET_S = 5.0  # generous for a loaded 2-core CI machine; each case takes well under 1 s


def _laughs(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _deep_block(depth: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "x: 1\n"


def _items(key: str, count: int, item: str) -> str:
    return f"{key}: [" + ", ".join([item] * count) + "]\n"


# (id, file content, code, line, column, words the message must contain)
Case = tuple[str, "str | bytes", str, int, int, str]
EXHAUSTION: list[Case] = [
    ("billion-laughs", _laughs(9), "spec.too-large", 5, 1, "aliases expanded"),
    ("billion-laughs-under-spec", HEAD + "env:\n" + "".join(f"  {row}\n" for row in _laughs(9).splitlines()),
     "spec.too-large", 4, 1, "aliases expanded"),
    ("alias-of-itself", HEAD + "x: &a [*a]\n", "spec.too-deep", 4, 4, "deeper than 32"),
    ("alias-of-itself-twice", HEAD + "x: &a [*a, *a]\n", "spec.too-deep", 4, 4, "deeper than 32"),
    ("mapping-alias-of-itself", HEAD + "x: &m {y: *m}\n", "spec.too-deep", 4, 4, "deeper than 32"),
    ("alias-text-budget", "a: &s " + "x" * 500_000 + "\nb: [" + ", ".join(["*s"] * 12) + "]\n",
     "spec.too-large", 2, 1, "4 MiB of text"),
    ("deep-block-500", _deep_block(500), "spec.too-deep", 34, 67, "deeper than 32"),
    ("deep-block-40", _deep_block(40), "spec.too-deep", 34, 67, "deeper than 32"),
    ("deep-flow-100k", "a: " + "[" * 100_000 + "]" * 100_000 + "\n", "spec.yaml", 1, 1003, "nesting depth"),
    ("deep-flow-40", "a: " + "[" * 40 + "]" * 40 + "\n", "spec.too-deep", 1, 36, "deeper than 32"),
    ("deep-flow-mappings", "a: " + "{b: " * 40 + "1" + "}" * 40 + "\n", "spec.too-deep", 1, 132, "deeper"),
    ("100k-apt-packages", HEAD + "apt:\n  " + _items("packages", 100_000, "vim"), "spec.too-large", 4, 1, "more than 20000 values"),
    ("file-over-1-mib", HEAD + "# " + "x" * (1 << 20) + "\n", "spec.too-large", 0, 0, "larger than 1024 KiB"),
]
TAGS: list[Case] = [
    ("tag-local", HEAD + "env:\n  A: !path x\n", "spec.yaml-tag", 5, 6, "`!path`"),
    ("tag-python-name", HEAD + "env:\n  A: !!python/name:os.system\n", "spec.yaml-tag", 5, 6, "`!!python/name:os.system`"),
    ("tag-python-apply", HEAD + "env: !!python/object/apply:os.system [id]\n", "spec.yaml-tag", 4, 6, "python/object/apply"),
    ("tag-python-new", HEAD + "x: !!python/object/new:dict {}\n", "spec.yaml-tag", 4, 4, "python/object/new"),
    ("tag-str", HEAD + "  cuda: !!str 12.4\n", "spec.yaml-tag", 4, 9, "`!!str`"),
    ("tag-binary", HEAD + "env:\n  A: !!binary aGk=\n", "spec.yaml-tag", 5, 6, "`!!binary`"),
    ("tag-non-specific", HEAD + "env:\n  A: ! x\n", "spec.yaml-tag", 5, 6, "`!`"),
    ("tag-on-mapping", HEAD + "apt: !!map\n  packages: [vim]\n", "spec.yaml-tag", 4, 6, "`!!map`"),
    ("tag-on-sequence", HEAD + "run: !!seq [a]\n", "spec.yaml-tag", 4, 6, "`!!seq`"),
    ("tag-directive", "%TAG !e! tag:example.com,2000:\n---\nname: !e!x demo\n", "spec.yaml-tag", 3, 7, "tag:example.com"),
    ("tag-set", HEAD + "x: !!set {a, b}\n", "spec.yaml-tag", 4, 4, "`!!set`"),
    ("tag-timestamp", HEAD + "x: !!timestamp 2001-12-14\n", "spec.yaml-tag", 4, 4, "timestamp"),
]
ENCODINGS: list[Case] = [
    ("latin-1", (HEAD + "env:\n  A: caf\xe9\n").encode("latin-1"), "spec.encoding", 5, 9, "not valid UTF-8"),
    ("cp1252-quote", (HEAD + "env:\n  A: \u201cx\u201d\n").encode("cp1252"), "spec.encoding", 5, 6, "byte 0x93"),
    ("truncated-utf8", HEAD.encode() + b"env:\n  A: \xe2\x82\n", "spec.encoding", 5, 6, "not valid UTF-8"),
    ("utf16-without-bom", HEAD.encode("utf-16-le"), "spec.encoding", 1, 1, "without a byte-order mark"),
    ("utf16-odd-length", (HEAD + "env:\n  A: b\n").encode("utf-16") + b"\x00", "spec.encoding", 6, 1, "not valid utf-16"),
    ("nul-byte", HEAD + "env:\n  A: x\x00\n", "spec.yaml", 5, 7, "U+0000"),
    ("escape-byte", HEAD + "env:\n  A: \x1b[31mred\n", "spec.yaml", 5, 6, "U+001B"),
    ("delete-byte", HEAD + "env:\n  A: a\x7fb\n", "spec.yaml", 5, 7, "U+007F"),
    ("nul-in-name", "name: de\x00mo\nbase:\n  os: ubuntu22.04\n", "spec.yaml", 1, 9, "U+0000"),
    ("nul-escape-in-value", HEAD + 'env:\n  A: "x\\0y"\n', "spec.value-error", 5, 6, "single line"),
    ("bell-escape-in-run", HEAD + 'run: ["echo \\a"]\n', "spec.value-error", 4, 7, "single line"),
]
SYNTAX: list[Case] = [
    ("tab-indent", "name: demo\nbase:\n\tos: ubuntu22.04\n", "spec.yaml", 3, 1, "cannot start any token"),
    ("tab-after-spaces", HEAD + "\tflavor: devel\n", "spec.yaml", 4, 1, "tab character"),
    ("unclosed-single-quote", "name: 'demo\nbase:\n  os: ubuntu22.04\n", "spec.yaml", 4, 1, "end of stream"),
    ("unclosed-double-quote", HEAD + 'env:\n  A: "x\n', "spec.yaml", 6, 1, "end of stream"),
    ("unclosed-bracket", HEAD + "apt:\n  packages: [vim, git\nrun: []\n", "spec.yaml", 6, 4, "expected ','"),
    ("unclosed-brace", HEAD + "env: {A: x\nrun: []\n", "spec.yaml", 5, 4, "expected ','"),
    ("colon-in-value", HEAD + "env:\n  A: b: c\n", "spec.yaml", 5, 7, "mapping values"),
    ("bad-indent", "name: demo\nbase:\n  os: ubuntu22.04\n cuda: '12.4'\n", "spec.yaml", 4, 2, "expected key"),
    ("over-indent", "name: demo\nbase:\n  os: ubuntu22.04\n    cuda: '12.4'\n", "spec.yaml", 4, 9, "mapping values"),
    ("undefined-alias", HEAD + "env: *nothing\n", "spec.yaml", 4, 6, "undefined alias"),
    ("at-sign", HEAD + "env:\n  A: @home\n", "spec.yaml", 5, 6, "cannot start any token"),
    ("backtick", HEAD + "run: [`id`]\n", "spec.yaml", 4, 7, "cannot start any token"),
    ("two-documents", HEAD + "---\nname: other\n", "spec.yaml", 4, 1, "expected a single document"),
    ("merge-key", HEAD + "x: &b {os: debian12}\napt:\n  <<: *b\n", "spec.merge-key", 6, 3, "merge keys"),
    ("list-as-key", HEAD + "? [a, b]\n: c\n", "spec.key-type", 4, 3, "plain word"),
    ("mapping-as-key", HEAD + "? {a: b}\n: c\n", "spec.key-type", 4, 3, "plain word"),
    ("impossible-date", HEAD + "env:\n  A: 2001-13-45\n", "spec.yaml-value", 5, 6, "2001-13-45"),
    ("huge-int", HEAD + "compilers:\n  gcc: " + "9" * 5000 + "\n", "spec.yaml-value", 5, 8, "cannot read"),
    ("empty-file", "", "spec.empty", 0, 0, "empty"),
    ("only-comments", "# nothing here\n", "spec.empty", 0, 0, "empty"),
]
_LONG = "a" * 40_000
LIMITS: list[Case] = [
    ("name-1-mb", "name: " + "a" * 1_000_000 + "\nbase:\n  os: ubuntu22.04\n", "spec.string-too-long", 1, 7, "at most 128"),
    ("name-129", "name: " + "a" * 129 + "\nbase:\n  os: ubuntu22.04\n", "spec.string-too-long", 1, 7, "at most 128"),
    ("name-upper-case", "name: Demo\nbase:\n  os: ubuntu22.04\n", "spec.value-error", 1, 7, "image name"),
    ("name-double-dot", "name: a..b\nbase:\n  os: ubuntu22.04\n", "spec.value-error", 1, 7, "image name"),
    ("env-value-40k", HEAD + f"env:\n  A: {_LONG}\n", "spec.string-too-long", 5, 6, "at most 32768"),
    ("env-name-long", HEAD + f"env:\n  {'A' * 200}: x\n", "spec.string-too-long", 5, 3, "at most 128"),
    ("run-command-40k", HEAD + f"run: ['echo {_LONG}']\n", "spec.string-too-long", 4, 7, "at most 32768"),
    ("label-key-long", HEAD + f"labels:\n  {'a' * 200}: x\n", "spec.string-too-long", 5, 3, "at most 128"),
    ("user-name-33", HEAD + "user:\n  name: " + "u" * 33 + "\n", "spec.string-too-long", 5, 9, "at most 32"),
    ("apt-1001", HEAD + "apt:\n  " + _items("packages", 1001, "vim"), "spec.too-long", 5, 13, "at most 1000 items"),
    ("pip-1001", HEAD + "python:\n  pip:\n    " + _items("packages", 1001, "numpy"), "spec.too-long", 6, 15, "at most 1000"),
    ("conda-1001", HEAD + "python:\n  provider: conda\n  conda:\n    " + _items("packages", 1001, "numpy"),
     "spec.too-long", 7, 15, "at most 1000"),
    ("run-257", HEAD + _items("run", 257, "'true'"), "spec.too-long", 4, 6, "at most 256"),
    ("env-1025", HEAD + "env: {" + ", ".join(f"A{i}: x" for i in range(1025)) + "}\n", "spec.too-long", 4, 6, "at most 1024"),
    ("channels-33", HEAD + "python:\n  provider: conda\n  conda:\n    " + _items("channels", 33, "conda-forge"),
     "spec.too-long", 7, 15, "at most 32"),
    ("url-2049", HEAD + "apt:\n  mirror: https://m/" + "a" * 2040 + "\n", "spec.string-too-long", 5, 11, "at most 2048"),
    ("workdir-4097", HEAD + "workdir: /" + "a" * 4096 + "\n", "spec.string-too-long", 4, 10, "at most 4096"),
    ("cuda-long", HEAD + "  cuda: '" + "1" * 200 + "'\n", "spec.string-too-long", 4, 9, "at most 128"),
    ("unknown-key-1-mb", HEAD + "? " + "k" * 1_000_000 + "\n: 1\n", "spec.extra-forbidden", 4, 3, "unknown key `kkkk"),
    ("checks-257", HEAD + "smoke:\n  checks: [" + ", ".join(["{name: a, command: 'true'}"] * 257) + "]\n",
     "spec.too-long", 5, 11, "at most 256"),
    ("check-name-long", HEAD + f"smoke:\n  checks:\n    - {{name: {'n' * 200}, command: 'true'}}\n",
     "spec.string-too-long", 6, 14, "at most 128"),
]
RANGES: list[Case] = [
    ("port-70000", HEAD + "runtime:\n  ports: ['70000:8888']\n", "spec.value-error", 5, 11, "port 70000 is outside 1-65535"),
    ("port-zero-both", HEAD + "runtime:\n  ports: ['0:0']\n", "spec.value-error", 5, 11, "port 0 is outside"),
    ("port-zero-container", HEAD + "runtime:\n  ports: ['8888:0']\n", "spec.value-error", 5, 11, "port 0 is outside"),
    ("port-65536", HEAD + "runtime:\n  ports: ['65536']\n", "spec.value-error", 5, 11, "port 65536"),
    ("port-bad-address", HEAD + "runtime:\n  ports: ['999.1.1.1:80:80']\n", "spec.value-error", 5, 11, "not an IPv4 address"),
    ("port-udp-zero", HEAD + "runtime:\n  ports: ['0/udp']\n", "spec.value-error", 5, 11, "port 0"),
    ("uid-zero", HEAD + "user:\n  uid: 0\n", "spec.greater-than-equal", 5, 8, "greater than or equal to 1"),
    ("uid-system", HEAD + "user:\n  uid: 50\n", "spec.value-error", 5, 8, "reserved for system accounts"),
    ("uid-nobody", HEAD + "user:\n  uid: 65534\n", "spec.value-error", 5, 8, "65534"),
    ("gid-65535", HEAD + "user:\n  gid: 65535\n", "spec.value-error", 5, 8, "reserved"),
    ("uid-too-big", HEAD + "user:\n  uid: 4294967296\n", "spec.less-than-equal", 5, 8, "less than or equal"),
    ("uid-negative", HEAD + "user:\n  uid: -5\n", "spec.greater-than-equal", 5, 8, "greater than or equal"),
    ("gpus-negative", HEAD + "runtime:\n  gpus: -1\n", "spec.value-error", 5, 9, "at least 1"),
    ("gpus-zero", HEAD + "runtime:\n  gpus: 0\n", "spec.value-error", 5, 9, "write `none`"),
    ("gpus-word", HEAD + "runtime:\n  gpus: some\n", "spec.value-error", 5, 9, "not a GPU selection"),
    ("gpus-empty-list", HEAD + "runtime:\n  gpus: []\n", "spec.value-error", 5, 9, "1 to 256 GPUs"),
    ("gpus-twice", HEAD + "runtime:\n  gpus: [0, 0]\n", "spec.value-error", 5, 9, "listed twice"),
    ("gpus-negative-index", HEAD + "runtime:\n  gpus: [-1]\n", "spec.value-error", 5, 9, "negative"),
    ("gpus-bool", HEAD + "runtime:\n  gpus: true\n", "spec.value-error", 5, 9, "boolean"),
    ("gpus-float", HEAD + "runtime:\n  gpus: 2.5\n", "spec.value-error", 5, 9, "not a GPU selection"),
    ("gpus-mapping", HEAD + "runtime:\n  gpus: {count: 2}\n", "spec.value-error", 5, 9, "not a GPU selection"),
    ("gpus-injection", HEAD + "runtime:\n  gpus: ['0; id']\n", "spec.value-error", 5, 9, "not a GPU index"),
    ("exit-300", HEAD + "smoke:\n  checks:\n    - {name: x, command: 'true', expect_exit: 300}\n",
     "spec.less-than-equal", 6, 47, "less than or equal to 255"),
    ("exit-negative", HEAD + "smoke:\n  checks:\n    - {name: x, command: 'true', expect_exit: -1}\n",
     "spec.greater-than-equal", 6, 47, "greater than or equal to 0"),
    ("timeout-zero", HEAD + "smoke:\n  checks:\n    - {name: x, command: 'true', timeout: 0}\n",
     "spec.greater-than", 6, 43, "greater than 0"),
    ("timeout-a-year", HEAD + "smoke:\n  checks:\n    - {name: x, command: 'true', timeout: 31536000}\n",
     "spec.less-than-equal", 6, 43, "86400"),
]
ACCOUNTS: list[Case] = [
    (f"user-{name}", HEAD + f"user:\n  name: {name}\n", "spec.value-error", 5, 9, "system user or group")
    for name in ("root", "nobody", "daemon", "www-data", "_apt", "sudo", "video", "users", "nogroup", "bin")
]
IGNORED: list[Case] = [
    ("venv-with-conda", HEAD + "python:\n  provider: conda\n  venv: /opt/v\n", "python.ignored", 6, 9, "`python.venv`"),
    ("conda-with-system", HEAD + "python:\n  conda:\n    channels: [conda-forge]\n", "spec.value-error", 5, 3,
     "need `provider: conda`"),
    ("gpu-required-cpu-image", HEAD + "smoke:\n  gpu: required\n", "smoke.gpu-without-cuda", 5, 8, "no CUDA"),
    ("devel-without-cuda", HEAD + "  flavor: devel\n", "base.ignored", 4, 11, "`base.flavor`"),
    ("base-flavor-without-cuda", HEAD + "  flavor: base\n", "base.ignored", 4, 11, "`base.flavor`"),
    ("cudnn-without-cuda", HEAD + "  cudnn: true\n", "base.ignored", 4, 10, "`base.cudnn`"),
]
SHELL: list[Case] = [
    ("run-trailing-backslash", HEAD + "run:\n  - echo hi \\\n  - echo next\n", "spec.value-error", 5, 5, "ends with `\\`"),
    ("run-trailing-and", HEAD + "run:\n  - apt-get update &&\n", "spec.value-error", 5, 5, "ends with `&&`"),
    ("run-trailing-or", HEAD + "run:\n  - 'false ||'\n", "spec.value-error", 5, 5, "ends with `||`"),
    ("run-trailing-pipe", HEAD + "run:\n  - 'ls |'\n", "spec.value-error", 5, 5, "ends with `|`"),
    ("run-empty", HEAD + "run:\n  - ''\n", "spec.value-error", 5, 5, "is empty"),
    ("run-blank", HEAD + "run: ['echo a', '   ']\n", "spec.value-error", 4, 17, "is empty"),
    ("run-only-comment", HEAD + "run: ['# nothing']\n", "spec.value-error", 4, 7, "is empty"),
    ("check-empty", HEAD + "smoke:\n  checks:\n    - {name: x, command: ''}\n", "spec.value-error", 6, 26, "is empty"),
    ("run-unclosed-single", HEAD + "run:\n  - echo 'oops\n", "spec.value-error", 5, 5, "quote is never closed"),
    ("run-unclosed-double", HEAD + "run:\n  - 'echo \"oops'\n", "spec.value-error", 5, 5, "quote is never closed"),
    ("run-apostrophe", HEAD + "run:\n  - echo it's\n", "spec.value-error", 5, 5, "quote is never closed"),
    ("check-unclosed", HEAD + "smoke:\n  checks:\n    - {name: x, command: \"echo 'a\"}\n",
     "spec.value-error", 6, 26, "quote is never closed"),
    ("check-trailing-backslash", HEAD + "smoke:\n  checks:\n    - {name: x, command: 'true \\'}\n",
     "spec.value-error", 6, 26, "ends with `\\`"),
    ("check-trailing-and", HEAD + "smoke:\n  checks:\n    - {name: x, command: 'true &&'}\n",
     "spec.value-error", 6, 26, "ends with `&&`"),
]
LOCATIONS: list[Case] = [
    ("extends-etc-passwd", "extends: /etc/passwd\n" + HEAD, "spec.extends", 1, 10, "relative path"),
    ("extends-home", "extends: ~/env.yaml\n" + HEAD, "spec.extends", 1, 10, "relative path"),
    ("extends-climb-to-passwd", "extends: ../../../../../../../../etc/passwd\n" + HEAD, "spec.extends", 1, 10,
     "must name a .yaml file"),
    ("extends-nul", 'extends: "a\\0.yaml"\n' + HEAD, "spec.extends", 1, 10, "single line"),
    ("extends-list", "extends: [a.yaml]\n" + HEAD, "spec.extends", 1, 10, "relative path"),
    ("extends-missing", "extends: nowhere.yaml\n" + HEAD, "spec.extends", 1, 10, "does not exist"),
    ("extends-name-too-long", "extends: " + "a" * 300 + ".yaml\n" + HEAD, "spec.extends", 1, 10, "does not exist"),
]
DID_YOU_MEAN: list[tuple[str, str, str]] = [
    ("flavor", HEAD + "  flavor: devle\n", "did you mean `devel`?"),
    ("flavor-case", HEAD + "  flavor: Devel\n", "did you mean `devel`?"),
    ("os", "name: demo\nbase:\n  os: ubunt22.04\n", "did you mean `ubuntu22.04`?"),
    ("provider", HEAD + "python:\n  provider: cond\n", "did you mean `conda`?"),
    ("smoke-gpu", HEAD + "smoke:\n  gpu: requird\n", "did you mean `required`?"),
    ("distribution", HEAD + "python:\n  provider: conda\n  conda:\n    distribution: miniforg\n",
     "did you mean `miniforge`?"),
]
CASES = EXHAUSTION + TAGS + ENCODINGS + SYNTAX + LIMITS + RANGES + ACCOUNTS + IGNORED + SHELL + LOCATIONS


def validate(tmp_path: Path, content: str | bytes) -> tuple[int, str, float]:
    path = tmp_path / "env.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["validate", str(path)])
    elapsed = time.perf_counter() - start
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr, elapsed


@pytest.mark.parametrize(("content", "code", "line", "column", "words"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_spec_is_refused_with_a_located_error(
    tmp_path: Path, content: str | bytes, code: str, line: int, column: int, words: str
) -> None:
    exit_code, err, elapsed = validate(tmp_path, content)
    assert exit_code == 1, err
    where = f"{tmp_path / 'env.yaml'}:{line}:{column}: " if line else f"{tmp_path / 'env.yaml'}: "
    reported = [row for row in err.splitlines() if row.startswith(where) and f"error[{code}]" in row]
    assert reported, err[:2000]
    assert words in reported[0], reported[0]
    assert elapsed < TIME_BUDGET_S, f"took {elapsed:.1f}s"


@pytest.mark.parametrize(("content", "hint"), [c[1:] for c in DID_YOU_MEAN], ids=[c[0] for c in DID_YOU_MEAN])
def test_enum_typos_get_a_did_you_mean(tmp_path: Path, content: str, hint: str) -> None:
    exit_code, err, _ = validate(tmp_path, content)
    assert exit_code == 1 and f"hint: {hint}" in err, err


SYNTAX_HINTS = [
    ("tab-indent", "spaces only"),
    ("tab-after-spaces", "spaces only"),
    ("unclosed-single-quote", "quote opened at line 1, column 7 is never closed"),
    ("unclosed-double-quote", "quote opened at line 5, column 6 is never closed"),
    ("unclosed-bracket", "`[` opened at line 5, column 13 is not closed"),
    ("unclosed-brace", "`{` opened at line 4, column 6 is not closed"),
    ("colon-in-value", "quote the whole value"),
    ("bad-indent", "keys of one mapping start in the same column"),
    ("undefined-alias", "anchor `&name`"),
    ("at-sign", "starting with '@' must be quoted"),
    ("backtick", "starting with '`' must be quoted"),
    ("two-documents", "several YAML documents"),
    ("deep-flow-100k", "unclosed brackets"),
]


@pytest.mark.parametrize(("case_id", "hint"), SYNTAX_HINTS, ids=[h[0] for h in SYNTAX_HINTS])
def test_each_kind_of_syntax_error_has_its_own_hint(tmp_path: Path, case_id: str, hint: str) -> None:
    [content] = [c[1] for c in CASES if c[0] == case_id]
    _, err, _ = validate(tmp_path, content)
    assert any(row.startswith("  hint: ") and hint in row for row in err.splitlines()), err


@pytest.mark.parametrize("content", [
    ("\ufeff" + HEAD).encode("utf-8"),
    HEAD.encode("utf-16"),
    ("\ufeff" + HEAD).encode("utf-16-be"),
    HEAD.encode("utf-32"),
    ("\ufeff" + HEAD).encode("utf-32-be"),
], ids=["utf8-bom", "utf16-le-bom", "utf16-be-bom", "utf32-le-bom", "utf32-be-bom"])
def test_files_with_a_byte_order_mark_are_read(tmp_path: Path, content: bytes) -> None:
    exit_code, err, _ = validate(tmp_path, content)
    assert exit_code == 0, err


@pytest.mark.parametrize(("content", "code", "words"), [
    (HEAD + "python:\n  pip:\n    mirror: tuna\n    index_url: https://pypi.example.org/simple\n",
     "python.ignored", "`python.pip.mirror` is ignored"),
    (HEAD + "build:\n  keep_ca_certificates: false\n", "build.ignored", "no `ca_certificates`"),
    (HEAD + "apt:\n  repositories:\n    - {ppa: deadsnakes/ppa, suite: jammy}\n", "apt.ignored", "`suite` is ignored"),
    ("name: demo\nbase:\n  os: ubuntu22.04\n  image: ubuntu:22.04\nsmoke:\n  gpu: required\n",
     "smoke.gpu-without-cuda", "no CUDA"),
], ids=["pip-mirror-under-index-url", "keep-ca-without-certificates", "ppa-suite", "gpu-required-explicit-image"])
def test_ignored_harmless_settings_are_warned_about(tmp_path: Path, content: str, code: str, words: str) -> None:
    exit_code, err, _ = validate(tmp_path, content)
    assert exit_code == 0, err
    assert any(f"warning[{code}]" in row and words in row for row in err.splitlines()), err


@pytest.mark.parametrize("content", [
    HEAD + "user:\n  name: ubuntu\n  uid: 1000\n",  # the user step frees uid 1000 first
    HEAD + "user:\n  name: dev\n  uid: 501\n  gid: 20\n".replace("gid: 20", "gid: 100"),  # macOS uid
    HEAD + "runtime:\n  ports: ['1:65535', '127.0.0.1:6006:6006/udp']\n  gpus: 2\n",
    HEAD + "runtime:\n  gpus: [0, 'GPU-3a1b2c3d', 'MIG-1/2/3']\n",
    HEAD + "run:\n  - echo \"it's fine\" # and a comment's apostrophe\n  - 'echo a\\\\'\n  - 'x=$(echo \"a b\")'\n",
    HEAD + "smoke:\n  checks:\n    - {name: x, command: 'exit 3', expect_exit: 3}\n",
    HEAD + "  flavor: runtime\n  cudnn: false\n",  # defaults written out ask for nothing
    HEAD + "env: &e {A: '1'}\nruntime:\n  env: *e\n",
], ids=["ubuntu-user", "mac-uid", "ports-edges", "gpu-ids", "shell-quotes", "exit-3", "defaults", "alias"])
def test_legitimate_edge_values_still_pass(tmp_path: Path, content: str) -> None:
    exit_code, err, _ = validate(tmp_path, content)
    assert exit_code == 0, err


def test_extends_through_a_link_to_a_system_file_is_refused_at_the_key(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").symlink_to("/etc/passwd")
    exit_code, err, _ = validate(tmp_path, "extends: base.yaml\n" + HEAD)
    assert exit_code == 1
    assert f"{tmp_path / 'env.yaml'}:1:10: error[spec.extends]" in err and "/etc/passwd:" not in err


def test_a_link_inside_a_copied_folder_is_reported_at_the_copy_key(tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-secret"
    outside.write_text("secret")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "ok.py").write_text("print(1)\n")
    (tmp_path / "code" / "leak").symlink_to(outside)
    exit_code, err, _ = validate(tmp_path, HEAD + "copy:\n  - {src: code, dest: /code}\n")
    assert exit_code == 1
    assert f"{tmp_path / 'env.yaml'}:5:11: error[files.outside]: code/leak is a link" in err, err


def test_a_link_loop_inside_a_copied_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "loop").symlink_to(tmp_path / "code" / "loop")
    exit_code, err, _ = validate(tmp_path, HEAD + "copy:\n  - {src: code, dest: /code}\n")
    assert exit_code == 1 and "error[files.outside]: code/loop" in err, err


@pytest.mark.parametrize(("lock", "words"), [
    (b"spec_sha256: !!python/object/apply:os.system [id]\n", "not allowed"),
    (b"pinned_image: \xff\n", "not valid UTF-8"),
    ("a: " + "[" * 40 + "]" * 40 + "\n", "deeper than 32"),
    (b"- just\n- a list\n", "must be a mapping of keys"),
    (b"pinned_image: 2001-13-45\n", "cannot be read"),
], ids=["tag", "latin-1", "deep", "list", "bad-date"])
def test_a_hostile_lock_file_is_refused_without_a_traceback(tmp_path: Path, lock: str | bytes, words: str) -> None:
    (tmp_path / "env.lock").write_bytes(lock.encode() if isinstance(lock, str) else lock)
    path = tmp_path / "env.yaml"
    path.write_text(HEAD)
    result = CliRunner().invoke(cli, ["render", str(path)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert words in result.stderr and "Traceback" not in result.output, result.stderr


def test_thousands_of_problems_are_cut_to_the_first_hundred(tmp_path: Path) -> None:
    many = HEAD + "".join(f"unknown{i}: 1\n" for i in range(5000))
    exit_code, err, elapsed = validate(tmp_path, many)
    assert exit_code == 1 and elapsed < TIME_BUDGET_S
    assert err.count("error[spec.extra-forbidden]") == 100
    assert "info[spec.more]: … and 4900 more problems" in err and "100 error(s)" in err


def test_an_oversized_key_is_not_echoed_whole(tmp_path: Path) -> None:
    _, err, _ = validate(tmp_path, HEAD + "? " + "k" * 1_000_000 + "\n: 1\nenv:\n  " + "E" * 500 + ": x\n")
    assert len(err) < 2000 and "k" * 59 + "…" in err and "E" * 59 + "…" in err, err[:3000]


def test_an_unreadable_parent_is_reported_at_the_extends_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """chmod 000 does not stop root (these tests run as root in CI), so the read fails here."""
    (tmp_path / "base.yaml").write_text(HEAD)
    real_read = yaml_safe.read_text

    def read(path: Path) -> str:
        if path.name == "base.yaml":
            raise SpecError([Diagnostic("spec.unreadable", f"cannot read {path}: Permission denied")])
        return real_read(path)

    monkeypatch.setattr(yaml_safe, "read_text", read)
    exit_code, err, _ = validate(tmp_path, "extends: base.yaml\nname: x\n")
    assert exit_code == 1 and f"{tmp_path / 'env.yaml'}:1:10: error[spec.unreadable]" in err, err


def test_a_lock_file_with_a_syntax_error_is_located(tmp_path: Path) -> None:
    (tmp_path / "env.lock").write_text("pinned_image: [unclosed\n")
    path = tmp_path / "env.yaml"
    path.write_text(HEAD)
    result = CliRunner().invoke(cli, ["render", str(path)])
    assert result.exit_code == 1 and f"{tmp_path / 'env.lock'}:2:1: error[lock.invalid]" in result.stderr, result.stderr
