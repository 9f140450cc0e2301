"""Parsing the builders' logs into progress events and a `BuildError` that names the failing
step, its command (without the shell prefix) and the last lines of its output.

`ClassicStreamParser` reads the engine's classic builder (JSON chunks through docker-py);
`PlainBuildKitParser` reads `docker build --progress=plain` lines from BuildKit.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from envspec.errors import BuildError
from envspec.progress import BuildFinished, EventCallback, LogLine, StepStarted, ignore_event

LOG_TAIL_LINES = 20

_COMMAND_PATTERNS = (
    # classic builder: The command '/bin/sh -c apt-get …' returned a non-zero code: 100
    re.compile(r"The command '(?P<cmd>.*)' returned a non-zero code", re.S),
    # BuildKit 0.8: executor failed running [/bin/sh -c apt-get …]: exit code: 100
    re.compile(r"failed running \[(?P<cmd>.*)\]: exit code", re.S),
    # BuildKit ≥0.11: process "/bin/sh -c apt-get …" did not complete successfully
    re.compile(r'process "(?P<cmd>.*)" did not complete successfully', re.S),
)
# The SHELL prefix of a shell-form RUN: `/bin/sh -c`, `/bin/bash -o pipefail -c`, …
_SHELL_PREFIX = re.compile(r"^/\S*sh(?:\s+-[^c\s]\S*(?:\s+[a-z]+)?)*\s+-c\s+", re.S)


def _command_of(error: str, step_title: str | None) -> str | None:
    for pattern in _COMMAND_PATTERNS:
        match = pattern.search(error)
        if match:
            return _SHELL_PREFIX.sub("", match.group("cmd").strip(), count=1)
    if step_title and step_title.upper().startswith("RUN "):
        words = step_title[4:].strip()
        while words.startswith("--"):  # RUN --mount=… --network=… command
            words = words.partition(" ")[2].lstrip()
        return words or None
    return None


def _hint_for(error: str, step_title: str | None) -> str | None:
    title = (step_title or "").upper()
    if title.startswith("FROM ") and step_title:
        # Whatever the engine says (not found, denied, no network): the base image is missing.
        image = step_title.split()[1] if len(step_title.split()) > 1 else "the base image"
        return (
            f"the base image {image} is neither in the local engine nor pullable (it may have "
            "been removed since `envspec lock`): check its name, load it first (`docker load`/"
            "`docker import`), or build from an image you have with `--base-image IMAGE`"
        )
    if ("apt-get" in error or "apt-get" in title) and "code: 100" in error:
        return (
            "apt failed: a package name may not exist in this release, or the archive "
            "(or the configured mirror/proxy) is unreachable; see the output above"
        )
    if "returned a non-zero code" in error or "exit code" in error:
        return "the command failed inside the build; its last lines of output are shown above"
    return None


_CLASSIC_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_CLASSIC_NOISE = re.compile(
    r"^( ---> (Running in |[0-9a-f]{12}$)|Removing intermediate container |Successfully tagged )"
)
_CLASSIC_RUNNING = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})$")
_CLASSIC_BUILT = re.compile(r"^Successfully built ([0-9a-f]+)$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # the classic builder paints stderr red


@dataclass
class ClassicStreamParser:
    """Turns the JSON chunks of the engine's classic builder into events; raises BuildError."""

    on_event: EventCallback = ignore_event
    image_id: str | None = None
    step: StepStarted | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))
    running_container: str | None = None  # the current step's container, while it runs
    _pending: str = ""

    def feed(self, chunk: Mapping[str, Any]) -> None:
        if "stream" in chunk:
            self._text(str(chunk["stream"]))
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and "ID" in aux:
            self.image_id = str(aux["ID"])
        if "status" in chunk:  # pulling a base image with pull=True
            status = " ".join(str(chunk[k]) for k in ("id", "status") if chunk.get(k))
            self.on_event(LogLine(status))
        if "errorDetail" in chunk or "error" in chunk:
            detail = chunk.get("errorDetail") or {}
            message = str(detail.get("message") or chunk.get("error") or "build failed")
            self._flush()
            raise self.error(message.strip())

    def error(self, message: str) -> BuildError:
        title = self.step.title if self.step else None
        self.on_event(BuildFinished(ok=False, detail=message))
        return BuildError(
            message,
            step=self.step.label if self.step else None,
            command=_command_of(message, title),
            log_tail=list(self.tail),
            hint=_hint_for(message, title),
        )

    def finish(self) -> str:
        self._flush()
        if not self.image_id:
            raise self.error("the engine ended the build without reporting an image id")
        return self.image_id

    def _text(self, text: str) -> None:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._line(line.rstrip("\r"))

    def _flush(self) -> None:
        if self._pending:
            self._line(self._pending.rstrip("\r"))
            self._pending = ""

    def _line(self, line: str) -> None:
        line = _ANSI.sub("", line)
        if not line.strip():
            return
        step = _CLASSIC_STEP.match(line)
        if step:
            self.step = StepStarted(int(step[1]), int(step[2]), step[3].strip())
            self.tail.clear()
            self.on_event(self.step)
            return
        built = _CLASSIC_BUILT.match(line)
        if built:
            self.image_id = self.image_id or built[1]
            return
        running = _CLASSIC_RUNNING.match(line)
        if running:
            self.running_container = running[1]
            return
        if _CLASSIC_NOISE.match(line):
            return
        text = line.removeprefix(" ---> ").strip() if line.startswith(" ---> ") else line
        self.tail.append(text)
        self.on_event(LogLine(text))


