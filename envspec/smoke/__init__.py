"""Smoke tests: checks derived from the spec, run by a stdlib-only probe inside the image.

Names are loaded lazily so that `python -m envspec.smoke.probe` works on machines that have
none of envspec's dependencies (the probe itself is stdlib only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from envspec.smoke.checks import Expectations, derive_checks
    from envspec.smoke.report import CheckResult, SmokeReport
    from envspec.smoke.runner import run_here, run_smoke

__all__ = ["CheckResult", "Expectations", "SmokeReport", "derive_checks", "run_here", "run_smoke"]

_HOMES = {
    "Expectations": "envspec.smoke.checks",
    "derive_checks": "envspec.smoke.checks",
    "CheckResult": "envspec.smoke.report",
    "SmokeReport": "envspec.smoke.report",
    "run_here": "envspec.smoke.runner",
    "run_smoke": "envspec.smoke.runner",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'envspec.smoke' has no attribute {name!r}")
