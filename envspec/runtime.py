"""Running what was built: plan a container from the spec's `runtime` defaults and the command
line's overrides, then start it, run a command in it, or stop it — through `envspec.engine`.

The CLI only parses options into these calls and prints; nothing here prints or exits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from envspec.errors import RefusedError, UsageError

if TYPE_CHECKING:
    from envspec.engine import Engine
    from envspec.gpus import GpuRequest
    from envspec.spec import Spec


@dataclass(frozen=True)
class ContainerPlan:
    """One container to start: the same facts feed `docker run` argv and the engine's create."""

    image: str
    command: tuple[str, ...] = ()
    name: str | None = None
    workdir: str | None = None
    user: str | None = None
    volumes: tuple[tuple[str, str, bool], ...] = ()  # host, container, read-only
    ports: tuple[str, ...] = ()  # HOST:CONTAINER
    env: tuple[tuple[str, str], ...] = ()
    shm_size: str | None = None
    gpus: GpuRequest | None = None
    remove: bool = True
    interactive: bool = False
    labels: dict[str, str] = field(default_factory=dict)

    def docker_argv(self) -> list[str]:
        argv = ["docker", "run"]
        if self.remove:
            argv.append("--rm")
        if self.interactive:
            argv.append("-it")
        for flag, value in (
            ("--name", self.name),
            ("--workdir", self.workdir),
            ("--user", self.user),
            ("--shm-size", self.shm_size),
        ):
            if value:
                argv += [flag, value]
        if self.gpus is not None:
            argv += ["--gpus", self.gpus.cli_value()]
        for host, target, read_only in self.volumes:
            argv += ["-v", f"{host}:{target}" + (":ro" if read_only else "")]
        for port in self.ports:
            argv += ["-p", port]
        for key, value in self.env:
            argv += ["-e", f"{key}={value}"]
        for key, value in sorted(self.labels.items()):
            argv += ["--label", f"{key}={value}"]
        return [*argv, self.image, *self.command]

    def create(self, engine: Engine) -> str:
        """Create (not start) this container in `engine`; its id."""
        return engine.create_container(
            self.image, command=self.command, name=self.name, workdir=self.workdir,
            user=self.user, volumes=self.volumes, ports=self.ports, env=self.env,
            shm_size=self.shm_size,
            gpus=self.gpus.device_request_kwargs() if self.gpus is not None else None,
            labels=self.labels,
        )


def parse_env(pairs: Sequence[str]) -> list[tuple[str, str]]:
    result = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-e/--env: {pair!r} is not KEY=VALUE")
        result.append((key, value))
    return result


def parse_mount(text: str, spec_dir: Path) -> tuple[str, str, bool]:
    parts = text.split(":")
    read_only = len(parts) == 3 and parts[2] == "ro"
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
        raise UsageError(f"-v/--mount: {text!r} is not HOST:CONTAINER[:ro]")
    return str((spec_dir / parts[0]).resolve()), parts[1], read_only


def parse_cli_gpus(value: str) -> GpuRequest | None:
    """A `--gpus` value; a bad one is a usage error (exit 2), not a problem of the spec."""
    from envspec.gpus import GpuSelectionError, parse_gpus

    try:
        return parse_gpus(value)
    except GpuSelectionError as err:
        raise UsageError(f"--gpus: {err.message}", hint=err.hint) from err


def plan_container(
    spec: Spec,
    spec_dir: Path,
    image: str,
    *,
    command: Sequence[str] = (),
    gpus: str | None = None,
    mounts: Sequence[str] = (),
    ports: Sequence[str] = (),
    env: Sequence[str] = (),
    name: str | None = None,
    shm_size: str | None = None,
    remove: bool = True,
    interactive: bool = False,
    uid_gid: tuple[int, int] | None = None,
) -> ContainerPlan:
    """The spec's `runtime` defaults with the command line's overrides on top."""
    from envspec.gpus import parse_gpus

    runtime = spec.runtime
    volumes: list[tuple[str, str, bool]] = []
    if runtime.mount_project:
        volumes.append((str(spec_dir.resolve()), spec.workdir, False))
    for m in runtime.mounts:
        volumes.append((str((spec_dir / m.source).resolve()), m.target, m.read_only))
    volumes += [parse_mount(m, spec_dir) for m in mounts]
    ids = uid_gid if uid_gid is not None else (os.getuid(), os.getgid())
    return ContainerPlan(
        image=image,
        command=tuple(command),
        name=name,
        workdir=spec.workdir,
        user=f"{ids[0]}:{ids[1]}",  # files written into mounts belong to you, not root
        volumes=tuple(volumes),
        ports=tuple(runtime.ports) + tuple(ports),
        env=tuple(sorted(runtime.env.items())) + tuple(parse_env(env)),
        shm_size=shm_size or runtime.shm_size,
        gpus=parse_gpus(runtime.gpus) if gpus is None else parse_cli_gpus(gpus),
        remove=remove,
        interactive=interactive,
        labels={"envspec.spec": spec.name},
    )


def run_container(engine: Engine, plan: ContainerPlan, on_output: Callable[[bytes], None]) -> int:
    """Create and start the container, hand its output to `on_output` as it comes, and return
    its exit status; it is removed afterwards when the plan says so."""
    from envspec.engine import DockerEngineError
    from envspec.errors import DockerUnavailableError

    try:
        container = plan.create(engine)
    except DockerEngineError as err:
        raise DockerUnavailableError(f"could not create the container: {err.message}") from err
    try:
        try:
            engine.start(container)
        except DockerEngineError as err:  # a missing NVIDIA runtime is typed and passes through
            raise DockerUnavailableError(f"could not start: {err.message}") from err
        for chunk in engine.follow_logs(container):
            on_output(chunk)
        return engine.wait(container)
    finally:
        if plan.remove:
            engine.remove_container(container)


def stop_container(engine: Engine, name: str, *, grace: int = 10) -> None:
    """Stop the running container `name`; RefusedError when there is none."""
    from envspec.engine import ImageNotFoundError

    try:
        engine.stop(name, timeout=grace)
    except ImageNotFoundError as err:
        raise RefusedError(f"no container named {name}") from err
