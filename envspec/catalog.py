"""Typed, cached access to the compatibility catalog in `envspec/data/*.yaml`.

The facts (which tags exist, which driver and GCC a CUDA release needs, what a distro ships,
which PyTorch wheels exist) live in the YAML files; this module only parses, validates and
indexes them. Malformed data raises `CatalogDataError` naming the file; lookups of things the
catalog does not know return None so the resolver can turn them into a diagnostic.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType
from typing import Literal, TypeVar, cast, get_args

import yaml

from envspec.errors import EnvspecError

Flavor = Literal["base", "runtime", "devel"]
TagStatus = Literal["supported", "eol", "deleted", "unverified"]
Family = Literal["ubuntu", "debian"]
SourcesLayout = Literal["classic", "deb822"]
IndexStyle = Literal["find-links", "extra-index", "index"]

FLAVORS: tuple[Flavor, ...] = get_args(Flavor)
TAG_STATUSES: tuple[TagStatus, ...] = get_args(TagStatus)
TORCH_INDEX = "https://download.pytorch.org/whl"

_VERSION_RE = re.compile(r"^\d+(\.\d+)+$")
_CUDNN_RE = re.compile(r"^cudnn\d*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TAG_RE = re.compile(
    r"^(?:nvidia/cuda:)?(?P<cuda>\d+\.\d+(?:\.\d+)?)-(?:(?P<cudnn>cudnn\d*)-)?"
    r"(?P<flavor>base|runtime|devel)-(?P<os>ubuntu\d+\.\d+)$"
)

# libyaml when PyYAML was built with it: the data files load several times faster.
FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

T = TypeVar("T")


class CatalogDataError(EnvspecError):
    """A catalog data file is malformed; the message names the file and the row."""


def version_key(v: str) -> tuple[int, ...]:
    """Dotted version to a comparable tuple: "11.4.1" -> (11, 4, 1)."""
    if not _VERSION_RE.match(v):
        raise ValueError(f"not a dotted numeric version: {v!r}")
    return tuple(int(part) for part in v.split("."))


def major_minor(v: str) -> str:
    """ "11.4.1" -> "11.4"."""
    return ".".join(v.split(".")[:2])


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class CudaImage:
    """One `nvidia/cuda` Ubuntu tag and what is known about it."""

    cuda: str
    flavor: Flavor
    cudnn: str | None
    os: str
    status: TagStatus
    last_seen: str
    deleted_on: str | None = None  # set by tools/refresh_catalog.py when a tag disappears

    @property
    def tag(self) -> str:
        cudnn = f"{self.cudnn}-" if self.cudnn else ""
        return f"{self.cuda}-{cudnn}{self.flavor}-{self.os}"

    @property
    def reference(self) -> str:
        return f"nvidia/cuda:{self.tag}"

    @property
    def variant(self) -> str:
        """The tag without version and OS: "cudnn8-devel", "base"."""
        return f"{self.cudnn}-{self.flavor}" if self.cudnn else self.flavor


@dataclass(frozen=True)
class DriverRequirement:
    """Minimum Linux driver for a CUDA toolkit; None where the sources give none."""

    cuda: str
    exact_min: str | None  # Table 3 "toolkit driver version"
    minor_compat_min: str | None  # floor under minor-version compatibility for the major
    branch: str | None  # e.g. "R580"
    note: str | None


@dataclass(frozen=True)
class Distro:
    id: str
    family: Family
    version: str
    codename: str
    docker_image: str
    sources_layout: SourcesLayout
    default_gcc: int
    gcc_packages: tuple[int, ...]
    default_python: str
    python_packages: tuple[str, ...]
    deadsnakes_python: tuple[str, ...]
    pep668: bool
    eol: str | None = None


@dataclass(frozen=True)
class TorchRelease:
    torch: str
    torchvision: str | None
    torchaudio: str | None
    variants: tuple[str, ...]
    default_cuda: str
    python: tuple[str, ...]
    index_style: IndexStyle
    uncertain_variants: tuple[str, ...]
    note: str | None = None

    def index_url(self, variant: str) -> str:
        """Where pip finds the `+<variant>` wheels; check `variants` first."""
        if self.index_style == "find-links":
            return f"{TORCH_INDEX}/torch_stable.html"
        return f"{TORCH_INDEX}/{variant}"


@dataclass(frozen=True)
class MirrorPreset:
    name: str
    urls: Mapping[str, str]  # keys: ubuntu, ubuntu-ports, debian, debian-security, pypi, conda


@dataclass(frozen=True)
class GccLimit:
    cuda: str  # "major.minor", or a full version overriding its minor
    max: int
    min: int | None


# --------------------------------------------------------------------------- parsing


class _Row:
    """Typed field access to one mapping from a data file; errors name the file and row."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise CatalogDataError(f"{where}: expected a mapping, got {type(data).__name__}")
        self.data: dict[str, object] = data
        self.where = where

    def fail(self, key: str, why: str) -> CatalogDataError:
        return CatalogDataError(f"{self.where}: `{key}` {why}")

    def _get(self, key: str, kind: type[T], optional: bool) -> T | None:
        value = self.data.get(key)
        if value is None:
            if optional:
                return None
            raise self.fail(key, "is missing")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(key, f"must be {kind.__name__}, got {value!r} (quote versions)")
        return value

    def text(self, key: str) -> str:
        return cast(str, self._get(key, str, optional=False))

    def opt_text(self, key: str) -> str | None:
        return self._get(key, str, optional=True)

    def integer(self, key: str) -> int:
        return cast(int, self._get(key, int, optional=False))

    def opt_integer(self, key: str) -> int | None:
        return self._get(key, int, optional=True)

    def flag(self, key: str) -> bool:
        return cast(bool, self._get(key, bool, optional=False))

    def version(self, key: str) -> str:
        value = self.text(key)
        if not _VERSION_RE.match(value):
            raise self.fail(key, f"is not a dotted version: {value!r}")
        return value

    def date(self, key: str, optional: bool = False) -> str | None:
        value = self.opt_text(key) if optional else self.text(key)
        if value is not None and not _DATE_RE.match(value):
            raise self.fail(key, f"is not a YYYY-MM-DD date: {value!r}")
        return value

    def choice(self, key: str, choices: Sequence[T]) -> T:
        value = self.data.get(key)
        if value not in choices:
            raise self.fail(key, f"must be one of {list(choices)}, got {value!r}")
        return cast(T, value)

    def items(self, key: str, kind: type[T], optional: bool = True) -> tuple[T, ...]:
        value = self.data.get(key, [] if optional else None)
        if not isinstance(value, list):
            raise self.fail(key, "must be a list")
        for item in value:
            if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
                raise self.fail(key, f"items must be {kind.__name__}, got {item!r}")
        return tuple(value)


