"""Commands that talk to a registry through the engine: push."""

from __future__ import annotations

import click

from envspec.cli import cli


@cli.command()
@click.argument("image")
@click.argument("repository")
@click.option(
    "--progress",
    type=click.Choice(["auto", "rich", "plain"]),
    default="auto",
    show_default=True,
    help="Live view on a terminal, plain lines otherwise.",
)
@click.option("--docker-host", metavar="URL", help="Engine to use (default: DOCKER_HOST).")
def push(image: str, repository: str, progress: str, docker_host: str | None) -> None:
    """Push IMAGE (e.g. envspec/my-env:3f2a…) to REPOSITORY and print its digest.

    REPOSITORY is `registry/name[:tag]`, e.g. `127.0.0.1:5000/team/my-env:v1`; without a tag,
    IMAGE's own tag is used.
    """
    from envspec.engine import Engine
    from envspec.progress import open_progress
    from envspec.push import push as push_image

    engine = Engine.connect(docker_host)
    with open_progress(progress) as display:  # type: ignore[arg-type]
        digest = push_image(engine, image, repository, on_event=display)
    click.echo(digest)
