"""Options shared by every command that builds: where the base comes from and what to trust."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from envspec.errors import EnvspecError

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

F = TypeVar("F", bound=Callable[..., Any])


def build_input_options(f: F) -> F:
    f = click.option("--ca-cert", "ca_certs", multiple=True,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Extra CA certificate (PEM) installed before any download. Repeatable.")(f)
    f = click.option("--host-ca", is_flag=True,
                     help=f"Trust this host's CA bundle ({HOST_CA_BUNDLE}) during the build.")(f)
    f = click.option("--base-image", metavar="IMAGE",
                     help="Build FROM this image instead of the resolved one (keeps the spec's OS "
                     "settings): for mirrors of Docker Hub or local images.")(f)
    f = click.option("--locked", is_flag=True,
                     help="Fail unless env.lock exists and matches the spec.")(f)
    return f


def cert_paths(ca_certs: Sequence[Path], host_ca: bool) -> list[Path]:
    paths = list(ca_certs)
    if host_ca:
        if not HOST_CA_BUNDLE.is_file():
            raise EnvspecError(f"--host-ca: {HOST_CA_BUNDLE} does not exist on this host",
                               hint="pass the bundle with --ca-cert PATH instead")
        paths.append(HOST_CA_BUNDLE)
    return paths




def build_inputs(options: dict[str, Any]) -> dict[str, Any]:
    """Pops the options above from a command's kwargs into ensure_image/compile_spec kwargs."""
    return {
        "base_image": options.pop("base_image"),
        "locked": options.pop("locked"),
        "extra_ca_certs": cert_paths(options.pop("ca_certs"), options.pop("host_ca")),
    }
