"""Real builds against the Docker engine, with hand-written tiny contexts."""

from __future__ import annotations

import tarfile
import time
from io import BytesIO
from typing import Any

import pytest

from envspec.build import (
    BuildRequest,
    BuildResult,
    CliBuilder,
    DockerPyBuilder,
    build_if_needed,
    find_buildkit_cli,
    image_tag,
)
from envspec.context_tar import ContextEntry, ContextTar
from envspec.engine import Engine
from envspec.errors import BuildError, DockerUnavailableError
from envspec.progress import BuildEvent, BuildFinished, LogLine, StepStarted
from tests.integration.conftest import own_containers

pytestmark = pytest.mark.docker


def make_context(dockerfile: str, **files: str) -> ContextTar:
    """A context of a Dockerfile and text files (`a__b` names `a/b`)."""
    entries = {"Dockerfile": ContextEntry(dockerfile.encode())}
    entries.update({n.replace("__", "/"): ContextEntry(t.encode()) for n, t in files.items()})
    return ContextTar.from_entries(entries)


def image_exists(engine: Engine, ref: str) -> bool:
    return engine.image_id(ref) is not None


class Recorder:
    def __init__(self) -> None:
        self.events: list[BuildEvent] = []

    def __call__(self, event: BuildEvent) -> None:
        self.events.append(event)

    def steps(self) -> list[StepStarted]:
        return [e for e in self.events if isinstance(e, StepStarted)]

    def lines(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, LogLine)]


def run_in(client: Any, image: str, command: list[str]) -> str:
    container = client.create_container(image, command)
    try:
        client.start(container)
        client.wait(container, timeout=120)
        return bytes(client.logs(container)).decode()
    finally:
        client.remove_container(container, force=True)


def test_docker_py_builder_installs_a_package(
    engine: Engine,
    docker_client: Any,
    base_image: str,
    unique_name: str,
    image_cleanup: list[str],
) -> None:
    context = make_context(
        # unique_name in every step that makes a container: `own_containers` finds them.
        f"FROM {base_image}\n"
        f"RUN echo {unique_name} \\\n"
        " && apt-get update \\\n"
        " && apt-get install -y --no-install-recommends hello \\\n"
        " && rm -rf /var/lib/apt/lists/*\n"
        f"COPY greeting.txt /greeting/{unique_name}.txt\n"
        f'CMD ["/bin/sh", "-c", "hello && cat /greeting/{unique_name}.txt"]\n',
        **{"greeting.txt": "from the context\n"},
    )
    tags = [f"envspec-itest/{unique_name}:one", f"envspec-itest/{unique_name}:two"]
    image_cleanup.extend(tags)
    events = Recorder()

    result = DockerPyBuilder(engine).build(BuildRequest(context, tuple(tags)), on_event=events)

    assert result.tags == tuple(tags)
    assert result.image_id.startswith("sha256:")
    for tag in tags:
        assert docker_client.inspect_image(tag)["Id"] == result.image_id
    assert [s.label for s in events.steps()][:2] == [
        f"Step 1/4 : FROM {base_image}",
        f"Step 2/4 : RUN echo {unique_name}  && apt-get update  && apt-get install -y "
        "--no-install-recommends hello  && rm -rf /var/lib/apt/lists/*",
    ]
    assert any("Setting up hello" in line for line in events.lines())
    assert isinstance(events.events[-1], BuildFinished) and events.events[-1].ok
    assert "Hello, world!" in run_in(docker_client, tags[0], [])
    assert own_containers(docker_client, unique_name) == []


def test_failing_build_raises_build_error_and_leaves_no_container(
    engine: Engine,
    base_image: str,
    unique_name: str,
    image_cleanup: list[str],
) -> None:
    context = make_context(
        # No step before the failing one: a committed step would stay behind as build cache.
        f"FROM {base_image}\n"
        f"RUN echo {unique_name} && apt-get update && apt-get install -y no-such-package-envspec\n"
        "RUN echo never reached\n",
    )
    image_cleanup.append(f"envspec-itest/{unique_name}:broken")
    events = Recorder()

    with pytest.raises(BuildError) as caught:
        DockerPyBuilder(engine).build(
            BuildRequest(context, (f"envspec-itest/{unique_name}:broken",)), on_event=events
        )

    err = caught.value
    command = f"echo {unique_name} && apt-get update && apt-get install -y no-such-package-envspec"
    assert err.step == f"Step 2/3 : RUN {command}"
    assert err.command == command
    assert "non-zero code: 100" in err.message
    assert 0 < len(err.log_tail) <= 20
    assert err.log_tail[-1] == "E: Unable to locate package no-such-package-envspec"
    assert not any("\x1b" in line for line in err.log_tail)
    assert err.hint and "apt" in err.hint
    assert "step: Step 2/3" in err.format() and "| E: Unable to locate" in err.format()
    assert isinstance(events.events[-1], BuildFinished) and not events.events[-1].ok
    assert own_containers(engine.api, unique_name) == [], (
        "forcerm must remove the failed step's container")
    assert not image_exists(engine, f"envspec-itest/{unique_name}:broken")


def test_build_sends_exactly_the_context_and_a_deterministic_one(
    engine: Engine,
    docker_client: Any,
    base_image: str,
    unique_name: str,
    image_cleanup: list[str],
) -> None:
    files = {".dockerignore": "secrets\n", "app.py": "print('hi')\n", "keep.log": "kept\n"}
    dockerfile = f'FROM {base_image}\nCOPY . /ctx/\nCMD ["find", "/ctx", "-type", "f"]\n'
    context = make_context(dockerfile, **files)
    time.sleep(1.1)
    assert make_context(dockerfile, **files) == context  # no clock in the bytes
    first = context.data
    with tarfile.open(fileobj=BytesIO(first)) as tar:
        names = tar.getnames()
    assert names == [".dockerignore", "Dockerfile", "app.py", "keep.log"]

    tag = f"envspec-itest/{unique_name}:ignore"
    image_cleanup.append(tag)
    DockerPyBuilder(engine).build(BuildRequest(context, (tag,)))
    listed = sorted(run_in(docker_client, tag, []).split())
    assert listed == ["/ctx/.dockerignore", "/ctx/Dockerfile", "/ctx/app.py", "/ctx/keep.log"]
    assert context.digest == make_context(dockerfile, **files).digest


