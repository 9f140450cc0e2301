"""The build context as one value: the files envspec chose, as a deterministic tar in memory.

Same files in, same bytes out: entries are sorted by path (every directory before what it
holds), every mtime is 0, owners are uid/gid 0 with no names, files are 0755 when any executable
bit was set and 0644 otherwise, directories 0755. The tar and its sha256 therefore depend only
on names, contents, executability and link targets. Nothing is written to disk and nothing is
filtered: the context holds exactly the entries it was given.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass

FILE_MODE = 0o644
EXEC_MODE = 0o755
DIR_MODE = 0o755


def normal_mode(mode: int) -> int:
    """0755 when any executable bit is set, else 0644: what the tar and `render -o` keep."""
    return EXEC_MODE if mode & 0o111 else FILE_MODE


@dataclass(frozen=True)
class ContextEntry:
    """One file of the context: its bytes and its mode (or, rarely, a symlink's target)."""

    data: bytes
    mode: int = FILE_MODE
    link: str | None = None

    @property
    def executable(self) -> bool:
        return bool(self.mode & 0o111)


@dataclass(frozen=True)
class ContextTar:
    """The context as an uncompressed tar (`data`) and its sha256 (`digest`, hex)."""

    data: bytes
    digest: str

    @classmethod
    def from_entries(cls, entries: Mapping[str, ContextEntry]) -> ContextTar:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in _with_parents(entries):
                entry = entries.get(name)
                info = _info(name, entry)
                tar.addfile(info, io.BytesIO(entry.data) if info.isreg() and entry else None)
        data = buffer.getvalue()
        return cls(data, hashlib.sha256(data).hexdigest())


def _with_parents(entries: Mapping[str, ContextEntry]) -> list[str]:
    """Every entry's path and its parent directories, each directory before its content."""
    names = set(entries)
    for name in entries:
        parent = name.rpartition("/")[0]
        while parent:
            names.add(parent)
            parent = parent.rpartition("/")[0]
    return sorted(names, key=lambda name: name.split("/"))


def _info(name: str, entry: ContextEntry | None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if entry is None:
        info.type, info.mode = tarfile.DIRTYPE, DIR_MODE
    elif entry.link is not None:
        info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, entry.link
    else:
        info.size, info.mode = len(entry.data), normal_mode(entry.mode)
    return info
