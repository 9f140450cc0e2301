"""Faults during builds and runs, each provoked for real against the real engine (issue 13).

The engine's container list is shared with other builds running at the same time: a test looks
only at the containers of its own build, found by a marker unique to the test in their command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.integration.conftest import own_containers, unavailable
from tests.integration.private_daemons import (
    PrivateDockerd,
    PrivateRegistry,
    start_private_dockerd,
    start_private_registry,
)

ENVSPEC = [sys.executable, "-m", "envspec"]


def spec_running(folder: Path, base_image: str, marker: str, command: str) -> Path:
    """A small spec named `marker` whose one `run:` step is `command`."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "env.yaml"
    spec.write_text(
        f"name: {marker}\nbase:\n  os: debian12\n  image: {base_image}\npython: null\n"
        f'run: ["{command}"]\n'
    )
    return spec


def sleepy_spec(folder: Path, base_image: str, marker: str, *, seconds: int = 120) -> Path:
    """A spec whose last RUN sleeps: a build of it is reliably "in the middle of a step"."""
    return spec_running(folder, base_image, marker, f"sleep {seconds} && echo {marker}")


def quick_spec(folder: Path, base_image: str, marker: str) -> Path:
    return spec_running(folder, base_image, marker, f"echo {marker} > /marker")


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The subprocess's own TMPDIR (to find temp files it left) and cache folder."""
    tmpdir = tmp_path / "child-tmp"
    tmpdir.mkdir(exist_ok=True)
    return {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmpdir),
            "XDG_CACHE_HOME": str(tmp_path / "child-cache"), **extra}


def envspec(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ENVSPEC, *args], capture_output=True, text=True, cwd=REPO, env=env,
                          check=False, timeout=timeout)


def wait_for_step(client: Any, marker: str, proc: subprocess.Popen[str], seconds: float = 120) -> str:
    """Wait until the build runs the step with `marker`; the id of that step's container."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        running = [c for c in own_containers(client, marker) if c["State"] == "running"]
        if running:
            return str(running[0]["Id"])
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError(f"no container ran the step marked {marker} within {seconds}s")


def content_images(client: Any, marker: str) -> list[str]:
    """Tags of the images named after the spec (`envspec/<name>:<content hash>`)."""
    return [t for image in client.images(name=f"envspec/{marker}") for t in image["RepoTags"]]


@pytest.fixture(autouse=True)
def _remove_spec_images(request: pytest.FixtureRequest, unique_name: str) -> Iterator[None]:
    """Every image a test built from its spec (`envspec/<unique_name>:<hash>`) goes afterwards."""
    yield
    if "docker_client" in request.fixturenames:
        client = request.getfixturevalue("docker_client")
        for tag in content_images(client, unique_name):
            with contextlib.suppress(Exception):  # already gone
                client.remove_image(tag, force=True)


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "child-tmp").iterdir())


# --------------------------------------------------------------------------- Ctrl-C, SIGTERM


@pytest.mark.parametrize(("signum", "code", "word"), [
    (signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
@pytest.mark.parametrize("builder", ["docker", "buildkit"])
def test_a_signal_mid_build_cancels_it_cleanly(
    docker_client: Any, base_image: str, unique_name: str, tmp_path: Path,
    signum: int, code: int, word: str, builder: str,
) -> None:
    spec = sleepy_spec(tmp_path / "spec", base_image, unique_name)
    proc = subprocess.Popen([*ENVSPEC, "build", str(spec), "--builder", builder, "--progress",
                             "plain"], cwd=REPO, env=child_env(tmp_path), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if builder == "docker":
            wait_for_step(docker_client, unique_name, proc)
        else:  # BuildKit runs steps outside the engine's containers: watch its log instead
            wait_for_buildkit_step(proc, unique_name)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        children = docker_cli_children(tmp_path)
        for pid in children:  # only when the test failed: no build may run on after it
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == code, stderr
    assert stderr.strip().endswith(word) and "Traceback" not in stderr
    assert not children, "the BuildKit docker CLI still runs"
    assert own_containers(docker_client, unique_name) == [], "the step's container stayed"
    assert content_images(docker_client, unique_name) == []
    assert leftovers(tmp_path) == [], "temporary files stayed behind"


def wait_for_buildkit_step(proc: subprocess.Popen[str], marker: str) -> None:
    """Read the plain progress until BuildKit starts the marked RUN (and it has run a moment)."""
    assert proc.stderr is not None
    seen: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if f"RUN sleep 120 && echo {marker}" in line:
                done.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(120), "".join(seen)
    time.sleep(1)


def docker_cli_children(tmp_path: Path) -> list[int]:
    """Processes whose command line names the child's TMPDIR (the BuildKit CLI's --iidfile)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(tmp_path / "child-tmp") in cmdline:
                found.append(int(entry.name))
    return found


