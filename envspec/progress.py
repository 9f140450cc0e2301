"""Build events, and the displays that show them.

The library never prints: builders and `push` call an `on_event` callback with the events
below, and the CLI passes in a display made by `open_progress()` (a rich Live view on a TTY,
plain lines otherwise). rich is imported only when the live view is used.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, TYPE_CHECKING, Literal, Union

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

ProgressMode = Literal["auto", "rich", "plain"]


@dataclass(frozen=True)
class StepStarted:
    """A Dockerfile step began: `Step 3/12 : RUN apt-get …` (classic) or `[3/12] RUN …`."""

    number: int
    total: int | None
    title: str  # the instruction, e.g. "RUN apt-get update"

    @property
    def label(self) -> str:
        total = f"/{self.total}" if self.total else ""
        return f"Step {self.number}{total} : {self.title}"


@dataclass(frozen=True)
class LogLine:
    """One line of output of the current step (or a status line of a push)."""

    text: str


@dataclass(frozen=True)
class BuildFinished:
    """The build (or push) ended; `ok` says how, `detail` is the image id or the error."""

    ok: bool
    detail: str = ""
    tags: tuple[str, ...] = ()


BuildEvent = Union[StepStarted, LogLine, BuildFinished]  # noqa: UP007 (runtime alias)
EventCallback = Callable[[BuildEvent], None]


def ignore_event(event: BuildEvent) -> None:
    """The default `on_event`: drop everything."""


class ProgressDisplay:
    """Base of the displays: a context manager that is also the `on_event` callback."""

    def __enter__(self) -> ProgressDisplay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __call__(self, event: BuildEvent) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop any live rendering; idempotent."""


class PlainProgress(ProgressDisplay):
    """One line per step and per output line; for logs, pipes and CI."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._step_start: float | None = None

    def __call__(self, event: BuildEvent) -> None:
        if isinstance(event, StepStarted):
            self._write(event.label)
            self._step_start = time.monotonic()
        elif isinstance(event, LogLine):
            self._write(f"  {event.text}")
        elif event.ok:
            self._write(f"done: {event.detail}" + "".join(f"\n  tagged {t}" for t in event.tags))
        else:
            self._write(f"failed: {event.detail}")

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


@dataclass
class _LiveState:
    step: StepStarted | None = None
    step_start: float = 0.0
    build_start: float = field(default_factory=time.monotonic)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=8))


class RichProgress(ProgressDisplay):
    """A rich Live view: current step and its elapsed time, the total elapsed time and the
    last `tail_lines` lines of the step's output; finished steps scroll up above it."""

    def __init__(self, console: Console | None = None, tail_lines: int = 8) -> None:
        from rich.console import Console as _Console
        from rich.live import Live as _Live

        self.console = console or _Console(stderr=True)
        self._state = _LiveState(tail=deque(maxlen=tail_lines))
        self._live: Live | None = _Live(
            get_renderable=self._render,
            console=self.console,
            refresh_per_second=8,
            transient=True,
        )
        self._live.start()

    def __call__(self, event: BuildEvent) -> None:
        state = self._state
        now = time.monotonic()
        if isinstance(event, StepStarted):
            self._finish_step(now)
            state.step, state.step_start = event, now
            state.tail.clear()
        elif isinstance(event, LogLine):
            state.tail.append(event.text)
        else:
            self._finish_step(now, ok=event.ok)
            state.step = None
            if event.ok:
                tags = ", ".join(event.tags)
                self.console.print(
                    f"[green]built[/] {event.detail}" + (f" ({tags})" if tags else "")
                )
        if self._live is not None:
            self._live.refresh()

    def _finish_step(self, now: float, ok: bool = True) -> None:
        step = self._state.step
        if step is None:
            return
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        self.console.print(
            f"{mark} {_escape(step.label)} [dim]{now - self._state.step_start:.1f}s[/]"
        )

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.text import Text

        state = self._state
        now = time.monotonic()
        head = Text.assemble(
            ("⠿ ", "cyan"),
            (state.step.label if state.step else "preparing build context", "bold"),
            (f"  {now - state.step_start:.1f}s" if state.step else "", "dim"),
            (f"  (total {now - state.build_start:.0f}s)", "dim"),
            no_wrap=True,
            overflow="ellipsis",
        )
        lines = [
            Text(f"  {line}", style="dim", no_wrap=True, overflow="ellipsis") for line in state.tail
        ]
        return Group(head, *lines)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def open_progress(mode: ProgressMode = "auto", stream: IO[str] | None = None) -> ProgressDisplay:
    """The display for `mode`: "rich" (live view), "plain" (lines), or "auto" = rich when
    `stream` (default stderr) is a terminal."""
    out = stream if stream is not None else sys.stderr
    if mode == "rich" or (mode == "auto" and out.isatty()):
        from rich.console import Console

        return RichProgress(Console(file=out))
    return PlainProgress(out)