# `[ 5/11]`: BuildKit pads the step number to the width of the total; `[stage-1 2/2]`: a stage.
_BK_STEP = re.compile(r"^#(\d+) \[(?:[^\]\s]+ )?\s*(\d+)/(\d+)\] (.*)$")
_BK_OUTPUT = re.compile(r"^#(\d+) \d+\.\d+ (.*)$")
_BK_ERROR = re.compile(r"^#(\d+) ERROR:? (.*)$")
_BK_CACHED = re.compile(r"^#(\d+) CACHED$")


@dataclass
class PlainBuildKitParser:
    """Turns `docker build --progress=plain` (BuildKit) lines into events."""

    on_event: EventCallback = ignore_event
    steps: dict[str, StepStarted] = field(default_factory=dict)
    tails: dict[str, deque[str]] = field(default_factory=dict)
    current: str | None = None
    failed: str | None = None
    error_line: str | None = None
    last_lines: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if not line.strip():
            return
        self.last_lines.append(line)
        if match := _BK_STEP.match(line):
            vertex = match[1]
            if vertex not in self.steps:
                self.steps[vertex] = StepStarted(int(match[2]), int(match[3]), match[4].strip())
                self.tails[vertex] = deque(maxlen=LOG_TAIL_LINES)
                self.on_event(self.steps[vertex])
            self.current = vertex
        elif match := _BK_OUTPUT.match(line):
            # After an ERROR, BuildKit repeats the failed step's output in a summary: skip it.
            if match[1] in self.tails and self.failed is None:
                self.tails[match[1]].append(match[2])
                self.on_event(LogLine(match[2]))
        elif match := _BK_ERROR.match(line):
            self.failed = match[1]
            self.error_line = match[2].strip()
        elif _BK_CACHED.match(line):
            if line.split()[0][1:] in self.steps:
                self.on_event(LogLine("CACHED"))
        elif line.lower().startswith(("error:", "error ")) and self.error_line is None:
            self.error_line = line.split(":", 1)[1].strip() if ":" in line else line

    def error(self, returncode: int) -> BuildError:
        vertex = self.failed or self.current or ""
        step = self.steps.get(vertex)
        message = self.error_line or f"docker build exited with code {returncode}"
        tail = self.tails.get(vertex)
        self.on_event(BuildFinished(ok=False, detail=message))
        title = step.title if step else None
        return BuildError(
            message,
            step=step.label if step else None,
            command=_command_of(message, title) if step else None,
            log_tail=list(tail if tail else self.last_lines),
            hint=_hint_for(message, title),
        )
