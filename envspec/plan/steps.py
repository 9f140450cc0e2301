"""The plan's vocabulary: Dockerfile instructions as small frozen values, and the step holding them.

Step builders decide every command, flag and path here, in Python; the templates only lay these
values out (`templates/macros/instructions.j2`), so a rendered line can be traced to one builder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeAlias


@dataclass(frozen=True)
class Command:
    """One shell command of a RUN. `text` is complete, already-quoted shell; `args` are plain
    values (packages, requirements) that the template quotes and lays out one per line."""

    text: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Run:
    """RUN: commands joined with &&, in one layer; `mounts` are BuildKit `--mount=` values."""

    commands: tuple[Command, ...]
    mounts: tuple[str, ...] = ()
    kind: ClassVar[str] = "run"


@dataclass(frozen=True)
class Copy:
    src: str  # relative to the build context
    dest: str
    chown: str | None = None  # "uid:gid"
    kind: ClassVar[str] = "copy"


@dataclass(frozen=True)
class Env:
    pairs: Mapping[str, str]
    # With `expand`, values are in the spec's env syntax (grammar.env_value): Docker expands
    # $NAME/${NAME…} references (PATH=/opt/venv/bin:$PATH) and `$$` is a literal dollar.
    # Without it, every `$` is literal. Quotes and backslashes are escaped either way.
    expand: bool = False
    kind: ClassVar[str] = "env"


@dataclass(frozen=True)
class Label:
    pairs: Mapping[str, str]
    kind: ClassVar[str] = "label"


@dataclass(frozen=True)
class User:
    who: str  # "uid:gid": by number, so runtimes enforcing non-root can check it
    kind: ClassVar[str] = "user"


@dataclass(frozen=True)
class Workdir:
    path: str
    kind: ClassVar[str] = "workdir"


@dataclass(frozen=True)
class Entrypoint:
    argv: tuple[str, ...]
    kind: ClassVar[str] = "entrypoint"


@dataclass(frozen=True)
class Cmd:
    argv: tuple[str, ...]
    kind: ClassVar[str] = "cmd"


@dataclass(frozen=True)
class Expose:
    ports: tuple[str, ...]  # "8888", "6006/udp"
    kind: ClassVar[str] = "expose"


@dataclass(frozen=True)
class Volume:
    paths: tuple[str, ...]  # absolute, validated paths; written in exec (JSON) form
    kind: ClassVar[str] = "volume"


Instruction: TypeAlias = Run | Copy | Env | Label | User | Workdir | Entrypoint | Cmd | Expose | Volume


@dataclass(frozen=True)
class Step:
    """One section of the Dockerfile; `name` is also its partial: templates/partials/<name>.j2,
    and `title` its section comment (`# --- apt packages ---`)."""

    name: str
    title: str
    instructions: tuple[Instruction, ...]


def sh(text: str, *args: str) -> Command:
    """A shell command; `args` (packages, requirements) are quoted and laid out one per line."""
    return Command(text, tuple(args))


def run(*commands: Command | str, mounts: tuple[str, ...] = ()) -> Run:
    """One RUN of these commands, in order; a plain string is a command without args."""
    return Run(tuple(c if isinstance(c, Command) else Command(c) for c in commands), mounts)


@dataclass(frozen=True)
class CacheMounts:
    """BuildKit cache mounts per package manager; empty for the classic builder (docker-py),
    which rejects `RUN --mount`. With them, downloads survive between builds outside the image."""

    system: tuple[str, ...] = ()  # the distribution's package manager (apt)
    pip: tuple[str, ...] = ()
    conda: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContextFile:
    """A file of the build context: copied from next to the spec, or generated text."""

    source: Path | None = None
    text: str | None = None
    # Only files named on the command line (--ca-cert, --host-ca) may live outside the spec's
    # folder; anything the spec names must stay inside it.
    outside_allowed: bool = False


@dataclass(frozen=True)
class Context:
    """What every step builder may read (certs, cache) or add to (the context's files)."""

    certs: tuple[Path, ...]
    cache: CacheMounts
    files: dict[str, ContextFile] = field(default_factory=dict)
