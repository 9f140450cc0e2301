"""The env.yaml model. Shape only: whether values fit together is the resolver's job.

Every field carries a description; `envspec schema` turns these models into
schemas/env.schema.json, so editors can complete and document keys.
Every string that can reach a shell is checked against its grammar here, at the edge,
so nothing downstream has to wonder whether a value is safe to quote.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from envspec import grammar
from envspec.spec_sources import Source
from envspec.spec_types import (
    MAX_ENV,
    MAX_ITEMS,
    MAX_PACKAGES,
    MAX_SOURCES,
    AbsolutePath,
    AptPackage,
    AptWord,
    CondaSpec,
    CudaArch,
    EnvName,
    EnvValue,
    ExposePort,
    GpuChoice,
    GroupName,
    HostName,
    ImageRef,
    KeyUrl,
    MirrorRef,
    Model,
    OneLine,
    PipRequirement,
    PythonVersion,
    RelativePath,
    RunEntry,
    ShellCommand,
    ShortText,
    Url,
    UrlLength,
    UserId,
    Word,
)

OsId = Literal[
    "ubuntu16.04",
    "ubuntu18.04",
    "ubuntu20.04",
    "ubuntu22.04",
    "ubuntu24.04",
    "debian11",
    "debian12",
    "debian13",
    "rockylinux8",
    "rockylinux9",
    "ubi8",
    "ubi9",
]

CudnnMajor = Annotated[int, Field(ge=7, le=9)]
CudnnVersion = Annotated[str, Word, AfterValidator(grammar.cudnn_version)]


def _cuda_version(value: str) -> str:
    """A CUDA version's shape; whether an image exists for it is the resolver's question."""
    try:
        return grammar.cuda_version(value)
    except ValueError as err:
        from envspec.catalog import load_catalog  # only when there is something to suggest

        close = load_catalog().close_cuda_versions(value)
        hint = ("published versions near it: " + ", ".join(close) if close
                else "write it like `12.4` (newest patch) or `12.4.1`")
        raise PydanticCustomError("value_error", str(err), {"hint": hint}) from None


CudaVersion = Annotated[str, Word, AfterValidator(_cuda_version)]


class Base(Model):
    """The image everything is built on."""

    os: OsId | None = Field(
        None,
        description="Operating system of the image, e.g. ubuntu22.04, debian12 or rockylinux9. "
        "Required unless `image` names an image whose OS envspec cannot guess.",
    )
    cuda: CudaVersion | None = Field(
        None,
        description="CUDA version: '12.4' (latest patch envspec knows) or '12.4.1'. "
        "Omit for a CPU-only image.",
        examples=["12.4", "11.8.0"],
    )
    flavor: Literal["base", "runtime", "devel"] = Field(
        "runtime",
        description="nvidia/cuda flavour: base (cudart only), runtime (+ math libraries), "
        "devel (+ nvcc and headers, needed to compile CUDA code).",
    )
    cudnn: bool | CudnnMajor | CudnnVersion = Field(
        False,
        description="cuDNN: true (any), false (none), a major (7, 8, 9) or, with the nvidia-apt "
        "source, a full version like '7.6.5.32'. Checked against what exists for that CUDA.",
    )
    cuda_source: Literal["auto", "image", "nvidia-apt", "nearest"] = Field(
        "auto",
        description="Where CUDA comes from. image: the published nvidia/cuda tag (error if "
        "deleted); nvidia-apt: NVIDIA's CUDA apt repository on the plain OS image, pinned like "
        "NVIDIA's own recipes; auto: the image when it exists, else nvidia-apt; nearest: another "
        "tag with the same CUDA major, OS and cuDNN major (said in a warning).",
    )
    cuda_repo: MirrorRef | None = Field(
        None,
        description="NVIDIA's CUDA apt repository for the nvidia-apt source: a mirror preset "
        "(aliyun) or a URL standing for https://developer.download.nvidia.com/compute/cuda/repos.",
    )
    image: ImageRef | None = Field(
        None,
        description="An explicit base image (any registry, tag or digest). Overrides the "
        "image envspec would pick from os/cuda; set `os` too so apt and Python are handled "
        "for the right distribution.",
    )

    @model_validator(mode="after")
    def _os_or_image(self) -> Base:
        if self.os is None and self.image is None:
            raise ValueError("set `os` (e.g. ubuntu22.04) or an explicit `image`")
        return self


class AptRepository(Model):
    """An extra apt repository: a Launchpad PPA or a URL with its signing key."""

    ppa: Annotated[str, Word, AfterValidator(grammar.ppa)] | None = Field(
        None, description="A Launchpad PPA as owner/name, e.g. deadsnakes/ppa (Ubuntu only)."
    )
    url: Url | None = Field(None, description="Repository URL, e.g. https://example.org/debian")
    suite: AptWord | None = Field(
        None, description="Suite; defaults to the distribution's codename."
    )
    components: list[AptWord] = Field(
        default_factory=lambda: ["main"], max_length=MAX_SOURCES, description="Components, e.g. [main]."
    )
    key_url: KeyUrl | None = Field(
        None, description="URL of the repository's signing key, armored (.asc) or binary (.gpg): "
        "the build looks at the downloaded bytes. A keyserver query "
        "(`…/pks/lookup?op=get&search=0x…`) works too.")

    @model_validator(mode="after")
    def _ppa_or_url(self) -> AptRepository:
        if (self.ppa is None) == (self.url is None):
            raise ValueError("give exactly one of `ppa` or `url`")
        if self.url is not None and self.key_url is None:
            raise ValueError("a `url` repository needs its `key_url` (unsigned repos are refused)")
        return self


class Apt(Model):
    """System packages, installed in one layer by the distribution's package manager: apt
    (Debian, Ubuntu; without recommends) or dnf (Rocky Linux, UBI; without weak dependencies)."""

    mirror: MirrorRef | None = Field(
        None,
        description="A named mirror preset (aliyun, tuna, ustc, tencent) or a URL that replaces the "
        "distribution's archive in every sources file (apt: classic or deb822; dnf: the "
        "Rocky Linux repo files; UBI has no mirrors).",
    )
    packages: list[AptPackage] = Field(
        default_factory=list,
        max_length=MAX_PACKAGES,
        description="Package names of the distribution: Debian/Ubuntu (optionally =version; a "
        "version may end in `*`, apt's glob, e.g. `libfoo=7:*`) or RPM names on Rocky Linux/UBI.",
    )
    repositories: list[AptRepository] = Field(
        default_factory=list,
        max_length=MAX_SOURCES,
        description="Extra apt repositories or PPAs, added before install (apt distributions "
        "only).",
    )


class Compilers(Model):
    """Host compilers; the resolver checks them against the CUDA toolkit's nvcc."""

    gcc: int | None = Field(
        None,
        ge=4,
        le=20,
        description="GCC major version: gcc-N and g++-N are installed and made the default.",
    )
    cuda_arch: list[CudaArch] = Field(
        default_factory=list, max_length=MAX_SOURCES,
        description="GPU architectures `sources:` compile for: compute capabilities like '8.6' "
        "('+PTX' adds PTX for newer GPUs) or family names (volta, turing, ampere, ada, hopper, "
        "blackwell). Becomes TORCH_CUDA_ARCH_LIST and CMAKE_CUDA_ARCHITECTURES in source builds; "
        "checked against what the image's nvcc supports.",
    )


