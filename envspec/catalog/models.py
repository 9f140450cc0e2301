"""pydantic models of `envspec/data/*.yaml`: one document model per file, registered in DATA_FILES.

Every model is strict (no coercion: an unquoted version is a float and fails instead of
becoming "12.1" or "12.10"), forbids unknown keys (a typo in a data file fails loudly) and is
frozen. The row models are the records the catalog hands out (`Distro`, `TorchRelease`, …).
Validators are built lazily (`defer_build`): a run whose data files are unchanged reuses the
validated form cached by loading.py and never builds them.

Adding a data file: write `envspec/data/<name>.yaml` with a sourced header, a document model
here (top-level keys as fields), an entry in DATA_FILES, and the look-ups in queries.py.
tests/unit/test_catalog_models.py then validates it and checks the cached form reproduces it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator

from envspec.catalog.records import FLAVORS, Flavor, TagStatus, is_dotted_version

T = TypeVar("T")
TORCH_INDEX = "https://download.pytorch.org/whl"

Family = Literal["ubuntu", "debian", "rocky", "ubi"]
PackageManagerName = Literal["apt", "dnf"]
SourcesLayout = Literal["classic", "deb822", "yum-repos"]
IndexStyle = Literal["find-links", "extra-index", "index"]
Confidence = Literal["uncertain", "third-party", "conflicting", "unknown"]
CondaDistribution = Literal["miniconda", "miniforge", "anaconda"]
# "ubi" is a family name too, but no public UBI mirror exists: no preset may have one.
MirrorKey = Literal["ubuntu", "ubuntu-ports", "debian", "debian-security", "rocky", "ubi", "pypi",
                    "conda", "cuda"]


def _matching(pattern: str, what: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


def _dotted(value: str) -> str:
    if not is_dotted_version(value):
        raise ValueError(f"{value!r} is not a dotted version (quote versions)")
    return value


def _tuple_from_list(value: object) -> object:
    """YAML has lists only; rows keep tuples so that records are immutable and hashable."""
    return tuple(value) if isinstance(value, list) else value


Items = Annotated[tuple[T, ...], BeforeValidator(_tuple_from_list)]
Version = Annotated[str, AfterValidator(_dotted)]
Date = Annotated[str, _matching(r"\d{4}-\d{2}-\d{2}", "a YYYY-MM-DD date")]
DriverVersion = Annotated[str, _matching(r"\d+(\.\d+)*", "a driver version like 535.104.05")]
DriverBranch = Annotated[str, _matching(r"R\d+", "a driver branch like R580")]
UbuntuId = Annotated[str, _matching(r"ubuntu\d+\.\d+", "an Ubuntu id like ubuntu22.04")]
CudaOsId = Annotated[str, _matching(r"ubuntu\d+\.\d+|rockylinux\d+|ubi\d+",
                                    "an OS id like ubuntu22.04, rockylinux9 or ubi9")]
TorchVariant = Annotated[str, _matching(r"cu\d+", "a wheel variant like cu121")]
HttpsUrl = Annotated[str, _matching(r"https://[^\s'\"]+", "an https:// URL")]
ModuleName = Annotated[str, _matching(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", "a Python module path")]
Fingerprint = Annotated[str, _matching(r"[0-9A-F]{40}", "a 40-digit upper-case key fingerprint")]
PpaName = Annotated[str, _matching(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*", "owner/name")]


def split_variant(variant: str) -> tuple[str | None, Flavor]:
    """ "cudnn8-devel" -> ("cudnn8", "devel"); "base" -> (None, "base")."""
    cudnn, _, flavor = variant.rpartition("-")
    if flavor not in FLAVORS or (cudnn and not re.fullmatch(r"cudnn\d*", cudnn)):
        raise ValueError(f"malformed variant {variant!r}")
    if cudnn and flavor == "base":
        raise ValueError(f"{variant!r}: cuDNN images are runtime or devel only")
    return cudnn or None, flavor


def _variant(value: str) -> str:
    split_variant(value)
    return value


ImageVariant = Annotated[str, AfterValidator(_variant)]


class Row(BaseModel):
    """Base of every data-file model."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


