"""context: the build context — the Dockerfile plus only the files the plan names, each with
its bytes and mode (a `copy:`'d script stays executable in the image and in `render -o`).

Writing is all-or-nothing (a full disk changes nothing) and never clobbers a file the user
edited: a manifest remembers the hash of every file envspec wrote, and anything that no longer
matches it is left alone unless the caller passes force=True.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from envspec.context_tar import ContextEntry, normal_mode
from envspec.errors import EnvspecError, RefusedError, WriteFailedError
from envspec.plan import BuildPlan, ContextFile

MANIFEST = ".envspec-manifest.json"
_SKIP_DIRS = {".git", "__pycache__", ".venv", ".mypy_cache", ".pytest_cache"}


def context_files(plan: BuildPlan, dockerfile: str, spec_dir: Path) -> dict[str, ContextEntry]:
    """Every file of the context, by POSIX relative path, in a stable order."""
    files: dict[str, ContextEntry] = {"Dockerfile": ContextEntry(dockerfile.encode())}
    for rel, item in sorted(plan.files.items()):
        files.update(_expand(rel, item, spec_dir))
    files[".dockerignore"] = ContextEntry(_dockerignore(files).encode())
    return dict(sorted(files.items()))


def _expand(rel: str, item: ContextFile, spec_dir: Path) -> dict[str, ContextEntry]:
    if item.text is not None:
        return {rel: ContextEntry(item.text.encode())}
    assert item.source is not None
    source = item.source
    if not source.is_dir():
        return {rel: _read(source, spec_dir, rel, item.outside_allowed)}
    found: dict[str, ContextEntry] = {}
    for path in sorted(source.rglob("*")):
        if path.is_file() and not (_SKIP_DIRS & set(path.relative_to(source).parts)):
            inner = path.relative_to(source).as_posix()
            name = f"{rel}/{inner}" if rel != "." else inner
            found[name] = _read(path, spec_dir, rel, item.outside_allowed)
    return found


def _read(path: Path, spec_dir: Path, rel: str, outside_allowed: bool) -> ContextEntry:
    """Read a referenced file with its mode, refusing links that lead outside the spec's folder."""
    real = path.resolve()
    if not outside_allowed and not real.is_relative_to(spec_dir.resolve()):
        raise EnvspecError(f"{rel} resolves to {real}, outside the spec's folder",
                           hint="copy the file next to env.yaml instead of linking to it")
    return ContextEntry(real.read_bytes(), normal_mode(real.stat().st_mode))


def _dockerignore(files: Mapping[str, ContextEntry]) -> str:
    """An allow-list: even `docker build` run by hand here sends only these files."""
    lines = ["# written by envspec: only the files the build needs", "*"]
    lines += [f"!{name}" for name in files if name != ".dockerignore"]
    return "\n".join(lines) + "\n"


def write_context(
    files: Mapping[str, ContextEntry], out_dir: Path, *, force: bool = False
) -> list[str]:
    """Write the context into out_dir, modes kept; returns the paths written. Refuses on user
    edits (a changed content, not a changed mode)."""
    old = _read_manifest(out_dir)
    blocked = [name for name in files if _user_owned(out_dir / name, old.get(name))]
    if blocked and not force:
        raise RefusedError(
            f"{out_dir} has files envspec did not write or that were edited since: "
            + ", ".join(blocked[:5]),
            hint="pass --force to overwrite them, or render into another folder",
        )
    manifest = {name: _digest(entry.data) for name, entry in files.items()}
    contents = {name: (entry.data, normal_mode(entry.mode)) for name, entry in files.items()}
    contents[MANIFEST] = ((json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode(), 0o644)
    _write_or_fail(out_dir, contents, f"the build context into {out_dir}")
    for stale in set(old) - set(files):
        path = out_dir / stale
        with contextlib.suppress(OSError):  # best effort: a leftover file harms nothing
            if path.is_file() and _digest(path.read_bytes()) == old[stale]:
                path.unlink()
    return list(files)


def write_file(path: Path, content: bytes) -> None:
    """Write one file (env.lock) whole or not at all; WriteFailedError if it cannot be."""
    _write_or_fail(path.parent, {path.name: (content, 0o644)}, str(path))


def _write_or_fail(out_dir: Path, contents: Mapping[str, tuple[bytes, int]], what: str) -> None:
    try:
        _write_all(out_dir, contents)
    except OSError as err:
        raise WriteFailedError(
            f"could not write {what}: {err.strerror or err}",
            hint="nothing in it was changed; free some space (or pick a writable folder) and "
            "run the command again",
        ) from err


def _write_all(out_dir: Path, contents: Mapping[str, tuple[bytes, int]]) -> None:
    """All files or none: every one is first written in full to a temporary file next to its
    target, and only when all of them are on disk are they renamed into place (a rename takes
    no space). On any failure (a full disk) the temporary files go and the folder is as before."""
    staged: list[tuple[str, Path]] = []
    created: list[Path] = []  # folders made here, removed again on failure
    try:
        for name, (data, mode) in contents.items():
            target = out_dir / name
            missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                created.append(folder)
            staged.append((_write_temporary(target.parent, data, mode), target))
    except BaseException:
        for temporary, _ in staged:
            Path(temporary).unlink(missing_ok=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    for temporary, target in staged:
        os.replace(temporary, target)


def _user_owned(path: Path, recorded: str | None) -> bool:
    if not path.exists():
        return False
    return recorded is None or _digest(path.read_bytes()) != recorded


def _read_manifest(out_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_temporary(folder: Path, content: bytes, mode: int) -> str:
    """A new temporary file in `folder` holding `content` (flushed to disk) with `mode`."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".envspec-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
