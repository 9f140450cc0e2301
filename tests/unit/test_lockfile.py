"""env.lock: written and read back unchanged, older locks still read, a corrupt one is located."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envspec.errors import SpecError
from envspec.loader import load_spec
from envspec.lockfile import LOCK_VERSION, Lock, dump_lock, lock_from, lock_path, read_lock
from envspec.resolve import resolve

TORCH_SPEC = ("name: demo\nbase:\n  os: ubuntu22.04\n  cuda: '12.1'\npython:\n  pip:\n"
              "    packages: [torch==2.1.2, torchvision]\n")
DIGEST = "sha256:" + "ab" * 32
SHA = "0f" * 32


def _write_lock(folder: Path, text: str) -> Path:
    path = folder / "env.lock"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_lock_round_trips_with_its_torch_pins(write_spec: Callable[[str], Path]) -> None:
    spec = write_spec(TORCH_SPEC)
    lock = lock_from(resolve(load_spec(spec)), DIGEST)
    assert lock.torch == ("torch==2.1.2", "torchvision==0.16.2")
    assert (lock.lock_version, lock.cuda, lock.pinned_image) == (
        LOCK_VERSION, "12.1.1", f"{lock.base_image}@{DIGEST}")
    path = lock_path(spec)
    path.write_text(dump_lock(lock), encoding="utf-8")
    assert read_lock(path) == lock
    assert path.read_text(encoding="utf-8").startswith("# env.lock")


def test_a_lock_without_format_version_or_torch_still_reads(tmp_path: Path) -> None:
    """The first locks had no `lock_version`; fields added later are optional."""
    lock = read_lock(_write_lock(tmp_path, f"envspec: 0.1.0\nspec_sha256: {SHA}\n"
                                           "base_image: debian:bookworm\n"))
    assert lock == Lock(envspec="0.1.0", spec_sha256=SHA, base_image="debian:bookworm")
    assert (lock.lock_version, lock.torch, lock.pinned_image) == (1, (), "debian:bookworm")


def test_no_lock_is_none(tmp_path: Path) -> None:
    assert read_lock(tmp_path / "env.lock") is None


GOOD = f"envspec: 0.1.0\nspec_sha256: {SHA}\nbase_image: debian:bookworm\n"


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        (GOOD + "base_digest: md5:abc\n", 4, 14, "`base_digest`"),
        (GOOD + "gcc: ten\n", 4, 6, "valid integer"),
        (GOOD + "torch: torch==2.1.2\n", 4, 8, "`torch`"),
        (GOOD + "pins: []\n", 4, 1, "unknown key `pins`"),
        (GOOD.replace("base_image: debian:bookworm\n", "base_image: 'debian:bookworm\nRUN x'\n"),
         3, 13, "image reference"),
        (GOOD.replace(f"spec_sha256: {SHA}\n", ""), 1, 1, "`spec_sha256` is missing"),
        ("lock_version: 2\n" + GOOD, 1, 15, "lock format 2 is newer"),
        (GOOD + "gcc: [10\n", 5, 1, "not valid YAML"),
        ("- a\n", 1, 1, "must be a mapping"),
    ],
)
def test_a_corrupt_lock_is_reported_where_it_is_wrong(
    tmp_path: Path, text: str, line: int, column: int, words: str
) -> None:
    path = _write_lock(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        read_lock(path)
    [problem] = caught.value.diagnostics
    assert problem.code == "lock.invalid" and problem.location is not None
    assert (problem.location.file, problem.location.line, problem.location.column) == (
        str(path), line, column), problem.format()
    assert words in problem.message, problem.format()
    assert problem.hint is not None and "envspec lock" in problem.hint
