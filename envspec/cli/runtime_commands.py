"""Commands that run what was built: doctor, test, run, shell, exec, stop."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from envspec.cli import cli
from envspec.cli.options import build_input_options
from envspec.errors import ExitCode, SmokeFailedError
from envspec.inputs import BuildInputs

if TYPE_CHECKING:
    from envspec.runtime import ContainerPlan

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
    inputs: BuildInputs,
) -> None:
    """Build SPEC's image if needed and run its smoke checks inside it (exit 4 on failure).

    Under `smoke.gpu: auto`, a host without GPUs or without the NVIDIA Container Toolkit
    skips the GPU checks with the reason; under `required` they fail.
    """
    from envspec.pipeline import compile_spec, ensure_image, expectations_for
    from envspec.runtime import parse_cli_gpus
    from envspec.smoke.runner import run_here

    if gpus is not None:
        parse_cli_gpus(gpus)  # a bad value is a usage error before any build
    if here:
        report = run_here(expectations_for(compile_spec(spec, inputs).resolved))
        _show_report(report, junit, json_out)
        return
    from envspec.progress import open_progress

    with open_progress(progress) as display:  # type: ignore[arg-type]
        built = ensure_image(spec, inputs, on_event=display)
    run_smoke_for(built, gpus=gpus, junit=junit, json_path=json_out)


def run_smoke_for(built: Any, *, gpus: str | None, junit: Path | None, json_path: Path | None) -> None:
    """Smoke-test a built image (`envspec test`, `envspec build --test`); exit 4 on failure."""
    from envspec.engine import Engine
    from envspec.pipeline import expectations_for
    from envspec.smoke.runner import run_smoke

    exp = expectations_for(built.resolved)
    selection: object = gpus if gpus is not None else built.resolved.spec.runtime.gpus
    report = run_smoke(Engine.connect(), built.image, exp, gpus=selection)
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
def _start(plan: ContainerPlan) -> None:
    """Interactive: become `docker run -it`. Otherwise: start it through the engine, stream
    its output, and exit with the container's status."""
    if plan.interactive:
        sys.stdout.flush()
        os.execvp("docker", plan.docker_argv())
    from envspec.engine import Engine
    from envspec.runtime import run_container

    def show(chunk: bytes) -> None:
        click.echo(chunk.decode("utf-8", "replace"), nl=False)

    sys.exit(run_container(Engine.connect(), plan, show))


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


def _launch(spec: Path, command: Sequence[str], interactive: bool, inputs: BuildInputs,
            progress: str, **options: Any) -> None:
    from envspec.pipeline import ensure_image
    from envspec.progress import open_progress
    from envspec.runtime import plan_container

    with open_progress(progress) as display:  # type: ignore[arg-type]
        built = ensure_image(spec, inputs, on_event=display)
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
    from envspec.engine import Engine

    code, output = Engine.connect().exec(name, command)
    click.echo(output.decode("utf-8", "replace"), nl=False)
    sys.exit(code)


@cli.command()
@click.argument("name")
@click.option("-t", "--time", "grace", default=10, show_default=True, help="Seconds to wait.")
def stop(name: str, grace: int) -> None:
    """Stop the container NAME (started by `envspec run --name NAME`)."""
    from envspec.engine import Engine
    from envspec.runtime import stop_container

    stop_container(Engine.connect(), name, grace=grace)
    click.echo(f"stopped {name}")
