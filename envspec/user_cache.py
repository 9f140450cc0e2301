"""The per-user cache folder: derived files envspec keeps between runs to start faster."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(name: str) -> Path | None:
    """`$XDG_CACHE_HOME/envspec/<name>` (default ~/.cache), created; None when it cannot be
    (a read-only home): callers then work without the cache."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "envspec" / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder
