"""What a build is asked for and what it gives back, and the identity of an image: its content
tag, and the rule that skips the builder when an image with that tag already exists.

A `BuildRequest` carries the one `ContextTar` the pipeline made; builders send exactly those
bytes. The tag hashes the same bytes, so "unchanged" means "the same tar".
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from envspec import __version__
from envspec.context_tar import ContextTar
from envspec.progress import BuildFinished, EventCallback, ignore_event

if TYPE_CHECKING:
    from envspec.engine import Engine

# Docker's predefined ARGs: usable in RUN, kept out of `docker history` and of the image, and
# different on every machine — so they are passed from the environment and never hashed.
PROXY_BUILD_ARGS = frozenset(
    v
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for v in (name, name.lower())
)
_NAME_OK = re.compile(r"[^a-z0-9._-]+")


def proxy_build_args(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The proxy variables set in the environment, as build arguments."""
    env = os.environ if environ is None else environ
    return {name: value for name in sorted(PROXY_BUILD_ARGS) if (value := env.get(name))}


def image_tag(context: ContextTar, name: str, *, build_args: Mapping[str, str] | None = None) -> str:
    """`envspec/<name>:<12 hex>` where the hex is sha256(context tar + envspec version).

    Build arguments, when given, are hashed too (they change the image), except Docker's
    predefined proxy arguments, which stay out of the image and differ per machine. `name` is
    lowered and anything Docker does not accept in a repository name becomes `-`.
    """
    digest = hashlib.sha256(context.data)
    digest.update(__version__.encode())
    relevant = {k: v for k, v in (build_args or {}).items() if k not in PROXY_BUILD_ARGS}
    if relevant:
        digest.update(json.dumps(dict(sorted(relevant.items()))).encode())
    clean = _NAME_OK.sub("-", name.lower()).strip("._-") or "env"
    return f"envspec/{clean}:{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class BuildRequest:
    """One build: the context, the tags (the first one decides "already built"), and options."""

    context: ContextTar
    tags: tuple[str, ...]
    no_cache: bool = False
    pull: bool = False
    network: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def for_content(
        cls,
        context: ContextTar,
        name: str,
        *,
        extra_tags: Sequence[str] = (),
        no_cache: bool = False,
        pull: bool = False,
        network: str | None = None,
        build_args: Mapping[str, str] | None = None,
    ) -> BuildRequest:
        """A request whose first tag is the content tag (`image_tag`) of `context`."""
        args = dict(build_args or {})
        tag = image_tag(context, name, build_args=args)
        return cls(context, (tag, *extra_tags), no_cache, pull, network, args)


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tags: tuple[str, ...]


class Builder(Protocol):
    """Builds a request's context (its Dockerfile at the top) into an image with its tags."""

    def build(self, request: BuildRequest, on_event: EventCallback = ignore_event) -> BuildResult: ...


@dataclass(frozen=True)
class BuildOutcome:
    """What `build_if_needed` did: `built` is False when the tag already existed."""

    result: BuildResult
    tag: str
    built: bool


def build_if_needed(
    engine: Engine, builder: Builder, request: BuildRequest, on_event: EventCallback = ignore_event
) -> BuildOutcome:
    """Build unless an image tagged `request.tags[0]` already exists (then only the other tags
    are applied, and the builder is not called). `no_cache` forces a build."""
    tag, *extra_tags = request.tags
    with content_lock(tag):  # a second `envspec build` of the same spec waits, then skips
        existing = None if request.no_cache else engine.image_id(tag)
        if existing is not None:
            for extra in extra_tags:
                engine.tag(existing, extra)
            detail = f"{tag} is up to date ({existing[:19]})"
            on_event(BuildFinished(ok=True, detail=detail, tags=request.tags))
            return BuildOutcome(BuildResult(existing, request.tags), tag, built=False)
        return BuildOutcome(builder.build(request, on_event), tag, built=True)


@contextmanager
def content_lock(tag: str) -> Iterator[None]:
    """Hold an exclusive lock named after the content tag while its image is looked up and
    built, so that builds of the same content on this machine run one after the other and the
    later ones find the image. The lock is an flock on a file in the user's cache folder: the
    kernel drops it when the process ends, however it ends. Without a writable cache folder
    builds run unlocked (the engine tags atomically, so both still end with the right tag)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "envspec" / "locks" / (hashlib.sha256(tag.encode()).hexdigest()[:24] + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
