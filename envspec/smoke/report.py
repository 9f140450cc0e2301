"""Smoke results as data, and three ways to show them: a rich table, JUnit XML, JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from xml.etree import ElementTree

if TYPE_CHECKING:
    from rich.table import Table

Status = Literal["pass", "fail", "skip"]
_STATUSES: tuple[Status, ...] = ("pass", "fail", "skip")
_WORDS: tuple[tuple[Status, str], ...] = (
    ("pass", "passed"),
    ("fail", "failed"),
    ("skip", "skipped"),
)


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: str
    status: Status
    detail: str
    duration: float = 0.0
    gpu: bool = False
    data: Any = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CheckResult:
        status = raw.get("status")
        return cls(
            name=str(raw.get("name", "?")),
            kind=str(raw.get("kind", "?")),
            status=status if status in _STATUSES else "fail",
            detail=str(raw.get("detail", "")),
            duration=float(raw.get("duration") or 0.0),
            gpu=bool(raw.get("gpu", False)),
            data=raw.get("data"),
        )


@dataclass(frozen=True)
class SmokeReport:
    """What the probe found in one image (or here); `notes` explain fallbacks taken."""

    target: str  # the image tag, or "here"
    results: tuple[CheckResult, ...]
    gpu_policy: str = "auto"
    probe: str = "python"  # "python" or "sh"
    gpus: str | None = None  # the device request, described; None = no GPUs requested
    notes: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> bool:
        return any(r.status == "fail" for r in self.results)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    def summary(self) -> str:
        parts = [f"{self.count(s)} {word}" for s, word in _WORDS]
        return f"{self.target}: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "probe": self.probe,
            "gpu_policy": self.gpu_policy,
            "gpus": self.gpus,
            "notes": list(self.notes),
            "failed": self.failed,
            "counts": {s: self.count(s) for s in _STATUSES},
            "results": [asdict(r) for r in self.results],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_junit(self) -> str:
        """JUnit XML: one <testsuite> for the target, one <testcase> per check."""
        suite = ElementTree.Element(
            "testsuite",
            name=f"envspec smoke: {self.target}",
            tests=str(len(self.results)),
            failures=str(self.count("fail")),
            errors="0",
            skipped=str(self.count("skip")),
            time=f"{sum(r.duration for r in self.results):.3f}",
        )
        properties = ElementTree.SubElement(suite, "properties")
        for key, value in (
            ("probe", self.probe),
            ("gpu_policy", self.gpu_policy),
            ("gpus", self.gpus or "none"),
        ):
            ElementTree.SubElement(properties, "property", name=key, value=value)
        for result in self.results:
            case = ElementTree.SubElement(
                suite,
                "testcase",
                classname=f"envspec.smoke.{result.kind}",
                name=result.name,
                time=f"{result.duration:.3f}",
            )
            if result.status == "fail":
                failure = ElementTree.SubElement(case, "failure", message=result.detail[:200])
                failure.text = result.detail
            elif result.status == "skip":
                ElementTree.SubElement(case, "skipped", message=result.detail)
            else:
                ElementTree.SubElement(case, "system-out").text = result.detail
        if self.notes:
            ElementTree.SubElement(suite, "system-err").text = "\n".join(self.notes)
        suites = ElementTree.Element("testsuites")
        suites.append(suite)
        ElementTree.indent(suites)
        return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"

    def rich_table(self) -> Table:
        """A table for the terminal; rich is imported only when one is asked for."""
        from rich.table import Table

        styles = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "skip": "[yellow]skip[/]"}
        table = Table(title=self.summary(), title_justify="left", expand=False)
        table.add_column("check", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True)
        table.add_column("detail", overflow="fold")
        for r in self.results:
            label = f"{r.name} [dim](GPU)[/]" if r.gpu else r.name
            table.add_row(label, styles[r.status], f"{r.duration:.2f}s", _escape(r.detail))
        return table


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def report_from_probe(
    raw: Mapping[str, Any],
    *,
    target: str,
    gpus: str | None = None,
    notes: Sequence[str] = (),
) -> SmokeReport:
    """Turn probe.py/probe.sh output into a report."""
    results = tuple(CheckResult.from_json(r) for r in raw.get("results", []))
    return SmokeReport(
        target=target,
        results=results,
        gpu_policy=str(raw.get("gpu", "auto")),
        probe=str(raw.get("probe", "python")),
        gpus=gpus,
        notes=tuple(notes),
    )
