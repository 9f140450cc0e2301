"""pip requirement forms built for real: a local wheel next to env.yaml, a git+ requirement
pinned to a tag and served on loopback by `git daemon`, and a constraints file, through the
docker-py (classic) builder; then the cache, through BuildKit: a changed local wheel reinstalls
only itself.

The git repository's branch moves past the tag, so importing the tag's content proves the ref
was honoured. Builds use host networking (the daemon listens on 127.0.0.1) and --host-ca (PyPI
is reached through this machine's TLS-intercepting proxy).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import shutil
import socket
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import unavailable
from tests.integration.test_spec_builds import envspec, image_of, run_in

WHEEL = "tiny_local-1.0-py3-none-any.whl"


def write_wheel(path: Path, version_text: str) -> None:
    """A pure-Python wheel (PEP 427) with one module, written directly as a zip."""
    files = {
        "tiny_local/__init__.py": f"VERSION = {version_text!r}\n",
        "tiny_local-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tiny-local\n"
                                             "Version: 1.0\n",
        "tiny_local-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: envspec-tests\n"
                                          "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{name},sha256={_digest(text)},{len(text.encode())}" for name, text in files.items()]
    files["tiny_local-1.0.dist-info/RECORD"] = "\n".join([*record, "tiny_local-1.0.dist-info/RECORD,,"]) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)


def _digest(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org",
                    *args], check=True, capture_output=True)


def make_repository(root: Path) -> None:
    """tiny.git: a setuptools package in py/, tagged v1.0, then its branch moves on."""
    work = root / "tiny"
    (work / "py" / "tiny_git").mkdir(parents=True)
    (work / "py" / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tiny-git"\nversion = "1.0"\n[tool.setuptools]\npackages = ["tiny_git"]\n')
    module = work / "py" / "tiny_git" / "__init__.py"
    module.write_text('REF = "v1.0"\n')
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "v1.0")
    _git(work, "tag", "v1.0")
    module.write_text('REF = "main, after the tag"\n')
    _git(work, "commit", "-q", "-am", "moves on")
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(root / "tiny.git")], check=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[str]:
    """`git daemon` on 127.0.0.1 serving tiny.git; yields its base URL (git://127.0.0.1:PORT)."""
    if shutil.which("git") is None:
        unavailable("git is not installed; .ci/run installs it")
    root = tmp_path / "git"
    make_repository(root)
    port = _free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={root}",
         "--listen=127.0.0.1", f"--port={port}", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"git://127.0.0.1:{port}"
        for _ in range(50):
            if subprocess.run(["git", "ls-remote", f"{url}/tiny.git"], capture_output=True,
                              check=False).returncode == 0:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                daemon.wait(timeout=0.1)
        else:
            pytest.fail("git daemon did not answer")
        yield url
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def write_spec(folder: Path, base_image: str, git_url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_wheel(folder / "wheels" / WHEEL, "1.0")
    (folder / "constraints.txt").write_text("six==1.16.0\n")  # older than PyPI's newest
    spec = folder / "env.yaml"
    spec.write_text(
        f"name: {folder.name}\nbase:\n  os: debian12\n  image: {base_image}\n"
        "python:\n  pip:\n    constraints: [constraints.txt]\n    packages:\n"
        "      - six\n"
        f"      - tiny-git @ git+{git_url}/tiny.git@v1.0#subdirectory=py\n"
        f"      - requirement: ./wheels/{WHEEL}\n"
        "        no_deps: true\n        env: {TINY_FLAG: '1'}\n")
    return spec


def build(spec: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return envspec("build", str(spec), "--host-ca", "--network", "host", "--progress", "plain",
                   *options)


def test_local_wheel_git_tag_and_constraints_install_for_real(
    docker_client: Any, base_image: str, git_server: str, tmp_path: Path,
    image_cleanup: list[str],
) -> None:
    spec = write_spec(tmp_path / "pip-forms-real", base_image, git_server)
    first = build(spec)
    image = image_of(first)
    image_cleanup.append(image)
    out = run_in(docker_client, image, "python -c 'import six, tiny_git, tiny_local; "
                 "print(six.__version__); print(tiny_git.REF); print(tiny_local.VERSION)'; "
                 "echo ${TINY_FLAG:-unset}")
    assert out.splitlines() == ["1.16.0", "v1.0", "1.0", "unset"], out  # env: its install only

    report = tmp_path / "smoke.json"
    tested = envspec("test", str(spec), "--host-ca", "--progress", "plain",  # built: no build
                     "--json", str(report))
    assert tested.returncode == 0
    checks = {c["name"]: c["status"] for c in json.loads(report.read_text())["results"]}
    assert checks["import tiny-git"] == checks["import tiny-local"] == "pass", checks

    # A rebuilt wheel (same name, new content) reinstalls only itself. BuildKit, whose cache is
    # keyed by content: the classic builder may continue from a twin of a shared early layer
    # made by another build on this engine (--no-cache builds make them), and miss later ones.
    before = build(spec, "--builder", "buildkit")
    image_cleanup.append(image_of(before))
    write_wheel(spec.parent / "wheels" / WHEEL, "1.0 rebuilt")
    after = build(spec, "--builder", "buildkit")
    rebuilt = image_of(after)
    image_cleanup.append(rebuilt)
    steps = "\n".join(line for line in after.stderr.splitlines()
                      if line.startswith("Step") or "CACHED" in line)
    assert _cached(after.stderr, "six") and _cached(after.stderr, "tiny.git"), steps
    assert not _cached(after.stderr, "tiny_local"), steps
    out = run_in(docker_client, rebuilt, "python -c 'import tiny_local; print(tiny_local.VERSION)'")
    assert out.strip() == "1.0 rebuilt"


def _cached(log: str, word: str) -> bool:
    """Whether BuildKit reused the layer of the first step whose line names `word`."""
    lines = log.splitlines()
    step = next(i for i, line in enumerate(lines) if line.startswith("Step ") and word in line)
    return lines[step + 1].strip() == "CACHED"  # said before any output of the step
