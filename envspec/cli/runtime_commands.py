"""Commands that run what was built: doctor, test, run, shell, exec, stop."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from envspec.cli import cli
from envspec.cli.options import build_input_options, build_inputs
from envspec.errors import DockerUnavailableError, ExitCode, RefusedError, SmokeFailedError

if TYPE_CHECKING:
    from envspec.spec import Spec

SPEC_PATH = click.Path(exists=True, dir_okay=False, path_type=Path)
GPUS_HELP = "GPUs: all, none, a count (2), device=1,2 or device=GPU-UUID,1 (default: the spec's)."


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


# --------------------------------------------------------------------------- doctor
@cli.command()
@click.argument("spec", required=False, type=SPEC_PATH)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_context
def doctor(ctx: click.Context, spec: Path | None, as_json: bool) -> None:
    """Check this host for Docker, the NVIDIA driver and the NVIDIA Container Toolkit.

    With SPEC, also check that the driver can run the spec's CUDA. Exits 7 when something must
    be fixed; each problem comes with the commands that fix it (envspec never runs sudo).
    """
    from envspec.doctor import run_doctor

    cuda, gpu_required = None, False
    if spec is not None:
        from envspec.pipeline import compile_spec

        resolved = compile_spec(spec).resolved
        cuda, gpu_required = resolved.base.cuda, resolved.spec.smoke.gpu == "required"
    report = run_doctor(cuda=cuda, gpu_required=gpu_required)
    if as_json:
        click.echo(report.to_json(), nl=False)
    else:
        _console().print(report.rich_table())
        for name, commands in report.fixes():
            click.echo(f"\nTo fix {name!r}:")
            click.echo("\n".join(f"  {command}" for command in commands))
    if report.problems:
        ctx.exit(int(ExitCode.HOST_PROBLEM))


# --------------------------------------------------------------------------- test
@cli.command()
@click.argument("spec", type=SPEC_PATH)
@click.option("--here", is_flag=True, help="Check this machine's environment; build nothing.")
@click.option("--gpus", metavar="GPUS", help=GPUS_HELP)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON.")
@click.option("--progress", type=click.Choice(["auto", "rich", "plain"]), default="auto")
@build_input_options
def test(
    spec: Path,
    here: bool,
    gpus: str | None,
    junit: Path | None,
    json_out: Path | None,
    progress: str,
    **build_options: Any,
) -> None:
    """Build SPEC's image if needed and run its smoke checks inside it (exit 4 on failure).

    Under `smoke.gpu: auto`, a host without GPUs or without the NVIDIA Container Toolkit
    skips the GPU checks with the reason; under `required` they fail.
    """
    from envspec.gpus import parse_gpus
    from envspec.pipeline import compile_spec, ensure_image, expectations_for
    from envspec.smoke.runner import run_here

    if gpus is not None:
        parse_gpus(gpus)  # a bad value is a usage error before any build
    if here:
        report = run_here(expectations_for(compile_spec(spec, **build_inputs(build_options)).resolved))
        _show_report(report, junit, json_out)
        return
    from envspec.progress import open_progress

    with open_progress(progress) as display:  # type: ignore[arg-type]
        built = ensure_image(spec, on_event=display, **build_inputs(build_options))
    run_smoke_for(built, gpus=gpus, junit=junit, json_path=json_out)


def run_smoke_for(built: Any, *, gpus: str | None, junit: Path | None, json_path: Path | None) -> None:
    """Smoke-test a built image (`envspec test`, `envspec build --test`); exit 4 on failure."""
    from envspec.pipeline import expectations_for
    from envspec.smoke.runner import docker_client, run_smoke

    exp = expectations_for(built.resolved)
    selection: object = gpus if gpus is not None else built.resolved.spec.runtime.gpus
    report = run_smoke(docker_client(), built.image, exp, gpus=selection)
    _show_report(report, junit, json_path)


def _show_report(report: Any, junit: Path | None, json_path: Path | None) -> None:
    from rich.markup import escape

    console = _console()
    console.print(report.rich_table())
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    if junit is not None:
        junit.write_text(report.to_junit(), encoding="utf-8")
    if json_path is not None:
        json_path.write_text(report.to_json(), encoding="utf-8")
    if report.failed:
        raise SmokeFailedError(f"smoke test failed: {report.summary()}")


# --------------------------------------------------------------------------- run / shell
@dataclass(frozen=True)
class ContainerPlan:
    """One container to start: the same facts feed `docker run` argv and docker-py kwargs."""

    image: str
    command: tuple[str, ...] = ()
    name: str | None = None
    workdir: str | None = None
    user: str | None = None
    volumes: tuple[tuple[str, str, bool], ...] = ()  # host, container, read-only
    ports: tuple[str, ...] = ()  # HOST:CONTAINER
    env: tuple[tuple[str, str], ...] = ()
    shm_size: str | None = None
    gpus: Any = None  # envspec.gpus.GpuRequest | None
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

    def docker_py_kwargs(self) -> dict[str, Any]:
        ports: dict[str, str] = {}
        for mapping in self.ports:
            host, _, container = mapping.rpartition(":")
            ports[container if "/" in container else f"{container}/tcp"] = host
        return {
            "image": self.image,
            "command": list(self.command) or None,
            "name": self.name,
            "working_dir": self.workdir,
            "user": self.user,
            "volumes": {h: {"bind": t, "mode": "ro" if ro else "rw"} for h, t, ro in self.volumes},
            "ports": ports or None,
            "environment": dict(self.env),
            "shm_size": self.shm_size,
            "device_requests": [self.gpus.device_request()] if self.gpus is not None else None,
            "labels": self.labels,
            "detach": True,
        }


def _parse_env(pairs: Sequence[str]) -> list[tuple[str, str]]:
    result = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="-e/--env")
        result.append((key, value))
    return result


def _parse_mount(text: str, spec_dir: Path) -> tuple[str, str, bool]:
    parts = text.split(":")
    read_only = len(parts) == 3 and parts[2] == "ro"
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
        raise click.BadParameter(f"{text!r} is not HOST:CONTAINER[:ro]", param_hint="-v/--mount")
    return str((spec_dir / parts[0]).resolve()), parts[1], read_only


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
    volumes += [_parse_mount(m, spec_dir) for m in mounts]
    ids = uid_gid if uid_gid is not None else (os.getuid(), os.getgid())
    return ContainerPlan(
        image=image,
        command=tuple(command),
        name=name,
        workdir=spec.workdir,
        user=f"{ids[0]}:{ids[1]}",  # files written into mounts belong to you, not root
        volumes=tuple(volumes),
        ports=tuple(runtime.ports) + tuple(ports),
        env=tuple(sorted(runtime.env.items())) + tuple(_parse_env(env)),
        shm_size=shm_size or runtime.shm_size,
        gpus=parse_gpus(gpus if gpus is not None else runtime.gpus),
        remove=remove,
        interactive=interactive,
        labels={"envspec.spec": spec.name},
    )


def _start(plan: ContainerPlan) -> None:
    """Interactive: become `docker run -it`. Otherwise: docker-py, stream the logs, exit with
    the container's status."""
    if plan.interactive:
        sys.stdout.flush()
        os.execvp("docker", plan.docker_argv())
    import docker.errors

    from envspec.gpus import gpu_error
    from envspec.smoke.runner import docker_client

    client = docker_client()
    kwargs = plan.docker_py_kwargs()
    try:
        container = client.containers.create(**{k: v for k, v in kwargs.items() if k != "detach"})
    except docker.errors.APIError as err:
        raise DockerUnavailableError(f"could not create the container: {err.explanation or err}") from err
    try:
        try:
            container.start()
        except docker.errors.APIError as err:
            raise gpu_error(err) or DockerUnavailableError(f"could not start: {err.explanation}") from err
        for chunk in container.logs(stream=True, follow=True):
            click.echo(chunk.decode("utf-8", "replace"), nl=False)
        code = int(container.wait().get("StatusCode", 1))
    finally:
        if plan.remove:
            container.remove(force=True)
    sys.exit(code)


