"""PyTorch pins → the wheel index for the chosen variant, with matching torchvision/torchaudio.

The variant is the image's CUDA (`python.torch.variant: auto`), or chosen: `cpu`, `cuXYZ`,
`pypi` (PyPI's plain wheels, built for the release's default CUDA: `default_cuda` in
envspec/data/torch.yaml), or implied by a local version in the pin (`torch==1.5.0+cu101`).
Torch wheels bundle their CUDA runtime, so a wheel CUDA other than the image's runs on base and
runtime images (a note); only compiling CUDA code against a devel image's nvcc of another major
fails, as `torch.utils.cpp_extension` itself refuses (`_check_cuda_version`: a different major
is an error, a different minor a warning).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet

from envspec.catalog import Catalog, TorchRelease, major_minor, version_key
from envspec.loader import KeyPath
from envspec.requirements import Requirement, canonical_name, marker_applies, parse_requirement
from envspec.resolve.model import Collector, ResolvedBase, TorchInstall

TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
Family = dict[str, Requirement]  # canonical name → the user's requirement
VARIANT_KEY: KeyPath = ("python", "torch", "variant")
_LOCAL_VARIANT = re.compile(r"cpu|cu[0-9]{2,3}")


@dataclass(frozen=True)
class Choice:
    """The wheel variant wanted, and where the spec asked for it (None: derived from the image)."""

    wanted: str  # cpu, cuXYZ or pypi
    origin: KeyPath | None


def is_torch_family(name: str) -> bool:
    return canonical_name(name) in TORCH_FAMILY


def resolve_torch(
    family: Family, where: Mapping[str, KeyPath], setting: str, python: str, base: ResolvedBase,
    catalog: Catalog, out: Collector,
) -> TorchInstall | None:
    """`family`: canonical name → requirement; `where`: canonical name → its spec key."""
    path = ("python", "pip", "packages")
    family = _applicable(family, python, out)
    if not family:
        return None
    local = _local_variant(family, where, out)
    if local is None:
        return None
    family, implied = local
    choice = _choice(setting, implied, base, out)
    if choice is None:
        return None
    wanted = choice.wanted
    release = _release(family, wanted, python, catalog, out)
    if release is None:
        return None
    variant = _variant(release, choice, base, out, path)
    if variant is None:
        return None
    check_wheel_cuda(release, variant, choice, base, out)
    if release.python and python not in release.python:
        out.error("python.torch-python", f"torch {release.torch} has no wheels for Python {python}",
                  path, "it supports Python " + ", ".join(release.python))
    pins = _pins(release, family, out, path)
    source = "PyPI's default index" if variant == "pypi" else release.index_url(variant)
    out.decide("python.pip.torch", " ".join(pins), "catalog", f"{variant} wheels from {source}")
    return TorchInstall(_local_versions(pins, release, variant), _index_args(release, variant),
                        variant)


def _local_variant(family: Family, where: Mapping[str, KeyPath],
                   out: Collector) -> tuple[Family, str | None] | None:
    """`torch==1.5.0+cu101` → (torch==1.5.0, "cu101"): the local version names the wheel build,
    the public version the release. Every pin that has one must name the same build."""
    stripped: Family = {}
    implied: dict[str, str] = {}
    for name, requirement in family.items():
        locals_ = {c.version.split("+", 1)[1] for c in requirement.specifier if "+" in c.version}
        for local in locals_:
            if not _LOCAL_VARIANT.fullmatch(local):
                out.error("python.torch-local", f"`{requirement}`: `+{local}` is not a torch "
                          "wheel build", where[name], "use +cpu or +cuXYZ (like +cu118), or "
                          "drop it and set python.torch.variant")
                return None
            implied[name] = local
        stripped[name] = _without_local(requirement) if locals_ else requirement
    builds = set(implied.values())
    if len(builds) > 1:
        first = next(iter(implied))
        out.error("python.torch-local", "the torch pins name different wheel builds: "
                  + ", ".join(f"{n} +{v}" for n, v in implied.items()), where[first],
                  "give every torch-family pin the same +cuXYZ (or none)")
        return None
    return stripped, (next(iter(builds)) if builds else None)


def _without_local(requirement: Requirement) -> Requirement:
    plain = copy.copy(requirement)
    plain.specifier = SpecifierSet(",".join(
        f"{c.operator}{c.version.split('+', 1)[0]}" for c in requirement.specifier))
    return plain


def _choice(setting: str, implied: str | None, base: ResolvedBase,
            out: Collector) -> Choice | None:
    if implied is not None:
        if setting not in ("auto", implied):
            out.error("python.torch-variant", f"python.torch.variant is {setting}, but the torch "
                      f"pin's local version asks for +{implied}", VARIANT_KEY,
                      f"set it to {implied} (or auto), or drop the +{implied}")
            return None
        out.decide("python.torch.variant", implied, "spec", f"the pin's local version +{implied}")
        return Choice(implied, ("python", "pip", "packages"))
    if setting != "auto":
        out.decide("python.torch.variant", setting, "spec", "python.torch.variant")
        return Choice(setting, VARIANT_KEY)
    if base.cuda is None:
        return Choice("cpu", None)
    return Choice("cu" + major_minor(base.cuda).replace(".", ""), None)


def wheel_cuda(release: TorchRelease, variant: str) -> str | None:
    """The CUDA a wheel was built with: cu118 → 11.8, pypi → the release's default; cpu: None."""
    if variant == "cpu":
        return None
    if variant == "pypi":
        return release.default_cuda
    digits = variant[2:]
    return f"{digits[:-1]}.{digits[-1]}"


