"""Building images: connecting to the engine, the Builder protocol and its two implementations.

- `DockerPyBuilder` streams a deterministic tar of the context to the engine's classic builder
  through docker-py's low-level `APIClient.build` (no BuildKit syntax such as `RUN --mount`).
- `CliBuilder` runs `docker build` with BuildKit (`DOCKER_BUILDKIT=1`, or `docker buildx build
  --load` where that plugin exists) for Dockerfiles that use cache mounts.

Both report progress only through the `on_event` callback (see `envspec.progress`) and raise
`BuildError` with the failing step, its command and the last lines of its output. Images are
tagged by content (`image_tag`), so `build_if_needed` can skip the builder for an unchanged
context. docker-py is imported lazily: `envspec --help` must not pay for it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import tempfile
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from envspec import __version__
from envspec.context_tar import deterministic_tar
from envspec.errors import BuildError, DockerUnavailableError, EnvspecError, ExitCode
from envspec.progress import (
    BuildEvent,
    BuildFinished,
    EventCallback,
    LogLine,
    StepStarted,
    ignore_event,
)

if TYPE_CHECKING:
    from docker import APIClient

__all__ = [
    "BuildError",
    "BuildEvent",
    "BuildOutcome",
    "BuildResult",
    "Builder",
    "ClassicStreamParser",
    "CliBuilder",
    "DockerEngineError",
    "DockerPyBuilder",
    "DockerUnavailableError",
    "ImageNotFoundError",
    "PlainBuildKitParser",
    "build_if_needed",
    "connect",
    "find_buildkit_cli",
    "image_exists",
    "image_tag",
    "split_ref",
    "translate_docker_error",
]

LOG_TAIL_LINES = 20
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
_HINT_CHECK_DAEMON = (
    "check the engine with `docker info`; start it with `sudo systemctl start docker` "
    "(or `sudo dockerd &` where there is no systemd); if it listens elsewhere, set DOCKER_HOST"
)


class DockerEngineError(EnvspecError):
    """The engine answered, but refused or failed a request (other than the build itself)."""

    exit_code = ExitCode.BUILD_FAILED


class ImageNotFoundError(DockerEngineError):
    """An image (or container) that the command needs is not in the engine."""


# --------------------------------------------------------------------------- connecting


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """exc, its causes and contexts, and exceptions nested in args (requests → urllib3 → OS)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(a for a in current.args if isinstance(a, BaseException))
    return seen


def _socket_path(where: str) -> str:
    return where.removeprefix("unix://") if where.startswith("unix://") else where


def translate_docker_error(exc: BaseException, *, base_url: str | None = None) -> EnvspecError:
    """Turn a docker-py / requests / OS error into a typed envspec error with a hint."""
    if isinstance(exc, EnvspecError):
        return exc
    where = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
    api_error = _translate_api_error(exc)
    if api_error is not None:
        return api_error
    chain = _exception_chain(exc)
    text = " | ".join(str(e) for e in chain)

    def has(kind: type[BaseException], words: str) -> bool:
        return any(isinstance(e, kind) for e in chain) or words in text

    if has(PermissionError, "Permission denied"):
        return DockerUnavailableError(
            f"permission denied on the Docker socket {_socket_path(where)}",
            hint="let your user talk to the engine: `sudo usermod -aG docker $USER`, then log "
            "out and back in (or run `newgrp docker`); check with `docker info`",
        )
    if has(FileNotFoundError, "No such file or directory"):
        return DockerUnavailableError(
            f"no Docker engine socket at {_socket_path(where)}", hint=_HINT_CHECK_DAEMON
        )
    if has(ConnectionRefusedError, "Connection refused"):
        return DockerUnavailableError(
            f"the Docker engine at {where} refused the connection (is the daemon running?)",
            hint=_HINT_CHECK_DAEMON,
        )
    if has(TimeoutError, "timed out"):
        return DockerUnavailableError(
            f"the Docker engine at {where} did not answer in time", hint=_HINT_CHECK_DAEMON
        )
    return DockerUnavailableError(
        f"cannot talk to the Docker engine at {where}: {exc}", hint=_HINT_CHECK_DAEMON
    )


def _translate_api_error(exc: BaseException) -> EnvspecError | None:
    errors = _docker_errors_module()
    if errors is None or not isinstance(exc, errors.APIError):
        return None
    explanation = str(getattr(exc, "explanation", None) or exc)
    if isinstance(exc, errors.NotFound):
        return ImageNotFoundError(
            f"not found in the Docker engine: {explanation}",
            hint="list what is there with `docker images`; build the image first",
        )
    return DockerEngineError(f"the Docker engine refused the request: {explanation}")


