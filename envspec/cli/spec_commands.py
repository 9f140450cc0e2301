"""Commands over the pipeline: init, validate, render, schema, explain, lock, build."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from envspec.cli import cli
from envspec.cli.options import build_input_options
from envspec.errors import Diagnostic, RefusedError
from envspec.inputs import BuildInputs

if TYPE_CHECKING:
    from envspec.resolve.model import Decision

SPEC = click.argument(
    "spec", type=click.Path(dir_okay=False, path_type=Path), default="env.yaml", required=False
)


def _show_diagnostics(diagnostics: Iterable[Diagnostic], *, notes: bool = False) -> None:
    for diagnostic in diagnostics:
        if notes or diagnostic.severity != "info":
            click.echo(diagnostic.format(), err=True)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--force", is_flag=True, help="Overwrite an existing env.yaml.")
def init(directory: Path, force: bool) -> None:
    """Write a commented starter env.yaml into DIRECTORY."""
    from envspec.starter import starter_spec

    target = directory / "env.yaml"
    if target.exists() and not force:
        raise RefusedError(f"{target} already exists", hint="pass --force to replace it")
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(starter_spec(directory.resolve().name), encoding="utf-8")
    from envspec.schema import schema_text

    (directory / "env.schema.json").write_text(schema_text(), encoding="utf-8")  # for editors
    click.echo(f"wrote {target} and env.schema.json; next: envspec render {target}")


@cli.command()
@SPEC
def validate(spec: Path) -> None:
    """Check SPEC: shape, values and version compatibility (nothing is built)."""
    from envspec.pipeline import compile_spec

    compiled = compile_spec(spec)
    _show_diagnostics(compiled.resolved.diagnostics)
    click.echo(f"{spec}: ok ({len(compiled.resolved.warnings)} warning(s))")


@cli.command()
@SPEC
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Write the Dockerfile and the minimal build context into this folder.")
@click.option("--force", is_flag=True, help="Overwrite files in the output you have edited.")
@click.option("--buildkit", is_flag=True,
              help="Use BuildKit cache mounts for apt/pip/conda (build with DOCKER_BUILDKIT=1).")
@build_input_options
def render(spec: Path, output: Path | None, force: bool, buildkit: bool,
           inputs: BuildInputs) -> None:
    """Print SPEC's Dockerfile, or write the build context with -o DIR."""
    from envspec.context import write_context
    from envspec.pipeline import compile_spec

    compiled = compile_spec(spec, inputs, buildkit=buildkit)
    _show_diagnostics(compiled.resolved.diagnostics)
    if output is None:
        click.echo(compiled.dockerfile, nl=False)
        return
    written = write_context(compiled.files, output, force=force)
    click.echo(f"wrote {len(written)} file(s) to {output}: " + ", ".join(written), err=True)


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the schema to this file instead of stdout.")
def schema(output: Path | None) -> None:
    """Print the JSON Schema of env.yaml (for editor completion)."""
    from envspec.schema import schema_text

    text = schema_text()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@cli.command()
@SPEC
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@build_input_options
def explain(spec: Path, as_json: bool, inputs: BuildInputs) -> None:
    """Show every resolved value of SPEC, where it came from and why (with the same env.lock and
    build options as `build`, so the FROM line shown is the one that would be built)."""
    from envspec.pipeline import compile_spec

    resolved = compile_spec(spec, inputs).resolved
    rows = [(d.key, d.value, d.source, d.why) for d in resolved.decisions]
    if as_json:
        click.echo(json.dumps({
            "base_image": resolved.base.image,
            "decisions": [dict(zip(("key", "value", "source", "why"), r, strict=True))
                          for r in rows],
            "diagnostics": [{"code": d.code, "severity": d.severity, "message": d.message,
                             "hint": d.hint} for d in resolved.diagnostics],
        }, indent=2))
        return
    click.echo(f"FROM {resolved.base.image}{_from_source(resolved.decision('base.image'))}")
    _print_table(("key", "value", "source", "why"), rows)
    _show_diagnostics(resolved.diagnostics, notes=True)


