"""The two builders. Both take one `BuildRequest`, send its `ContextTar` bytes as they are,
report progress only through `on_event` and raise `BuildError` on a failed step.

- `DockerPyBuilder`: the engine's classic builder, through `envspec.engine.Engine` (no BuildKit
  syntax such as `RUN --mount`). Intermediate containers are removed even when a step fails.
- `CliBuilder`: `docker build` with BuildKit (`DOCKER_BUILDKIT=1`, or `docker buildx build
  --load` where that plugin exists), for Dockerfiles that use cache mounts; opt-in.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envspec.build.parsers import ClassicStreamParser, PlainBuildKitParser
from envspec.build.request import BuildRequest, BuildResult
from envspec.errors import DockerUnavailableError
from envspec.progress import BuildFinished, EventCallback, ignore_event

if TYPE_CHECKING:
    from envspec.engine import Engine


class DockerPyBuilder:
    """The engine's classic builder, fed the request's context tar."""

    def __init__(self, engine: Engine | None = None, *, base_url: str | None = None) -> None:
        self._engine = engine
        self._base_url = base_url

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from envspec.engine import Engine

            self._engine = Engine.connect(self._base_url)
        return self._engine

    def build(self, request: BuildRequest, on_event: EventCallback = ignore_event) -> BuildResult:
        tags = request.tags
        parser = ClassicStreamParser(on_event)
        stream = self.engine.build(
            request.context.data, tag=tags[0] if tags else None, no_cache=request.no_cache,
            pull=request.pull, network=request.network, build_args=request.build_args,
        )
        try:
            for chunk in stream:
                parser.feed(chunk)
        except BaseException:  # Ctrl-C, SIGTERM, a lost engine: no step container stays behind
            self._remove_step_container(parser.running_container)
            raise
        image_id = parser.finish()
        for extra in tags[1:]:
            self.engine.tag(image_id, extra)
        on_event(BuildFinished(ok=True, detail=image_id, tags=tuple(tags)))
        return BuildResult(image_id, tuple(tags))

    def _remove_step_container(self, container: str | None) -> None:
        """Remove the container of the step that was running when the build stopped. The
        engine cancels the build once the client is gone, but only after this process ended;
        removing it here means that nothing is left when envspec exits."""
        if container is None:
            return
        from envspec.errors import EnvspecError

        with contextlib.suppress(EnvspecError):  # already removed, or the engine is gone
            self.engine.remove_container(container)


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

    The context goes in on stdin: the same tar the other builder sends.
    """

    def __init__(self, command: Sequence[str] | None = None, *, base_url: str | None = None):
        self._command = tuple(command) if command else None
        self._base_url = base_url

    def build(self, request: BuildRequest, on_event: EventCallback = ignore_event) -> BuildResult:
        tags = request.tags
        with tempfile.TemporaryDirectory(prefix="envspec-build-") as tmp:
            iidfile = Path(tmp) / "iid"
            argv = self._argv(tags, iidfile, request.no_cache, request.pull, request.network,
                              request.build_args)
            parser = PlainBuildKitParser(on_event)
            returncode = self._run(argv, request.context.data, parser, Path(tmp) / "context.tar")
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
                try:
                    for line in proc.stdout:
                        parser.feed(line)
                except BaseException:  # Ctrl-C or SIGTERM: the CLI must not build on alone
                    stop_process(proc)
                    raise
                return proc.wait()
        except OSError as exc:
            raise DockerUnavailableError(
                f"cannot run {argv[0]}: {exc}", hint="install the Docker CLI"
            ) from exc


def stop_process(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Terminate a child (the docker CLI cancels its BuildKit build on SIGTERM); kill it if it
    lingers past `grace` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