def _docker_errors_module() -> Any:
    try:
        import docker.errors
    except ImportError:  # pragma: no cover - docker is a hard dependency
        return None
    return docker.errors


def connect(base_url: str | None = None, *, timeout: int = 60) -> APIClient:
    """A docker-py low-level client that has answered a ping.

    `base_url` defaults to DOCKER_HOST (and the other DOCKER_* variables) or the local socket.
    Any failure becomes `DockerUnavailableError` with a hint, never a traceback.
    """
    try:
        import docker
    except ImportError as exc:  # pragma: no cover - docker is a hard dependency
        raise DockerUnavailableError(
            "the Python package `docker` is not installed", hint="pip install 'docker>=7'"
        ) from exc
    try:
        kwargs: dict[str, Any] = {"base_url": base_url} if base_url else docker.utils.kwargs_from_env()
        client = docker.APIClient(version="auto", timeout=timeout, **kwargs)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise translate_docker_error(exc, base_url=base_url) from exc
    return client


# --------------------------------------------------------------------------- identity


def split_ref(ref: str) -> tuple[str, str | None]:
    """("127.0.0.1:5000/a/b", "tag") from "127.0.0.1:5000/a/b:tag"; the tag is None if absent."""
    if "@" in ref:
        return ref, None
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, None


# Docker's predefined ARGs: usable in RUN, kept out of `docker history` and of the image.
PROXY_BUILD_ARGS = frozenset(
    v
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for v in (name, name.lower())
)
_NAME_OK = re.compile(r"[^a-z0-9._-]+")


def image_tag(context_dir: Path, name: str, *, build_args: Mapping[str, str] | None = None) -> str:
    """`envspec/<name>:<12 hex>` where the hex is sha256(context tar + envspec version).

    Build arguments, when given, are hashed too (they change the image), except Docker's
    predefined proxy arguments, which stay out of the image and differ per machine. `name` is
    lowered and anything Docker does not accept in a repository name becomes `-`.
    """
    digest = hashlib.sha256(deterministic_tar(context_dir))
    digest.update(__version__.encode())
    relevant = {k: v for k, v in (build_args or {}).items() if k not in PROXY_BUILD_ARGS}
    if relevant:
        digest.update(json.dumps(dict(sorted(relevant.items()))).encode())
    clean = _NAME_OK.sub("-", name.lower()).strip("._-") or "env"
    return f"envspec/{clean}:{digest.hexdigest()[:12]}"


def image_exists(client: APIClient, tag: str) -> bool:
    """Whether the engine has an image under `tag` (no registry is asked)."""
    return _image_id(client, tag) is not None


def _image_id(client: APIClient, tag: str) -> str | None:
    import docker.errors

    try:
        return str(client.inspect_image(tag)["Id"])
    except docker.errors.ImageNotFound:
        return None
    except (docker.errors.DockerException, OSError) as exc:
        raise translate_docker_error(exc) from exc


def _tag(client: APIClient, image_id: str, ref: str) -> None:
    import docker.errors

    repository, tag = split_ref(ref)
    try:
        client.tag(image_id, repository, tag or "latest")
    except (docker.errors.DockerException, OSError) as exc:
        raise translate_docker_error(exc) from exc


# --------------------------------------------------------------------------- protocol


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tags: tuple[str, ...]


class Builder(Protocol):
    """Builds a context directory (with its Dockerfile at the top) into a tagged image."""

    def build(
        self,
        context_dir: Path,
        tags: Sequence[str],
        *,
        no_cache: bool = False,
        pull: bool = False,
        network: str | None = None,
        build_args: Mapping[str, str] | None = None,
        on_event: EventCallback = ignore_event,
    ) -> BuildResult: ...


@dataclass(frozen=True)
class BuildOutcome:
    """What `build_if_needed` did: `built` is False when the tag already existed."""

    result: BuildResult
    tag: str
    built: bool


def build_if_needed(
    client: APIClient,
    builder: Builder,
    context_dir: Path,
    name: str,
    *,
    extra_tags: Sequence[str] = (),
    no_cache: bool = False,
    pull: bool = False,
    network: str | None = None,
    build_args: Mapping[str, str] | None = None,
    on_event: EventCallback = ignore_event,
    tag: str | None = None,
) -> BuildOutcome:
    """Build the context under its content tag unless an image with that tag already exists
    (then only `extra_tags` are applied, and the builder is not called). `no_cache` forces a
    build."""
    tag = tag or image_tag(context_dir, name, build_args=build_args)  # callers may have it already
    tags = (tag, *extra_tags)
    existing = None if no_cache else _image_id(client, tag)
    if existing is not None:
        for extra in extra_tags:
            _tag(client, existing, extra)
        on_event(BuildFinished(ok=True, detail=f"{tag} is up to date ({existing[:19]})", tags=tags))
        return BuildOutcome(BuildResult(existing, tags), tag, built=False)
    result = builder.build(
        context_dir,
        tags,
        no_cache=no_cache,
        pull=pull,
        network=network,
        build_args=build_args,
        on_event=on_event,
    )
    return BuildOutcome(result, tag, built=True)


