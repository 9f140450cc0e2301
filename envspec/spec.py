"""The env.yaml model. Shape only: whether values fit together is the resolver's job.

Every field carries a description; `envspec schema` turns these models into
schemas/env.schema.json, so editors can complete and document keys.
Every string that can reach a shell is checked against its grammar here, at the edge,
so nothing downstream has to wonder whether a value is safe to quote.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from envspec import grammar

OsId = Literal[
    "ubuntu16.04",
    "ubuntu18.04",
    "ubuntu20.04",
    "ubuntu22.04",
    "ubuntu24.04",
    "debian11",
    "debian12",
    "debian13",
]

AptPackage = Annotated[str, AfterValidator(grammar.apt_package)]
PipRequirement = Annotated[str, AfterValidator(grammar.pip_requirement)]
CondaSpec = Annotated[str, AfterValidator(grammar.conda_spec)]
Url = Annotated[str, AfterValidator(grammar.url)]
HostName = Annotated[str, AfterValidator(grammar.hostname)]
RelativePath = Annotated[str, AfterValidator(grammar.relative_path)]
AbsolutePath = Annotated[str, AfterValidator(grammar.absolute_path)]
EnvName = Annotated[str, AfterValidator(grammar.env_name)]
OneLine = Annotated[str, AfterValidator(grammar.one_line)]
MirrorRef = Annotated[str, AfterValidator(grammar.mirror_ref)]
ImageRef = Annotated[str, AfterValidator(grammar.image_reference)]
VersionMajorMinor = Annotated[str, AfterValidator(grammar.major_minor)]
CudnnMajor = Annotated[int, Field(ge=7, le=9)]
CudnnVersion = Annotated[str, AfterValidator(grammar.cudnn_version)]


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


CudaVersion = Annotated[str, AfterValidator(_cuda_version)]


class Model(BaseModel):
    """Strict base: unknown keys are errors (typos must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Base(Model):
    """The image everything is built on."""

    os: OsId | None = Field(
        None,
        description="Operating system of the image, e.g. ubuntu22.04 or debian12. "
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

    ppa: Annotated[str, AfterValidator(grammar.ppa)] | None = Field(
        None, description="A Launchpad PPA as owner/name, e.g. deadsnakes/ppa (Ubuntu only)."
    )
    url: Url | None = Field(None, description="Repository URL, e.g. https://example.org/debian")
    suite: Annotated[str, AfterValidator(grammar.apt_word)] | None = Field(
        None, description="Suite; defaults to the distribution's codename."
    )
    components: list[Annotated[str, AfterValidator(grammar.apt_word)]] = Field(
        default_factory=lambda: ["main"], description="Components, e.g. [main]."
    )
    key_url: Url | None = Field(None, description="URL of the repository's signing key.")

    @model_validator(mode="after")
    def _ppa_or_url(self) -> AptRepository:
        if (self.ppa is None) == (self.url is None):
            raise ValueError("give exactly one of `ppa` or `url`")
        if self.url is not None and self.key_url is None:
            raise ValueError("a `url` repository needs its `key_url` (unsigned repos are refused)")
        return self


class Apt(Model):
    """System packages, installed in one layer with --no-install-recommends."""

    mirror: MirrorRef | None = Field(
        None,
        description="A named mirror preset (aliyun, tuna, ustc) or a URL that replaces the "
        "distribution's archive in every sources file, classic or deb822.",
    )
    packages: list[AptPackage] = Field(
        default_factory=list, description="Debian/Ubuntu package names, optionally =version."
    )
    repositories: list[AptRepository] = Field(
        default_factory=list, description="Extra repositories or PPAs, added before install."
    )


class Compilers(Model):
    """Host compilers; the resolver checks them against the CUDA toolkit's nvcc."""

    gcc: int | None = Field(
        None,
        ge=4,
        le=20,
        description="GCC major version: gcc-N and g++-N are installed and made the default.",
    )


class Conda(Model):
    """A Miniconda or Miniforge installation providing Python."""

    distribution: Literal["miniconda", "miniforge"] = Field(
        "miniconda", description="Which installer to use."
    )
    installer_version: Annotated[str, AfterValidator(grammar.installer_version)] | None = Field(
        None, description="Installer version (e.g. py311_24.1.2-0); default pinned by envspec."
    )
    installer_url: Url | None = Field(
        None, description="Full installer URL; overrides the version and mirror."
    )
    installer_sha256: Annotated[str, AfterValidator(grammar.sha256)] | None = Field(
        None, description="Expected SHA-256 of the installer; the build fails on mismatch."
    )
    channels: list[Annotated[str, AfterValidator(grammar.conda_channel)]] = Field(
        default_factory=list, description="Channels in priority order, e.g. [conda-forge]."
    )
    mirror: MirrorRef | None = Field(
        None, description="Channel mirror: a preset name (tuna, ustc, aliyun) or a base URL."
    )
    environment: RelativePath | None = Field(
        None, description="An environment.yml next to env.yaml, installed before pip packages."
    )
    packages: list[CondaSpec] = Field(
        default_factory=list, description="Conda packages, e.g. numpy=1.26."
    )


class Pip(Model):
    """pip packages; they go into a venv or the conda env, never the OS Python (PEP 668)."""

    packages: list[PipRequirement] = Field(
        default_factory=list, description="PEP 508 requirements, e.g. numpy==1.26 or "
        "torch>=2.1; torch, torchvision and torchaudio get the newest matching release with wheels "
        "for the image's CUDA. Direct URLs belong in a requirements file."
    )
    requirements: list[RelativePath] = Field(
        default_factory=list, description="requirements.txt files next to env.yaml."
    )
    mirror: MirrorRef | None = Field(
        None, description="Index mirror: a preset name (tuna, aliyun, ustc) or a simple-index URL."
    )
    index_url: Url | None = Field(None, description="Primary index URL (overrides `mirror`).")
    extra_index_urls: list[Url] = Field(default_factory=list, description="Extra indexes.")
    find_links: list[Url] = Field(default_factory=list, description="--find-links locations.")
    trusted_hosts: list[HostName] = Field(default_factory=list, description="--trusted-host.")


class Python(Model):
    """The Python interpreter and its packages."""

    version: VersionMajorMinor | None = Field(
        None, description="major.minor, e.g. '3.10'; default: the OS's python3 (or conda's)."
    )
    provider: Literal["system", "conda"] = Field(
        "system",
        description="system: the distribution's python3 (deadsnakes on Ubuntu when needed) with "
        "packages in a venv; conda: Miniconda/Miniforge.",
    )
    venv: AbsolutePath = Field("/opt/venv", description="Where the venv lives (system provider).")
    conda: Conda | None = Field(None, description="Conda settings (provider: conda).")
    pip: Pip = Field(default_factory=Pip, description="pip packages and indexes.")

    @model_validator(mode="after")
    def _conda_settings_need_conda(self) -> Python:
        if self.conda is not None and self.provider != "conda":
            raise ValueError("`conda` settings need `provider: conda`")
        return self


class User(Model):
    """The non-root user the container runs as; owns the workdir."""

    name: Annotated[str, AfterValidator(grammar.user_name)] = Field(
        "dev", description="User name."
    )
    uid: int = Field(1000, ge=1, le=2**31 - 2, description="User id (match your host user).")
    gid: int = Field(1000, ge=1, le=2**31 - 2, description="Group id.")


class CopyItem(Model):
    """A file or folder from next to env.yaml, copied into the image."""

    src: RelativePath = Field(description="Path relative to env.yaml; must stay inside it.")
    dest: AbsolutePath = Field(description="Absolute destination in the image.")


class Build(Model):
    """How the image is built (not what is in it)."""

    ca_certificates: list[RelativePath] = Field(
        default_factory=list,
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


GpuSelection = Literal["all", "none"] | int | list[int | str]


class Runtime(Model):
    """Defaults for `envspec run` / `envspec shell`; CLI options override them."""

    gpus: GpuSelection = Field(
        "all",
        description="GPUs: all, none, a count, or a list of indices/UUIDs such as [1, 2] or "
        "['GPU-3a1b…', 1].",
    )
    mounts: list[Mount] = Field(default_factory=list, description="Bind mounts.")
    ports: list[Annotated[str, AfterValidator(grammar.port_mapping)]] = Field(
        default_factory=list, description="Port mappings HOST:CONTAINER, e.g. '8888:8888'."
    )
    shm_size: Annotated[str, AfterValidator(grammar.size)] | None = Field(
        None, description="Shared memory size, e.g. 8g (PyTorch DataLoader workers need it)."
    )
    env: dict[EnvName, OneLine] = Field(default_factory=dict, description="Extra env vars.")
    mount_project: bool = Field(
        True, description="Mount the spec's folder at the workdir (your code, live)."
    )


class SmokeCheck(Model):
    """A command run inside the built image, with what it must produce."""

    name: OneLine = Field(description="Short name shown in reports.")
    command: OneLine = Field(description="Shell command run inside the container.")
    expect_exit: int = Field(0, description="Expected exit code.")
    expect_output: OneLine | None = Field(
        None, description="A regular expression the output must match."
    )
    timeout: float = Field(60.0, gt=0, description="Seconds before the check fails.")

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
    checks: list[SmokeCheck] = Field(default_factory=list, description="Extra checks.")

    @field_validator("gpu", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare `off` as false; take it as the word the user wrote.
        return "off" if value is False else value


class Spec(Model):
    """An environment: what goes into the image, how it is built, run and tested."""

    name: Annotated[str, AfterValidator(grammar.image_name)] = Field(
        description="Name of the environment; becomes the image name."
    )
    extends: RelativePath | None = Field(
        None, description="A spec this one builds on (merged key by key; lists are replaced)."
    )
    base: Base = Field(description="The base image.")
    apt: Apt = Field(default_factory=Apt, description="System packages.")
    compilers: Compilers = Field(default_factory=Compilers, description="Host compilers.")
    python: Python | None = Field(None, description="Python; omit for an image without Python.")
    env: dict[EnvName, OneLine] = Field(default_factory=dict, description="ENV in the image.")
    workdir: AbsolutePath = Field("/workspace", description="Working directory.")
    user: User | None = Field(
        default_factory=User, description="Non-root user (default dev, 1000:1000); null = root."
    )
    copy_files: list[CopyItem] = Field(
        default_factory=list, alias="copy", description="Files copied into the image."
    )
    run: list[OneLine] = Field(
        default_factory=list,
        description="Extra shell commands run as root after everything else is installed.",
    )
    entrypoint: list[OneLine] | None = Field(None, description="Exec-form ENTRYPOINT.")
    cmd: list[OneLine] | None = Field(None, description="Exec-form CMD.")
    labels: dict[Annotated[str, AfterValidator(grammar.label_key)], OneLine] = Field(
        default_factory=dict, description="Extra image labels."
    )
    build: Build = Field(default_factory=Build, description="Build-time settings.")
    runtime: Runtime = Field(default_factory=Runtime, description="`envspec run` defaults.")
    smoke: Smoke = Field(default_factory=Smoke, description="Smoke tests.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
