"""Step builders for what the spec adds on top of the installed software: its files, its run
steps, the runtime settings, and the labels."""

from __future__ import annotations

from collections.abc import Callable

from envspec import __version__
from envspec.plan.steps import (
    Cmd,
    Context,
    ContextFile,
    Copy,
    Entrypoint,
    Expose,
    Instruction,
    Label,
    Step,
    User,
    Volume,
    Workdir,
    run,
)
from envspec.plan.system import ROOT, run_as, user_id
from envspec.resolve.model import Resolved
from envspec.spec_types import RunPhase, run_steps


def copy(r: Resolved, ctx: Context) -> list[Step]:
    copies = []
    for item in r.spec.copy_files:
        rel = item.src.rstrip("/") or "."
        ctx.files[rel] = ContextFile(source=r.spec_dir / rel)
        copies.append(Copy(rel, item.dest, chown=user_id(r)))
    if not copies:
        return []
    return [Step("copy", "your files", tuple(copies))]


# Phases that come after the python step's `USER`: their RUN switches back to root.
_AFTER_USER_SWITCH = ("after_python", "after_sources", "final")
StepBuilder = Callable[[Resolved, Context], list[Step]]


def run_phase(phase: RunPhase) -> StepBuilder:
    """The builder of one `run:` phase: its commands joined in one RUN layer, as root."""

    def build(r: Resolved, ctx: Context) -> list[Step]:
        commands = [step.command for step in run_steps(r.spec.run) if step.phase == phase]
        if not commands:
            return []
        as_root = (User(ROOT),) if _switches_to_root(r, phase) else ()
        title = "extra build steps (as root)" if phase == "final" else f"build steps {phase} (as root)"
        return [Step("run", title, (*as_root, run(*commands)))]

    build.__name__ = f"run_{phase}"
    return build


def _switches_to_root(r: Resolved, phase: RunPhase) -> bool:
    """Whether this phase's RUN needs `USER root`: it comes after the python step's USER, and
    no earlier such phase already switched (nothing between them changes the user)."""
    if r.spec.user is None or phase not in _AFTER_USER_SWITCH:
        return False
    earlier = _AFTER_USER_SWITCH[:_AFTER_USER_SWITCH.index(phase)]
    return not any(step.phase in earlier for step in run_steps(r.spec.run))


def runtime(r: Resolved, ctx: Context) -> list[Step]:
    spec = r.spec
    settings: list[Instruction] = [Workdir(spec.workdir)]
    who = run_as(r)
    if who:
        settings.append(User(who))
    if spec.entrypoint:
        settings.append(Entrypoint(tuple(spec.entrypoint)))
    if spec.cmd:
        settings.append(Cmd(tuple(spec.cmd)))
    if spec.expose:
        settings.append(Expose(tuple(spec.expose)))
    if spec.volumes:  # after every RUN: Docker discards what later steps write into a volume
        settings.append(Volume(tuple(spec.volumes)))
    return [Step("runtime", "runtime", tuple(settings))]


def labels(r: Resolved, ctx: Context) -> list[Step]:
    pairs = {
        "org.opencontainers.image.title": r.spec.name,
        "org.opencontainers.image.base.name": r.base.image,
        "io.envspec.version": __version__,
        "io.envspec.spec-sha256": r.spec_sha256,
    }
    if r.base.cuda:
        pairs["io.envspec.cuda"] = r.base.cuda
    pairs |= dict(r.spec.labels)
    return [Step("labels", "labels (last: they change with every spec edit)", (Label(pairs),))]
