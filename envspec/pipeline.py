"""The pipeline, composed: load → resolve (env.lock and --base-image are inputs) → plan → render
→ context → build.

Everything up to `compile_spec` is pure and needs no Docker; `ensure_image` adds the build.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from envspec.context import context_files
from envspec.context_tar import ContextEntry, ContextTar
from envspec.grammar import env_references
from envspec.inputs import NO_INPUTS, BuildInputs
from envspec.loader import LoadedSpec, load_spec
from envspec.lockfile import lock_path, read_lock
from envspec.plan import BuildPlan, make_plan
from envspec.plan.steps import Env
from envspec.render import render_dockerfile
from envspec.resolve import Resolved, ResolveInputs, resolve

if TYPE_CHECKING:
    from envspec.build.request import BuildOutcome, BuildRequest
    from envspec.progress import EventCallback
    from envspec.smoke.checks import Expectations

BuilderKind = Literal["docker", "buildkit"]
__all__ = ["BuildInputs", "Built", "Compiled", "compile_spec", "ensure_image", "expectations_for"]


@dataclass(frozen=True)
class Compiled:
    loaded: LoadedSpec
    resolved: Resolved
    plan: BuildPlan
    dockerfile: str
    files: Mapping[str, ContextEntry]  # the whole build context, Dockerfile included

    def context(self) -> ContextTar:
        """The build context as the one deterministic tar builders receive."""
        return ContextTar.from_entries(self.files)


@dataclass(frozen=True)
class Built:
    image: str  # the content-hash tag
    tags: tuple[str, ...]
    built: bool  # False when an identical image already existed
    resolved: Resolved


def compile_spec(
    spec_path: Path, inputs: BuildInputs = NO_INPUTS, *, buildkit: bool = False
) -> Compiled:
    """load → resolve → plan → render → context; the lock next to the spec and `base_image`
    are inputs of resolution, so each is a decision `envspec explain` shows. `buildkit` adds
    cache mounts, which only BuildKit accepts: the docker-py builder must get buildkit=False."""
    loaded = load_spec(spec_path)
    lock = read_lock(lock_path(spec_path))
    resolved = resolve(loaded, inputs=ResolveInputs(lock, inputs.locked, inputs.base_image))
    plan = make_plan(resolved, inputs.extra_ca_certs, buildkit=buildkit)
    dockerfile = render_dockerfile(plan)
    files = context_files(plan, dockerfile, resolved.spec_dir)
    return Compiled(loaded, resolved, plan, dockerfile, files)


def ensure_image(
    spec_path: Path,
    inputs: BuildInputs = NO_INPUTS,
    *,
    on_event: EventCallback | None = None,
    builder: BuilderKind = "docker",
    tags: Sequence[str] = (),
    no_cache: bool = False,
    pull: bool = False,
    network: str | None = None,
    build_args: Mapping[str, str] | None = None,
) -> Built:
    """Build the spec's image unless an identical one exists (then the builder is not called,
    and docker-py is not even imported)."""
    from envspec.build.request import BuildRequest
    from envspec.progress import BuildFinished, ignore_event

    compiled = compile_spec(spec_path, inputs, buildkit=builder == "buildkit")
    events = on_event or ignore_event
    request = BuildRequest.for_content(
        compiled.context(), compiled.resolved.spec.name, extra_tags=tags, no_cache=no_cache,
        pull=pull, network=network, build_args=build_args,
    )
    if not (no_cache or tags):
        existing = _existing_image(request.tags[0])
        if existing is not None:
            events(BuildFinished(ok=True, detail=f"{existing} is up to date", tags=(existing,)))
            return Built(existing, (existing,), False, compiled.resolved)
    outcome = _build(request, builder, events)
    return Built(outcome.tag, outcome.result.tags, outcome.built, compiled.resolved)


def _build(request: BuildRequest, kind: BuilderKind, on_event: EventCallback) -> BuildOutcome:
    from envspec import build
    from envspec.engine import Engine

    engine = Engine.connect()
    chosen: build.Builder = build.DockerPyBuilder(engine) if kind == "docker" else build.CliBuilder()
    return build.build_if_needed(engine, chosen, request, on_event)


def _existing_image(tag: str) -> str | None:
    """`tag` when the local engine already has it, asked without importing docker-py."""
    from envspec.engine import local_image_id

    try:
        return tag if local_image_id(tag) is not None else None
    except LookupError:
        return None  # unknown: the ordinary path asks again and reports any problem


def _image_torch(resolved: Resolved) -> tuple[str, ...]:
    """The torch a framework image brings (and envspec kept) is checked like an installed one."""
    known = resolved.base.framework
    py = resolved.python
    kept = py is not None and py.provider == "image" and py.torch is None
    return ("torch",) if kept and known is not None and known.torch else ()


def _expected_env(resolved: Resolved) -> dict[str, str]:
    """The spec's variables as the container must show them (`$$` is one dollar). Left out:
    values that refer to variables (Docker expands them) and variables a later step sets again
    (a venv's or conda's PATH)."""
    final: dict[str, str] = {}
    for step in make_plan(resolved).steps:
        for instruction in step.instructions:
            if isinstance(instruction, Env):
                final.update(instruction.pairs)
    return {key: value.replace("$$", "$") for key, value in resolved.env.items()
            if final.get(key) == value and not env_references(value)}


def expectations_for(resolved: Resolved) -> Expectations:
    """What the smoke tests should find inside the image, derived from the resolution."""
    from envspec.driver_compat import driver_minimum, driver_thresholds
    from envspec.smoke.checks import Expectations

    spec = resolved.spec
    py = resolved.python
    packages: tuple[str, ...] = ()
    if py is not None:
        torch = _names(py.torch.requirements, py.version) if py.torch else ()
        conda = py.conda.packages if py.conda else ()
        listed = _requirement_names(resolved.spec_dir, py.requirements)
        packages = (*torch, *_image_torch(resolved), *listed, *py.package_names, *conda)
    thresholds = driver_thresholds(resolved.base.cuda) if resolved.base.cuda else None
    return Expectations(
        os_id=resolved.base.distro.os_release,
        gcc=resolved.gcc,
        cuda=resolved.base.cuda,
        nvcc=resolved.base.flavor == "devel",
        python=py.version if py else None,
        python_executable=py.executable if py else None,
        packages=packages,
        uid=spec.user.uid if spec.user else 0,
        workdir=spec.workdir,
        env=_expected_env(resolved),
        driver_min=driver_minimum(thresholds) if thresholds else None,
        driver_thresholds=thresholds,
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
