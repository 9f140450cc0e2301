"""The command line. The only layer that prints or exits; the library raises typed errors.

Exit codes:
  0 ok · 1 invalid spec · 2 bad usage · 3 build failed · 4 smoke test failed ·
  5 Docker/NVIDIA runtime unavailable · 6 refused (would overwrite, or stale lock with --locked) ·
  7 doctor found host problems · 8 registry look-up or push failed ·
  9 the engine refused a request that is not a build step (tag, container) ·
  10 an output file could not be written (disk full, read-only) · 130 Ctrl-C · 143 SIGTERM
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any, TypeVar

import click

from envspec import __version__
from envspec.errors import EnvspecError, ExitCode

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = (
    "\b\nExit codes:\n"
    "  0  success\n"
    "  1  the spec is invalid or cannot be resolved\n"
    "  2  bad command-line usage\n"
    "  3  the image build failed\n"
    "  4  a smoke test failed\n"
    "  5  Docker (or the NVIDIA runtime) is not usable\n"
    "  6  refused: would overwrite a file you edited, or the lock is stale under --locked\n"
    "  7  doctor found problems on this host\n"
    "  8  a registry could not be reached, refused access, or lacks the image\n"
    "  9  the engine refused a request that is not a build step (tag, container)\n"
    "  10 an output file could not be written (disk full, read-only); nothing was changed\n"
    "  130 interrupted (Ctrl-C) · 143 terminated (SIGTERM); a build in progress is cancelled"
)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it unwinds like Ctrl-C: temporary files
    removed, a build's child process and intermediate container stopped."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


class EnvspecGroup(click.Group):
    """Turns EnvspecError into a message and an exit code; a traceback only with --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EnvspecError as err:
            if ctx.meta.get("envspec.debug"):
                raise
            click.echo(err.format(), err=True)
            ctx.exit(int(err.exit_code))
        except KeyboardInterrupt as err:
            terminated = isinstance(err, Terminated)
            click.echo("terminated" if terminated else "interrupted", err=True)
            ctx.exit(int(ExitCode.TERMINATED if terminated else ExitCode.INTERRUPTED))


@click.group(cls=EnvspecGroup, epilog=EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="envspec")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Compile env.yaml into a Dockerfile and a minimal build context, build it, test it."""
    ctx.meta["envspec.debug"] = debug


def _register_commands() -> None:
    # Each module adds its commands to `cli`; importing them here keeps `envspec --help` complete.
    from envspec.cli import build_commands, runtime_commands, spec_commands  # noqa: F401


def main() -> None:
    signal.signal(signal.SIGTERM, _raise_terminated)
    _register_commands()
    cli(prog_name="envspec")