class Sourced(Row):
    """A row that may qualify its own source (see each file's header)."""

    confidence: Confidence | None = None
    note: str | None = None


# ----------------------------------------------------------------- cuda_images.yaml


class CudaImageRow(Row):
    """One CUDA version x OS release x status x date; `variants` expand to tags."""

    cuda: Version
    os: CudaOsId
    status: TagStatus
    last_seen: Date
    deleted_on: Date | None = None
    variants: Items[ImageVariant]


class CudaImagesFile(Row):
    images: Items[CudaImageRow]


# ----------------------------------------------------------------- cuda_drivers.yaml


class MinorCompatRow(Sourced):
    major: int
    min: DriverVersion | None
    below: DriverVersion | None = None  # the table's upper bound, informational


class BranchRow(Row):
    cuda: Version
    branch: DriverBranch


class ToolkitDriverRow(Sourced):
    cuda: Version  # a full version, or "X.Y" covering every X.Y.Z
    linux_min: DriverVersion | None  # null: unknown
    branch: DriverBranch | None = None


class ForwardCompatRow(Sourced):
    """Host driver branches that nvidia/cuda images of one CUDA minor accept on data-center GPUs."""

    cuda: Version  # "X.Y"
    branches: Items[int]  # 470 for R470
    seen_in: Version  # the image (CUDA version) whose NVIDIA_REQUIRE_CUDA was read


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"{value!r} is not a regular expression: {err}") from err
    return value


Regex = Annotated[str, AfterValidator(_regex)]


class DatacenterGpus(Row):
    """Which nvidia-smi GPU names are data-center GPUs; `exclude` is checked first."""

    confidence: Confidence | None = None
    exclude: Items[Regex]
    match: Items[Regex]


class DriverLimits(Row):
    """What each verdict kind means in practice, quoted in the verdict's sentence."""

    minor_compat: str
    forward_compat: str


class CudaDriversFile(Row):
    minor_version_compat: Items[MinorCompatRow]
    branches: Items[BranchRow]
    toolkits: Items[ToolkitDriverRow]
    forward_compat: Items[ForwardCompatRow]
    datacenter_gpus: DatacenterGpus
    limits: DriverLimits


# ----------------------------------------------------------------- cuda_gcc.yaml


class GccLimit(Sourced):
    cuda: Version  # "major.minor", or a full version overriding its minor
    max: int
    min: int | None


class CudaGccFile(Row):
    limits: Items[GccLimit]


# ----------------------------------------------------------------- distros.yaml


class Distro(Sourced):
    id: str
    family: Family
    version: str
    codename: str
    docker_image: str
    sources_layout: SourcesLayout
    default_gcc: int
    gcc_packages: Items[int]
    default_python: Version
    python_packages: Items[Version] = ()
    deadsnakes_python: Items[Version] = ()
    pep668: bool
    eol: Date | None = None
    # The fields below only RPM distributions set; the defaults are Debian's conventions.
    package_manager: PackageManagerName = "apt"
    # How a GCC other than the default is packaged ({major} filled in) and the folder its
    # gcc/g++ live in (None: /usr/bin with a -N suffix, as on Debian).
    gcc_package_names: Items[str] = ("gcc-{major}", "g++-{major}")
    gcc_bin_dir: str | None = None
    default_gcc_package_names: Items[str] = ()  # the default GCC, where not in gcc_packages
    # Package names per Python version where not python3.X + python3.X-venv.
    python_package_names: dict[Version, Items[str]] = {}
    user_packages: Items[str] = ()  # what useradd/groupadd need, if the image may lack it
    public_mirrors: bool = True  # False: no mirror of its archive exists (UBI)
    os_release_id: str | None = None  # ID= in /etc/os-release where not the id's letters

    def gcc_packages_for(self, major: int) -> tuple[str, ...]:
        if major == self.default_gcc and self.default_gcc_package_names:
            return self.default_gcc_package_names
        return tuple(name.format(major=major) for name in self.gcc_package_names)

    def gcc_bin_dir_for(self, major: int) -> str | None:
        """Where a GCC installed apart from the default keeps gcc/g++ (None: /usr/bin, -N)."""
        if self.gcc_bin_dir is None or major == self.default_gcc:
            return None
        return self.gcc_bin_dir.format(major=major)

    def python_packages_for(self, version: str) -> tuple[str, ...]:
        default = ("python3", "python3-venv") if version == self.default_python else (
            f"python{version}", f"python{version}-venv")
        return self.python_package_names.get(version, default)

    @property
    def os_release(self) -> str:
        """What the image's /etc/os-release says: "rocky9" for rockylinux9, "rhel9" for ubi9."""
        return f"{self.os_release_id}{self.version}" if self.os_release_id else self.id


