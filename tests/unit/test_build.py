"""The builder layer without an engine: parsers, error translation, identity, no-op path,
progress displays and the push stream — all with fakes."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker.errors
import pytest
import requests

from envspec.build import (
    BuildRequest,
    BuildResult,
    ClassicStreamParser,
    CliBuilder,
    PlainBuildKitParser,
    build_if_needed,
    image_tag,
)
from envspec.context_tar import ContextEntry, ContextTar
from envspec.engine import (
    DockerEngineError,
    Engine,
    ImageNotFoundError,
    split_ref,
    translate_docker_error,
)
from envspec.errors import BuildError, DockerUnavailableError, EnvspecError
from envspec.progress import (
    BuildEvent,
    BuildFinished,
    LogLine,
    PlainProgress,
    RichProgress,
    StepStarted,
    open_progress,
)
from envspec.push import PushError, push


class Recorder(list[BuildEvent]):
    def __call__(self, event: BuildEvent) -> None:
        self.append(event)


# ------------------------------------------------------------------ classic builder stream


def classic_chunks(fail: bool) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = [
        {"stream": "Step 1/3 : FROM base\n"},
        {"stream": " ---> 64b1155355d9\n"},
        {"stream": "Step 2/3 : RUN apt-get upd"},  # a line split across chunks
        {"stream": "ate && apt-get install -y x\n"},
        {"stream": " ---> Running in 0123456789ab\n"},
        {"stream": "Reading package lists...\nBuilding dependency tree...\n"},
        {"stream": "\x1b[91mE: Unable to locate package x\n\x1b[0m"},
    ]
    if fail:
        message = (
            "The command '/bin/sh -c apt-get update && apt-get install -y x' returned a non-zero code: 100"
        )
        return [*chunks, {"errorDetail": {"code": 100, "message": message}, "error": message}]
    return [
        *chunks,
        {"stream": "Removing intermediate container 0123456789ab\n"},
        {"stream": " ---> 1111111111aa\n"},
        {"stream": 'Step 3/3 : CMD ["x"]\n'},
        {"aux": {"ID": "sha256:" + "ab" * 32}},
        {"stream": "Successfully built abababababab\n"},
        {"stream": "Successfully tagged envspec/x:1\n"},
    ]


def test_classic_parser_reports_steps_and_lines() -> None:
    events = Recorder()
    parser = ClassicStreamParser(events)
    for chunk in classic_chunks(fail=False):
        parser.feed(chunk)
    assert parser.finish() == "sha256:" + "ab" * 32
    steps = [e for e in events if isinstance(e, StepStarted)]
    assert [(s.number, s.total, s.title) for s in steps] == [
        (1, 3, "FROM base"),
        (2, 3, "RUN apt-get update && apt-get install -y x"),
        (3, 3, 'CMD ["x"]'),
    ]
    lines = [e.text for e in events if isinstance(e, LogLine)]
    assert lines == [
        "Reading package lists...",
        "Building dependency tree...",
        "E: Unable to locate package x",
    ]


def test_classic_parser_turns_error_detail_into_build_error() -> None:
    events = Recorder()
    parser = ClassicStreamParser(events)
    with pytest.raises(BuildError) as caught:
        for chunk in classic_chunks(fail=True):
            parser.feed(chunk)
    err = caught.value
    assert err.step == "Step 2/3 : RUN apt-get update && apt-get install -y x"
    assert err.command == "apt-get update && apt-get install -y x"
    assert err.log_tail[-1] == "E: Unable to locate package x"
    assert err.hint and "apt" in err.hint
    assert events[-1] == BuildFinished(ok=False, detail=err.message)


def test_classic_parser_keeps_only_the_last_20_lines() -> None:
    parser = ClassicStreamParser()
    parser.feed({"stream": "Step 1/1 : RUN seq 100\n"})
    parser.feed({"stream": "".join(f"{i}\n" for i in range(100))})
    with pytest.raises(BuildError) as caught:
        parser.feed({"error": "The command '/bin/sh -c seq 100' returned a non-zero code: 1"})
    assert caught.value.log_tail == [str(i) for i in range(80, 100)]
    assert caught.value.command == "seq 100"


@pytest.mark.parametrize(
    ("message", "command"),
    [
        ("The command '/bin/sh -c make -j4' returned a non-zero code: 2", "make -j4"),
        ("The command '/bin/bash -o pipefail -c set -x; a | b' returned a non-zero code: 1", "set -x; a | b"),
        ("The command '/bin/bash -eux -c pip install x' returned a non-zero code: 1", "pip install x"),
        ("The command 'python3 -c 1/0' returned a non-zero code: 1", "python3 -c 1/0"),
    ],
)
def test_command_is_taken_from_the_error_without_the_shell(message: str, command: str) -> None:
    parser = ClassicStreamParser()
    parser.feed({"stream": "Step 1/1 : RUN whatever\n"})
    with pytest.raises(BuildError) as caught:
        parser.feed({"error": message})
    assert caught.value.command == command


def test_classic_parser_missing_base_image_hint() -> None:
    parser = ClassicStreamParser()
    parser.feed({"stream": "Step 1/2 : FROM nvidia/cuda:12.0-gone\n"})
    with pytest.raises(BuildError) as caught:
        parser.feed({"error": "manifest for nvidia/cuda:12.0-gone not found: manifest unknown"})
    assert caught.value.command is None
    assert caught.value.hint and "base image" in caught.value.hint


def test_classic_parser_without_image_id_fails() -> None:
    with pytest.raises(BuildError):
        ClassicStreamParser().finish()


# ------------------------------------------------------------------ BuildKit plain output

BUILDKIT_OLD = """\
#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 120B done
#1 DONE 0.0s

