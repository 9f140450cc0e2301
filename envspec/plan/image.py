"""Step builders for what the spec adds on top of the installed software: its files, its run
steps, the runtime settings, and the labels."""

from __future__ import annotations

from envspec import __version__
from envspec.plan.steps import (
    Cmd,
    Context,
    ContextFile,
    Copy,
    Entrypoint,
    Instruction,
    Label,
    Step,
    User,
    Workdir,
    run,
)
from envspec.plan.system import ROOT, user_id
from envspec.resolve.model import Resolved


def copy(r: Resolved, ctx: Context) -> list[Step]:
    copies = []
    for item in r.spec.copy_files:
        rel = item.src.rstrip("/") or "."
        ctx.files[rel] = ContextFile(source=r.spec_dir / rel)
        copies.append(Copy(rel, item.dest, chown=user_id(r)))
    if not copies:
        return []
    return [Step("copy", "your files", tuple(copies))]


def run_steps(r: Resolved, ctx: Context) -> list[Step]:
    if not r.spec.run:
        return []
    as_root = (User(ROOT),) if r.spec.user is not None else ()
    return [Step("run", "extra build steps (as root)",
                 (*as_root, *(run(command) for command in r.spec.run)))]


def runtime(r: Resolved, ctx: Context) -> list[Step]:
    spec = r.spec
    settings: list[Instruction] = [Workdir(spec.workdir)]
    who = user_id(r)
    if who:
        settings.append(User(who))
    if spec.entrypoint:
        settings.append(Entrypoint(tuple(spec.entrypoint)))
    if spec.cmd:
        settings.append(Cmd(tuple(spec.cmd)))
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