# --------------------------------------------------------------------------- stream parsing

_COMMAND_PATTERNS = (
    # classic builder: The command '/bin/sh -c apt-get …' returned a non-zero code: 100
    re.compile(r"The command '(?P<cmd>.*)' returned a non-zero code", re.S),
    # BuildKit 0.8: executor failed running [/bin/sh -c apt-get …]: exit code: 100
    re.compile(r"failed running \[(?P<cmd>.*)\]: exit code", re.S),
    # BuildKit ≥0.11: process "/bin/sh -c apt-get …" did not complete successfully
    re.compile(r'process "(?P<cmd>.*)" did not complete successfully', re.S),
)
# The SHELL prefix of a shell-form RUN: `/bin/sh -c`, `/bin/bash -o pipefail -c`, …
_SHELL_PREFIX = re.compile(r"^/\S*sh(?:\s+-[^c\s]\S*(?:\s+[a-z]+)?)*\s+-c\s+", re.S)


def _command_of(error: str, step_title: str | None) -> str | None:
    for pattern in _COMMAND_PATTERNS:
        match = pattern.search(error)
        if match:
            return _SHELL_PREFIX.sub("", match.group("cmd").strip(), count=1)
    if step_title and step_title.upper().startswith("RUN "):
        words = step_title[4:].strip()
        while words.startswith("--"):  # RUN --mount=… --network=… command
            words = words.partition(" ")[2].lstrip()
        return words or None
    return None


def _hint_for(error: str, step_title: str | None) -> str | None:
    title = (step_title or "").upper()
    if title.startswith("FROM ") and any(
        word in error for word in ("pull access denied", "not found", "manifest unknown")
    ):
        return (
            "the base image is neither in the local engine nor pullable: check its name, "
            "or load it first (`docker load`/`docker import`)"
        )
    if ("apt-get" in error or "apt-get" in title) and "code: 100" in error:
        return (
            "apt failed: a package name may not exist in this release, or the archive "
            "(or the configured mirror/proxy) is unreachable; see the output above"
        )
    if "returned a non-zero code" in error or "exit code" in error:
        return "the command failed inside the build; its last lines of output are shown above"
    return None


_CLASSIC_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_CLASSIC_NOISE = re.compile(
    r"^( ---> (Running in |[0-9a-f]{12}$)|Removing intermediate container |Successfully tagged )"
)
_CLASSIC_BUILT = re.compile(r"^Successfully built ([0-9a-f]+)$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # the classic builder paints stderr red


@dataclass
class ClassicStreamParser:
    """Turns the JSON chunks of the engine's classic builder into events; raises BuildError."""

    on_event: EventCallback = ignore_event
    image_id: str | None = None
    step: StepStarted | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))
    _pending: str = ""

    def feed(self, chunk: Mapping[str, Any]) -> None:
        if "stream" in chunk:
            self._text(str(chunk["stream"]))
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and "ID" in aux:
            self.image_id = str(aux["ID"])
        if "status" in chunk:  # pulling a base image with pull=True
            status = " ".join(str(chunk[k]) for k in ("id", "status") if chunk.get(k))
            self.on_event(LogLine(status))
        if "errorDetail" in chunk or "error" in chunk:
            detail = chunk.get("errorDetail") or {}
            message = str(detail.get("message") or chunk.get("error") or "build failed")
            self._flush()
            raise self.error(message.strip())

    def error(self, message: str) -> BuildError:
        title = self.step.title if self.step else None
        self.on_event(BuildFinished(ok=False, detail=message))
        return BuildError(
            message,
            step=self.step.label if self.step else None,
            command=_command_of(message, title),
            log_tail=list(self.tail),
            hint=_hint_for(message, title),
        )

    def finish(self) -> str:
        self._flush()
        if not self.image_id:
            raise self.error("the engine ended the build without reporting an image id")
        return self.image_id

    def _text(self, text: str) -> None:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._line(line.rstrip("\r"))

    def _flush(self) -> None:
        if self._pending:
            self._line(self._pending.rstrip("\r"))
            self._pending = ""

    def _line(self, line: str) -> None:
        line = _ANSI.sub("", line)
        if not line.strip():
            return
        step = _CLASSIC_STEP.match(line)
        if step:
            self.step = StepStarted(int(step[1]), int(step[2]), step[3].strip())
            self.tail.clear()
            self.on_event(self.step)
            return
        built = _CLASSIC_BUILT.match(line)
        if built:
            self.image_id = self.image_id or built[1]
            return
        if _CLASSIC_NOISE.match(line):
            return
        text = line.removeprefix(" ---> ").strip() if line.startswith(" ---> ") else line
        self.tail.append(text)
        self.on_event(LogLine(text))