#4 [1/3] FROM docker.io/library/base
#4 CACHED

#5 [2/3] RUN --mount=type=cache,target=/var/cache/apt apt-get update
#5 0.301 Get:1 http://archive/debian bookworm InRelease
#5 1.002 Reading package lists...
#5 DONE 1.1s

#6 [3/3] RUN echo hi; exit 3
#6 0.210 hi
#6 ERROR: executor failed running [/bin/sh -c echo hi; exit 3]: exit code: 3
------
 > [3/3] RUN echo hi; exit 3:
#6 0.210 hi
------
executor failed running [/bin/sh -c echo hi; exit 3]: exit code: 3
"""

BUILDKIT_NEW_ERROR = """\
#7 [stage-1 2/2] RUN --mount=type=cache,target=/root/.cache pip install nope
#7 0.9 ERROR: No matching distribution found for nope
#7 ERROR: process "/bin/sh -c pip install nope" did not complete successfully: exit code: 1
ERROR: failed to solve: process "/bin/sh -c pip install nope" did not complete successfully
"""


def test_buildkit_parser_steps_lines_and_error() -> None:
    events = Recorder()
    parser = PlainBuildKitParser(events)
    for line in BUILDKIT_OLD.splitlines(keepends=True):
        parser.feed(line)
    steps = [e for e in events if isinstance(e, StepStarted)]
    assert [s.label for s in steps] == [
        "Step 1/3 : FROM docker.io/library/base",
        "Step 2/3 : RUN --mount=type=cache,target=/var/cache/apt apt-get update",
        "Step 3/3 : RUN echo hi; exit 3",
    ]
    assert LogLine("Reading package lists...") in events
    err = parser.error(1)
    assert err.step == "Step 3/3 : RUN echo hi; exit 3"
    assert err.command == "echo hi; exit 3"
    assert err.log_tail == ["hi"]
    assert "exit code: 3" in err.message


def test_buildkit_parser_newer_format_and_named_stage() -> None:
    parser = PlainBuildKitParser()
    for line in BUILDKIT_NEW_ERROR.splitlines():
        parser.feed(line)
    err = parser.error(1)
    assert err.step == "Step 2/2 : RUN --mount=type=cache,target=/root/.cache pip install nope"
    assert err.command == "pip install nope"
    assert err.log_tail == ["ERROR: No matching distribution found for nope"]


def test_buildkit_parser_reads_padded_step_numbers() -> None:
    """From ten steps on, BuildKit writes `[ 5/11]`; those steps were lost (no progress line,
    no CACHED, no failing step named)."""
    events = Recorder()
    parser = PlainBuildKitParser(events)
    for line in ("#8 [ 5/11] RUN echo pf4", "#8 CACHED", "#13 [10/11] RUN echo pf9"):
        parser.feed(line)
    steps = [e.label for e in events if isinstance(e, StepStarted)]
    assert steps == ["Step 5/11 : RUN echo pf4", "Step 10/11 : RUN echo pf9"]
    assert LogLine("CACHED") in events


def test_buildkit_parser_error_without_steps() -> None:
    parser = PlainBuildKitParser()
    parser.feed("ERROR: failed to solve: failed to read dockerfile: open Dockerfile: no such file")
    err = parser.error(1)
    assert err.step is None and "failed to read dockerfile" in err.message


def test_cli_builder_argv(tmp_path: Path) -> None:
    builder = CliBuilder(["docker", "build"])
    argv = builder._argv(["a:1", "b:2"], tmp_path / "iid", True, True, "host", {"Z": "1", "A": "2"})
    assert argv == [
        "docker",
        "build",
        "--progress=plain",
        "--iidfile",
        str(tmp_path / "iid"),
        "--tag",
        "a:1",
        "--tag",
        "b:2",
        "--build-arg",
        "A=2",
        "--build-arg",
        "Z=1",
        "--no-cache",
        "--pull",
        "--network",
        "host",
        "-",
    ]


def dockerfile_context(text: str) -> ContextTar:
    return ContextTar.from_entries({"Dockerfile": ContextEntry(text.encode())})


def test_cli_builder_with_a_failing_command_raises_build_error() -> None:
    context = dockerfile_context("FROM scratch\n")
    script = "cat >/dev/null; printf '%s\\n' \"#2 [1/1] RUN x\" '#2 0.1 boom'; exit 1"
    builder = CliBuilder(["sh", "-c", script, "fake-docker"])
    with pytest.raises(BuildError) as caught:
        builder.build(BuildRequest(context, ("t:1",)))
    assert caught.value.step == "Step 1/1 : RUN x"
    assert caught.value.log_tail == ["boom"]


# ------------------------------------------------------------------ errors


def test_translate_missing_socket() -> None:
    cause = requests.ConnectionError(
        "('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"
    )
    exc = docker.errors.DockerException(f"Error while fetching server API version: {cause}")
    exc.__cause__ = cause
    err = translate_docker_error(exc, base_url="unix:///run/x.sock")
    assert isinstance(err, DockerUnavailableError)
    assert err.message == "no Docker engine socket at /run/x.sock"
    assert err.hint and "docker info" in err.hint


def test_translate_permission_denied() -> None:
    inner = PermissionError(13, "Permission denied")
    exc = requests.ConnectionError(("Connection aborted.", inner))
    err = translate_docker_error(exc)
    assert isinstance(err, DockerUnavailableError)
    assert "/var/run/docker.sock" in err.message
    assert err.hint and "sudo usermod -aG docker $USER" in err.hint and "log" in err.hint


def test_translate_refused_and_timeout() -> None:
    refused = translate_docker_error(ConnectionRefusedError(111, "Connection refused"))
    assert "refused" in refused.message and isinstance(refused, DockerUnavailableError)
    slow = translate_docker_error(requests.ReadTimeout("Read timed out. (read timeout=60)"))
    assert "did not answer" in slow.message


def api_error(status: int, cls: type[docker.errors.APIError], text: str) -> Exception:
    response = requests.Response()
    response.status_code = status
    return cls("x", response=response, explanation=text)


def test_translate_not_found_and_other_api_errors() -> None:
    missing = translate_docker_error(api_error(404, docker.errors.ImageNotFound, "No such image: a:b"))
    assert isinstance(missing, ImageNotFoundError) and "No such image: a:b" in missing.message
    other = translate_docker_error(api_error(500, docker.errors.APIError, "disk full"))
    assert type(other) is DockerEngineError and "disk full" in other.message


def test_translate_passes_envspec_errors_through() -> None:
    original = EnvspecError("x")
    assert translate_docker_error(original) is original


def test_importing_the_builder_layer_does_not_import_docker() -> None:
    code = (
        "import sys, envspec.build, envspec.engine, envspec.push, envspec.progress, "
        "envspec.runtime; print('docker' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("args", [["--help"], ["validate", "{spec}"], ["render", "{spec}"]])
def test_commands_that_build_nothing_do_not_import_docker(args: list[str]) -> None:
    from tests.conftest import REPO

    spec = str(REPO / "examples" / "cpu-debian" / "env.yaml")
    argv = [a.format(spec=spec) for a in args]
    code = (
        "import sys; from envspec.cli import _register_commands, cli; _register_commands(); "
        f"cli.main({argv!r}, standalone_mode=False); print('docker' in sys.modules, file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip().splitlines()[-1] == "False"


# ------------------------------------------------------------------ identity and no-op path


def test_split_ref() -> None:
    assert split_ref("127.0.0.1:5000/a/b:t") == ("127.0.0.1:5000/a/b", "t")
    assert split_ref("127.0.0.1:5000/a/b") == ("127.0.0.1:5000/a/b", None)
    assert split_ref("a") == ("a", None)
    assert split_ref("a@sha256:00") == ("a@sha256:00", None)


def test_image_tag_is_content_addressed() -> None:
    context = dockerfile_context("FROM x\n")
    tag = image_tag(context, "My Env_1")
    assert tag.startswith("envspec/my-env_1:") and len(tag.split(":")[1]) == 12
    assert image_tag(context, "My Env_1") == tag
    assert image_tag(context, "my-env_1", build_args={"A": "1"}) != tag
    assert image_tag(context, "my-env_1", build_args={"https_proxy": "http://p:3128"}) == tag
    assert image_tag(dockerfile_context("FROM y\n"), "My Env_1") != tag


def test_image_tag_depends_on_the_envspec_version(monkeypatch: pytest.MonkeyPatch) -> None:
    context = dockerfile_context("FROM x\n")
    before = image_tag(context, "e")
    monkeypatch.setattr("envspec.build.request.__version__", "999.0")
    assert image_tag(context, "e") != before


def test_proxy_build_args_come_from_the_environment_and_stay_out_of_the_tag() -> None:
    from envspec.build import PROXY_BUILD_ARGS, proxy_build_args

    env = {"HTTPS_PROXY": "http://p:3128", "no_proxy": "localhost", "HOME": "/root"}
    assert proxy_build_args(env) == {"HTTPS_PROXY": "http://p:3128", "no_proxy": "localhost"}
    assert set(proxy_build_args(env)) <= PROXY_BUILD_ARGS
    context = dockerfile_context("FROM x\n")
    assert image_tag(context, "e", build_args=proxy_build_args(env)) == image_tag(context, "e")


class FakeClient:
    def __init__(self, images: Mapping[str, str]) -> None:
        self.images = dict(images)
        self.tagged: list[tuple[str, str, str]] = []

    def inspect_image(self, ref: str) -> dict[str, str]:
        if ref not in self.images:
            raise api_error(404, docker.errors.ImageNotFound, f"No such image: {ref}")
        return {"Id": self.images[ref]}

    def tag(self, image: str, repository: str, tag: str) -> bool:
        self.tagged.append((image, repository, tag))
        return True


def fake_engine(images: Mapping[str, str]) -> tuple[Engine, FakeClient]:
    client = FakeClient(images)
    return Engine(client), client  # type: ignore[arg-type]


class FakeBuilder:
    def __init__(self) -> None:
        self.calls: list[BuildRequest] = []

    def build(self, request: BuildRequest, on_event: Any = None) -> BuildResult:
        self.calls.append(request)
        return BuildResult("sha256:new", request.tags)


def test_build_if_needed_does_not_call_the_builder_for_an_existing_tag() -> None:
    request = BuildRequest.for_content(
        dockerfile_context("FROM x\n"), "env", extra_tags=["me/env:latest"]
    )
    tag = request.tags[0]
    (engine, client), builder, events = fake_engine({tag: "sha256:old"}), FakeBuilder(), Recorder()
    outcome = build_if_needed(engine, builder, request, on_event=events)
    assert not outcome.built and builder.calls == []
    assert outcome.result == BuildResult("sha256:old", (tag, "me/env:latest"))
    assert client.tagged == [("sha256:old", "me/env", "latest")]
    assert isinstance(events[-1], BuildFinished) and "up to date" in events[-1].detail


def test_build_if_needed_builds_a_missing_tag_and_when_forced() -> None:
    context = dockerfile_context("FROM x\n")
    request = BuildRequest.for_content(context, "env")
    tag = image_tag(context, "env")
    assert request.tags == (tag,)
    builder = FakeBuilder()
    assert build_if_needed(fake_engine({})[0], builder, request).built
    assert builder.calls == [request]
    assert builder.calls[0].context.data == context.data  # the builder gets the same bytes
    forced = BuildRequest.for_content(context, "env", no_cache=True)
    assert build_if_needed(fake_engine({tag: "sha256:old"})[0], builder, forced).built
    assert len(builder.calls) == 2


def test_docker_py_builder_sends_the_request_as_it_is() -> None:
    """The classic builder gets the context tar's exact bytes and every option of the request."""
    from envspec.build import DockerPyBuilder

    class BuildingClient(FakeClient):
        def build(self, **kwargs: Any) -> Any:
            self.kwargs = kwargs
            return iter([{"stream": "Step 1/1 : FROM x\n"}, {"aux": {"ID": "sha256:built"}}])

    client = BuildingClient({})
    context = dockerfile_context("FROM x\n")
    request = BuildRequest(context, ("a:1", "b:2"), no_cache=True, pull=True, network="host",
                           build_args={"A": "1"})
    result = DockerPyBuilder(Engine(client)).build(request)  # type: ignore[arg-type]
    assert result == BuildResult("sha256:built", ("a:1", "b:2"))
    assert client.kwargs["fileobj"].getvalue() == context.data
    assert (client.kwargs["tag"], client.kwargs["nocache"], client.kwargs["pull"]) == ("a:1", True, True)
    assert (client.kwargs["network_mode"], client.kwargs["buildargs"]) == ("host", {"A": "1"})
    assert client.tagged == [("sha256:built", "b", "2")]


# ------------------------------------------------------------------ progress displays


def test_plain_progress_lines() -> None:
    out = io.StringIO()
    with PlainProgress(out) as show:
        show(StepStarted(2, 5, "RUN make"))
        show(LogLine("cc -o x x.c"))
        show(BuildFinished(ok=True, detail="sha256:1", tags=("a:1",)))
    assert out.getvalue() == "Step 2/5 : RUN make\n  cc -o x x.c\ndone: sha256:1\n  tagged a:1\n"


def test_rich_progress_shows_step_and_tail() -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    show = RichProgress(console, tail_lines=3)
    show(StepStarted(1, 2, "FROM base"))
    show(StepStarted(2, 2, "RUN seq 10"))
    for i in range(10):
        show(LogLine(f"line {i}"))
    rendered = Console(file=io.StringIO(), width=100)
    rendered.print(show._render())
    text = rendered.file.getvalue()  # type: ignore[attr-defined]
    assert "Step 2/2 : RUN seq 10" in text
    assert "line 9" in text and "line 7" in text and "line 6" not in text
    show(BuildFinished(ok=True, detail="sha256:1"))
    show.close()
    assert "Step 1/2 : FROM base" in console.file.getvalue()  # type: ignore[attr-defined]


def test_open_progress_picks_plain_for_pipes() -> None:
    assert isinstance(open_progress("auto", io.StringIO()), PlainProgress)
    assert isinstance(open_progress("plain", io.StringIO()), PlainProgress)
    rich = open_progress("rich", io.StringIO())
    assert isinstance(rich, RichProgress)
    rich.close()


