"""Look-ups over the catalog: every data file's rows, indexed once per process."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from types import MappingProxyType

from envspec.catalog.cuda_images import expand_images
from envspec.catalog.loading import Documents, load_documents, validate_all
from envspec.catalog.models import (
    ArchRelease,
    BaseEnvFile,
    CondaDistribution,
    CondaFile,
    CondaInstaller,
    CudaAptFile,
    CudaArchFile,
    CudaDriversFile,
    CudaGccFile,
    CudaImagesFile,
    DatacenterGpus,
    Distro,
    DistrosFile,
    DriverLimits,
    ForwardCompatRow,
    GccLimit,
    ImportNamesFile,
    MirrorPreset,
    MirrorsFile,
    Ppa,
    PpasFile,
    ReservedIds,
    SystemUsersFile,
    TorchFile,
    TorchRelease,
)
from envspec.catalog.records import CudaImage, DriverRequirement, Flavor, major_minor, version_key


class Catalog:
    """All catalog tables, indexed once; look-ups of unknown things return None."""

    def __init__(self, documents: Documents | None = None) -> None:
        """`documents` as loaded by `load_documents`; None validates every file afresh."""
        docs = documents if documents is not None else validate_all()
        self._images = expand_images(docs[CudaImagesFile].images)
        self._by_tag = {img.tag: img for img in self._images}
        self._drivers, self._compat = _index_drivers(docs[CudaDriversFile])
        drivers = docs[CudaDriversFile]
        self._forward = {row.cuda: row for row in drivers.forward_compat}
        self._datacenter, self._limits = drivers.datacenter_gpus, drivers.limits
        self._gcc: dict[str, GccLimit] = {row.cuda: row for row in docs[CudaGccFile].limits}
        self._distros = {d.id: d for d in docs[DistrosFile].distros}
        self._torch = {r.torch: r for r in docs[TorchFile].releases}
        self._mirrors = {m.name: m for m in docs[MirrorsFile].mirrors}
        self._import_names = MappingProxyType(docs[ImportNamesFile].import_names)
        self._ppas = docs[PpasFile].ppas
        self._conda = docs[CondaFile].installers
        self._cuda_apt = docs[CudaAptFile]
        self._system_users = docs[SystemUsersFile]
        self._base_env = docs[BaseEnvFile]
        self._arch = docs[CudaArchFile]

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

    def close_cuda_versions(self, typed: str, limit: int = 6) -> list[str]:
        """Published CUDA versions nearest to something mistyped: those starting with its
        leading numbers ("12.4.x" -> 12.4.0, 12.4.1), else the most similar strings."""
        alive = sorted({i.cuda for i in self._images if i.status != "deleted"}, key=version_key)
        numbers = re.findall(r"\d+", typed)[:2]
        for depth in range(len(numbers), 0, -1):
            prefix = ".".join(numbers[:depth])
            found = [v for v in alive if v == prefix or v.startswith(f"{prefix}.")]
            if found:
                return found[-limit:]
        return difflib.get_close_matches(typed, alive, n=limit, cutoff=0.4)

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

    def forward_compat(self, cuda: str) -> ForwardCompatRow | None:
        """Forward-compatible host branches for `cuda`'s minor; None where no list is known."""
        return self._forward.get(major_minor(cuda))

    def datacenter_gpus(self) -> DatacenterGpus:
        return self._datacenter

    def driver_limits(self) -> DriverLimits:
        return self._limits

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

    # distros, torch, mirrors, apt and conda sources, smoke-test import names
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

    def ppa(self, name: str) -> Ppa | None:
        """A Launchpad PPA envspec knows the signing key of ("owner/name")."""
        return self._ppas.get(name)

    def conda_installer(self, distribution: CondaDistribution) -> CondaInstaller:
        return self._conda[distribution]

    def base_env(self, *, cuda: bool, devel: bool) -> frozenset[str]:
        """Variables the base image defines: every image's, plus nvidia/cuda's (and devel's)."""
        known = self._base_env
        names = {*known.every_image}
        if cuda:
            names |= {*known.cuda_images, *(known.cuda_devel if devel else ())}
        return frozenset(names)

    def import_names(self) -> Mapping[str, str | None]:
        """Distribution name → module the smoke test imports (None: nothing to import)."""
        return self._import_names

    def cuda_apt(self) -> CudaAptFile:
        """NVIDIA's CUDA apt package sets (the nvidia-apt source)."""
        return self._cuda_apt

    def is_system_account(self, name: str) -> bool:
        """A user or group name the base images already have (the non-root user cannot take it)."""
        users = self._system_users
        return name in users.users or name in users.groups

    def is_reserved_id(self, uid: int) -> bool:
        """A uid/gid the distributions keep for system accounts."""
        ids = self._system_users.reserved_ids
        return uid < ids.below or uid in ids.exact

    def reserved_ids(self) -> ReservedIds:
        return self._system_users.reserved_ids

    # GPU architectures
    def arch_family(self, name: str) -> tuple[str, ...] | None:
        """The compute capabilities of a family name (ampere → 8.0, 8.6); None: unknown."""
        return self._arch.families.get(name)

    def arch_families(self) -> tuple[str, ...]:
        return tuple(self._arch.families)

    def nvcc_archs(self, cuda: str) -> ArchRelease | None:
        """The SMs the nvcc of CUDA `cuda` (X.Y or X.Y.Z) compiles for; None: older than known."""
        key = version_key(major_minor(cuda))
        rows = [r for r in self._arch.releases if version_key(r.cuda) <= key]
        return max(rows, key=lambda r: version_key(r.cuda)) if rows else None


DriverTables = tuple[dict[str, DriverRequirement], dict[int, tuple[str | None, str]]]


def _index_drivers(doc: CudaDriversFile) -> DriverTables:
    """Toolkit rows joined with their major's minor-compat floor and their minor's branch."""
    compat = {row.major: (row.min, row.note or "") for row in doc.minor_version_compat}
    branches = {row.cuda: row.branch for row in doc.branches}
    table: dict[str, DriverRequirement] = {}
    for row in doc.toolkits:
        branch = row.branch or branches.get(major_minor(row.cuda)) or _branch_of(row.linux_min)
        major_min = compat.get(version_key(row.cuda)[0], (None, ""))[0]
        table[row.cuda] = DriverRequirement(row.cuda, row.linux_min, major_min, branch, row.note)
    return table, compat


def _branch_of(driver: str | None) -> str | None:
    """A Linux driver's branch is its first component: 535.104.05 -> R535."""
    return f"R{driver.split('.')[0]}" if driver else None


@functools.cache
def load_catalog() -> Catalog:
    """The catalog of the installed package, loaded on first use (see loading.py)."""
    return Catalog(load_documents())
