"""Records the catalog derives from its rows, and the version and tag helpers they use.

A record that is one row of a data file is that file's pydantic model (see models.py);
the two here are computed: a `CudaImage` is one tag expanded from a compact row, and a
`DriverRequirement` joins three tables of cuda_drivers.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast, get_args

Flavor = Literal["base", "runtime", "devel"]
TagStatus = Literal["supported", "eol", "deleted", "unverified"]

FLAVORS: tuple[Flavor, ...] = get_args(Flavor)
TAG_STATUSES: tuple[TagStatus, ...] = get_args(TagStatus)

_VERSION_RE = re.compile(r"^\d+(\.\d+)+$")
_TAG_RE = re.compile(
    r"^(?:nvidia/cuda:)?(?P<cuda>\d+\.\d+(?:\.\d+)?)-(?:(?P<cudnn>cudnn\d*)-)?"
    r"(?P<flavor>base|runtime|devel)-(?P<os>ubuntu\d+\.\d+|rockylinux\d+|ubi\d+)$"
)


def is_dotted_version(v: str) -> bool:
    return _VERSION_RE.match(v) is not None


def version_key(v: str) -> tuple[int, ...]:
    """Dotted version to a comparable tuple: "11.4.1" -> (11, 4, 1)."""
    if not is_dotted_version(v):
        raise ValueError(f"not a dotted numeric version: {v!r}")
    return tuple(int(part) for part in v.split("."))


def major_minor(v: str) -> str:
    """ "11.4.1" -> "11.4"."""
    return ".".join(v.split(".")[:2])


def parse_tag(tag: str) -> tuple[str, str | None, Flavor, str] | None:
    """Split an `nvidia/cuda` tag into (cuda, cudnn, flavor, os); None if it is not one."""
    match = _TAG_RE.match(tag)
    if not match:
        return None
    return match["cuda"], match["cudnn"], cast(Flavor, match["flavor"]), match["os"]


@dataclass(frozen=True)
class CudaImage:
    """One `nvidia/cuda` tag (Ubuntu, Rocky Linux or UBI) and what is known about it."""

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
