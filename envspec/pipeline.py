"""The pipeline, composed: load → resolve → (lock) → plan → render → context → build.

Everything up to `compile_spec` is pure and needs no Docker; `ensure_image` adds the build.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from envspec.context import context_files, write_context
from envspec.loader import LoadedSpec, load_spec
from envspec.lockfile import apply_lock, lock_path, read_lock
from envspec.plan import BuildPlan, make_plan
from envspec.render import render_dockerfile
from envspec.resolve import Resolved, resolve

if TYPE_CHECKING:
    from envspec.progress import EventCallback
    from envspec.smoke.checks import Expectations

BuilderKind = Literal["docker", "buildkit"]


@dataclass(frozen=True)
class Compiled:
    loaded: LoadedSpec
    resolved: Resolved
    plan: BuildPlan
    dockerfile: str
    files: Mapping[str, bytes]  # the whole build context, Dockerfile included


@dataclass(frozen=True)
class Built:
    image: str  # the content-hash tag
    tags: tuple[str, ...]
    built: bool  # False when an identical image already existed
    resolved: Resolved


def compile_spec(
    spec_path: Path,
    *,
    base_image: str | None = None,
    extra_ca_certs: Sequence[Path] = (),
    locked: bool = False,
    buildkit: bool = False,
) -> Compiled:
    """load → resolve → lock → plan → render → context; `buildkit` adds cache mounts, which
    only BuildKit accepts: the docker-py builder must always get buildkit=False."""
    loaded = load_spec(spec_path)
    resolved = resolve(loaded)
    resolved = apply_lock(resolved, read_lock(lock_path(spec_path)), locked=locked)
    if base_image is not None:
        resolved = dataclasses.replace(
            resolved, base=dataclasses.replace(resolved.base, image=base_image))
    plan = make_plan(resolved, tuple(extra_ca_certs), buildkit=buildkit)
    dockerfile = render_dockerfile(plan)
    files = context_files(plan, dockerfile, resolved.spec_dir)
    return Compiled(loaded, resolved, plan, dockerfile, files)


def ensure_image(
    spec_path: Path,
    *,
    on_event: EventCallback | None = None,
    builder: BuilderKind = "docker",
    tags: Sequence[str] = (),
    no_cache: bool = False,
    pull: bool = False,
    network: str | None = None,
    build_args: Mapping[str, str] | None = None,
    base_image: str | None = None,
    extra_ca_certs: Sequence[Path] = (),
    locked: bool = False,
) -> Built:
    """Build the spec's image unless an identical one exists (then the builder is not called)."""
    from envspec import build as build_mod
    from envspec.progress import BuildFinished, ignore_event

    compiled = compile_spec(spec_path, base_image=base_image, extra_ca_certs=extra_ca_certs,
                            locked=locked, buildkit=builder == "buildkit")
    events = on_event or ignore_event
    with tempfile.TemporaryDirectory(prefix="envspec-context-") as tmp:
        context_dir = Path(tmp)
        write_context(compiled.files, context_dir)
        (context_dir / ".envspec-manifest.json").unlink()  # not part of what is built
        name = compiled.resolved.spec.name
        tag = build_mod.image_tag(context_dir, name, build_args=build_args)
        if not (no_cache or tags):
            existing = _existing_image(tag)
            if existing is not None:
                events(BuildFinished(ok=True, detail=f"{existing} is up to date", tags=(existing,)))
                return Built(existing, (existing,), False, compiled.resolved)
        client = build_mod.connect()
        chosen: build_mod.Builder = (
            build_mod.DockerPyBuilder(client) if builder == "docker" else build_mod.CliBuilder()
        )
        outcome = build_mod.build_if_needed(
            client, chosen, context_dir, name, extra_tags=tags, no_cache=no_cache, pull=pull,
            network=network, build_args=build_args, on_event=events, tag=tag,
        )
    return Built(outcome.tag, outcome.result.tags, outcome.built, compiled.resolved)


def _existing_image(tag: str) -> str | None:
    """`tag` when the local engine already has it, asked without importing docker-py."""
    from envspec.engine_probe import local_image_id

    try:
        return tag if local_image_id(tag) is not None else None
    except LookupError:
        return None  # unknown: the ordinary path asks again and reports any problem


def expectations_for(resolved: Resolved) -> Expectations:
    """What the smoke tests should find inside the image, derived from the resolution."""
    from envspec.catalog import load_catalog
    from envspec.smoke.checks import Expectations

    spec = resolved.spec
    py = resolved.python
    packages: tuple[str, ...] = ()
    if py is not None:
        torch = _names(py.torch.requirements, py.version) if py.torch else ()
        conda = py.conda.packages if py.conda else ()
        listed = _requirement_names(resolved.spec_dir, py.requirements)
        packages = (*torch, *listed, *_names(py.pip_packages, py.version), *conda)
    driver_min = None
    if resolved.base.cuda:
        requirement = load_catalog().driver_requirement(resolved.base.cuda)
        driver_min = requirement.minor_compat_min or requirement.exact_min
    return Expectations(
        os_id=resolved.base.distro.id,
        gcc=resolved.gcc,
        cuda=resolved.base.cuda,
        nvcc=resolved.base.flavor == "devel",
        python=py.version if py else None,
        python_executable=f"{py.bin_dir}/python" if py else None,
        packages=packages,
        uid=spec.user.uid if spec.user else 0,
        workdir=spec.workdir,
        env=dict(resolved.env),
        driver_min=driver_min,
        gpu=spec.smoke.gpu,
        declared=tuple(spec.smoke.checks),
    )


def _names(requirements: Sequence[str], python: str) -> tuple[str, ...]:
    """Distribution names, leaving out those whose marker is false in the image."""
    from envspec.requirements import marker_applies, parse_requirement

    parsed = [parse_requirement(r) for r in requirements]
    return tuple(r.name for r in parsed if marker_applies(r, python))


def _requirement_names(spec_dir: Path, files: Sequence[str]) -> tuple[str, ...]:
    """Names in requirements files (options, comments, includes and unnamed lines skipped)."""
    from envspec.requirements import requirement_names

    return tuple(name for rel in files
                 for name in requirement_names((spec_dir / rel).read_text(encoding="utf-8")))