class Conda(Model):
    """A Miniconda or Miniforge installation providing Python."""

    distribution: Literal["miniconda", "miniforge", "anaconda"] = Field(
        "miniconda", description="Which installer to use (anaconda: the full Anaconda "
        "distribution, a much larger download)."
    )
    installer_version: Annotated[str, Word, AfterValidator(grammar.installer_version)] | None = Field(
        None, description="Installer version (e.g. py311_24.1.2-0); default pinned by envspec."
    )
    installer_url: Url | None = Field(
        None, description="Full installer URL; overrides the version and mirror."
    )
    installer_sha256: Annotated[str, Word, AfterValidator(grammar.sha256)] | None = Field(
        None, description="Expected SHA-256 of the installer; the build fails on mismatch."
    )
    channels: list[Annotated[str, UrlLength, AfterValidator(grammar.conda_channel)]] = Field(
        default_factory=list,
        max_length=MAX_SOURCES,
        description="Channels in priority order, e.g. [conda-forge].",
    )
    mirror: MirrorRef | None = Field(
        None, description="Channel mirror: a preset name (tuna, ustc, aliyun, tencent) or a base URL."
    )
    environment: RelativePath | None = Field(
        None, description="An environment.yml next to env.yaml, installed before pip packages."
    )
    packages: list[CondaSpec] = Field(
        default_factory=list, max_length=MAX_PACKAGES, description="Conda packages, e.g. numpy=1.26."
    )


