"""Mirrors: a preset name or a URL, turned into the URL each package manager should use."""

from __future__ import annotations

from envspec.catalog import Catalog, MirrorKey
from envspec.loader import KeyPath
from envspec.resolve.model import Collector


def mirror_url(
    ref: str | None, purpose: MirrorKey, catalog: Catalog, out: Collector, path: KeyPath
) -> str | None:
    """URL for `purpose` (ubuntu, debian, debian-security, pypi, conda) or None to keep defaults.

    A URL given by the user is taken as is; a preset that lacks the purpose is an error, except
    for `debian-security`, which then keeps the distribution's own security archive.
    """
    if ref is None:
        return None
    if "://" in ref:
        return ref.rstrip("/")
    preset = catalog.mirror(ref)
    if preset is None:
        names = ", ".join(m.name for m in catalog.mirrors())
        out.error("mirror.unknown", f"unknown mirror preset {ref!r}", path,
                  f"use one of {names}, or a URL")
        return None
    url = preset.urls.get(purpose)
    if url is None and purpose != "debian-security":
        out.error("mirror.missing", f"mirror preset {ref!r} has no {purpose} mirror", path,
                  "give the mirror's URL instead of the preset name")
    return url.rstrip("/") if url else None