_BK_STEP = re.compile(r"^#(\d+) \[(?:[^\]\s]+ )?(\d+)/(\d+)\] (.*)$")
_BK_OUTPUT = re.compile(r"^#(\d+) \d+\.\d+ (.*)$")
_BK_ERROR = re.compile(r"^#(\d+) ERROR:? (.*)$")
_BK_CACHED = re.compile(r"^#(\d+) CACHED$")


@dataclass
class PlainBuildKitParser:
    """Turns `docker build --progress=plain` (BuildKit) lines into events."""

    on_event: EventCallback = ignore_event
    steps: dict[str, StepStarted] = field(default_factory=dict)
    tails: dict[str, deque[str]] = field(default_factory=dict)
    current: str | None = None
    failed: str | None = None
    error_line: str | None = None
    last_lines: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if not line.strip():
            return
        self.last_lines.append(line)
        if match := _BK_STEP.match(line):
            vertex = match[1]
            if vertex not in self.steps:
                self.steps[vertex] = StepStarted(int(match[2]), int(match[3]), match[4].strip())
                self.tails[vertex] = deque(maxlen=LOG_TAIL_LINES)
                self.on_event(self.steps[vertex])
            self.current = vertex
        elif match := _BK_OUTPUT.match(line):
            # After an ERROR, BuildKit repeats the failed step's output in a summary: skip it.
            if match[1] in self.tails and self.failed is None:
                self.tails[match[1]].append(match[2])
                self.on_event(LogLine(match[2]))
        elif match := _BK_ERROR.match(line):
            self.failed = match[1]
            self.error_line = match[2].strip()
        elif _BK_CACHED.match(line):
            if line.split()[0][1:] in self.steps:
                self.on_event(LogLine("CACHED"))
        elif line.lower().startswith(("error:", "error ")) and self.error_line is None:
            self.error_line = line.split(":", 1)[1].strip() if ":" in line else line

    def error(self, returncode: int) -> BuildError:
        vertex = self.failed or self.current or ""
        step = self.steps.get(vertex)
        message = self.error_line or f"docker build exited with code {returncode}"
        tail = self.tails.get(vertex)
        self.on_event(BuildFinished(ok=False, detail=message))
        title = step.title if step else None
        return BuildError(
            message,
            step=step.label if step else None,
            command=_command_of(message, title) if step else None,
            log_tail=list(tail if tail else self.last_lines),
            hint=_hint_for(message, title),
        )


# --------------------------------------------------------------------------- builders


class DockerPyBuilder:
    """The engine's classic builder through docker-py's low-level API, fed a deterministic tar.

    Intermediate containers are removed even when a step fails (`forcerm`).
    """

    def __init__(self, client: APIClient | None = None, *, base_url: str | None = None) -> None:
        self._client = client
        self._base_url = base_url

    @property
    def client(self) -> APIClient:
        if self._client is None:
            self._client = connect(self._base_url)
        return self._client

    def build(
        self,
        context_dir: Path,
        tags: Sequence[str],
        *,
        no_cache: bool = False,
        pull: bool = False,
        network: str | None = None,
        build_args: Mapping[str, str] | None = None,
        on_event: EventCallback = ignore_event,
    ) -> BuildResult:
        import docker.errors

        tar = deterministic_tar(Path(context_dir))
        parser = ClassicStreamParser(on_event)
        try:
            stream = self.client.build(
                fileobj=io.BytesIO(tar),
                custom_context=True,
                tag=tags[0] if tags else None,
                rm=True,
                forcerm=True,
                decode=True,
                nocache=no_cache,
                pull=pull,
                network_mode=network,
                buildargs=dict(build_args or {}),
            )
            for chunk in stream:
                parser.feed(chunk)
            image_id = parser.finish()
            for extra in tags[1:]:
                _tag(self.client, image_id, extra)
        except (docker.errors.DockerException, OSError) as exc:
            raise translate_docker_error(exc, base_url=self._base_url) from exc
        on_event(BuildFinished(ok=True, detail=image_id, tags=tuple(tags)))
        return BuildResult(image_id, tuple(tags))


