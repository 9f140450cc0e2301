"""Can this NVIDIA driver run that CUDA? One verdict for `envspec doctor` and the smoke check.

The thresholds come from the catalog (`envspec/data/cuda_drivers.yaml`); the comparison itself is
`envspec.smoke.probe.driver_verdict`, the stdlib-only function the in-container probe runs on
the same thresholds, so the doctor and the smoke check quote the same numbers by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from envspec.catalog import Catalog, load_catalog
from envspec.smoke import probe

VerdictKind = Literal["full", "minor-compat", "forward-compat", "unsupported", "unknown"]
Thresholds = dict[str, Any]  # JSON-able: what the probe receives as the check's `thresholds`


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    cuda: str
    driver: str
    minimum: str | None  # the lowest driver that runs this CUDA without the compat package
    full: str | None  # the driver from which this CUDA is fully supported (Table 3)
    datacenter: bool | None  # the GPU is a data-center model; None when its name is unknown
    detail: str  # one sentence, the same wherever the verdict is shown


def driver_thresholds(cuda: str, catalog: Catalog | None = None) -> Thresholds:
    """Everything the verdict needs about `cuda` (a full version, or "X.Y" for its GA)."""
    catalog = catalog or load_catalog()
    need = catalog.driver_requirement(cuda)
    forward = catalog.forward_compat(cuda)
    gpus, limits = catalog.datacenter_gpus(), catalog.driver_limits()
    return {
        "cuda": cuda,
        "full": need.exact_min,
        "minor": need.minor_compat_min,
        "forward_branches": list(forward.branches) if forward else None,
        "datacenter": {"match": list(gpus.match), "not": list(gpus.exclude)},
        "limits": {"minor-compat": limits.minor_compat, "forward-compat": limits.forward_compat},
    }


def driver_minimum(thresholds: Thresholds) -> str | None:
    """The lowest driver that runs the CUDA at all (without the compat package)."""
    return cast("str | None", probe.driver_minimum(thresholds))


def verdict_from(raw: dict[str, Any]) -> Verdict:
    """The probe's JSON verdict as a typed record."""
    return Verdict(
        kind=raw["kind"],
        cuda=str(raw.get("cuda") or ""),
        driver=str(raw["driver"]),
        minimum=raw.get("minimum"),
        full=raw.get("full"),
        datacenter=raw.get("datacenter"),
        detail=str(raw["detail"]),
    )


def driver_verdict(
    cuda: str, driver: str, gpu_name: str | None, catalog: Catalog | None = None
) -> Verdict:
    """Pure: the verdict for `driver` (e.g. "535.104.05") running `cuda` on GPU `gpu_name`."""
    return verdict_from(probe.driver_verdict(driver_thresholds(cuda, catalog), driver, gpu_name))