class PipPackage(Model):
    """A pip requirement with options of its own. It installs in a layer of its own, after the
    plain requirements, so changing it does not reinstall them."""

    requirement: PipRequirement = Field(
        description="Any form a `packages` item takes: `name[extras] specifier; marker`, "
        "`name @ https://…/x.whl`, `git+https://…@<tag|commit>#subdirectory=…` or "
        "`./wheels/x.whl`."
    )
    no_build_isolation: bool = Field(
        False, description="pip --no-build-isolation: build against the packages already "
        "installed (torch for CUDA extensions) instead of a fresh build environment."
    )
    no_deps: bool = Field(False, description="pip --no-deps: install it without its dependencies.")
    config_settings: dict[Annotated[str, Word, AfterValidator(grammar.config_setting_key)],
                          OneLine | Annotated[list[OneLine], Field(max_length=MAX_ITEMS)]] = Field(
        default_factory=dict, max_length=MAX_ITEMS, description="pip --config-settings "
        "KEY=VALUE for its build backend, a list giving the key several times (pip 23.1 removed "
        "--install-option; setuptools reads `--build-option` here), e.g. "
        "{--build-option: [--cpp_ext, --cuda_ext]}."
    )
    env: dict[EnvName, OneLine] = Field(
        default_factory=dict, max_length=MAX_ENV, description="Environment variables for its "
        "install only, e.g. {FORCE_CUDA: '1', TORCH_CUDA_ARCH_LIST: '8.0'}; not kept in the image."
    )
    hashes: list[Annotated[str, Word, AfterValidator(grammar.pip_hash)]] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="Accepted `sha256:…` hashes of "
        "its files; needs `require_hashes: true` and a `==` pin."
    )


def _pip_item_form(value: object) -> str:
    # Tag names with `[` are left out of error locations by the loader, like pydantic's own.
    return "mapping[options]" if isinstance(value, dict | PipPackage) else "str"


PipItem = Annotated[
    Annotated[PipRequirement, Tag("str")] | Annotated[PipPackage, Tag("mapping[options]")],
    Discriminator(_pip_item_form),
]


class Pip(Model):
    """pip packages; they go into a venv or the conda env, never the OS Python (PEP 668)."""

    packages: list[PipItem] = Field(
        default_factory=list, max_length=MAX_PACKAGES,
        description="Requirements in any form pip takes: PEP 508 (`numpy==1.26`, "
        "`torch>=2.1; python_version>='3.9'`), `name @ https://…/x.whl`, "
        "`git+https://…/repo.git@<tag|commit>#subdirectory=…&egg=name` (a tag or full commit, "
        "else a warning), or a wheel, sdist or archive next to env.yaml (`./wheels/x.whl`, "
        "`file:dist/x-1.0.tar.gz`; copied into the build alone, before its install). An item "
        "may be a mapping with per-package options (the keys below). torch, torchvision and "
        "torchaudio get the newest matching release with wheels for `python.torch.variant`."
    )
    requirements: list[RelativePath] = Field(
        default_factory=list, max_length=MAX_SOURCES, description="requirements.txt files next to env.yaml."
    )
    constraints: list[RelativePath] = Field(
        default_factory=list, max_length=MAX_SOURCES, description="Constraints files next to "
        "env.yaml (pip -c): every pip install of the build honours them."
    )
    require_hashes: bool = Field(
        False, description="Hash-checking mode (pip --require-hashes) for every install: "
        "requirements files carry `--hash=sha256:…` entries and every `packages` item has "
        "`hashes` (a named one an `==` pin)."
    )
    mirror: MirrorRef | None = Field(
        None, description="Index mirror: a preset name (tuna, aliyun, ustc, tencent) or a simple-index URL."
    )
    index_url: Url | None = Field(None, description="Primary index URL (overrides `mirror`).")
    extra_index_urls: list[Url] = Field(
        default_factory=list, max_length=MAX_SOURCES, description="Extra indexes."
    )
    find_links: list[Url] = Field(
        default_factory=list, max_length=MAX_SOURCES, description="--find-links locations (where "
        "local versions such as `torch-scatter==2.0.5+cu101` come from: PyPI does not host them)."
    )
    trusted_hosts: list[HostName] = Field(
        default_factory=list, max_length=MAX_SOURCES, description="--trusted-host."
    )


class Torch(Model):
    """How torch, torchvision and torchaudio (listed in `pip.packages`) are installed."""

    variant: Annotated[str, Word, AfterValidator(grammar.torch_variant)] = Field(
        "auto", description="Which wheel build: auto (the image's CUDA, or cpu without one), "
        "cpu, cuXYZ (e.g. cu118: its own CUDA runtime, legal on any runtime image), or pypi "
        "(PyPI's default wheels, no extra index). A `+cu118` local version in the pin implies it.",
        examples=["auto", "cu121", "pypi"],
    )