class DistrosFile(Row):
    distros: Items[Distro]


# ----------------------------------------------------------------- torch.yaml


class TorchRelease(Sourced):
    torch: Version
    torchvision: Version | None
    torchaudio: Version | None
    variants: Items[TorchVariant]
    default_cuda: Version
    python: Items[Version]
    index_style: IndexStyle
    uncertain_variants: Items[TorchVariant] = ()

    @model_validator(mode="after")
    def _uncertain_are_variants(self) -> TorchRelease:
        if not set(self.uncertain_variants) <= set(self.variants):
            raise ValueError("`uncertain_variants` must be a subset of `variants`")
        return self

    def index_url(self, variant: str) -> str:
        """Where pip finds the `+<variant>` wheels; check `variants` first."""
        if self.index_style == "find-links":
            return f"{TORCH_INDEX}/torch_stable.html"
        return f"{TORCH_INDEX}/{variant}"


class TorchRefresh(Row):
    """When and from what torch.yaml was last refreshed (tools/refresh_catalog.py torch)."""

    date: Date
    how: str
    source: str


class TorchFile(Row):
    refreshed: TorchRefresh | None = None
    releases: Items[TorchRelease]


# ----------------------------------------------------------------- small tables


class MirrorPreset(Row):
    name: str
    urls: dict[MirrorKey, HttpsUrl]  # a missing key: no preset, the distribution's default


class MirrorsFile(Row):
    mirrors: Items[MirrorPreset]


class ImportNamesFile(Row):
    import_names: dict[str, ModuleName | None]  # null: nothing to import, ask the installer


class Ppa(Row):
    fingerprint: Fingerprint


class PpasFile(Row):
    ppas: dict[PpaName, Ppa]


class CondaInstaller(Row):
    version: str
    url: HttpsUrl  # with {version} and {arch} placeholders
    python: Version
    mirror_folder: str | None = None  # where Anaconda mirrors keep these installers

    @model_validator(mode="after")
    def _has_placeholders(self) -> CondaInstaller:
        if "{version}" not in self.url or "{arch}" not in self.url:
            raise ValueError("`url` must contain {version} and {arch}")
        return self


class CondaFile(Row):
    installers: dict[CondaDistribution, CondaInstaller]


# cuda_apt.yaml: NVIDIA's CUDA apt package sets per release (the nvidia-apt source)
AptName = Annotated[str, _matching(r"[a-z0-9][a-z0-9.+\-]+", "a Debian package name")]
AptVersion = Annotated[str, _matching(r"[0-9][A-Za-z0-9.+~:\-]*", "a Debian package version")]


class AptPin(Row):
    """One package: `name=version` when pinned, held when NVIDIA held it, maybe for some OS only."""

    name: AptName
    version: AptVersion | None = None  # None: NVIDIA's recipe left it unpinned
    hold: bool = False
    os: Items[UbuntuId] | None = None  # None: on every OS of the release

    @property
    def spec(self) -> str:
        """What apt-get install is given: `name=version`, or the bare name."""
        return f"{self.name}={self.version}" if self.version else self.name


class CudnnSet(Row):
    version: Version
    os: Items[UbuntuId] | None = None  # None: every OS of the release
    runtime: Items[AptPin]
    devel: Items[AptPin]

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


