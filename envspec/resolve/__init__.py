"""resolve: a validated Spec → every version concrete and compatible, or every problem at once."""

from __future__ import annotations

import hashlib
import json

from envspec.catalog import Catalog, Distro, load_catalog
from envspec.errors import SpecError
from envspec.loader import LoadedSpec
from envspec.resolve.apt import ppas_in, resolve_apt
from envspec.resolve.base import resolve_base
from envspec.resolve.env import check_env_references
from envspec.resolve.files import check_referenced_files
from envspec.resolve.ignored import check_ignored_settings
from envspec.resolve.inputs import (
    ResolveInputs,
    apply_inputs,
    apply_locked_torch,
    refuse_unless_locked,
)
from envspec.resolve.model import Collector, Resolved, ResolvedPython
from envspec.resolve.python import resolve_python
from envspec.resolve.sources import implied_packages, resolve_cuda_arch, resolve_sources
from envspec.resolve.toolchain import resolve_gcc
from envspec.spec import User
from envspec.spec_types import run_steps

__all__ = ["ResolveInputs", "Resolved", "resolve", "spec_sha256"]


def spec_sha256(loaded: LoadedSpec) -> str:
    """Hash of the merged spec data: what a lock file records to notice edits."""
    canonical = json.dumps(loaded.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def resolve(
    loaded: LoadedSpec, catalog: Catalog | None = None, inputs: ResolveInputs | None = None
) -> Resolved:
    """Raises SpecError carrying every error (and the warnings met on the way); then, under
    `inputs.locked`, RefusedError when the lock is missing, stale or cannot be honoured."""
    catalog = catalog or load_catalog()
    inputs = inputs or ResolveInputs()
    spec = loaded.spec
    sha256 = spec_sha256(loaded)
    out = Collector(loaded)
    base = resolve_base(spec.base, catalog, out)
    if base is None:
        raise SpecError(out.diagnostics)
    base, lock_used = apply_inputs(base, inputs, sha256, loaded.path, out)
    user_ppas = ppas_in(spec.apt)
    gcc = resolve_gcc(spec.compilers, base, catalog, user_ppas, out)
    python: ResolvedPython | None = None
    apt_for_python: tuple[str, ...] = ()
    ppas_for_python: tuple[str, ...] = ()
    if spec.python is not None:
        python, apt_for_python, ppas_for_python = resolve_python(
            spec.python, base, catalog, user_ppas, out)
    lock = inputs.lock if inputs.lock and inputs.lock.spec_sha256 == sha256 else None
    sources = resolve_sources(spec, lock, catalog, out)
    cuda_archs = resolve_cuda_arch(spec, base, catalog, out)
    extra = [*apt_for_python, *_gcc_packages(gcc, base.distro),
             *_ca_packages(spec.build.ca_certificates),
             *(base.distro.user_packages if spec.user is not None else ()),
             *_sudo_packages(spec.user), *implied_packages(spec)]
    apt = resolve_apt(spec.apt, base.distro, extra, ppas_for_python, catalog, out)
    check_env_references(spec.env, base, spec.python is not None, catalog, out)
    _check_devel_needed(base.flavor, spec.env, [step.command for step in run_steps(spec.run)], out)
    check_referenced_files(spec, loaded.path.parent, out)
    check_ignored_settings(spec, base, out)
    if out.failed:
        raise SpecError(out.diagnostics)
    refuse_unless_locked(inputs, sha256, loaded.path)
    python = apply_locked_torch(python, inputs, sha256, loaded.path, catalog, out)
    return Resolved(
        spec=spec, spec_path=loaded.path, spec_dir=loaded.path.parent,
        spec_sha256=sha256, base=base, apt=apt, gcc=gcc, python=python,
        env=dict(spec.env), diagnostics=tuple(out.diagnostics), decisions=tuple(out.decisions),
        lock_used=lock_used, sources=sources, cuda_archs=cuda_archs,
    )


def _gcc_packages(gcc: int | None, distro: Distro) -> tuple[str, ...]:
    return distro.gcc_packages_for(gcc) if gcc is not None else ()


def _sudo_packages(user: User | None) -> tuple[str, ...]:
    return ("sudo",) if user is not None and user.sudo else ()


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