# --------------------------------------------------------------------------- a full disk


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: the second `render -o` into it runs out of space."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        unavailable(f"cannot mount a small tmpfs (root needed): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_a_full_disk_during_render_o_changes_nothing(
    tiny_disk: Path, tmp_path: Path, base_image: str,
) -> None:
    folder = tmp_path / "spec"
    spec = quick_spec(folder, base_image, "full-disk")
    out = tiny_disk / "ctx"
    env = child_env(tmp_path)
    first = envspec("render", str(spec), "-o", str(out), env=env)
    assert first.returncode == 0, first.stderr
    (out / "NOTES.md").write_text("the user's own notes\n")  # a file envspec never wrote
    before = snapshot(out)
    # The spec now copies a file bigger than what is left on the tmpfs.
    (folder / "data.bin").write_bytes(os.urandom(96 * 1024))
    with spec.open("a") as handle:
        handle.write("copy:\n  - {src: data.bin, dest: /opt/data.bin}\n")

    second = envspec("render", str(spec), "-o", str(out), env=env)

    assert second.returncode == 10, second.stderr
    assert "No space left on device" in second.stderr and "Traceback" not in second.stderr
    assert "nothing in it was changed" in second.stderr
    assert snapshot(out) == before, "render -o half-wrote its output"
    staged = [p for p in out.rglob(".envspec-*") if p.name != ".envspec-manifest.json"]
    assert not staged, "temporary files stayed behind"


# --------------------------------------------------------------------------- two builds at once


