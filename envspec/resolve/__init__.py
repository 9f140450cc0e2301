"""resolve: a validated Spec → every version concrete and compatible, or every problem at once."""

from __future__ import annotations

import hashlib
import json

from envspec.catalog import Catalog, load_catalog
from envspec.errors import SpecError
from envspec.loader import LoadedSpec
from envspec.resolve.apt import ppas_in, resolve_apt
from envspec.resolve.base import resolve_base
from envspec.resolve.files import check_referenced_files
from envspec.resolve.model import Collector, Resolved, ResolvedPython
from envspec.resolve.python import resolve_python
from envspec.resolve.toolchain import resolve_gcc

__all__ = ["Resolved", "resolve", "spec_sha256"]


def spec_sha256(loaded: LoadedSpec) -> str:
    """Hash of the merged spec data: what a lock file records to notice edits."""
    canonical = json.dumps(loaded.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def resolve(loaded: LoadedSpec, catalog: Catalog | None = None) -> Resolved:
    """Raises SpecError carrying every error (and the warnings met on the way)."""
    catalog = catalog or load_catalog()
    spec = loaded.spec
    out = Collector(loaded)
    base = resolve_base(spec.base, catalog, out)
    if base is None:
        raise SpecError(out.diagnostics)
    user_ppas = ppas_in(spec.apt)
    gcc = resolve_gcc(spec.compilers, base, catalog, user_ppas, out)
    python: ResolvedPython | None = None
    apt_for_python: tuple[str, ...] = ()
    ppas_for_python: tuple[str, ...] = ()
    if spec.python is not None:
        python, apt_for_python, ppas_for_python = resolve_python(
            spec.python, base, catalog, user_ppas, out)
    extra = [*apt_for_python, *_gcc_packages(gcc), *_ca_packages(spec.build.ca_certificates)]
    apt = resolve_apt(spec.apt, base.distro, extra, ppas_for_python, catalog, out)
    _check_devel_needed(base.flavor, spec.env, spec.run, out)
    check_referenced_files(spec, loaded.path.parent, out)
    if out.failed:
        raise SpecError(out.diagnostics)
    return Resolved(
        spec=spec, spec_path=loaded.path, spec_dir=loaded.path.parent,
        spec_sha256=spec_sha256(loaded), base=base, apt=apt, gcc=gcc, python=python,
        env=dict(spec.env), diagnostics=tuple(out.diagnostics), decisions=tuple(out.decisions),
    )


def _gcc_packages(gcc: int | None) -> tuple[str, ...]:
    return (f"gcc-{gcc}", f"g++-{gcc}") if gcc is not None else ()


def _ca_packages(certificates: list[str]) -> tuple[str, ...]:
    return ("ca-certificates",) if certificates else ()


_NVCC_ENV = ("TORCH_CUDA_ARCH_LIST", "CUDA_ARCHITECTURES")


def _check_devel_needed(
    flavor: str | None, env: dict[str, str], run: list[str], out: Collector
) -> None:
    """Compiling CUDA code needs nvcc, which only devel images have."""
    if flavor in (None, "devel"):
        return
    hits = [k for k in env if k in _NVCC_ENV] + [c for c in run if "nvcc" in c]
    if hits:
        out.warn("base.needs-devel", f"`{hits[0]}` suggests CUDA code is compiled, but a "
                 f"{flavor} image has no nvcc", ("base", "flavor"), "set `flavor: devel`")