class CountingBuilder:
    """Builds for real through DockerPyBuilder, and counts the calls."""

    def __init__(self, engine: Engine) -> None:
        self.inner = DockerPyBuilder(engine)
        self.calls = 0

    def build(self, request: BuildRequest, on_event: Any = None) -> BuildResult:
        self.calls += 1
        return self.inner.build(request)


def test_build_if_needed_skips_the_builder_for_an_existing_tag(
    engine: Engine,
    docker_client: Any,
    base_image: str,
    unique_name: str,
    image_cleanup: list[str],
) -> None:
    context = make_context(f"FROM {base_image}\nRUN echo {unique_name} > /id\n")
    builder = CountingBuilder(engine)
    tag = image_tag(context, unique_name)
    image_cleanup.extend([tag, f"envspec-itest/{unique_name}:latest"])

    first = build_if_needed(engine, builder, BuildRequest.for_content(context, unique_name))
    assert first.built and first.tag == tag and builder.calls == 1

    started = time.perf_counter()
    second = build_if_needed(
        engine,
        builder,
        BuildRequest.for_content(
            context, unique_name, extra_tags=[f"envspec-itest/{unique_name}:latest"]
        ),
    )
    elapsed = time.perf_counter() - started
    assert not second.built and builder.calls == 1
    assert second.result.image_id == first.result.image_id
    assert elapsed < 1.0, f"the no-op path took {elapsed:.2f}s"
    assert docker_client.inspect_image(f"envspec-itest/{unique_name}:latest")["Id"] == (
        first.result.image_id
    )

    forced = build_if_needed(
        engine, builder, BuildRequest.for_content(context, unique_name, no_cache=True)
    )
    assert forced.built and builder.calls == 2

    changed = make_context(f"FROM {base_image}\nRUN echo changed > /id\n")
    assert image_tag(changed, unique_name) != tag


def test_cli_builder_with_buildkit_cache_mount(
    docker_client: Any,
    base_image: str,
    unique_name: str,
    image_cleanup: list[str],
) -> None:
    try:
        find_buildkit_cli()
    except DockerUnavailableError as err:
        pytest.fail(f"no BuildKit-capable docker CLI: {err.format()}")
    context = make_context(
        f"FROM {base_image}\n"
        # A unique first step, so BuildKit's cache from an earlier run cannot answer the rest.
        f"RUN echo {unique_name} > /run-id && rm -f /etc/apt/apt.conf.d/docker-clean\n"
        "RUN --mount=type=cache,target=/var/cache/apt --mount=type=cache,target=/var/lib/apt \\\n"
        f"    apt-get update && apt-get install -y --no-install-recommends hello && : {unique_name}\n"
        "RUN hello > /greeting \\\n"
        f" && (ls /var/cache/apt/archives | grep -c deb > /debs-visible || true) && : {unique_name}\n",
    )
    tag = f"envspec-itest/{unique_name}:buildkit"
    image_cleanup.append(tag)
    events = Recorder()

    result = CliBuilder().build(BuildRequest(context, (tag,)), on_event=events)

    assert docker_client.inspect_image(tag)["Id"] == result.image_id
    labels = [s.label for s in events.steps()]
    assert any(label.startswith("Step 3/4 : RUN --mount=type=cache") for label in labels), labels
    assert any("Setting up hello" in line for line in events.lines())
    assert run_in(docker_client, tag, ["cat", "/greeting"]).strip() == "Hello, world!"
    # The cache mount kept the .debs out of the image's layers.
    assert run_in(docker_client, tag, ["cat", "/debs-visible"]).strip() == "0"
    assert own_containers(docker_client, unique_name) == []


def test_cli_builder_failure_is_a_build_error(
    base_image: str, unique_name: str, image_cleanup: list[str]
) -> None:
    context = make_context(f"FROM {base_image}\nRUN echo about to fail; exit 7\n")
    image_cleanup.append(f"envspec-itest/{unique_name}:bkfail")
    with pytest.raises(BuildError) as caught:
        CliBuilder().build(BuildRequest(context, (f"envspec-itest/{unique_name}:bkfail",)))
    err = caught.value
    assert err.step == "Step 2/2 : RUN echo about to fail; exit 7"
    assert err.command == "echo about to fail; exit 7"
    assert "exit code: 7" in err.message
    assert err.log_tail == ["about to fail"]


def test_bad_base_url_is_docker_unavailable_with_a_hint() -> None:
    with pytest.raises(DockerUnavailableError) as caught:
        Engine.connect("unix:///nonexistent.sock")
    err = caught.value
    assert "/nonexistent.sock" in err.message
    assert err.hint and "docker info" in err.hint
    assert err.exit_code == 5


def test_refused_tcp_port_is_docker_unavailable() -> None:
    with pytest.raises(DockerUnavailableError) as caught:
        Engine.connect("tcp://127.0.0.1:1")
    assert "refused" in caught.value.message


def test_builder_errors_when_the_engine_is_unreachable() -> None:
    context = make_context("FROM scratch\n")
    with pytest.raises(DockerUnavailableError):
        DockerPyBuilder(base_url="unix:///nonexistent.sock").build(BuildRequest(context, ("x:y",)))
