"""Every generated file of every example, pinned by syrupy snapshots.

A change in rendering shows up here as a readable diff; update with `pytest --snapshot-update`
after reading it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from envspec.pipeline import compile_spec
from tests.conftest import ALL_EXAMPLES, example_id

DNF_EXAMPLES = {"rockylinux9"}  # the rest install with apt


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=example_id)
def test_every_generated_file(example: Path, snapshot: SnapshotAssertion) -> None:
    compiled = compile_spec(example / "env.yaml")
    rendered = {name: _readable(entry.data) for name, entry in compiled.files.items()}
    assert rendered == snapshot


def _readable(content: bytes) -> str:
    """Text as is; a binary file (a wheel next to the spec) by its size and digest."""
    try:
        return content.decode()
    except UnicodeDecodeError:
        return f"<{len(content)} bytes, sha256 {hashlib.sha256(content).hexdigest()}>"


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=example_id)
def test_rendering_is_byte_identical_every_time(example: Path) -> None:
    first = compile_spec(example / "env.yaml").files
    second = compile_spec(example / "env.yaml").files
    assert first == second


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=example_id)
def test_buildkit_dockerfile(example: Path, snapshot: SnapshotAssertion) -> None:
    """The opt-in BuildKit rendering: same steps, with cache mounts for apt or dnf, pip, conda."""
    dockerfile = compile_spec(example / "env.yaml", buildkit=True).dockerfile
    system_cache = "/var/cache/dnf" if example.name in DNF_EXAMPLES else "/var/cache/apt"
    assert f"--mount=type=cache,target={system_cache}" in dockerfile
    assert dockerfile == snapshot