class CudaAptRelease(Row):
    cuda: Version
    os: Items[UbuntuId]
    source: str
    require_cuda: str  # NVIDIA_REQUIRE_CUDA as the recipe set it
    nccl: str | None = None
    # NCCL_VERSION where an OS's recipe pinned another NCCL than `nccl` (NVIDIA stopped
    # regenerating ubuntu16.04 recipes before it moved NCCL on for the newer releases)
    nccl_by_os: dict[UbuntuId, str] = {}
    notes: str | None = None
    base: Items[AptPin]
    runtime: Items[AptPin]
    devel: Items[AptPin]
    cudnn: Items[CudnnSet] = ()
    # where a release's packages live when not in the OS's own directory (9.2 for 18.04 was
    # published in the ubuntu1710 repository)
    os_dirs: dict[UbuntuId, str] = {}

    def cudnn_for(self, os_id: str) -> tuple[CudnnSet, ...]:
        """The cuDNN versions NVIDIA packaged this CUDA with on `os_id`, oldest first."""
        return tuple(c for c in self.cudnn if c.os is None or os_id in c.os)

    @property
    def major_minor(self) -> str:
        return ".".join(self.cuda.split(".")[:2])

    def packages(self, flavor: Flavor, cudnn: CudnnSet | None, os_id: str) -> tuple[AptPin, ...]:
        """Everything a `flavor` image on `os_id` holds: each flavour builds on the one before."""
        layers = {"base": 1, "runtime": 2, "devel": 3}[flavor]
        chosen = [pin for group in (self.base, self.runtime, self.devel)[:layers] for pin in group]
        if cudnn is not None:
            chosen += cudnn.runtime
            if flavor == "devel":
                chosen += cudnn.devel
        return tuple(pin for pin in chosen if pin.os is None or os_id in pin.os)


class CudaAptRepository(Row):
    url: HttpsUrl
    arch: str
    key_file: str
    os_dirs: dict[UbuntuId, str]
    # what apt on an old release needs before it can fetch from an https repository
    bootstrap: dict[UbuntuId, Items[AptName]] = {}


class CudaAptFile(Row):
    repository: CudaAptRepository
    releases: Items[CudaAptRelease]

    def release(self, cuda: str) -> CudaAptRelease | None:
        """The release for a full version, or the newest patch of a major.minor."""
        matches = [r for r in self.releases if r.cuda == cuda or r.major_minor == cuda]
        return max(matches, key=lambda r: tuple(map(int, r.cuda.split(".")))) if matches else None


class ReservedIds(Row):
    below: int  # ids under this are the distribution's (Debian Policy 9.2.2: 0-99)
    exact: Items[int]  # and these single ones (65534 nobody, 65535 (uid_t)-1 in 16 bits)


class SystemUsersFile(Row):
    users: Items[str]
    groups: Items[str]
    reserved_ids: ReservedIds


# ----------------------------------------------------------------- cuda_arch.yaml

ComputeCapability = Annotated[str, _matching(r"\d{1,2}\.\d", "a compute capability like 8.6")]


class ArchRelease(Sourced):
    cuda: Version  # X.Y: the first release with this list; later ones until the next row
    sms: Items[ComputeCapability]


class CudaArchFile(Row):
    families: dict[str, Items[ComputeCapability]]
    releases: Items[ArchRelease]


EnvName = Annotated[str, _matching(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name")]


class BaseEnvFile(Row):
    """Variables base images define, by kind of image (see base_env.yaml's header)."""

    every_image: Items[EnvName]
    cuda_images: Items[EnvName]
    cuda_devel: Items[EnvName]


# framework_models builds on Row (above), so it is imported only here.
from envspec.catalog.framework_models import FrameworkImagesFile  # noqa: E402

DATA_FILES: dict[str, type[Row]] = {
    "cuda_images.yaml": CudaImagesFile,
    "cuda_drivers.yaml": CudaDriversFile,
    "cuda_gcc.yaml": CudaGccFile,
    "distros.yaml": DistrosFile,
    "torch.yaml": TorchFile,
    "mirrors.yaml": MirrorsFile,
    "import_names.yaml": ImportNamesFile,
    "ppas.yaml": PpasFile,
    "conda.yaml": CondaFile,
    "cuda_apt.yaml": CudaAptFile,
    "system_users.yaml": SystemUsersFile,
    "base_env.yaml": BaseEnvFile,
    "framework_images.yaml": FrameworkImagesFile,
    "cuda_arch.yaml": CudaArchFile,
}