# ------------------------------------------------------------------ push stream


class FakePushClient:
    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks
        self.tagged: list[tuple[str, str, str]] = []

    def tag(self, image: str, repository: str, tag: str) -> bool:
        self.tagged.append((image, repository, tag))
        return True

    def push(self, repository: str, **kwargs: Any) -> Any:
        return iter(self.chunks)


DIGEST = "sha256:" + "0f" * 32


def test_push_returns_the_reported_digest_and_streams_status() -> None:
    client = FakePushClient(
        [
            {"status": "The push refers to repository [r:5000/x]"},
            {"status": "Pushing", "id": "abc", "progressDetail": {"current": 1}},
            {"status": "Pushing", "id": "abc", "progressDetail": {"current": 2}},
            {"status": "Pushed", "id": "abc"},
            {"status": f"v1: digest: {DIGEST} size: 528"},
            {"aux": {"Tag": "v1", "Digest": DIGEST, "Size": 528}},
        ]
    )
    events = Recorder()
    assert push(Engine(client), "envspec/x:v1", "r:5000/x", on_event=events) == DIGEST  # type: ignore[arg-type]
    assert client.tagged == [("envspec/x:v1", "r:5000/x", "v1")]
    assert [e.text for e in events if isinstance(e, LogLine)].count("abc: Pushing") == 1
    assert events[-1] == BuildFinished(ok=True, detail=f"r:5000/x:v1@{DIGEST}", tags=("r:5000/x:v1",))


def test_push_error_is_typed_with_a_hint() -> None:
    client = FakePushClient(
        [
            {
                "errorDetail": {"message": "unauthorized: authentication required"},
                "error": "unauthorized: authentication required",
            }
        ]
    )
    with pytest.raises(PushError) as caught:
        push(Engine(client), "envspec/x:v1", "registry.example:5000/team/x:prod")  # type: ignore[arg-type]
    assert client.tagged == [("envspec/x:v1", "registry.example:5000/team/x", "prod")]
    assert caught.value.hint and "docker login registry.example:5000" in caught.value.hint


def test_push_without_digest_is_an_error() -> None:
    with pytest.raises(PushError):
        push(Engine(FakePushClient([{"status": "Pushed", "id": "a"}])), "a:1", "r:5000/a")  # type: ignore[arg-type]