def _data_text(name: str) -> str:
    return (files("envspec") / "data" / name).read_text(encoding="utf-8")


def _rows(name: str, section: str, text: str | None = None) -> list[_Row]:
    """The list `section` of data file `name`, each item wrapped as a `_Row`."""
    try:
        doc = yaml.load(_data_text(name) if text is None else text, Loader=FAST_LOADER)
    except yaml.YAMLError as err:
        raise CatalogDataError(f"{name}: not valid YAML: {err}") from err
    if not isinstance(doc, dict) or not isinstance(doc.get(section), list):
        raise CatalogDataError(f"{name}: expected a top-level list `{section}`")
    return [_Row(item, f"{name}: {section}[{i}]") for i, item in enumerate(doc[section])]


def _split_variant(row: _Row, variant: str) -> tuple[str | None, Flavor]:
    cudnn, _, flavor = variant.rpartition("-")
    if flavor not in FLAVORS or (cudnn and not _CUDNN_RE.match(cudnn)):
        raise row.fail("variants", f"has a malformed item {variant!r}")
    if cudnn and flavor == "base":
        raise row.fail("variants", f"{variant!r}: cuDNN images are runtime or devel only")
    return cudnn or None, flavor


def parse_cuda_images(text: str | None = None) -> tuple[CudaImage, ...]:
    """Expand the compact rows of cuda_images.yaml (one per version, OS, status, date)."""
    images: list[CudaImage] = []
    for row in _rows("cuda_images.yaml", "images", text):
        cuda, os_id = row.version("cuda"), row.text("os")
        status = row.choice("status", TAG_STATUSES)
        last_seen, deleted_on = row.date("last_seen") or "", row.date("deleted_on", optional=True)
        for variant in row.items("variants", str, optional=False):
            cudnn, flavor = _split_variant(row, variant)
            images.append(CudaImage(cuda, flavor, cudnn, os_id, status, last_seen, deleted_on))
    return tuple(images)


