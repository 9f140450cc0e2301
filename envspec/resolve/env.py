"""env: the variables envspec sets itself, and the check that every `$NAME` a spec's `env:`
refers to is defined by then (Docker expands an undefined one to the empty string, silently)."""

from __future__ import annotations

from collections.abc import Mapping

from envspec.catalog import Catalog
from envspec.grammar import env_references
from envspec.resolve.model import Collector, ResolvedBase

# Set by the plan's env step, before the spec's own variables.
LOCALE_ENV = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
PYTHON_ENV = {"PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
              "PIP_NO_CACHE_DIR": "1"}


def check_env_references(
    env: Mapping[str, str], base: ResolvedBase, has_python: bool, catalog: Catalog,
    out: Collector,
) -> None:
    """Warns about each reference to a name that neither the base image, envspec, nor an
    earlier key of `env` defines."""
    # CUDA from NVIDIA's apt repository: FROM is the plain distribution, and the CUDA step sets
    # its variables after the env step, so they are not defined yet where `env:` is set.
    from_cuda_image = base.cuda is not None and base.cuda_apt is None
    defined = set(catalog.base_env(cuda=from_cuda_image, devel=base.flavor == "devel"))
    defined |= {*LOCALE_ENV, *(PYTHON_ENV if has_python else ())}
    for key, value in env.items():
        for name in env_references(value):
            if name not in defined:
                out.warn("env.undefined", f"`{key}` refers to ${name}, which nothing sets "
                         f"before it: Docker expands it to an empty string",
                         ("env", key), f"define {name} in an earlier `env:` key, write `$${name}` "
                         "for the literal text, or ignore this if your base image sets it")
        defined.add(key)
