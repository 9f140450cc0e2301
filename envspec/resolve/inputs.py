"""Inputs besides the spec: env.lock (base image and torch pins), then `--base-image`.

Each is applied as a decision after the one the spec and catalog made (source `lock` or `cli`),
so `envspec explain` shows every step from the catalog's choice to what is actually built.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from envspec import __version__, grammar
from envspec.catalog import Catalog
from envspec.errors import Diagnostic, Location, RefusedError, UsageError
from envspec.lockfile import LOCK_NAME, Lock, lock_path
from envspec.resolve.model import Collector, ResolvedBase, ResolvedPython
from envspec.resolve.torch import locked_install


@dataclass(frozen=True)
class ResolveInputs:
    """What the build adds to the spec; applied in this order."""

    lock: Lock | None = None  # env.lock next to the spec, as read (None: there is none)
    locked: bool = False  # --locked: the lock must exist and match the spec
    base_image: str | None = None  # --base-image: build FROM this instead


def apply_inputs(
    base: ResolvedBase, inputs: ResolveInputs, spec_sha256: str, spec_path: Path, out: Collector
) -> tuple[ResolvedBase, bool]:
    """The base after the lock and --base-image, and whether the lock's image is the FROM."""
    lock = inputs.lock
    lock_used = False
    if lock is not None and lock.spec_sha256 == spec_sha256:
        out.decide("base.image", lock.pinned_image, "lock", _lock_reason(lock, base))
        base, lock_used = dataclasses.replace(base, image=lock.pinned_image), True
    elif lock is not None and not inputs.locked:
        _lock_warning("lock.stale", f"{LOCK_NAME} is stale: the spec changed since it was "
                      "written", spec_path, out)
    if inputs.base_image is not None:
        image = _checked_image(inputs.base_image)
        out.decide("base.image", image, "cli", f"--base-image replaces {base.image}; apt, "
                   f"compilers and Python still follow {base.distro.id}")
        base, lock_used = dataclasses.replace(base, image=image), False
    return base, lock_used


def apply_locked_torch(
    python: ResolvedPython | None, inputs: ResolveInputs, spec_sha256: str, spec_path: Path,
    catalog: Catalog, out: Collector,
) -> ResolvedPython | None:
    """The torch release the lock recorded, not what a newer catalog would pick for a range;
    one this catalog cannot install warns, or refuses under --locked."""
    lock = inputs.lock
    if python is None or python.torch is None or lock is None or not lock.torch:
        return python
    if lock.spec_sha256 != spec_sha256:
        return python
    torch = locked_install(python.torch, lock.torch, catalog)
    if torch is python.torch:
        return python
    if torch is not None:
        out.decide("python.pip.torch", " ".join(torch.requirements), "lock", f"pinned by {LOCK_NAME}")
        return dataclasses.replace(python, torch=torch)
    message = (f"{LOCK_NAME} pins {' '.join(lock.torch)}, which envspec {__version__} cannot "
               f"install with {python.torch.variant} wheels")
    if inputs.locked:
        raise RefusedError(message, hint="run `envspec lock` and commit the result")
    _lock_warning("lock.torch", message, spec_path, out)
    return python


def _lock_warning(code: str, problem: str, spec_path: Path, out: Collector) -> None:
    """The lock is set aside (the spec's own resolution is used): a warning on env.lock."""
    out.diagnostics.append(Diagnostic(
        code, f"{problem}; using the spec's own resolution", Location(str(lock_path(spec_path))),
        "run `envspec lock` to update it", "warning"))


def refuse_unless_locked(inputs: ResolveInputs, spec_sha256: str, spec_path: Path) -> None:
    """--locked: there must be a lock, made from this very spec."""
    if not inputs.locked:
        return
    path = lock_path(spec_path)
    if inputs.lock is None:
        raise RefusedError(f"--locked, but there is no {path}", hint="run `envspec lock`")
    if inputs.lock.spec_sha256 != spec_sha256:
        raise RefusedError(f"{path} was made from another version of {spec_path.name}",
                           hint="run `envspec lock` and commit the result")


def _lock_reason(lock: Lock, base: ResolvedBase) -> str:
    if lock.pinned_image != lock.base_image:
        why = f"{LOCK_NAME} pins {lock.base_image} by digest"
    else:
        why = f"{LOCK_NAME} records this image (`envspec lock --refresh` pins its digest)"
    if lock.base_image.partition("@")[0] != base.image:
        why += f"; the spec alone resolves to {base.image} today"
    return why


def _checked_image(image: str) -> str:
    try:
        return grammar.image_reference(image)
    except ValueError as err:
        raise UsageError(f"--base-image: {err}",
                           hint="give a reference like `registry:5000/cuda:12.4.1-runtime-ubuntu22.04`"
                           ) from None