def dump_cuda_images(images: Iterable[CudaImage], header: str) -> str:
    """Inverse of `parse_cuda_images`: compact rows, one line each, in a stable order."""
    groups: dict[tuple[str, str, TagStatus, str, str | None], list[str]] = {}
    for img in images:
        key = (img.cuda, img.os, img.status, img.last_seen, img.deleted_on)
        groups.setdefault(key, []).append(img.variant)
    order = {"base": 0, "runtime": 1, "devel": 2}
    lines = [header.rstrip("\n"), "images:"]
    for key in sorted(groups, key=lambda k: (version_key(k[0]), k[1], k[2], k[3])):
        cuda, os_id, status, last_seen, deleted_on = key
        variants = sorted(set(groups[key]), key=lambda v: ("-" in v, order[v.split("-")[-1]], v))
        extra = f", deleted_on: '{deleted_on}'" if deleted_on else ""
        lines.append(
            f"  - {{cuda: '{cuda}', os: {os_id}, status: {status}, last_seen: '{last_seen}'"
            f"{extra}, variants: [{', '.join(variants)}]}}"
        )
    return "\n".join(lines) + "\n"


def _parse_drivers() -> tuple[dict[str, DriverRequirement], dict[int, tuple[str | None, str]]]:
    name = "cuda_drivers.yaml"
    compat: dict[int, tuple[str | None, str]] = {}
    for row in _rows(name, "minor_version_compat"):
        compat[row.integer("major")] = (row.opt_text("min"), row.opt_text("note") or "")
    branches = {r.version("cuda"): r.text("branch") for r in _rows(name, "branches")}
    table: dict[str, DriverRequirement] = {}
    for row in _rows(name, "toolkits"):
        cuda = row.version("cuda")
        exact = row.opt_text("linux_min")
        branch = row.opt_text("branch") or branches.get(major_minor(cuda)) or _branch_of(exact)
        major_min = compat.get(version_key(cuda)[0], (None, ""))[0]
        table[cuda] = DriverRequirement(cuda, exact, major_min, branch, row.opt_text("note"))
    return table, compat


def _branch_of(driver: str | None) -> str | None:
    """A Linux driver's branch is its first component: 535.104.05 -> R535."""
    return f"R{driver.split('.')[0]}" if driver else None


def _parse_gcc() -> dict[str, GccLimit]:
    rows = _rows("cuda_gcc.yaml", "limits")
    return {
        r.version("cuda"): GccLimit(r.version("cuda"), r.integer("max"), r.opt_integer("min"))
        for r in rows
    }


def _parse_distros() -> dict[str, Distro]:
    distros: dict[str, Distro] = {}
    for row in _rows("distros.yaml", "distros"):
        distro = Distro(
            id=row.text("id"),
            family=row.choice("family", get_args(Family)),
            version=row.text("version"),
            codename=row.text("codename"),
            docker_image=row.text("docker_image"),
            sources_layout=row.choice("sources_layout", get_args(SourcesLayout)),
            default_gcc=row.integer("default_gcc"),
            gcc_packages=row.items("gcc_packages", int, optional=False),
            default_python=row.version("default_python"),
            python_packages=row.items("python_packages", str),
            deadsnakes_python=row.items("deadsnakes_python", str),
            pep668=row.flag("pep668"),
            eol=row.date("eol", optional=True),
        )
        distros[distro.id] = distro
    return distros


def _parse_torch() -> dict[str, TorchRelease]:
    releases: dict[str, TorchRelease] = {}
    for row in _rows("torch.yaml", "releases"):
        variants = row.items("variants", str, optional=False)
        uncertain = row.items("uncertain_variants", str)
        if not set(uncertain) <= set(variants):
            raise row.fail("uncertain_variants", "must be a subset of `variants`")
        release = TorchRelease(
            torch=row.version("torch"),
            torchvision=row.opt_text("torchvision"),
            torchaudio=row.opt_text("torchaudio"),
            variants=variants,
            default_cuda=row.version("default_cuda"),
            python=row.items("python", str, optional=False),
            index_style=row.choice("index_style", get_args(IndexStyle)),
            uncertain_variants=uncertain,
            note=row.opt_text("note"),
        )
        releases[release.torch] = release
    return releases


def _parse_mirrors() -> dict[str, MirrorPreset]:
    presets: dict[str, MirrorPreset] = {}
    for row in _rows("mirrors.yaml", "mirrors"):
        urls = row.data.get("urls")
        if not isinstance(urls, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.startswith("https://")
            for k, v in urls.items()
        ):
            raise row.fail("urls", "must map names to https:// URLs")
        name = row.text("name")
        presets[name] = MirrorPreset(name, MappingProxyType(dict(urls)))
    return presets


# --------------------------------------------------------------------------- catalog