class Python(Model):
    """The Python interpreter and its packages."""

    version: PythonVersion | None = Field(
        None, description="major.minor, e.g. '3.10'; default: the OS's python3 (or conda's). "
        "A patch ('3.8.13') is honoured by conda only: the system provider installs whatever "
        "patch the distribution ships, so it refuses one."
    )
    provider: Literal["system", "conda", "image"] = Field(
        "system",
        description="system: the distribution's python3 (deadsnakes on Ubuntu when needed) with "
        "packages in a venv; conda: Miniconda/Miniforge; image: the Python the base image "
        "already has (pytorch/pytorch, NGC, …), pip installs into it, no second interpreter.",
    )
    interpreter: AbsolutePath | None = Field(
        None,
        description="The image's python (provider: image); default: the catalog's path for a "
        "known framework image, else python3 on PATH.",
    )
    venv: AbsolutePath = Field("/opt/venv", description="Where the venv lives (system provider).")
    conda: Conda | None = Field(
        None, description="Conda settings (provider: conda; with provider: image, the image's "
        "own conda installs `packages`/`environment`).",
    )
    pip: Pip = Field(default_factory=Pip, description="pip packages and indexes.")
    torch: Torch = Field(default_factory=Torch, description="PyTorch wheel choice.")

    @model_validator(mode="after")
    def _conda_settings_need_conda(self) -> Python:
        if self.conda is not None and self.provider == "system":
            raise ValueError("`conda` settings need `provider: conda` (or `image`)")
        if self.interpreter is not None and self.provider != "image":
            raise ValueError("`interpreter` needs `provider: image`")
        return self


class User(Model):
    """The non-root user the container runs as; owns the workdir."""

    name: Annotated[str, StringConstraints(max_length=grammar.MAX_USER_NAME),
                    AfterValidator(grammar.user_name)] = Field(
        "dev", description="User name; not root nor a system user or group of Debian/Ubuntu "
        "images (daemon, nobody, sudo, video…: see envspec/data/system_users.yaml)."
    )
    uid: UserId = Field(
        1000, description="User id (match your host user); 1-99, 65534 and 65535 are reserved."
    )
    gid: UserId = Field(1000, description="Group id; the same ids are reserved.")
    sudo: bool = Field(
        False, description="Passwordless sudo for this user (the sudo package is installed)."
    )
    groups: list[GroupName] = Field(
        default_factory=list, max_length=MAX_SOURCES, description="Supplementary groups "
        "(created when the image lacks them), e.g. [video, audio]."
    )


class CopyItem(Model):
    """A file or folder from next to env.yaml, copied into the image."""

    src: RelativePath = Field(description="Path relative to env.yaml; must stay inside it.")
    dest: AbsolutePath = Field(description="Absolute destination in the image.")


class Build(Model):
    """How the image is built (not what is in it)."""

    ca_certificates: list[RelativePath] = Field(
        default_factory=list,
        max_length=MAX_SOURCES,
        description="Extra CA certificates (PEM) installed before the first download, so apt, "
        "pip and conda work behind TLS-intercepting proxies.",
    )
    keep_ca_certificates: bool = Field(
        True,
        description="Keep those certificates in the final image; false removes them in the last "
        "layers (earlier layers still hold them: squash or push only what you trust).",
    )


class Mount(Model):
    source: OneLine = Field(description="Host path (relative to env.yaml or absolute).")
    target: AbsolutePath = Field(description="Path in the container.")
    read_only: bool = Field(False, description="Mount read-only.")


class Runtime(Model):
    """Defaults for `envspec run` / `envspec shell`; CLI options override them."""

    gpus: GpuChoice = Field(
        "all",
        description="GPUs: all, none, a count, or a list of indices/UUIDs such as [1, 2] or "
        "['GPU-3a1b…', 1].",
    )
    mounts: list[Mount] = Field(default_factory=list, max_length=MAX_ITEMS, description="Bind mounts.")
    ports: list[Annotated[str, Word, AfterValidator(grammar.port_mapping)]] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="Port mappings HOST:CONTAINER, e.g. '8888:8888'; ports are 1-65535.",
    )
    shm_size: Annotated[str, Word, AfterValidator(grammar.size)] | None = Field(
        None, description="Shared memory size, e.g. 8g (PyTorch DataLoader workers need it)."
    )
    env: dict[EnvName, OneLine] = Field(
        default_factory=dict, max_length=MAX_ENV, description="Extra env vars."
    )
    mount_project: bool = Field(
        True, description="Mount the spec's folder at the workdir (your code, live)."
    )


