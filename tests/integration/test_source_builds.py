"""`sources:` built for real: a `git daemon` on loopback serves a tiny Python package (built with
`builder: pip` at a tag) and a tiny C project (built with `builder: cmake`); the image imports
the one and runs the other, and `envspec lock` records the commit the tag points to."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envspec.lockfile import read_lock
from tests.integration.test_spec_builds import envspec, image_of, run_in

GIT_ID = ("-c", "user.name=envspec-test", "-c", "user.email=test@envspec.invalid")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT_ID, *args], cwd=repo, check=True, capture_output=True,
                          text=True)
    return done.stdout.strip()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _repository(root: Path, name: str, files: dict[str, str]) -> Path:
    repo = root / f"{name}.git"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "trunk")
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    return repo


PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tinypkg"
version = "0.1.0"
"""

CMAKELISTS = """cmake_minimum_required(VERSION 3.13)
project(hello C)
add_executable(hello-envspec hello.c)
install(TARGETS hello-envspec DESTINATION bin)
"""


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`git daemon` on 127.0.0.1 serving two repositories; yields its base URL and folder."""
    root = tmp_path / "git"
    root.mkdir()
    pkg = _repository(root, "tinypkg", {"pyproject.toml": PYPROJECT,
                                        "tinypkg/__init__.py": "WHERE = 'tagged'\n"})
    _git(pkg, "tag", "-a", "-m", "release", "v0.1.0")
    (pkg / "tinypkg/__init__.py").write_text("WHERE = 'after the tag'\n")
    _git(pkg, "commit", "-qam", "moved on")
    _repository(root, "hello", {"CMakeLists.txt": CMAKELISTS, "hello.c":
                                '#include <stdio.h>\nint main(void) { puts("hello from cmake"); '
                                "return 0; }\n"})
    _git(root / "hello.git", "tag", "1.0")
    port = _free_port()
    daemon = subprocess.Popen(["git", "daemon", "--export-all", f"--base-path={root}",
                               "--listen=127.0.0.1", f"--port={port}", "--reuseaddr", str(root)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port)
        yield f"git://127.0.0.1:{port}", root
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def _wait_for(port: int) -> None:
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"git daemon did not listen on port {port}")


def test_git_sources_are_built_at_their_tag(
    git_server: tuple[str, Path], docker_client: Any, base_image: str, tmp_path: Path,
    image_cleanup: list[str],
) -> None:
    url, root = git_server
    folder = tmp_path / "spec"
    folder.mkdir()
    spec = folder / "env.yaml"
    spec.write_text(
        f"name: source-builds-test\nbase:\n  os: debian12\n  image: {base_image}\n"
        "apt:\n  packages: [g++, libc6-dev]\npython: {}\nsources:\n"
        f"  - {{name: tinypkg, git: '{url}/tinypkg.git', ref: v0.1.0, builder: pip}}\n"
        f"  - {{name: hello, git: '{url}/hello.git', ref: '1.0', builder: cmake, keep: false,"
        " build_type: Release, jobs: 2}\n"
    )
    result = envspec("build", str(spec), "--network", "host", "--host-ca", "--progress", "plain")
    image = image_of(result)
    image_cleanup.append(image)
    out = run_in(docker_client, image, "python -c 'import tinypkg; print(tinypkg.WHERE)'; "
                 "hello-envspec; test -d /opt/src/hello || echo removed; "
                 "git -C /opt/src/tinypkg describe --tags")
    assert out.splitlines() == ["tagged", "hello from cmake", "removed", "v0.1.0"]

    locked = envspec("lock", str(spec))
    lock = read_lock(folder / "env.lock")
    assert lock is not None, locked.stderr
    tag_commit = _git(root / "tinypkg.git", "rev-parse", "v0.1.0^{commit}")
    assert [(s.name, s.ref, s.commit) for s in lock.sources] == [
        ("tinypkg", "v0.1.0", tag_commit),
        ("hello", "1.0", _git(root / "hello.git", "rev-parse", "1.0^{commit}")),
    ]
    # A build with the lock checks out that commit, not whatever the tag says by then.
    rendered = envspec("render", str(spec), "--locked").stdout
    assert f"checkout --detach {tag_commit}" in rendered


def test_a_branch_is_refused_by_lock(git_server: tuple[str, Path], tmp_path: Path,
                                     base_image: str) -> None:
    url, _ = git_server
    spec = tmp_path / "env.yaml"
    spec.write_text(f"name: t\nbase:\n  os: debian12\n  image: {base_image}\npython: {{}}\n"
                    f"sources:\n  - {{name: p, git: '{url}/tinypkg.git', ref: trunk, builder: pip}}\n")
    result = envspec("lock", str(spec), check=False)
    assert result.returncode != 0
    assert "sources.branch" in result.stderr and "Traceback" not in result.stderr
