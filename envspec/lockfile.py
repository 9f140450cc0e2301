"""env.lock: the resolved choices, committed next to env.yaml so rebuilds years later match.

The lock pins the base image (by digest once `envspec lock --refresh` has asked the registry)
and the torch release a range like `torch>=2.1` resolved to, records the other versions the
resolver chose (CUDA, GCC, Python) and the hash of the spec it came from, so an edited spec is
noticed. Resolution reads it as an input (`ResolveInputs.lock`, see resolve/inputs.py), so
`envspec explain` shows what the lock decided (source: lock).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from envspec import __version__, grammar, yaml_safe
from envspec.catalog import FAST_LOADER
from envspec.catalog.models import Items
from envspec.errors import Diagnostic, Location, SpecError

if TYPE_CHECKING:
    from envspec.resolve.model import Resolved

LOCK_NAME = "env.lock"
LOCK_VERSION = 1  # the format; a newer envspec that changes it reads older ones
HEADER = "# env.lock — written by `envspec lock`; commit it next to env.yaml. Do not edit.\n"
REGENERATE = "regenerate it with `envspec lock` (add --refresh to pin the base image's digest)"

Digest = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class LockedSource(BaseModel):
    """A git source as `envspec lock` found it: the commit its tag pointed at (None: the
    repository could not be asked, so the build checks out the tag)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)

    name: Annotated[str, AfterValidator(grammar.source_name)]
    url: Annotated[str, AfterValidator(grammar.git_url)]
    ref: Annotated[str, AfterValidator(grammar.git_ref)]
    commit: Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")] | None = None


class Lock(BaseModel):
    """One env.lock. Fields added later must be optional, so that older locks still read."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)

    lock_version: int = Field(LOCK_VERSION, ge=1, le=LOCK_VERSION)  # absent in the first locks
    envspec: str  # the version that wrote it
    spec_sha256: Sha256  # of the merged spec data (see resolve.spec_sha256)
    base_image: Annotated[str, AfterValidator(grammar.image_reference)]
    base_digest: Digest | None = None
    cuda: str | None = None
    gcc: int | None = None
    python: str | None = None
    torch: Items[str] = ()  # the torch wheel pins, e.g. ("torch==2.1.2", "torchvision==0.16.2")
    sources: Items[LockedSource] = ()  # git sources' commits

    @property
    def pinned_image(self) -> str:
        if self.base_digest is None or "@" in self.base_image:
            return self.base_image
        return f"{self.base_image}@{self.base_digest}"


def lock_path(spec_path: Path) -> Path:
    return spec_path.parent / LOCK_NAME


def lock_from(
    resolved: Resolved, digest: str | None = None, sources: tuple[LockedSource, ...] = ()
) -> Lock:
    py = resolved.python
    return Lock(
        envspec=__version__, spec_sha256=resolved.spec_sha256, base_image=resolved.base.image,
        base_digest=digest, cuda=resolved.base.cuda, gcc=resolved.gcc,
        python=py.version if py else None,
        torch=py.torch.requirements if py and py.torch else (), sources=sources,
    )


def dump_lock(lock: Lock) -> str:
    # Older readers know no `sources` key: leave it out when there are none.
    data = lock.model_dump(mode="json", exclude={"sources"} if not lock.sources else set())
    return HEADER + yaml.safe_dump(data, sort_keys=False)


def read_lock(path: Path) -> Lock | None:
    """The lock at `path`, None when there is none; a corrupt one is a located SpecError."""
    if not path.is_file():
        return None
    try:
        text = yaml_safe.read_text(path)  # size, encoding: located errors like the spec's
        node = yaml_safe.compose(text, str(path))  # syntax errors and tags, located
        yaml_safe.check_events(text, str(path))  # nesting: the constructor below recurses
    except SpecError as err:  # the spec reader's codes, told as a lock problem
        raise SpecError([_corrupt(d.message, d.location or Location(str(path))).diagnostics[0]
                         for d in err.diagnostics]) from None
    try:
        data: Any = yaml.load(text, Loader=FAST_LOADER)
    except ValueError as err:  # a date or a number Python cannot hold
        raise _corrupt(f"{LOCK_NAME} has a value that cannot be read ({err})", Location(str(path))) from None
    if not isinstance(data, dict):
        raise _corrupt(f"{LOCK_NAME} must be a mapping of keys", Location(str(path), 1, 1))
    try:
        return Lock.model_validate(data)
    except ValidationError as err:
        marks = _marks(node)
        raise SpecError([_problem(e, path, marks) for e in err.errors()]) from None


def _marks(node: yaml.Node | None) -> dict[str, tuple[yaml.Mark, yaml.Mark]]:
    """Top-level key -> where the key and where its value start."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: (k.start_mark, v.start_mark) for k, v in node.value}


def _problem(error: Any, path: Path, marks: dict[str, tuple[yaml.Mark, yaml.Mark]]) -> Diagnostic:
    key = str(error["loc"][0]) if error["loc"] else ""
    key_mark, value_mark = marks.get(key, (None, None))
    mark = key_mark if error["type"] == "extra_forbidden" else value_mark
    where = (Location(str(path), mark.line + 1, mark.column + 1, key) if mark
             else Location(str(path), 1, 1, key or None))
    message, hint = f"`{key}`: " + str(error["msg"]).removeprefix("Value error, "), REGENERATE
    if error["type"] == "extra_forbidden":
        message = f"unknown key `{key}`"
    elif error["type"] == "missing":
        message = f"`{key}` is missing"
    elif key == "lock_version" and error["type"] == "less_than_equal":
        message = f"lock format {error['input']} is newer than this envspec reads ({LOCK_VERSION})"
        hint = "upgrade envspec, or " + REGENERATE
    return Diagnostic("lock.invalid", message, where, hint)


def _corrupt(message: str, where: Location) -> SpecError:
    return SpecError([Diagnostic("lock.invalid", message, where, REGENERATE)])