def _docker_cli_version(binary: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except OSError:
        return None
    match = re.search(r"version (\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2])) if match else None


def _has_buildx(binary: str) -> bool:
    try:
        done = subprocess.run([binary, "buildx", "version"], capture_output=True, timeout=20, check=False)
    except OSError:
        return False
    return done.returncode == 0


def _docker_binaries() -> list[str]:
    found: list[str] = []
    for directory in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin"]:
        candidate = os.path.join(directory or ".", "docker")
        real = os.path.realpath(candidate)
        if os.access(candidate, os.X_OK) and real not in map(os.path.realpath, found):
            found.append(candidate)
    return found


@lru_cache(maxsize=1)
def find_buildkit_cli() -> tuple[str, ...]:
    """The command prefix that builds with BuildKit: `docker buildx build --load` where the
    plugin exists, else the first `docker` (on PATH, then /usr/bin) older than 23.0, whose
    `build` still has BuildKit built in (newer clients need buildx for DOCKER_BUILDKIT=1)."""
    binaries = _docker_binaries()
    if not binaries:
        raise DockerUnavailableError(
            "no `docker` command line found",
            hint="install the Docker CLI (docker-ce-cli or docker.io)",
        )
    for binary in binaries:
        if _has_buildx(binary):
            return (binary, "buildx", "build", "--load")
    for binary in binaries:
        version = _docker_cli_version(binary)
        if version is not None and version < (23, 0):
            return (binary, "build")
    raise DockerUnavailableError(
        "BuildKit builds need the buildx plugin, which none of " + ", ".join(binaries) + " has",
        hint="install docker-buildx (Debian/Ubuntu) or docker-buildx-plugin (Docker's "
        "packages), or build with the default builder",
    )


class CliBuilder:
    """`docker build` with BuildKit, via a subprocess; opt-in (`--builder buildkit`).

    The context goes in on stdin as the same deterministic tar the other builder sends.
    """

    def __init__(self, command: Sequence[str] | None = None, *, base_url: str | None = None):
        self._command = tuple(command) if command else None
        self._base_url = base_url

    def build(
        self,
        context_dir: Path,
        tags: Sequence[str],
        *,
        no_cache: bool = False,
        pull: bool = False,
        network: str | None = None,
        build_args: Mapping[str, str] | None = None,
        on_event: EventCallback = ignore_event,
    ) -> BuildResult:
        tar = deterministic_tar(Path(context_dir))
        with tempfile.TemporaryDirectory(prefix="envspec-build-") as tmp:
            iidfile = Path(tmp) / "iid"
            argv = self._argv(tags, iidfile, no_cache, pull, network, build_args or {})
            parser = PlainBuildKitParser(on_event)
            returncode = self._run(argv, tar, parser, Path(tmp) / "context.tar")
            if returncode != 0:
                raise parser.error(returncode)
            image_id = iidfile.read_text().strip() if iidfile.exists() else ""
        if not image_id:
            raise parser.error(returncode)
        on_event(BuildFinished(ok=True, detail=image_id, tags=tuple(tags)))
        return BuildResult(image_id, tuple(tags))

    def _argv(
        self,
        tags: Sequence[str],
        iidfile: Path,
        no_cache: bool,
        pull: bool,
        network: str | None,
        build_args: Mapping[str, str],
    ) -> list[str]:
        argv = [
            *(self._command or find_buildkit_cli()),
            "--progress=plain",
            "--iidfile",
            str(iidfile),
        ]
        argv += [arg for tag in tags for arg in ("--tag", tag)]
        argv += [a for k, v in sorted(build_args.items()) for a in ("--build-arg", f"{k}={v}")]
        argv += ["--no-cache"] * no_cache + ["--pull"] * pull
        argv += ["--network", network] if network else []
        return [*argv, "-"]

    def _run(self, argv: list[str], tar: bytes, parser: PlainBuildKitParser, spool: Path) -> int:
        env = {**os.environ, "DOCKER_BUILDKIT": "1", "BUILDKIT_PROGRESS": "plain"}
        if self._base_url:
            env["DOCKER_HOST"] = self._base_url
        spool.write_bytes(tar)
        try:
            with (
                spool.open("rb") as stdin,
                subprocess.Popen(
                    argv,
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    env=env,
                    text=True,
                    errors="replace",
                ) as proc,
            ):
                assert proc.stdout is not None
                for line in proc.stdout:
                    parser.feed(line)
                return proc.wait()
        except OSError as exc:
            raise DockerUnavailableError(
                f"cannot run {argv[0]}: {exc}", hint="install the Docker CLI"
            ) from exc
