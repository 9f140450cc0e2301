"""compilers: the GCC to install, checked against the distribution and CUDA's nvcc."""

from __future__ import annotations

from collections.abc import Iterable

from envspec.catalog import Catalog
from envspec.resolve.model import Collector, ResolvedBase
from envspec.spec import Compilers

TOOLCHAIN_PPA = "ubuntu-toolchain-r/test"


def resolve_gcc(
    compilers: Compilers, base: ResolvedBase, catalog: Catalog, ppas: set[str], out: Collector
) -> int | None:
    """The GCC major to pin (None: leave the distribution's default alone)."""
    gcc = compilers.gcc
    distro = base.distro
    if gcc is None:
        _check_default_against_nvcc(base, catalog, out)
        return None
    packaged = gcc in distro.gcc_packages or gcc == distro.default_gcc
    if not packaged and not (distro.family == "ubuntu" and TOOLCHAIN_PPA in ppas):
        out.error("toolchain.gcc-package", f"gcc-{gcc} is not packaged on {distro.id} "
                  f"(it has {_list(distro.gcc_packages)})", ("compilers", "gcc"),
                  _where_packaged(gcc, catalog))
    _check_against_nvcc(gcc, base, catalog, out)
    out.decide("compilers.gcc", ", ".join(distro.gcc_packages_for(gcc)), "spec",
               "installed and made the default")
    return gcc


def _check_default_against_nvcc(base: ResolvedBase, catalog: Catalog, out: Collector) -> None:
    if base.cuda is None or base.flavor != "devel":
        return
    limit = catalog.gcc_max(base.cuda)
    default = base.distro.default_gcc
    if limit is not None and default > limit:
        usable = [g for g in base.distro.gcc_packages if g <= limit]
        out.error("toolchain.gcc-cuda", f"{base.distro.id}'s default gcc {default} is newer than "
                  f"CUDA {base.cuda}'s nvcc accepts (up to {limit})", ("base", "cuda"),
                  f"set compilers.gcc to {max(usable)}" if usable else "use a newer CUDA")


def _check_against_nvcc(gcc: int, base: ResolvedBase, catalog: Catalog, out: Collector) -> None:
    if base.cuda is None:
        return
    limit = catalog.gcc_max(base.cuda)
    if limit is None or gcc <= limit:
        return
    message = f"CUDA {base.cuda}'s nvcc accepts GCC up to {limit}; got gcc {gcc}"
    usable = [g for g in (*base.distro.gcc_packages, base.distro.default_gcc) if g <= limit]
    fixes = []
    if usable:
        fixes.append(f"set compilers.gcc to {max(usable)} (available on {base.distro.id})")
    newer = catalog.lowest_cuda_accepting_gcc(gcc)
    if newer:
        fixes.append(f"use CUDA >= {newer}")
    hint = ", or ".join(fixes) or None
    if base.flavor == "devel":
        out.error("toolchain.gcc-cuda", message, ("compilers", "gcc"), hint)
    else:
        out.warn("toolchain.gcc-cuda", message + f" (matters once nvcc is used; this is a "
                 f"{base.flavor} image)", ("compilers", "gcc"), hint)


def _where_packaged(gcc: int, catalog: Catalog) -> str:
    hosts = [d.id for d in catalog.distros() if gcc in d.gcc_packages or gcc == d.default_gcc]
    text = f"gcc-{gcc} is packaged on {_list(hosts)}" if hosts else f"no known OS packages gcc-{gcc}"
    return text + f"; on Ubuntu, add the PPA `{TOOLCHAIN_PPA}` under apt.repositories"


def _list(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values) or "none"