class Catalog:
    """All catalog tables, parsed once; lookups of unknown things return None."""

    def __init__(self) -> None:
        self._images = parse_cuda_images()
        self._by_tag = {img.tag: img for img in self._images}
        self._drivers, self._compat = _parse_drivers()
        self._gcc = _parse_gcc()
        self._distros = _parse_distros()
        self._torch = _parse_torch()
        self._mirrors = _parse_mirrors()

    # CUDA images
    def cuda_images(self) -> tuple[CudaImage, ...]:
        return self._images

    def find_images(
        self,
        *,
        cuda: str | None = None,
        flavor: Flavor | None = None,
        cudnn: bool | None = None,
        os: str | None = None,
        include_deleted: bool = False,
    ) -> list[CudaImage]:
        """Images matching every given filter; `cuda` "12.4" matches 12.4.0 and 12.4.1."""
        return [
            img
            for img in self._images
            if (cuda is None or img.cuda == cuda or img.cuda.startswith(f"{cuda}."))
            and (flavor is None or img.flavor == flavor)
            and (cudnn is None or (img.cudnn is not None) == cudnn)
            and (os is None or img.os == os)
            and (include_deleted or img.status != "deleted")
        ]

    def image_for_tag(self, tag: str) -> CudaImage | None:
        return self._by_tag.get(tag.removeprefix("nvidia/cuda:"))

    def cuda_versions(self) -> list[str]:
        return sorted({img.cuda for img in self._images}, key=version_key)

    # drivers
    def driver_requirement(self, cuda: str) -> DriverRequirement:
        """Driver floor for `cuda`: a full version, or "X.Y" meaning its GA (first) release.

        A version without a row of its own still gets its major's minor-compat floor.
        """
        row = self._driver_row(cuda)
        if row is not None:
            return row
        major_min, major_note = self._compat.get(version_key(cuda)[0], (None, ""))
        note = f"no driver row for CUDA {cuda} in the catalog. {major_note}".strip()
        return DriverRequirement(cuda, None, major_min, None, note)

    def _driver_row(self, cuda: str) -> DriverRequirement | None:
        if cuda in self._drivers:
            return self._drivers[cuda]
        if major_minor(cuda) in self._drivers:  # a row for a whole minor, e.g. 13.4
            return self._drivers[major_minor(cuda)]
        if cuda != major_minor(cuda):
            return None
        patches = [v for v in self._drivers if v.startswith(f"{cuda}.")]
        return self._drivers[min(patches, key=version_key)] if patches else None

    # host compiler
    def _gcc_limit(self, cuda: str) -> GccLimit | None:
        return self._gcc.get(cuda) or self._gcc.get(major_minor(cuda))

    def gcc_max(self, cuda: str) -> int | None:
        """Highest GCC major nvcc of `cuda` accepts, or None if the catalog has no row."""
        limit = self._gcc_limit(cuda)
        return limit.max if limit else None

    def gcc_min(self, cuda: str) -> int | None:
        """Lowest GCC major NVIDIA supports for `cuda` (advisory: nvcc does not check)."""
        limit = self._gcc_limit(cuda)
        return limit.min if limit else None

    def lowest_cuda_accepting_gcc(self, gcc: int) -> str | None:
        """The first CUDA whose nvcc accepts `gcc`: "X.Y", or "X.Y.Z" when X.Y.0 does not."""
        minors = sorted((k for k in self._gcc if k == major_minor(k)), key=version_key)
        for minor in minors:
            patch = 0
            while (limit := self._gcc.get(f"{minor}.{patch}")) and limit.max < gcc:
                patch += 1
            if self._gcc[minor].max >= gcc or f"{minor}.{patch}" in self._gcc:
                return minor if patch == 0 else f"{minor}.{patch}"
        return None

    # distros, torch, mirrors
    def distro(self, os_id: str) -> Distro | None:
        return self._distros.get(os_id)

    def distros(self) -> tuple[Distro, ...]:
        return tuple(self._distros.values())

    def torch_release(self, version: str) -> TorchRelease | None:
        return self._torch.get(version)

    def torch_releases(self) -> tuple[TorchRelease, ...]:
        return tuple(self._torch.values())

    def mirror(self, name: str) -> MirrorPreset | None:
        return self._mirrors.get(name)

    def mirrors(self) -> tuple[MirrorPreset, ...]:
        return tuple(self._mirrors.values())


@functools.cache
def load_catalog() -> Catalog:
    """The catalog of the installed package, parsed on first use."""
    return Catalog()


def parse_tag(tag: str) -> tuple[str, str | None, Flavor, str] | None:
    """Split an Ubuntu `nvidia/cuda` tag into (cuda, cudnn, flavor, os); None if it is not one."""
    match = _TAG_RE.match(tag)
    if not match:
        return None
    return match["cuda"], match["cudnn"], cast(Flavor, match["flavor"]), match["os"]
