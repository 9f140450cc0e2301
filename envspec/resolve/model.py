"""What resolution produces: every value concrete, each decision explained."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from envspec.catalog import Distro
from envspec.errors import Diagnostic, Location
from envspec.framework_images import FrameworkImage
from envspec.loader import KeyPath, LoadedSpec, dotted_key
from envspec.requirements import PipRequirement
from envspec.spec import Spec
from envspec.spec_sources import Source as SourceEntry

# Where a value came from: the spec, a default, the catalog, env.lock, a command-line option
# (--base-image), or derived from other values.
Source = Literal["spec", "default", "catalog", "lock", "cli", "derived"]


@dataclass(frozen=True)
class Decision:
    """One row of `envspec explain`: a resolved value, where it came from and why."""

    key: str
    value: str
    source: Source
    why: str


@dataclass(frozen=True)
class CudaAptInstall:
    """CUDA installed from NVIDIA's apt repository on a plain OS image, as NVIDIA's recipes did."""

    repository: str  # the `deb` URI, e.g. …/repos/ubuntu1804/x86_64
    key_url: str
    packages: tuple[str, ...]  # name=version, in NVIDIA's order
    holds: tuple[str, ...]
    cuda_dir: str  # cuda-10.2: what /usr/local/cuda points at
    bootstrap: tuple[str, ...]  # extra packages apt needs first (https transport on 16.04)
    env: Mapping[str, str]  # what NVIDIA's images set: CUDA_VERSION, NVIDIA_*, PATH, …


@dataclass(frozen=True)
class ResolvedBase:
    image: str  # what FROM names
    distro: Distro
    cuda: str | None  # full version actually in the image, e.g. "11.0.3"
    flavor: str | None
    cudnn: bool
    cuda_apt: CudaAptInstall | None = None  # set when CUDA comes from the apt repository
    framework: FrameworkImage | None = None  # a catalogued image that already has Python


@dataclass(frozen=True)
class AptRepo:
    name: str  # file stem under sources.list.d and keyrings
    uri: str
    suite: str
    components: tuple[str, ...]
    key_url: str


@dataclass(frozen=True)
class ResolvedApt:
    mirror: str | None  # archive base URL replacing the distribution's
    security_mirror: str | None
    packages: tuple[str, ...]  # sorted, unique: user's plus what other steps need
    repositories: tuple[AptRepo, ...]


@dataclass(frozen=True)
class TorchInstall:
    requirements: tuple[str, ...]  # e.g. ("torch==2.1.2", "torchvision==0.16.2")
    index_args: tuple[str, ...]  # e.g. ("--index-url", "https://…/whl/cu121")
    variant: str  # cu121 / cpu


@dataclass(frozen=True)
class PipInstall:
    """A `python.pip.packages` item (torch's family aside) with its per-package options."""

    requirement: PipRequirement
    no_build_isolation: bool = False
    no_deps: bool = False
    config_settings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    hashes: tuple[str, ...] = ()

    @property
    def options(self) -> tuple[str, ...]:
        """Its pip flags, in pip's spelling."""
        flags = ["--no-build-isolation"] * self.no_build_isolation + ["--no-deps"] * self.no_deps
        flags += [f"--config-settings={key}={value}"
                  for key, values in self.config_settings.items() for value in values]
        return tuple(flags)

    @property
    def plain(self) -> bool:
        """Installable together with others in one `pip install`: no file to copy, no options."""
        return self.requirement.path is None and not (self.options or self.env)


@dataclass(frozen=True)
class ResolvedConda:
    # May contain $(uname -m), expanded by the shell at build time; None: the image's own conda.
    installer_url: str | None
    installer_sha256: str | None
    base_prefix: str  # where conda itself lives
    condarc: str | None  # generated .condarc text (channels, mirror)
    environment_file: str | None  # relative to the spec folder
    packages: tuple[str, ...]


@dataclass(frozen=True)
class ResolvedPython:
    provider: Literal["system", "conda", "image"]
    version: str
    # The interpreter that creates the env (system), the env's python (conda), or the image's
    # own python that pip runs with (image: an absolute path or `python3`).
    interpreter: str
    prefix: str  # the venv or conda env holding packages; its bin/ goes first on PATH
    conda: ResolvedConda | None
    pip_conf: str | None  # generated pip.conf text (index, mirror, trusted hosts)
    torch: TorchInstall | None
    pip_installs: tuple[PipInstall, ...]  # everything not handled by `torch`, in spec order
    requirements: tuple[str, ...]  # files relative to the spec folder
    constraints: tuple[str, ...] = ()  # constraints files relative to the spec folder (pip -c)
    require_hashes: bool = False
    package_names: tuple[str, ...] = ()  # distributions the smoke checks import (names known)

    @property
    def pip_packages(self) -> tuple[str, ...]:
        """The requirements of `pip_installs`, as written."""
        return tuple(i.requirement.text for i in self.pip_installs)

    @property
    def bin_dir(self) -> str:
        return f"{self.prefix}/bin"

    @property
    def executable(self) -> str:
        """The python that runs pip and the smoke probe."""
        return self.interpreter if self.provider == "image" else f"{self.bin_dir}/python"


@dataclass(frozen=True)
class ResolvedSource:
    spec: SourceEntry
    commit: str | None  # the commit to check out (the ref itself, or env.lock's); None: the tag


@dataclass(frozen=True)
class CudaArchs:
    """`compilers.cuda_arch` in the two spellings the build tools read."""

    torch: str  # TORCH_CUDA_ARCH_LIST, e.g. "7.0;8.6+PTX"
    cmake: str  # CMAKE_CUDA_ARCHITECTURES, e.g. "70-real;86" (no suffix: SASS and PTX)


@dataclass(frozen=True)
class Resolved:
    spec: Spec
    spec_path: Path
    spec_dir: Path
    spec_sha256: str
    base: ResolvedBase
    apt: ResolvedApt
    gcc: int | None
    python: ResolvedPython | None
    env: Mapping[str, str]
    diagnostics: tuple[Diagnostic, ...]
    decisions: tuple[Decision, ...]
    lock_used: bool = False  # the FROM image is the one env.lock pins
    sources: tuple[ResolvedSource, ...] = ()
    cuda_archs: CudaArchs | None = None

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "warning")

    def decision(self, key: str) -> Decision | None:
        """The last (deciding) decision on `key`, e.g. "base.image"."""
        return next((d for d in reversed(self.decisions) if d.key == key), None)


@dataclass
class Collector:
    """Accumulates problems and decisions so that resolution reports all of them at once."""

    loaded: LoadedSpec
    diagnostics: list[Diagnostic] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def where(self, path: KeyPath) -> Location:
        found = self.loaded.positions.locate(path)
        location = found or Location(str(self.loaded.path))
        return Location(location.file, location.line, location.column, dotted_key(path))

    def error(self, code: str, message: str, path: KeyPath, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, self.where(path), hint, "error"))

    def warn(self, code: str, message: str, path: KeyPath, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, self.where(path), hint, "warning"))

    def note(self, code: str, message: str, path: KeyPath, hint: str | None = None) -> None:
        """Advice that does not make the spec wrong; shown by `envspec explain`."""
        self.diagnostics.append(Diagnostic(code, message, self.where(path), hint, "info"))

    def decide(self, key: str, value: object, source: Source, why: str) -> None:
        self.decisions.append(Decision(key, str(value), source, why))

    @property
    def failed(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)
