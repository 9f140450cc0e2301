"""A build context as a deterministic tar: same files in, same bytes out.

Entries are sorted by path, every mtime is 0, owners are uid/gid 0 with no names, and modes are
normalised to 0644 (0755 for directories and for files with any executable bit), so the tar and
its sha256 depend only on the names, contents, executability and symlink targets of the files.
`.dockerignore` in the context directory is honoured with Docker's own rules (Go-style globs,
`**`, `!` exceptions, last match wins, a match on a parent directory covers what is inside);
the Dockerfile and `.dockerignore` are always sent, as `docker build` does.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

ALWAYS_SENT = ("Dockerfile", ".dockerignore")


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    exclusion: bool


def _clean(path: str) -> str:
    """Go's filepath.Clean for slash-separated relative paths, minus any leading slash."""
    parts: list[str] = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
        elif part != ".." or parts:
            parts.append(part)
    return "/".join(parts) or "."


def _glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Translate one .dockerignore glob the way moby/patternmatcher does."""
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 1
                if i + 1 < n and pattern[i + 1] == "/":
                    i += 1
                # "**" at the end matches everything; elsewhere any number of directories.
                out.append(".*" if i + 1 >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


def parse_dockerignore(text: str) -> list[_Pattern]:
    """Patterns of a .dockerignore file, in order; blank lines and `#` comments skipped."""
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        cleaned = _clean(line)
        if cleaned == ".":
            continue
        patterns.append(_Pattern(_glob_to_regex(cleaned), exclusion))
    return patterns


def is_ignored(relpath: str, patterns: list[_Pattern]) -> bool:
    """Docker's MatchesOrParentMatches: the last pattern matching the path or a parent wins."""
    parts = relpath.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        if pattern.exclusion != ignored:
            continue
        if any(pattern.regex.match(candidate) for candidate in candidates):
            ignored = not pattern.exclusion
    return ignored


def _read_patterns(context_dir: Path) -> list[_Pattern]:
    ignore_file = context_dir / ".dockerignore"
    if not ignore_file.is_file():
        return []
    patterns = parse_dockerignore(ignore_file.read_text(encoding="utf-8", errors="replace"))
    # Like `docker build`: the daemon needs these two even when .dockerignore names them.
    patterns.extend(_Pattern(_glob_to_regex(name), True) for name in ALWAYS_SENT)
    return patterns


def context_files(context_dir: Path) -> list[str]:
    """Relative, slash-separated paths the context sends (files, symlinks, and directories),
    sorted so that every directory comes before what it holds."""
    root = Path(context_dir)
    if not root.is_dir():
        raise NotADirectoryError(f"build context {root} is not a directory")
    patterns = _read_patterns(root)
    can_reinclude = any(p.exclusion for p in patterns[: -len(ALWAYS_SENT)])
    kept: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        if rel_dir != "." and not can_reinclude and is_ignored(rel_dir, patterns):
            dirnames.clear()  # nothing under an ignored directory can come back
            continue
        for name in dirnames + filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if not is_ignored(rel, patterns):
                kept.add(rel)
                # A kept file keeps its parent directories, even excluded ones (`dir` + `!dir/x`).
                parent = rel.rpartition("/")[0]
                while parent:
                    kept.add(parent)
                    parent = parent.rpartition("/")[0]
    return sorted(kept, key=lambda rel: rel.split("/"))


def _tarinfo(root: Path, rel: str) -> tuple[tarfile.TarInfo, bytes | None]:
    path = root / rel
    st = path.lstat()
    info = tarfile.TarInfo(rel)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
        info.mode = 0o777
        return info, None
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        return info, None
    data = path.read_bytes()
    info.size = len(data)
    info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    return info, data


def deterministic_tar(context_dir: Path) -> bytes:
    """The context directory as an uncompressed tar whose bytes depend only on its content.

    Sockets, FIFOs and device files are skipped; hard links are stored as regular files.
    """
    root = Path(context_dir)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in context_files(root):
            mode = (root / rel).lstat().st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                continue
            info, data = _tarinfo(root, rel)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def context_digest(context_dir: Path) -> str:
    """sha256 (hex) of `deterministic_tar(context_dir)`."""
    return hashlib.sha256(deterministic_tar(context_dir)).hexdigest()