def _from_source(decision: Decision | None) -> str:
    names = {"lock": "env.lock", "cli": "--base-image"}
    return f"  (from {names[decision.source]})" if decision and decision.source in names else ""


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [min(48, max(len(str(c)) for c in col)) for col in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        click.echo("  ".join(cells).rstrip())


@cli.command()
@SPEC
@click.option("--refresh", is_flag=True,
              help="Ask the registry for the base image's current digest (needs network).")
@click.option("--registry", metavar="URL", help="Registry API base URL for --refresh "
              "(default: the image's own registry, Docker Hub for short names).")
def lock(spec: Path, refresh: bool, registry: str | None) -> None:
    """Write env.lock next to SPEC: the resolved base image, versions and the spec's hash."""
    from envspec.context import write_file
    from envspec.imageref import ImageRef
    from envspec.loader import load_spec
    from envspec.lock_refresh import registry_digest
    from envspec.lockfile import dump_lock, lock_from, lock_path
    from envspec.resolve import resolve
    from envspec.source_lock import lock_sources

    resolved = resolve(load_spec(spec))
    _show_diagnostics(resolved.diagnostics)
    digest = registry_digest(ImageRef.parse(resolved.base.image), registry) if refresh else None
    sources = lock_sources(resolved.sources, spec)
    _show_diagnostics(sources.notices)
    path = lock_path(spec)
    lock = lock_from(resolved, digest, sources.sources)
    write_file(path, dump_lock(lock).encode("utf-8"))  # whole or not at all
    click.echo(f"wrote {path}" + (f" (base pinned to {digest})" if digest else ""))


@cli.command()
@SPEC
@click.option("-t", "--tag", "tags", multiple=True, help="Extra tag for the image. Repeatable.")
@click.option("--no-cache", is_flag=True, help="Build every layer again.")
@click.option("--pull", is_flag=True, help="Pull a newer base image first.")
@click.option("--builder", type=click.Choice(["docker", "buildkit"]), default="docker",
              show_default=True, help="docker: docker-py (classic builder); buildkit: the docker "
              "CLI with DOCKER_BUILDKIT=1 (cache mounts).")
@click.option("--progress", type=click.Choice(["auto", "rich", "plain"]), default="auto",
              show_default=True, help="Live view on a terminal, plain lines otherwise.")
@click.option("--network", help="Network for RUN steps, e.g. host.")
@click.option("--build-arg", "build_args", multiple=True, metavar="KEY=VALUE",
              help="Build argument. Proxy variables from the environment are passed as well; "
              "Docker keeps them out of the image's history.")
@click.option("--test", "run_tests", is_flag=True, help="Run the smoke tests after building.")
@build_input_options
def build(spec: Path, tags: tuple[str, ...], no_cache: bool, pull: bool, builder: str,
          progress: str, network: str | None, build_args: tuple[str, ...], run_tests: bool,
          inputs: BuildInputs) -> None:
    """Build SPEC's image (skipped when an identical image exists)."""
    from envspec.pipeline import ensure_image
    from envspec.progress import open_progress

    with open_progress(progress) as display:  # type: ignore[arg-type]
        built = ensure_image(
            spec, inputs, on_event=display, builder=builder,  # type: ignore[arg-type]
            tags=tags, no_cache=no_cache, pull=pull, network=network,
            build_args=_build_args(build_args),
        )
    _show_diagnostics(built.resolved.warnings)
    state = "built" if built.built else "up to date"
    click.echo(f"{built.image} ({state})")
    if run_tests:
        from envspec.cli.runtime_commands import run_smoke_for

        run_smoke_for(built, gpus=None, junit=None, json_path=None)


def _build_args(pairs: Sequence[str]) -> dict[str, str]:
    """The proxy build arguments (envspec.build's policy), then the command line's."""
    from envspec.build.request import proxy_build_args

    args = proxy_build_args()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--build-arg")
        args[key] = value
    return args
