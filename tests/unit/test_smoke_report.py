"""Smoke reports: from probe JSON to JUnit XML, JSON and a table."""

from __future__ import annotations

import json
from xml.etree import ElementTree

from envspec.smoke.report import SmokeReport, report_from_probe

RAW = {
    "probe": "python",
    "gpu": "auto",
    "results": [
        {"name": "os", "kind": "os_release", "status": "pass", "detail": "debian 12", "duration": 0.01},
        {
            "name": "hi <&>",
            "kind": "command",
            "status": "fail",
            "detail": 'exit 3, expected 0; output: <boom> & "quotes"',
            "duration": 1.5,
        },
        {
            "name": "nvidia-smi",
            "kind": "nvidia_smi",
            "status": "skip",
            "gpu": True,
            "detail": "no GPU: toolkit missing",
            "duration": 0,
        },
        {"name": "weird", "kind": "x", "status": "exploded"},
    ],
}


def make() -> SmokeReport:
    return report_from_probe(
        RAW, target="envspec/demo:abc", gpus="all GPUs", notes=["ran again without GPUs"]
    )


def test_counts_and_failed() -> None:
    report = make()
    assert report.failed
    assert (report.count("pass"), report.count("fail"), report.count("skip")) == (1, 2, 1)
    assert report.results[3].status == "fail"  # an unknown status never passes
    assert report.summary() == "envspec/demo:abc: 1 passed, 2 failed, 1 skipped"
    passing = report_from_probe({"results": [RAW["results"][0], RAW["results"][2]]}, target="t")
    assert not passing.failed


def test_junit_xml() -> None:
    root = ElementTree.fromstring(make().to_junit())
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "4" and suite.get("failures") == "2"
    assert suite.get("skipped") == "1" and suite.get("errors") == "0"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["os", "hi <&>", "nvidia-smi", "weird"]
    assert cases[0].get("classname") == "envspec.smoke.os_release"
    failure = cases[1].find("failure")
    assert failure is not None and failure.text is not None
    assert "<boom>" in failure.text and '"quotes"' in failure.text
    skipped = cases[2].find("skipped")
    assert skipped is not None and skipped.get("message") == "no GPU: toolkit missing"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"probe": "python", "gpu_policy": "auto", "gpus": "all GPUs"}
    err = suite.find("system-err")
    assert err is not None and err.text == "ran again without GPUs"


def test_json() -> None:
    data = json.loads(make().to_json())
    assert data["failed"] is True
    assert data["counts"] == {"pass": 1, "fail": 2, "skip": 1}
    assert data["target"] == "envspec/demo:abc" and data["gpus"] == "all GPUs"
    assert data["results"][2]["gpu"] is True
    assert data["notes"] == ["ran again without GPUs"]


def test_rich_table_renders_markup_safely() -> None:
    from rich.console import Console

    console = Console(record=True, width=160, color_system=None)
    console.print(make().rich_table())
    text = console.export_text()
    assert "FAIL" in text and "skip" in text and "pass" in text
    assert "<boom>" in text and "hi <&>" in text
    assert "1 passed, 2 failed, 1 skipped" in text