def test_two_builds_of_the_same_spec_at_once_end_with_one_image(
    docker_client: Any, base_image: str, unique_name: str, tmp_path: Path,
) -> None:
    spec = quick_spec(tmp_path / "spec", base_image, unique_name)
    lock_before = envspec("lock", str(spec), env=child_env(tmp_path))
    assert lock_before.returncode == 0, lock_before.stderr
    lock_text = (spec.parent / "env.lock").read_text()
    argv = [*ENVSPEC, "build", str(spec), "--progress", "plain"]
    env = child_env(tmp_path)
    procs = [subprocess.Popen(argv, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    results = [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]

    assert [code for code, _, _ in results] == [0, 0], results
    tags = {out.strip().split()[0] for _, out, _ in results}
    assert len(tags) == 1 and content_images(docker_client, unique_name) == list(tags)
    states = sorted(out.strip().split()[1] for _, out, _ in results)
    assert states == ["(built)", "(up"], states  # one built it, the other waited and found it
    assert (spec.parent / "env.lock").read_text() == lock_text
    tag = tags.pop()
    container = docker_client.create_container(tag, ["cat", "/marker"])
    try:
        docker_client.start(container)
        docker_client.wait(container, timeout=60)
        assert docker_client.logs(container).decode().strip() == unique_name
    finally:
        docker_client.remove_container(container, force=True)


# --------------------------------------------------------------------------- base image gone


def test_a_base_image_removed_between_lock_and_build_is_named_with_a_hint(
    docker_client: Any, base_image: str, unique_name: str, tmp_path: Path,
    image_cleanup: list[str],
) -> None:
    local_base = f"envspec-itest/{unique_name}-base:bookworm"
    docker_client.tag(base_image, f"envspec-itest/{unique_name}-base", "bookworm")
    image_cleanup.append(local_base)
    spec = quick_spec(tmp_path / "spec", local_base, unique_name)
    env = child_env(tmp_path)
    locked = envspec("lock", str(spec), env=env)
    assert locked.returncode == 0, locked.stderr
    docker_client.remove_image(local_base)

    built = envspec("build", str(spec), "--progress", "plain", env=env)

    assert built.returncode == 3, built.stderr
    assert "Traceback" not in built.stderr
    assert local_base in built.stderr
    assert "hint:" in built.stderr and "--base-image" in built.stderr
    assert content_images(docker_client, unique_name) == []


# --------------------------------------------------------------------------- the registry goes away


@pytest.fixture
def private_registry() -> Iterator[PrivateRegistry]:
    registry = start_private_registry(Path(tempfile.mkdtemp(prefix="envspec-faults-registry-")))
    try:
        yield registry
    finally:
        registry.close()


def test_lock_refresh_when_the_registry_has_gone_is_a_registry_failure(
    engine: Any, base_image: str, private_registry: PrivateRegistry, unique_name: str,
    tmp_path: Path, image_cleanup: list[str],
) -> None:
    from envspec.push import push

    image = f"{private_registry.address}/{unique_name}/base"
    image_cleanup.append(f"{image}:bookworm")
    push(engine, base_image, f"{image}:bookworm")  # the registry really had it
    folder = tmp_path / "spec"
    spec = quick_spec(folder, f"{image}:bookworm", unique_name)
    env = child_env(tmp_path)
    assert envspec("lock", str(spec), "--refresh", env=env).returncode == 0
    lock_text = (folder / "env.lock").read_text()
    private_registry.kill()

    again = envspec("lock", str(spec), "--refresh", env=env)

    assert again.returncode == 8, again.stderr
    assert "cannot reach the registry" in again.stderr and "Connection refused" in again.stderr
    assert "hint:" in again.stderr and "Traceback" not in again.stderr
    assert (folder / "env.lock").read_text() == lock_text, "the old lock must stay as it was"


def test_push_when_the_registry_goes_away_midway_is_a_registry_failure(
    engine: Any, docker_client: Any, base_image: str, private_registry: PrivateRegistry,
    unique_name: str, tmp_path: Path, image_cleanup: list[str],
) -> None:
    target = f"{private_registry.address}/{unique_name}/img:1"
    image_cleanup.append(target)
    proc = subprocess.Popen([*ENVSPEC, "push", base_image, target, "--progress", "plain"],
                            cwd=REPO, env=child_env(tmp_path), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:  # the upload has begun: the registry goes away now
        seen.append(line)
        if "Pushing" in line or "Preparing" in line:
            private_registry.kill()
            break
    rest, _ = proc.communicate(timeout=120)
    output = "".join(seen) + rest

    assert proc.returncode == 8, output
    assert f"the registry {private_registry.address} went away during the push" in output
    assert "hint:" in output and "Traceback" not in output


# --------------------------------------------------------------------------- the engine stops


@pytest.fixture
def private_dockerd(base_image: str) -> Iterator[PrivateDockerd]:
    """Short path: the socket's path must fit a unix socket address (108 bytes)."""
    daemon = start_private_dockerd(Path(tempfile.mkdtemp(prefix="envspec-dockerd-", dir="/tmp")))
    try:
        daemon.load(base_image)
        yield daemon
    finally:
        daemon.close()


def test_the_engine_stopping_mid_build_is_exit_5_and_the_next_build_works(
    private_dockerd: PrivateDockerd, base_image: str, unique_name: str, tmp_path: Path,
) -> None:
    import docker

    client = docker.APIClient(base_url=private_dockerd.host, version="auto", timeout=60)
    spec = sleepy_spec(tmp_path / "spec", base_image, unique_name, seconds=300)
    env = child_env(tmp_path, DOCKER_HOST=private_dockerd.host)
    argv = [*ENVSPEC, "build", str(spec), "--network", "none", "--progress", "plain"]
    proc = subprocess.Popen(argv, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        wait_for_step(client, unique_name, proc)
        private_dockerd.kill()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()

    assert proc.returncode == 5, err
    assert "went away in the middle of the request" in err and "Traceback" not in err
    assert "hint:" in err and out == ""
    assert leftovers(tmp_path) == []
    private_dockerd.start()
    client = docker.APIClient(base_url=private_dockerd.host, version="auto", timeout=60)
    assert content_images(client, unique_name) == [], "a half-built image was tagged"
    quick = quick_spec(tmp_path / "next", base_image, unique_name)
    argv = ["build", str(quick), "--network", "none", "--progress", "plain"]
    again = envspec(*argv, env=env)
    assert again.returncode == 0, again.stderr
    assert len(content_images(client, unique_name)) == 1


# --------------------------------------------------------------------------- a signal during `run`


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_run_removes_its_container(
    docker_client: Any, base_image: str, unique_name: str, tmp_path: Path,
    signum: int, code: int,
) -> None:
    spec = quick_spec(tmp_path / "spec", base_image, unique_name)
    env = child_env(tmp_path)
    assert envspec("build", str(spec), "--progress", "plain", env=env).returncode == 0
    proc = subprocess.Popen([*ENVSPEC, "run", str(spec), "--gpus", "none", "--progress", "plain",
                             "--", "sleep", "120"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    label = {"label": f"envspec.spec={unique_name}"}  # runtime.plan_container sets it
    try:
        deadline = time.monotonic() + 60
        while not docker_client.containers(filters={**label, "status": "running"}):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert docker_client.containers(all=True, filters=label) == [], "the container stayed"