def _runtime_options(f: Any) -> Any:
    options = [
        click.option("--gpus", metavar="GPUS", help=GPUS_HELP),
        click.option("-v", "--mount", "mounts", multiple=True, metavar="HOST:CONTAINER[:ro]"),
        click.option("-p", "--port", "ports", multiple=True, metavar="HOST:CONTAINER"),
        click.option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE"),
        click.option("--name", help="Container name (for `envspec exec` / `stop`)."),
        click.option("--shm-size", help="Shared memory, e.g. 8g."),
        click.option("--rm/--no-rm", "remove", default=True, show_default=True),
        click.option("--progress", type=click.Choice(["auto", "rich", "plain"]), default="auto"),
    ]
    for option in reversed(options):
        f = option(f)
    return build_input_options(f)


def _launch(spec: Path, command: Sequence[str], interactive: bool, **options: Any) -> None:
    from envspec.pipeline import ensure_image
    from envspec.progress import open_progress

    inputs = build_inputs(options)
    with open_progress(options.pop("progress")) as display:
        built = ensure_image(spec, on_event=display, **inputs)
    plan = plan_container(
        built.resolved.spec,
        built.resolved.spec_dir,
        built.image,
        command=command,
        interactive=interactive,
        **options,
    )
    _start(plan)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("spec", type=SPEC_PATH)
@_runtime_options
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run(spec: Path, command: tuple[str, ...], **options: Any) -> None:
    """Run SPEC's image (built if needed) with its runtime defaults: envspec run SPEC -- CMD.

    The spec's folder is mounted at the workdir (runtime.mount_project) and the container
    runs as your uid:gid, so files it writes there are yours.
    """
    _launch(spec, command, sys.stdin.isatty() and sys.stdout.isatty(), **options)


@cli.command()
@click.argument("spec", type=SPEC_PATH)
@_runtime_options
def shell(spec: Path, **options: Any) -> None:
    """An interactive shell in SPEC's image (bash when the image has it)."""
    command = ("sh", "-c", "command -v bash >/dev/null 2>&1 && exec bash -l || exec sh -l")
    _launch(spec, command, sys.stdin.isatty(), **options)


@cli.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(name: str, command: tuple[str, ...]) -> None:
    """Run a command in the running container NAME: envspec exec NAME -- CMD."""
    if sys.stdin.isatty():
        os.execvp("docker", ["docker", "exec", "-it", name, *command])
    from envspec.smoke.runner import docker_client

    client = docker_client()
    code, output = client.containers.get(name).exec_run(list(command), demux=False)
    click.echo((output or b"").decode("utf-8", "replace"), nl=False)
    sys.exit(int(code or 0))


@cli.command()
@click.argument("name")
@click.option("-t", "--time", "grace", default=10, show_default=True, help="Seconds to wait.")
def stop(name: str, grace: int) -> None:
    """Stop the container NAME (started by `envspec run --name NAME`)."""
    import docker.errors

    from envspec.smoke.runner import docker_client

    try:
        docker_client().containers.get(name).stop(timeout=grace)
    except docker.errors.NotFound as err:
        raise RefusedError(f"no container named {name}") from err
    click.echo(f"stopped {name}")