class SmokeCheck(Model):
    """A command run inside the built image, with what it must produce."""

    name: ShortText = Field(description="Short name shown in reports.")
    command: ShellCommand = Field(description="Shell command run inside the container.")
    expect_exit: int = Field(0, ge=0, le=255, description="Expected exit code (0-255).")
    expect_output: OneLine | None = Field(
        None, description="A regular expression the output must match."
    )
    timeout: float = Field(60.0, gt=0, le=86400, description="Seconds before the check fails.")

    @model_validator(mode="after")
    def _regex_compiles(self) -> SmokeCheck:
        if self.expect_output is not None:
            try:
                re.compile(self.expect_output)
            except re.error as err:
                raise ValueError(f"expect_output is not a valid regular expression: {err}") from err
        return self


class Smoke(Model):
    """Smoke tests run inside the built image by `envspec test` / `build --test`."""

    gpu: Literal["required", "auto", "off"] = Field(
        "auto",
        description="required: GPU checks must pass; auto: skipped with a reason when the host "
        "has no NVIDIA runtime; off: never run.",
    )
    checks: list[SmokeCheck] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="Extra checks."
    )

    @field_validator("gpu", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare `off` as false; take it as the word the user wrote.
        return "off" if value is False else value


class Spec(Model):
    """An environment: what goes into the image, how it is built, run and tested."""

    name: Annotated[str, StringConstraints(max_length=grammar.MAX_IMAGE_NAME),
                    AfterValidator(grammar.image_name)] = Field(
        description="Name of the environment; becomes the image name (as Docker accepts it: "
        "lower case, digits and single `.`, `_` or `-` between them)."
    )
    extends: RelativePath | None = Field(
        None, description="A spec this one builds on (merged key by key; lists are replaced)."
    )
    base: Base = Field(description="The base image.")
    apt: Apt = Field(default_factory=Apt, description="System packages (apt or dnf).")
    compilers: Compilers = Field(default_factory=Compilers, description="Host compilers.")
    python: Python | None = Field(None, description="Python; omit for an image without Python.")
    env: dict[EnvName, EnvValue] = Field(
        default_factory=dict,
        max_length=MAX_ENV,
        description="ENV in the image, set before anything is installed. Docker expands "
        "$NAME, ${NAME}, ${NAME:-default} and ${NAME:+alternative} (e.g. "
        "`PATH: /opt/x/bin:${PATH}`); write `$$` for a literal dollar. A name neither the base "
        "image, envspec nor an earlier key defines is a warning.",
    )
    workdir: AbsolutePath = Field("/workspace", description="Working directory.")
    user: User | None = Field(
        default_factory=User, description="Non-root user (default dev, 1000:1000); null = root."
    )
    sources: list[Source] = Field(
        default_factory=list, max_length=MAX_SOURCES,
        description="Software built from source, in order, after the pip packages; each one its "
        "own cached layer. Built as root.",
    )
    copy_files: list[CopyItem] = Field(
        default_factory=list, alias="copy", max_length=MAX_ITEMS, description="Files copied into the image."
    )
    run: list[RunEntry] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="Extra shell commands, run as root; a plain string runs in the `final` "
        "phase, after everything else is installed. The commands of one phase share one RUN; "
        "each item is one complete command (quotes closed, no trailing `\\` or `&&`).",
    )
    entrypoint: list[OneLine] | None = Field(
        None, max_length=MAX_ITEMS, description="Exec-form ENTRYPOINT."
    )
    cmd: list[OneLine] | None = Field(None, max_length=MAX_ITEMS, description="Exec-form CMD.")
    expose: list[ExposePort] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="Ports the image documents "
        "(EXPOSE), e.g. ['8888', '6006/udp']; publishing them is `runtime.ports`' job."
    )
    volumes: list[AbsolutePath] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="Mount points (VOLUME), "
        "declared last so that no later build step writes into them."
    )
    labels: dict[Annotated[str, Word, AfterValidator(grammar.label_key)], OneLine] = Field(
        default_factory=dict, max_length=MAX_ITEMS, description="Extra image labels."
    )
    build: Build = Field(default_factory=Build, description="Build-time settings.")
    runtime: Runtime = Field(default_factory=Runtime, description="`envspec run` defaults.")
    smoke: Smoke = Field(default_factory=Smoke, description="Smoke tests.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

