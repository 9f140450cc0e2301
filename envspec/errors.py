"""Typed errors. The library raises these; only the CLI prints them and picks an exit code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

Severity = Literal["error", "warning", "info"]


class ExitCode(IntEnum):
    """Process exit codes, documented in `envspec --help`."""

    OK = 0
    INVALID_SPEC = 1  # the spec cannot be loaded, validated or resolved
    USAGE = 2  # click's own code for bad command-line usage
    BUILD_FAILED = 3
    SMOKE_FAILED = 4
    DOCKER_UNAVAILABLE = 5  # no engine, no permission on the socket, no NVIDIA runtime
    REFUSED = 6  # would overwrite a user's file, or a locked spec is stale
    HOST_PROBLEM = 7  # `envspec doctor` found something to fix
    REGISTRY_FAILED = 8  # a registry could not be reached, refused us, or lacks the image
    ENGINE_REFUSED = 9  # the engine refused a request that is not a build step (tag, container)
    WRITE_FAILED = 10  # an output file could not be written (disk full, read-only, permission)
    INTERRUPTED = 130  # Ctrl-C (SIGINT), the shell's 128 + 2
    TERMINATED = 143  # SIGTERM, the shell's 128 + 15


@dataclass(frozen=True)
class Location:
    """Where in which file a problem sits; line and column are 1-based."""

    file: str
    line: int | None = None
    column: int | None = None
    key: str | None = None  # dotted key path, e.g. "python.pip.packages[2]"

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True)
class Diagnostic:
    """One problem (or notice) with a stable code, a location and a way to fix it."""

    code: str  # e.g. "spec.unknown-key", "toolchain.gcc-cuda"
    message: str
    location: Location | None = None
    hint: str | None = None
    severity: Severity = "error"

    def format(self) -> str:
        where = f"{self.location}: " if self.location else ""
        key_path = self.location.key if self.location else None
        key = f" (at `{key_path}`)" if key_path and f"`{key_path}" not in self.message else ""
        text = f"{where}{self.severity}[{self.code}]: {self.message}{key}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class EnvspecError(Exception):
    """Base of every error envspec raises on purpose; the CLI maps it to `exit_code`."""

    exit_code: ExitCode = ExitCode.INVALID_SPEC

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def format(self) -> str:
        return f"error: {self.message}" + (f"\n  hint: {self.hint}" if self.hint else "")


class SpecError(EnvspecError):
    """The spec has problems; carries every one of them, not just the first."""

    exit_code = ExitCode.INVALID_SPEC

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        errors = [d for d in diagnostics if d.severity == "error"]
        super().__init__(f"{len(errors)} problem(s) in the spec")
        self.diagnostics = list(diagnostics)

    def format(self) -> str:
        lines = [d.format() for d in self.diagnostics]
        errors = sum(1 for d in self.diagnostics if d.severity == "error")
        lines.append(f"{errors} error(s); nothing was written.")
        return "\n".join(lines)


class UsageError(EnvspecError):
    """A command-line value that cannot be used (not a problem of the spec)."""

    exit_code = ExitCode.USAGE


class RefusedError(EnvspecError):
    """envspec declined to do something that would lose a user's work."""

    exit_code = ExitCode.REFUSED


class BuildError(EnvspecError):
    """The image build failed; `step` and `log_tail` say where and why."""

    exit_code = ExitCode.BUILD_FAILED

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        command: str | None = None,
        log_tail: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.step = step
        self.command = command
        self.log_tail = list(log_tail)

    def format(self) -> str:
        lines = [f"error: {self.message}"]
        if self.step:
            lines.append(f"  step: {self.step}")
        if self.command:
            lines.append(f"  command: {self.command}")
        if self.log_tail:
            lines.append("  last lines of its output:")
            lines.extend(f"    | {line}" for line in self.log_tail)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class DockerUnavailableError(EnvspecError):
    """The Docker engine (or the NVIDIA runtime behind it) cannot be used."""

    exit_code = ExitCode.DOCKER_UNAVAILABLE


class WriteFailedError(EnvspecError):
    """A file envspec writes could not be written (disk full, read-only, no permission);
    nothing of the output was changed."""

    exit_code = ExitCode.WRITE_FAILED


class SmokeFailedError(EnvspecError):
    """At least one smoke check failed inside the image."""

    exit_code = ExitCode.SMOKE_FAILED
