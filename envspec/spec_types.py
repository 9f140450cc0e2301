"""The value types of env.yaml: each string with its length limit and grammar, each list limit.

Every string is bounded before its grammar runs, so an oversized value never reaches a regex
or a build; the JSON Schema states the limits (maxLength, maxItems) and, through
envspec.schema, each grammar's pattern.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
)

from envspec import grammar


class Model(BaseModel):
    """Strict base of the spec's models: unknown keys are errors (typos must not be silently
    ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


# Length limits, checked first; the numbers and their reasons are in envspec.grammar.
Word = StringConstraints(max_length=grammar.MAX_WORD)
PackageLength = StringConstraints(max_length=grammar.MAX_PACKAGE)
UrlLength = StringConstraints(max_length=grammar.MAX_URL)
PathLength = StringConstraints(max_length=grammar.MAX_PATH)
ValueLength = StringConstraints(max_length=grammar.MAX_VALUE)

AptPackage = Annotated[str, PackageLength, AfterValidator(grammar.apt_package)]
# A pip requirement may be a URL (`name @ https://…`, `git+https://…`): a URL's limit.
PipRequirement = Annotated[str, UrlLength, AfterValidator(grammar.pip_requirement)]
CondaSpec = Annotated[str, PackageLength, AfterValidator(grammar.conda_spec)]
Url = Annotated[str, UrlLength, AfterValidator(grammar.url)]
HostName = Annotated[str, Word, AfterValidator(grammar.hostname)]
RelativePath = Annotated[str, PathLength, AfterValidator(grammar.relative_path)]
AbsolutePath = Annotated[str, PathLength, AfterValidator(grammar.absolute_path)]
EnvName = Annotated[str, Word, AfterValidator(grammar.env_name)]
OneLine = Annotated[str, ValueLength, AfterValidator(grammar.one_line)]
ShortText = Annotated[str, Word, AfterValidator(grammar.one_line)]
ShellCommand = Annotated[str, ValueLength, AfterValidator(grammar.shell_fragment)]
MirrorRef = Annotated[str, UrlLength, AfterValidator(grammar.mirror_ref)]
ImageRef = Annotated[str, StringConstraints(max_length=255), AfterValidator(grammar.image_reference)]
VersionMajorMinor = Annotated[str, Word, AfterValidator(grammar.major_minor)]
PythonVersion = Annotated[str, Word, AfterValidator(grammar.python_version)]
EnvValue = Annotated[str, ValueLength, AfterValidator(grammar.env_value)]
GroupName = Annotated[str, StringConstraints(max_length=grammar.MAX_USER_NAME),
                      AfterValidator(grammar.group_name)]
KeyUrl = Annotated[str, UrlLength, AfterValidator(grammar.key_url)]
ExposePort = Annotated[str, Word, AfterValidator(grammar.expose_port)]
AptWord = Annotated[str, Word, AfterValidator(grammar.apt_word)]
GitUrl = Annotated[str, UrlLength, AfterValidator(grammar.git_url)]
GitRef = Annotated[str, Word, AfterValidator(grammar.git_ref)]
SourceName = Annotated[str, Word, AfterValidator(grammar.source_name)]
BuildArg = Annotated[str, ValueLength, AfterValidator(grammar.build_arg)]
CudaArch = Annotated[str, Word, AfterValidator(grammar.cuda_arch)]
Sha256Digest = Annotated[str, Word, AfterValidator(grammar.sha256)]
UserId = Annotated[int, Field(ge=1, le=2**31 - 2), AfterValidator(grammar.user_id)]

# List and mapping sizes: generous for any real environment, small enough that a runaway
# generator or a pasted lock file is an error at validation, not a 100,000-line Dockerfile.
MAX_PACKAGES = 1000
MAX_SOURCES = 32  # repositories, channels, indexes, requirement files, certificates
MAX_ITEMS = 256  # run steps, copies, labels, checks, mounts, ports, exec-form arguments
MAX_ENV = 1024


GpuId = Annotated[int, Field(ge=0)] | Annotated[str, Word, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]
GpuSelection = (
    Literal["all", "none"]
    | Annotated[int, Field(ge=1)]
    | Annotated[list[GpuId], Field(min_length=1, max_length=MAX_ITEMS)]
)


def _gpu_selection(value: object) -> object:
    """One clear message for a bad selection, instead of one per branch of the union."""
    if not isinstance(value, str | int | list) or (
        isinstance(value, str) and value not in ("all", "none")
    ):
        raise ValueError(f"{value!r} is not a GPU selection: use all, none, a count or a list")
    if isinstance(value, int) and not isinstance(value, bool) and value < 1:
        raise ValueError(f"a GPU count must be at least 1, got {value}; write `none` for no GPUs "
                         "and `all` for every GPU")
    if isinstance(value, list) and not 1 <= len(value) <= MAX_ITEMS:
        raise ValueError("a GPU list names 1 to 256 GPUs; write `none` for no GPUs")
    if isinstance(value, list | bool):
        from envspec.gpus import GpuSelectionError, parse_gpus  # only a list needs its grammar

        try:
            parse_gpus(value)
        except GpuSelectionError as err:
            raise ValueError(err.message.removeprefix("invalid GPU selection ")) from None
    return value


GpuChoice = Annotated[GpuSelection, BeforeValidator(_gpu_selection)]


RunPhase = Literal["before_apt", "after_apt", "after_python", "after_sources", "final"]


class RunStep(Model):
    """A shell command run as root at a named point of the build."""

    phase: RunPhase = Field(
        "final",
        description="before_apt: before `apt-get update` (e.g. to repair a rotated signing key); "
        "after_apt: after the system packages; after_python: after Python and its packages; "
        "after_sources: after the `sources:` builds, before your files (`copy`); final: after "
        "everything, including `copy`.",
    )
    command: ShellCommand = Field(
        description="Shell command: one complete command (quotes closed, no trailing `\\` or "
        "`&&`)."
    )


def _run_entry_kind(value: object) -> str:
    # Tags in brackets: the loader leaves them out of the key path it reports.
    return "[command]" if isinstance(value, str) else "[step]"


RunEntry = Annotated[
    Annotated[ShellCommand, Tag("[command]")] | Annotated[RunStep, Tag("[step]")],
    Discriminator(_run_entry_kind),
]


def run_steps(run: Sequence[str | RunStep]) -> tuple[RunStep, ...]:
    """`run:` entries, each with its phase (a plain string runs in `final`)."""
    return tuple(RunStep(command=step) if isinstance(step, str) else step for step in run)
