"""PyTorch pins → the wheel index for the image's CUDA, with matching torchvision/torchaudio."""

from __future__ import annotations

import re

from envspec.catalog import Catalog, TorchRelease, major_minor, version_key
from envspec.resolve.model import Collector, ResolvedBase, TorchInstall

TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)\s*(?:==\s*(?P<version>[0-9][0-9.]*))?\s*$")


def split_torch(packages: tuple[str, ...]) -> tuple[dict[str, str | None], tuple[str, ...]]:
    """Separate torch-family requirements (name → pinned version or None) from the rest."""
    family: dict[str, str | None] = {}
    rest: list[str] = []
    for requirement in packages:
        match = _PIN.match(requirement)
        name = match.group("name").lower() if match else None
        if match and name in TORCH_FAMILY:
            family[name] = match.group("version")
        else:
            rest.append(requirement)
    return family, tuple(rest)


def resolve_torch(
    family: dict[str, str | None], python: str, base: ResolvedBase, catalog: Catalog,
    out: Collector,
) -> TorchInstall | None:
    if not family:
        return None
    path = ("python", "pip", "packages")
    wanted = _wanted_variant(base)
    release = _release(family, wanted, catalog, out, path)
    if release is None:
        return None
    variant = _variant(release, wanted, base, out, path)
    if variant is None:
        return None
    if release.python and python not in release.python:
        out.error("python.torch-python", f"torch {release.torch} has no wheels for Python {python}",
                  path, "it supports Python " + ", ".join(release.python))
    pins = _pins(release, family, out, path)
    out.decide("python.pip.torch", " ".join(pins), "catalog", f"{variant} wheels from "
               f"{release.index_url(variant)}")
    return TorchInstall(_local_versions(pins, release, variant), _index_args(release, variant),
                        variant)


def _wanted_variant(base: ResolvedBase) -> str:
    if base.cuda is None:
        return "cpu"
    return "cu" + major_minor(base.cuda).replace(".", "")


def _release(
    family: dict[str, str | None], wanted: str, catalog: Catalog, out: Collector,
    path: tuple[str, ...],
) -> TorchRelease | None:
    pinned = family.get("torch")
    if pinned is not None:
        release = catalog.torch_release(pinned)
        if release is None:
            out.error("python.torch-unknown", f"envspec does not know torch {pinned}", path,
                      "known releases: " + ", ".join(r.torch for r in catalog.torch_releases()[-8:]))
        return release
    fitting = [r for r in catalog.torch_releases() if _variant_fits(r, wanted)]
    if not fitting:
        out.error("python.torch-cuda", f"no torch release has {wanted} wheels", path,
                  "pin torch and choose a CUDA its wheels exist for")
        return None
    newest = max(fitting, key=lambda r: version_key(r.torch))
    out.decide("python.pip.torch.version", newest.torch, "catalog",
               f"newest torch with {wanted} wheels (pin it to keep it)")
    return newest


def _variant_fits(release: TorchRelease, wanted: str) -> bool:
    return wanted == "cpu" or wanted in release.variants


def _variant(
    release: TorchRelease, wanted: str, base: ResolvedBase, out: Collector, path: tuple[str, ...]
) -> str | None:
    if wanted == "cpu" or wanted in release.variants:
        return wanted
    # Within one CUDA major, an older toolkit's wheels run on a newer one's runtime.
    compatible = [
        v for v in release.variants
        if v != "cpu" and _cuda_major(v) == _cuda_major(wanted) and _num(v) <= _num(wanted)
    ]
    if compatible:
        chosen = max(compatible, key=_num)
        message = (f"torch {release.torch} has no {wanted} wheels; using {chosen}, which runs on "
                   f"CUDA {base.cuda} through minor-version compatibility")
        if base.flavor == "devel":
            out.warn("python.torch-cuda", message + "; extensions built with this image's nvcc "
                     "may not match torch.version.cuda", path,
                     f"pick a CUDA whose wheels exist: {', '.join(release.variants)}")
        else:
            out.decide("python.pip.torch.variant", chosen, "catalog", message)
        return chosen
    out.error("python.torch-cuda", f"torch {release.torch} has no wheels for CUDA {base.cuda}",
              path, f"its CUDA variants are {', '.join(release.variants)}; change base.cuda or the "
              "torch pin")
    return None


def _cuda_major(variant: str) -> str:
    return variant[2:-1]  # "cu118" -> "11", "cu92" -> "9": the last digit is the minor


def _num(variant: str) -> int:
    return int(variant[2:])


def _pins(
    release: TorchRelease, family: dict[str, str | None], out: Collector, path: tuple[str, ...]
) -> list[str]:
    pairs = {"torch": release.torch, "torchvision": release.torchvision,
             "torchaudio": release.torchaudio}
    pins = []
    for name in TORCH_FAMILY:
        if name not in family:
            continue
        expected = pairs[name]
        given = family[name]
        if expected is None:
            out.error("python.torch-pair", f"no {name} release pairs with torch {release.torch}",
                      path, f"drop {name} or pick an older torch")
            continue
        if given is not None and given != expected:
            out.error("python.torch-pair", f"{name} {given} does not pair with torch "
                      f"{release.torch}", path, f"use {name}=={expected}")
        pins.append(f"{name}=={expected}")
    return pins


def _local_versions(pins: list[str], release: TorchRelease, variant: str) -> tuple[str, ...]:
    """Before 2.0 the CUDA variant was part of the version (torch==1.7.1+cu110), except, in the
    torch_stable.html days, for the default CUDA, whose wheels carried the plain version."""
    default = "cu" + release.default_cuda.replace(".", "")
    plain = release.index_style == "find-links" and variant == default
    if release.index_style == "index" or variant == "cpu" or plain:
        return tuple(pins)
    return tuple(f"{pin}+{variant}" for pin in pins)


def _index_args(release: TorchRelease, variant: str) -> tuple[str, ...]:
    url = release.index_url(variant)
    flag = {"index": "--index-url", "extra-index": "--extra-index-url", "find-links": "--find-links"}
    return (flag[release.index_style], url)
