"""plan: Resolved → the ordered build steps and the files the build context must hold.

This package is the ONE place that decides layer order (`_LAYERS` below), and its builders
decide every command, flag and path as typed instructions (`steps.py`); the templates only lay
them out. Docker reuses a cached layer only while every layer before it is unchanged, so steps
go from least to most likely to change:

  base → env → CA certificates → apt mirror → [run: before_apt] → CUDA (when installed from
  NVIDIA's apt repository) → apt (one layer) → [run: after_apt] → compilers → user →
  Python/conda runtime → dependency manifests (environment.yml, constraints, requirements) →
  torch → pip packages from the spec (the plain ones in one layer, then each one with options or
  a local file in a layer of its own, in spec order: a build may need the one before it) →
  [run: after_python] → source builds (one layer each) → [run: after_sources] → user files →
  [run: final] → CA clean-up → runtime settings (WORKDIR, USER, ENTRYPOINT, CMD, EXPOSE,
  VOLUME) → labels

Consequences users can rely on: editing the spec's pip list rebuilds only the pip layer and
what follows it; editing code copied with `copy:` never reinstalls packages; labels (which
carry the spec hash) are last, so they never invalidate a real layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from envspec.plan import cuda, image, python, sources, system
from envspec.plan.packages import package_manager
from envspec.plan.steps import CacheMounts, Context, ContextFile, Step
from envspec.resolve.model import Resolved

__all__ = ["BuildPlan", "CacheMounts", "ContextFile", "Step", "make_plan"]

# The layer order, least to most likely to change (see above); each builder adds 0+ steps.
# The spec's `run:` phases sit at their named points: before_apt before any `apt-get update`
# (CUDA's repository step runs one too; after the mirror rewrite, so a step sees the sources
# apt will use), after_apt (after the system packages), after_python
# (after the spec's pip packages), after_sources (reserved for source builds, which will come
# right before it), final (after `copy`).
_LAYERS: tuple[Callable[[Resolved, Context], list[Step]], ...] = (
    system.env, system.ca_certificates, system.apt_mirror, image.run_phase("before_apt"),
    cuda.cuda_apt, system.apt, image.run_phase("after_apt"), system.compilers, system.user,
    python.python_runtime, python.manifests, python.torch, python.pip, python.pip_packages,
    image.run_phase("after_python"), sources.sources, image.run_phase("after_sources"),
    image.copy, image.run_phase("final"), system.ca_cleanup, image.runtime, image.labels,
)


@dataclass(frozen=True)
class BuildPlan:
    steps: tuple[Step, ...]
    files: Mapping[str, ContextFile]  # context-relative path → content
    spec_name: str
    spec_file: str
    base_image: str
    build_args: tuple[str, ...] = ()  # ARG name=value lines right after FROM


def make_plan(
    resolved: Resolved, extra_ca_certs: tuple[Path, ...] = (), *, buildkit: bool = False
) -> BuildPlan:
    cache = cache_mounts(resolved) if buildkit else CacheMounts()
    ctx = Context(certs=extra_ca_certs, cache=cache)
    steps = tuple(step for layer in _LAYERS for step in layer(resolved, ctx))
    args = package_manager(resolved.base.distro.family).build_args()
    return BuildPlan(steps, ctx.files, resolved.spec.name, resolved.spec_path.name,
                     resolved.base.image, args)


def cache_mounts(r: Resolved) -> CacheMounts:
    """BuildKit cache mounts, owned by the non-root user where pip and conda run as it."""
    # pip runs as root over an image's own Python (see python.python_runtime).
    user = r.spec.user if not (r.python and r.python.provider == "image") else None
    owner = f",uid={user.uid},gid={user.gid}" if user else ""
    home = f"/home/{user.name}" if user else "/root"
    conda = r.python.conda.base_prefix if r.python and r.python.conda else None
    return CacheMounts(
        system=package_manager(r.base.distro.family).cache_mounts(),
        pip=(f"type=cache,target={home}/.cache/pip{owner}",) if r.python else (),
        conda=(f"type=cache,target={conda}/pkgs{owner}",) if conda else (),
    )