def check_wheel_cuda(release: TorchRelease, variant: str, choice: Choice, base: ResolvedBase,
                     out: Collector) -> None:
    """A wheel CUDA other than the image's: legal (torch bundles its runtime), except against a
    devel image's nvcc of another major, which torch.utils.cpp_extension refuses."""
    wheel = wheel_cuda(release, variant)
    if wheel is None or choice.origin is None or (base.cuda and major_minor(base.cuda) == wheel):
        return
    where = choice.origin
    if base.cuda is None:
        out.note("python.torch-cuda-runtime", f"torch {release.torch} {variant} wheels bring their "
                 f"own CUDA {wheel} runtime into an image without CUDA", where,
                 "GPU use needs only a host driver recent enough for that CUDA")
        return
    if base.flavor == "devel" and wheel.split(".")[0] != base.cuda.split(".")[0]:
        matching = [v for v in release.variants if v.startswith("cu" + base.cuda.split(".")[0])]
        out.error("python.torch-nvcc", f"torch {release.torch} {variant} wheels were built with "
                  f"CUDA {wheel}, but this devel image's nvcc is CUDA {base.cuda}: "
                  "torch.utils.cpp_extension refuses to compile extensions across CUDA majors",
                  where, "use " + (", ".join(matching) if matching else "a torch release with "
                  f"CUDA {base.cuda.split('.')[0]} wheels") + f", or set base.cuda to {wheel}; "
                  "on a runtime image the mismatch is harmless")
        return
    verdict = out.warn if base.flavor == "devel" else out.note
    verdict("python.torch-cuda-runtime", f"torch {release.torch} {variant} wheels bundle their "
            f"own CUDA {wheel} runtime; the image's CUDA {base.cuda} libraries are not used by "
            "torch", where, "fine on a runtime image; extensions compiled with this image's nvcc "
            "get a minor-version warning from torch" if base.flavor == "devel" else None)


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
    return wanted in ("cpu", "pypi") or wanted in release.variants


def _variant(
    release: TorchRelease, choice: Choice, base: ResolvedBase, out: Collector,
    path: tuple[str, ...],
) -> str | None:
    wanted = choice.wanted
    if _variant_fits(release, wanted):
        return wanted
    if choice.origin is not None:  # asked for by name: no stand-in
        out.error("python.torch-cuda", f"torch {release.torch} has no {wanted} wheels",
                  choice.origin, f"its variants are cpu, pypi, {', '.join(release.variants)}")
        return None
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
    if release.index_style == "index" or variant in ("cpu", "pypi") or plain:
        return tuple(pins)
    return tuple(f"{pin}+{variant}" for pin in pins)


def _index_args(release: TorchRelease, variant: str) -> tuple[str, ...]:
    if variant == "pypi":
        return ()  # PyPI (or the spec's index/mirror in pip.conf) serves the plain wheels
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
        serves = _variant_fits(release, install.variant)
        if serves and all(pairs.get(name) == version for name, version in versions.items()):
            return TorchInstall(pins, _index_args(release, install.variant), install.variant)
    return None


def _pinned_version(requirement: Requirement) -> str | None:
    """'torch==1.7.1+cu110' → '1.7.1' (the public part); None if it is not an exact pin."""
    [*clauses] = requirement.specifier
    if len(clauses) != 1 or clauses[0].operator != "==":
        return None
    return clauses[0].version.split("+", 1)[0]
