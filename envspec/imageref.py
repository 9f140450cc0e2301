"""Image references (`ubuntu`, `127.0.0.1:5000/team/img:1`, `repo@sha256:…`), parsed once.

The grammar is the one of the Docker distribution project's `reference` package
(github.com/distribution/reference, regexp.go and normalize.go), written out in pure Python:
docker-py has the same rules (`docker.utils.parse_repository_tag`, `docker.auth.split_repo_name`)
but only `engine.py` may load docker-py, and `render`/`validate` must not pay for it.
tests/unit/test_imageref.py cross-checks this module against docker-py.

Rules that matter:
- the first `/`-separated component names a registry iff it contains `.` or `:` or is
  `localhost`; otherwise the image is on Docker Hub (`docker.io`);
- on Docker Hub a single name means `library/<name>` (the official images);
- without a tag or digest the tag is `latest`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io"})  # Docker normalises the legacy name
OFFICIAL_NAMESPACE = "library"
DEFAULT_TAG = "latest"
MAX_NAME_LENGTH = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_REPOSITORY = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
# The reference grammar allows any algorithm; the engine (opencontainers/go-digest) accepts only
# these, with lower-case hex of their length.
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128}")


class ImageRefError(ValueError):
    """Not an image reference; the message says which part is wrong."""


@dataclass(frozen=True)
class ImageRef:
    """A parsed, normalised reference: `docker.io`, `library/ubuntu`, `22.04`, None."""

    registry: str  # "docker.io", "127.0.0.1:5000", "localhost", "nvcr.io"
    repository: str  # path inside the registry: "library/ubuntu", "team/img"
    tag: str | None = DEFAULT_TAG  # None when a digest is given without a tag (or see parse)
    digest: str | None = None  # "sha256:…"

    @classmethod
    def parse(cls, text: str, *, default_tag: str | None = DEFAULT_TAG) -> ImageRef:
        """Parse and normalise `text`; `default_tag=None` keeps a missing tag missing (to tell
        `img` from `img:latest`, as `docker push` must)."""
        name, tag, digest = _split_suffixes(text)
        registry, repository = _split_registry(name)
        if not _REPOSITORY.fullmatch(repository):
            lower = "; repository names must be lower case" if repository.lower() != repository else ""
            raise ImageRefError(f"{text!r} is not an image reference: bad repository "
                                f"{repository!r}{lower}")
        if len(name) > MAX_NAME_LENGTH:
            raise ImageRefError(f"{text!r} is not an image reference: the name is longer than "
                                f"{MAX_NAME_LENGTH} characters")
        if registry == DOCKER_HUB and "/" not in repository:
            repository = f"{OFFICIAL_NAMESPACE}/{repository}"
        if tag is None and digest is None:
            tag = default_tag
        return cls(registry, repository, tag, digest)

    @property
    def on_docker_hub(self) -> bool:
        return self.registry == DOCKER_HUB

    @property
    def familiar_name(self) -> str:
        """The name as `docker images` shows it: `ubuntu`, `team/img`, `127.0.0.1:5000/img`."""
        if not self.on_docker_hub:
            return f"{self.registry}/{self.repository}"
        return self.repository.removeprefix(f"{OFFICIAL_NAMESPACE}/")

    @property
    def qualified_name(self) -> str:
        """The name with its registry always spelled out: `docker.io/library/ubuntu`."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar(self) -> str:
        return self.familiar_name + self._suffix()

    @property
    def qualified(self) -> str:
        return self.qualified_name + self._suffix()

    def _suffix(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        return tag + (f"@{self.digest}" if self.digest is not None else "")

    def __str__(self) -> str:
        return self.familiar


def _split_suffixes(text: str) -> tuple[str, str | None, str | None]:
    """'name:tag@digest' → (name, tag, digest); the tag's colon is the last one after the last /."""
    rest, at, digest = text.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        raise ImageRefError(f"{text!r} is not an image reference: bad digest {digest!r} "
                            "(expected like sha256:<64 hex digits>)")
    colon = rest.rfind(":")
    tag: str | None = None
    if colon > rest.rfind("/"):
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ImageRefError(f"{text!r} is not an image reference: bad tag {tag!r} "
                                "(letters, digits, `_.-`, at most 128, not starting with . or -)")
    if not rest:
        raise ImageRefError(f"{text!r} is not an image reference: the name is empty")
    return rest, tag, (digest if at else None)


def _split_registry(name: str) -> tuple[str, str]:
    first, slash, remainder = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        return DOCKER_HUB, name
    if not _DOMAIN.fullmatch(first):
        raise ImageRefError(f"{name!r} is not an image reference: bad registry host {first!r}")
    return (DOCKER_HUB if first in _HUB_ALIASES else first), remainder
