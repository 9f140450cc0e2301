"""The data of `envspec/data/cuda_apt.yaml` as pydantic models: NVIDIA's CUDA apt package sets.

Each release lists, per image flavour, the packages NVIDIA's own image recipes installed on the
plain Ubuntu image, with the pinned versions and the packages they held. `Catalog.cuda_apt()`
loads it once; malformed data raises `CatalogDataError` naming the file.
"""

from __future__ import annotations

from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, field_validator

from envspec import grammar

Flavor = Literal["base", "runtime", "devel"]
DATA_FILE = "cuda_apt.yaml"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AptPin(_Data):
    """One package: `name=version` when pinned, held when NVIDIA held it."""

    name: Annotated[str, AfterValidator(grammar.apt_package)]
    version: str | None = None
    hold: bool = False
    os: tuple[str, ...] | None = None  # None: on every OS of the release

    @field_validator("version")
    @classmethod
    def _no_spaces(cls, value: str | None) -> str | None:
        if value is not None:
            grammar.apt_package(f"pkg={value}")
        return value

    @property
    def spec(self) -> str:
        """What apt-get install is given: `name=version`, or the bare name."""
        return f"{self.name}={self.version}" if self.version else self.name


class CudnnSet(_Data):
    version: str
    os: tuple[str, ...] | None = None  # None: every OS of the release
    runtime: tuple[AptPin, ...]
    devel: tuple[AptPin, ...]

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


class CudaAptRelease(_Data):
    cuda: str
    os: tuple[str, ...]
    source: str
    require_cuda: str
    nccl: str | None = None
    notes: str | None = None
    base: tuple[AptPin, ...]
    runtime: tuple[AptPin, ...]
    devel: tuple[AptPin, ...]
    cudnn: tuple[CudnnSet, ...] = ()
    # where a release's packages live when not in the OS's own directory (9.2 for 18.04 was
    # published in the ubuntu1710 repository)
    os_dirs: dict[str, str] = {}

    def cudnn_for(self, os_id: str) -> tuple[CudnnSet, ...]:
        """The cuDNN versions NVIDIA packaged this CUDA with on `os_id`, oldest first."""
        return tuple(c for c in self.cudnn if c.os is None or os_id in c.os)

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.cuda.split("."))

    @property
    def major_minor(self) -> str:
        return ".".join(self.cuda.split(".")[:2])

    @property
    def dash_version(self) -> str:
        """The `10-2` of package names like cuda-cudart-10-2."""
        return self.major_minor.replace(".", "-")

    def packages(self, flavor: Flavor, cudnn: CudnnSet | None, os_id: str) -> tuple[AptPin, ...]:
        """Everything a `flavor` image on `os_id` holds: each flavour builds on the one before."""
        layers = {"base": 1, "runtime": 2, "devel": 3}[flavor]
        chosen = [pin for group in (self.base, self.runtime, self.devel)[:layers] for pin in group]
        if cudnn is not None:
            chosen += cudnn.runtime
            if flavor == "devel":
                chosen += cudnn.devel
        return tuple(pin for pin in chosen if pin.os is None or os_id in pin.os)


class CudaAptRepository(_Data):
    url: str
    arch: str
    key_file: str
    os_dirs: dict[str, str]
    # what apt on an old release needs before it can fetch from an https repository
    bootstrap: dict[str, tuple[str, ...]] = {}


class CudaAptData(_Data):
    repository: CudaAptRepository
    releases: tuple[CudaAptRelease, ...]

    def release(self, cuda: str) -> CudaAptRelease | None:
        """The release for a full version, or the newest patch of a major.minor."""
        matches = [r for r in self.releases if r.cuda == cuda or r.major_minor == cuda]
        return max(matches, key=lambda r: r.version_tuple) if matches else None


def parse_cuda_apt(text: str) -> CudaAptData:
    from envspec.catalog import CatalogDataError

    try:
        return CudaAptData.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as err:
        raise CatalogDataError(f"{DATA_FILE}: {err}") from err
