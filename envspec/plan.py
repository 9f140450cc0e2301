"""plan: Resolved → the ordered build steps and the files the build context must hold.

This module is the ONE place that decides layer order. Docker reuses a cached layer only while
every layer before it is unchanged, so steps go from least to most likely to change:

  base → env → CA certificates → apt mirror → apt (one layer) → compilers → user →
  Python/conda runtime → dependency manifests (environment.yml, requirements) → torch →
  pip packages from the spec → user files → run steps → CA clean-up → runtime settings → labels

Consequences users can rely on: editing the spec's pip list rebuilds only the pip layer and
what follows it; editing code copied with `copy:` never reinstalls packages; labels (which
carry the spec hash) are last, so they never invalidate a real layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envspec import __version__
from envspec.resolve.model import Resolved

CA_DIR = "/usr/local/share/ca-certificates/envspec"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
MANIFEST_DIR = "/tmp/envspec"  # dependency manifests are copied here, alone, before install


@dataclass(frozen=True)
class Step:
    """One section of the Dockerfile; `name` is also its partial: templates/partials/<name>.j2."""

    name: str
    title: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ContextFile:
    """A file of the build context: copied from next to the spec, or generated text."""

    source: Path | None = None
    text: str | None = None
    # Only files named on the command line (--ca-cert, --host-ca) may live outside the spec's
    # folder; anything the spec names must stay inside it.
    outside_allowed: bool = False


@dataclass(frozen=True)
class CacheMounts:
    """BuildKit cache mounts per package manager; empty for the classic builder (docker-py),
    which rejects `RUN --mount`. With them, downloads survive between builds outside the image."""

    apt: tuple[str, ...] = ()
    pip: tuple[str, ...] = ()
    conda: tuple[str, ...] = ()

    @property
    def pip_flag(self) -> str:
        return "" if self.pip else " --no-cache-dir"


@dataclass(frozen=True)
class BuildPlan:
    steps: tuple[Step, ...]
    files: Mapping[str, ContextFile]  # context-relative path → content
    spec_name: str
    spec_file: str
    base_image: str


def make_plan(
    resolved: Resolved, extra_ca_certs: tuple[Path, ...] = (), *, buildkit: bool = False
) -> BuildPlan:
    cache = _cache_mounts(resolved) if buildkit else CacheMounts()
    ctx = _Context(files={}, certs=extra_ca_certs, cache=cache)
    builders = (
        _env, _ca_certificates, _apt_mirror, _apt, _compilers, _user, _python_runtime,
        _manifests, _torch, _pip, _copy, _run, _ca_cleanup, _runtime, _labels,
    )
    steps: list[Step] = []
    for build in builders:
        for step in build(resolved, ctx):
            steps.append(Step(step.name, step.title, {**step.data, "cache": cache}))
    return BuildPlan(tuple(steps), ctx.files, resolved.spec.name, resolved.spec_path.name,
                     resolved.base.image)


def _cache_mounts(r: Resolved) -> CacheMounts:
    user = r.spec.user
    owner = f",uid={user.uid},gid={user.gid}" if user else ""
    home = f"/home/{user.name}" if user else "/root"
    conda = r.python.conda.base_prefix if r.python and r.python.conda else None
    return CacheMounts(
        apt=("type=cache,target=/var/cache/apt,sharing=locked",
             "type=cache,target=/var/lib/apt/lists,sharing=locked"),
        pip=(f"type=cache,target={home}/.cache/pip{owner}",) if r.python else (),
        conda=(f"type=cache,target={conda}/pkgs{owner}",) if conda else (),
    )


@dataclass(frozen=True)
class _Context:
    """What every step builder may read (certs, cache) or add to (the context's files)."""

    files: dict[str, ContextFile]
    certs: tuple[Path, ...]
    cache: CacheMounts


def _env(r: Resolved, ctx: _Context) -> list[Step]:
    env = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    if r.python is not None:
        env |= {"PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        if not ctx.cache.pip:  # keeps pip's cache out of layers, also in the spec's run steps
            env["PIP_NO_CACHE_DIR"] = "1"
    env |= dict(r.env)
    return [Step("env", "environment", {"env": env})]


def _ca_certificates(r: Resolved, ctx: _Context) -> list[Step]:
    names = []
    for i, rel in enumerate(r.spec.build.ca_certificates):
        names.append(_add_cert(ctx.files, i, r.spec_dir / rel, from_cli=False))
    for j, path in enumerate(ctx.certs, start=len(names)):
        names.append(_add_cert(ctx.files, j, path, from_cli=True))
    if not names:
        return []
    return [Step("ca_certificates", "extra CA certificates (before any download)",
                 {"files": names, "dir": CA_DIR, "bundle": CA_BUNDLE})]


def _add_cert(files: dict[str, ContextFile], index: int, path: Path, *, from_cli: bool) -> str:
    name = f"ca-certificates/{index:02d}-{path.stem}.crt"  # update-ca-certificates wants .crt
    files[name] = ContextFile(source=path, outside_allowed=from_cli)
    return name


def _apt_mirror(r: Resolved, ctx: _Context) -> list[Step]:
    if r.apt.mirror is None:
        return []
    family = r.base.distro.family
    rewrites = [{"path": f"/{family}", "url": r.apt.mirror}]
    if r.apt.security_mirror:
        rewrites.insert(0, {"path": f"/{family}-security", "url": r.apt.security_mirror})
    return [Step("apt_mirror", "apt mirror", {"rewrites": rewrites, "mirror": r.apt.mirror})]


def _apt(r: Resolved, ctx: _Context) -> list[Step]:
    if not r.apt.packages and not r.apt.repositories:
        return []
    return [Step("apt", "apt packages", {
        "packages": r.apt.packages,
        "repositories": r.apt.repositories,
        "update_ca": bool(r.spec.build.ca_certificates or ctx.certs),
    })]


def _compilers(r: Resolved, ctx: _Context) -> list[Step]:
    if r.gcc is None:
        return []
    return [Step("compilers", f"compilers: gcc {r.gcc} as the default", {"gcc": r.gcc})]


def _user(r: Resolved, ctx: _Context) -> list[Step]:
    user = r.spec.user
    if user is None:
        return []
    owned = [r.spec.workdir]
    if r.python is not None:
        owned.append(r.python.prefix)
        if r.python.conda is not None:
            owned.append(r.python.conda.base_prefix)
    return [Step("user", f"non-root user {user.name}", {"user": user, "owned": owned})]


def _python_runtime(r: Resolved, ctx: _Context) -> list[Step]:
    py = r.python
    if py is None:
        return []
    data: dict[str, Any] = {"python": py, "as_user": _user_name(r)}
    if py.pip_conf is not None:
        ctx.files["pip.conf"] = ContextFile(text=py.pip_conf)
        data["pip_conf"] = "pip.conf"
    if py.conda is not None:
        if py.conda.condarc is not None:
            ctx.files["condarc"] = ContextFile(text=py.conda.condarc)
            data["condarc"] = "condarc"
        return [Step("conda", f"Python {py.version} (conda)", data)]
    return [Step("venv", f"Python {py.version} in a venv (PEP 668 keeps pip out of the OS's)",
                 data)]


def _manifests(r: Resolved, ctx: _Context) -> list[Step]:
    py = r.python
    if py is None:
        return []
    steps = []
    if py.conda is not None and py.conda.environment_file:
        rel = py.conda.environment_file
        ctx.files[rel] = ContextFile(source=r.spec_dir / rel)
        steps.append(Step("conda_environment", f"conda environment from {rel}",
                          {"file": rel, "dest": f"{MANIFEST_DIR}/{rel}", "python": py}))
    if py.conda is not None and py.conda.packages:
        steps.append(Step("conda_packages", "conda packages",
                          {"packages": py.conda.packages, "python": py}))
    for rel in py.requirements:
        ctx.files[rel] = ContextFile(source=r.spec_dir / rel)
    if py.requirements:
        dests = [f"{MANIFEST_DIR}/{rel}" for rel in py.requirements]
        steps.append(Step("pip_requirements", "pip requirements",
                          {"files": list(zip(py.requirements, dests, strict=True))}))
    return steps


def _torch(r: Resolved, ctx: _Context) -> list[Step]:
    if r.python is None or r.python.torch is None:
        return []
    torch = r.python.torch
    return [Step("torch", f"PyTorch ({torch.variant} wheels)", {"torch": torch})]


def _pip(r: Resolved, ctx: _Context) -> list[Step]:
    if r.python is None or not r.python.pip_packages:
        return []
    return [Step("pip", "pip packages", {"packages": r.python.pip_packages})]


def _copy(r: Resolved, ctx: _Context) -> list[Step]:
    items = []
    for item in r.spec.copy_files:
        rel = item.src.rstrip("/") or "."
        ctx.files[rel] = ContextFile(source=r.spec_dir / rel)
        items.append({"src": rel, "dest": item.dest})
    if not items:
        return []
    user = r.spec.user
    chown = f"{user.uid}:{user.gid}" if user else None
    return [Step("copy", "your files", {"items": items, "chown": chown})]


def _run(r: Resolved, ctx: _Context) -> list[Step]:
    if not r.spec.run:
        return []
    return [Step("run", "extra build steps (as root)", {"commands": list(r.spec.run),
                                                          "as_root": r.spec.user is not None})]


def _ca_cleanup(r: Resolved, ctx: _Context) -> list[Step]:
    if r.spec.build.keep_ca_certificates or not any(f.startswith("ca-certificates/") for f in ctx.files):
        return []
    return [Step("ca_cleanup", "drop the build-only CA certificates", {"dir": CA_DIR})]


def _runtime(r: Resolved, ctx: _Context) -> list[Step]:
    spec = r.spec
    return [Step("runtime", "runtime", {
        "workdir": spec.workdir,
        "user": spec.user,
        "entrypoint": spec.entrypoint,
        "cmd": spec.cmd,
    })]


def _labels(r: Resolved, ctx: _Context) -> list[Step]:
    labels = {
        "org.opencontainers.image.title": r.spec.name,
        "org.opencontainers.image.base.name": r.base.image,
        "io.envspec.version": __version__,
        "io.envspec.spec-sha256": r.spec_sha256,
    }
    if r.base.cuda:
        labels["io.envspec.cuda"] = r.base.cuda
    labels |= dict(r.spec.labels)
    return [Step("labels", "labels (last: they change with every spec edit)", {"labels": labels})]


def _user_name(r: Resolved) -> str | None:
    """USER by number: runtimes that enforce non-root (Kubernetes' runAsNonRoot) can check it."""
    user = r.spec.user
    return f"{user.uid}:{user.gid}" if user else None

