"""env.lock: the resolved choices, committed next to env.yaml so rebuilds years later match.

The lock pins the base image (by digest once `envspec lock --refresh` has asked the registry)
and the torch release a range like `torch>=2.1` resolved to, and records the hash of the spec it
came from, so an edited spec is noticed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from envspec import __version__
from envspec.errors import Diagnostic, EnvspecError, Location, RefusedError
from envspec.resolve.model import Decision, Resolved

LOCK_NAME = "env.lock"
HEADER = "# env.lock — written by `envspec lock`; commit it next to env.yaml. Do not edit.\n"


@dataclass(frozen=True)
class Lock:
    envspec: str
    spec_sha256: str
    base_image: str
    base_digest: str | None
    cuda: str | None
    gcc: int | None
    python: str | None
    torch: tuple[str, ...]

    @property
    def pinned_image(self) -> str:
        if self.base_digest is None or "@" in self.base_image:
            return self.base_image
        return f"{self.base_image}@{self.base_digest}"


def lock_path(spec_path: Path) -> Path:
    return spec_path.parent / LOCK_NAME


def lock_from(resolved: Resolved, digest: str | None = None) -> Lock:
    py = resolved.python
    return Lock(
        envspec=__version__, spec_sha256=resolved.spec_sha256, base_image=resolved.base.image,
        base_digest=digest, cuda=resolved.base.cuda, gcc=resolved.gcc,
        python=py.version if py else None,
        torch=py.torch.requirements if py and py.torch else (),
    )


def dump_lock(lock: Lock) -> str:
    data = dataclasses.asdict(lock)
    data["torch"] = list(lock.torch)
    return HEADER + yaml.safe_dump(data, sort_keys=False)


def read_lock(path: Path) -> Lock | None:
    if not path.is_file():
        return None
    try:
        data: Any = yaml.safe_load(path.read_text("utf-8"))
        data["torch"] = tuple(data.get("torch") or ())
        return Lock(**data)
    except (yaml.YAMLError, TypeError, KeyError, AttributeError) as err:
        raise EnvspecError(f"{path} is not a valid lock file ({err})",
                           hint="regenerate it with `envspec lock`") from None


def apply_lock(resolved: Resolved, lock: Lock | None, *, locked: bool) -> Resolved:
    """Build from the locked base image; a stale lock warns, or refuses under --locked."""
    path = lock_path(resolved.spec_path)
    if lock is None:
        if locked:
            raise RefusedError(f"--locked, but there is no {path}", hint="run `envspec lock`")
        return resolved
    if lock.spec_sha256 != resolved.spec_sha256:
        if locked:
            raise RefusedError(f"{path} was made from another version of {resolved.spec_path.name}",
                               hint="run `envspec lock` and commit the result")
        stale = Diagnostic("lock.stale", f"{LOCK_NAME} is stale: the spec changed since it was "
                           "written; using the spec's own resolution", Location(str(path)),
                           "run `envspec lock` to update it", "warning")
        return dataclasses.replace(resolved, diagnostics=(*resolved.diagnostics, stale))
    base = dataclasses.replace(resolved.base, image=lock.pinned_image)
    resolved = _with_locked_torch(resolved, lock, path, locked=locked)
    return dataclasses.replace(resolved, base=base, lock_used=True)


def _with_locked_torch(resolved: Resolved, lock: Lock, path: Path, *, locked: bool) -> Resolved:
    """The torch release the lock recorded, not what a newer catalog would pick for a range."""
    from envspec.catalog import load_catalog
    from envspec.resolve.torch import locked_install

    py = resolved.python
    if py is None or py.torch is None or not lock.torch:
        return resolved
    torch = locked_install(py.torch, lock.torch, load_catalog())
    if torch is py.torch:
        return resolved
    if torch is not None:
        pinned = Decision("python.pip.torch", " ".join(torch.requirements), "lock",
                          f"pinned by {LOCK_NAME}")
        return dataclasses.replace(resolved, python=dataclasses.replace(py, torch=torch),
                                   decisions=(*resolved.decisions, pinned))
    message = (f"{LOCK_NAME} pins {' '.join(lock.torch)}, which envspec {__version__} cannot "
               f"install with {py.torch.variant} wheels")
    if locked:
        raise RefusedError(message, hint="run `envspec lock` and commit the result")
    unusable = Diagnostic("lock.torch", message + "; using the spec's own resolution",
                          Location(str(path)), "run `envspec lock` to update it", "warning")
    return dataclasses.replace(resolved, diagnostics=(*resolved.diagnostics, unusable))
