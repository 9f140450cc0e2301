"""PyTorch pins → the wheel index for the image's CUDA, with matching torchvision/torchaudio."""

from __future__ import annotations

from envspec.catalog import Catalog, TorchRelease, major_minor, version_key
from envspec.requirements import Requirement, canonical_name, marker_applies, parse_requirement
from envspec.resolve.model import Collector, ResolvedBase, TorchInstall

TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
Family = dict[str, Requirement]  # canonical name → the user's requirement


def split_torch(packages: tuple[str, ...]) -> tuple[Family, tuple[str, ...]]:
    """Separate torch-family requirements (any specifier, any spelling) from the rest."""
    family: Family = {}
    rest: list[str] = []
    for text in packages:
        requirement = parse_requirement(text)
        name = canonical_name(requirement.name)
        if name in TORCH_FAMILY:
            family[name] = requirement
        else:
            rest.append(text)
    return family, tuple(rest)


def resolve_torch(
    family: Family, python: str, base: ResolvedBase, catalog: Catalog, out: Collector,
) -> TorchInstall | None:
    path = ("python", "pip", "packages")
    family = _applicable(family, python, out)
    if not family:
        return None
    wanted = _wanted_variant(base)
    release = _release(family, wanted, python, catalog, out)
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


def _applicable(family: Family, python: str, out: Collector) -> Family:
    """Requirements whose environment marker holds in the image (pip would skip the others)."""
    kept: Family = {}
    for name, requirement in family.items():
        if marker_applies(requirement, python):
            kept[name] = requirement
        else:
            out.decide(f"python.pip.{name}", "not installed", "spec",
                       f"its marker `{requirement.marker}` is false for Python {python} on Linux")
    return kept


def _release(
    family: Family, wanted: str, python: str, catalog: Catalog, out: Collector
) -> TorchRelease | None:
    """The newest catalog release matching the torch specifier (and the companions' if it
    can) with wheels for the image's CUDA (and its Python, if one has)."""
    path = ("python", "pip", "packages")
    wanted_spec = family["torch"].specifier if "torch" in family else None
    matching = [r for r in catalog.torch_releases()
                if wanted_spec is None or wanted_spec.contains(r.torch)]
    if not matching:
        out.error("python.torch-unknown", f"no torch release envspec knows matches "
                  f"`torch{wanted_spec}`", path, "known releases: "
                  + ", ".join(r.torch for r in catalog.torch_releases()[-8:]))
        return None
    paired = [r for r in matching if _companions_fit(r, family)] or matching
    if wanted_spec is not None and _is_exact(str(wanted_spec)):
        return max(paired, key=lambda r: version_key(r.torch))
    fitting = [r for r in paired if _variant_fits(r, wanted)]
    if not fitting:
        variants = sorted({v for r in paired for v in r.variants}, key=_num)
        out.error("python.torch-cuda", f"no torch release matching `torch{wanted_spec or ''}` has "
                  f"{wanted} wheels", path, "releases that match: " + _releases(paired)
                  + "; their CUDA variants: " + ", ".join(variants)
                  + "; widen the range, or set base.cuda to one of those")
        return None
    for_python = [r for r in fitting if not r.python or python in r.python]
    newest = max(for_python or fitting, key=lambda r: version_key(r.torch))
    what = f"newest torch matching `{wanted_spec}`" if wanted_spec else "newest torch"
    out.decide("python.pip.torch.version", newest.torch, "catalog",
               f"{what} with {wanted} wheels (pin it, or `envspec lock`, to keep it)")
    return newest


def _is_exact(specifier: str) -> bool:
    """`==2.1.2` / `===2.1.2`: the user named one release (wheel fallbacks apply to it)."""
    return specifier.startswith("==") and "," not in specifier and "*" not in specifier


def _companions_fit(release: TorchRelease, family: Family) -> bool:
    pairs = {"torchvision": release.torchvision, "torchaudio": release.torchaudio}
    return all(
        name not in family or (version is not None
                               and family[name].specifier.contains(version))
        for name, version in pairs.items()
    )


def _releases(releases: list[TorchRelease]) -> str:
    names = [r.torch for r in sorted(releases, key=lambda r: version_key(r.torch))]
    return ", ".join(names if len(names) <= 8 else [*names[:3], "…", *names[-4:]])


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
    release: TorchRelease, family: Family, out: Collector, path: tuple[str, ...]
) -> list[str]:
    pairs = {"torch": release.torch, "torchvision": release.torchvision,
             "torchaudio": release.torchaudio}
    pins = []
    for name in TORCH_FAMILY:
        if name not in family:
            continue
        expected = pairs[name]
        requirement = family[name]
        if expected is None:
            out.error("python.torch-pair", f"no {name} release pairs with torch {release.torch}",
                      path, f"drop {name} or pick an older torch")
            continue
        if not requirement.specifier.contains(expected):
            out.error("python.torch-pair", f"{name}{requirement.specifier} does not pair with "
                      f"torch {release.torch}", path, f"use {name}=={expected}")
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        pins.append(f"{name}{extras}=={expected}")
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


def locked_install(install: TorchInstall, pins: tuple[str, ...], catalog: Catalog) -> TorchInstall | None:
    """`install` with the pins env.lock recorded (the release chosen when it was written), from
    the index for the same wheel variant; None when this catalog cannot serve them so."""
    if pins == install.requirements:
        return install
    versions = {canonical_name(r.name): _pinned_version(r) for r in map(parse_requirement, pins)}
    for release in catalog.torch_releases():
        pairs = {"torch": release.torch, "torchvision": release.torchvision,
                 "torchaudio": release.torchaudio}
        serves = install.variant == "cpu" or install.variant in release.variants
        if serves and all(pairs.get(name) == version for name, version in versions.items()):
            return TorchInstall(pins, _index_args(release, install.variant), install.variant)
    return None


def _pinned_version(requirement: Requirement) -> str | None:
    """'torch==1.7.1+cu110' → '1.7.1' (the public part); None if it is not an exact pin."""
    [*clauses] = requirement.specifier
    if len(clauses) != 1 or clauses[0].operator != "==":
        return None
    return clauses[0].version.split("+", 1)[0]
