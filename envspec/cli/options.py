"""Options shared by every command that compiles a spec: where the base comes from and what to
trust. `build_input_options` turns them into one typed `BuildInputs` argument named `inputs`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from envspec.errors import UsageError
from envspec.inputs import BuildInputs

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option("--ca-cert", "ca_certs", multiple=True,
                 type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="Extra CA certificate (PEM) installed before any download. Repeatable."),
    click.option("--host-ca", is_flag=True,
                 help=f"Trust this host's CA bundle ({HOST_CA_BUNDLE}) during the build."),
    click.option("--base-image", metavar="IMAGE",
                 help="Build FROM this image instead of the resolved one (keeps the spec's OS "
                 "settings): for mirrors of Docker Hub or local images."),
    click.option("--locked", is_flag=True,
                 help="Fail unless env.lock exists and matches the spec."),
)


def build_input_options(f: F) -> F:
    """Add --locked, --base-image, --host-ca and --ca-cert; the command receives `inputs`."""

    @functools.wraps(f)
    def command(*args: Any, ca_certs: Sequence[Path], host_ca: bool, base_image: str | None,
                locked: bool, **kwargs: Any) -> Any:
        inputs = BuildInputs(base_image, locked, tuple(cert_paths(ca_certs, host_ca)))
        return f(*args, inputs=inputs, **kwargs)

    decorated: Callable[..., Any] = command
    for option in _OPTIONS:
        decorated = option(decorated)
    return cast(F, decorated)


def cert_paths(ca_certs: Sequence[Path], host_ca: bool) -> list[Path]:
    paths = list(ca_certs)
    if host_ca:
        if not HOST_CA_BUNDLE.is_file():
            raise UsageError(f"--host-ca: {HOST_CA_BUNDLE} does not exist on this host",
                             hint="pass the bundle with --ca-cert PATH instead")
        paths.append(HOST_CA_BUNDLE)
    return paths
