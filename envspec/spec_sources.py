"""The `sources:` entries of env.yaml: software fetched (git or an archive) and built in the image.

Shape only, like spec.py: whether a git ref is a tag, and whether the CUDA architectures fit
the image's nvcc, are the resolver's questions (resolve/sources.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from envspec.spec_types import (
    MAX_ENV,
    MAX_ITEMS,
    AbsolutePath,
    BuildArg,
    EnvName,
    GitRef,
    GitUrl,
    Model,
    OneLine,
    Sha256Digest,
    ShellCommand,
    SourceName,
    Url,
)

Builder = Literal["pip", "cmake", "make", "script"]

# Options that only one builder reads; setting them for another builder is a mistake.
_BUILDER_OPTIONS: dict[str, tuple[str, ...]] = {
    "pip": ("editable", "no_build_isolation"),
    "cmake": ("build_type",),
    "make": ("configure", "make_args"),
    "script": ("commands",),
}


class Source(Model):
    """One source build: where the code comes from, and which builder builds it."""

    name: SourceName = Field(description="Short name; the default folder is /opt/src/<name>.")
    git: GitUrl | None = Field(None, description="A git repository (git://, http:// or https://).")
    ref: GitRef | None = Field(
        None, description="The tag or full 40-hex commit to build (branches move: refused)."
    )
    submodules: bool = Field(False, description="Also fetch the repository's submodules.")
    archive: Url | None = Field(None, description="A source archive (tar.gz, tar.xz…) URL.")
    sha256: Sha256Digest | None = Field(
        None, description="The archive's SHA-256 (required with `archive`)."
    )
    dest: AbsolutePath | None = Field(None, description="Where the code goes (default /opt/src/<name>).")
    keep: bool = Field(
        True, description="Keep the source tree in the image; false removes it after the build "
        "(not with an editable pip install, which imports from it).",
    )
    builder: Builder = Field(description="pip, cmake, make (optionally ./configure first) or script.")
    env: dict[EnvName, OneLine] = Field(
        default_factory=dict, max_length=MAX_ENV,
        description="Environment of this build only, e.g. FORCE_CUDA: '1', MAX_JOBS: '4'.",
    )
    args: list[BuildArg] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="Extra arguments: to cmake's configure step, to ./configure, or to pip install.",
    )
    jobs: int | None = Field(
        None, ge=1, le=1024, description="Parallel build jobs for cmake and make (default: nproc)."
    )
    install_prefix: AbsolutePath = Field(
        "/usr/local", description="Install prefix for cmake and ./configure."
    )
    editable: bool = Field(False, description="pip: install in editable mode (-e).")
    no_build_isolation: bool = Field(
        False, description="pip: --no-build-isolation (build against the installed torch)."
    )
    build_type: Literal["Release", "Debug", "RelWithDebInfo", "MinSizeRel"] | None = Field(
        None, description="cmake: CMAKE_BUILD_TYPE (default Release)."
    )
    configure: bool | None = Field(None, description="make: run ./configure first.")
    make_args: list[BuildArg] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="make: arguments to make."
    )
    commands: list[ShellCommand] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="script: shell commands run in the source folder, in order.",
    )

    @model_validator(mode="after")
    def _coherent(self) -> Source:
        if (self.git is None) == (self.archive is None):
            raise ValueError("give exactly one of `git` or `archive`")
        if self.git is not None and self.ref is None:
            raise ValueError("a `git` source needs `ref`: a tag or a full 40-hex commit")
        if self.archive is not None and (self.ref is not None or self.submodules):
            raise ValueError("`ref` and `submodules` are for `git` sources")
        if self.archive is not None and self.sha256 is None:
            raise ValueError("an `archive` source needs its `sha256` (unchecked downloads are refused)")
        if self.builder == "script" and not self.commands:
            raise ValueError("`builder: script` needs `commands`")
        if self.editable and not self.keep:
            raise ValueError("an editable install imports from its source tree: drop `keep: false`")
        self._options_fit_builder()
        return self

    def _options_fit_builder(self) -> None:
        for builder, options in _BUILDER_OPTIONS.items():
            if builder == self.builder:
                continue
            used = [o for o in options if o in self.model_fields_set and getattr(self, o)]
            if used:
                raise ValueError(f"`{used[0]}` is a `builder: {builder}` option "
                                 f"(this source uses `builder: {self.builder}`)")

    @property
    def folder(self) -> str:
        return self.dest or f"/opt/src/{self.name}"
