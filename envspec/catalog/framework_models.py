"""pydantic model of `envspec/data/framework_images.yaml` (registered in models.DATA_FILES).

Framework base images (pytorch/pytorch, NGC, tensorflow, conda, cudagl): per family the tag
scheme and where its Python lives, per tag the facts its sources give. A tag must agree with its
own name (`cuda10.1` in the tag, `cuda: '10.1'` in the row). Look-ups: envspec/framework_images.py.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from envspec.catalog.models import Row, _matching

ImageStatus = Literal["available", "eol", "deleted", "never-published"]
Confidence = Literal["third-party", "uncertain"]

_DOTTED = r"\d+(?:\.\d+)*"
_PYTHON = r"\d+\.\d+(?:\.\d+)?(?:(?:a|b|rc)\d+)?"
_FRAMEWORK = r"\d+\.\d+(?:\.\d+)?(?:[a-z]+\d*)?(?:\+[0-9a-z.]+)?"
_OS = r"(?:ubuntu\d\d\.\d\d|debian\d+)"


Dotted = Annotated[str, _matching(_DOTTED, "a dotted version like 11.4.1")]
PythonVersion = Annotated[str, _matching(_PYTHON, "a Python version like 3.10 or 3.11.0rc1")]
FrameworkVersion = Annotated[str, _matching(_FRAMEWORK, "a version like 2.1.2 or 2.1.0a0+32f93b1")]
OsName = Annotated[str, _matching(_OS, "an OS like ubuntu22.04 or debian12")]
AbsolutePath = Annotated[str, _matching(r"/[A-Za-z0-9_.\-/]+", "an absolute path")]


class _Strict(Row):
    # Lax where Row is strict: YAML lists become the tuples below. Versions are quoted in the
    # file, and pydantic never turns a number into a str even in lax mode.
    model_config = ConfigDict(strict=False)


class TagFacts(_Strict):
    """One tag of a family, as the sources describe it; None means "not known"."""

    tag: str
    os: OsName | None
    cuda: Dotted | None
    cudnn: Dotted | None
    python: PythonVersion | None
    python_path: AbsolutePath | None = None  # overrides the family's
    conda: bool | None = None  # overrides the family's
    torch: FrameworkVersion | None = None
    tensorflow: FrameworkVersion | None = None
    conda_version: Dotted | None = None
    status: ImageStatus
    sources: tuple[str, ...] = Field(min_length=1)
    confidence: Confidence | None = None  # None: the publisher's own document
    note: str | None = None


class Family(_Strict):
    """A repository of framework images and the scheme its tags follow."""

    name: str
    repository: str
    tag_scheme: str
    tag_pattern: str
    python_path: AbsolutePath | None
    conda: bool
    sources: tuple[str, ...] = Field(min_length=1)
    note: str | None = None
    tags: tuple[TagFacts, ...]

    @field_validator("tag_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"tag_pattern does not compile: {err}") from err
        return value

    @model_validator(mode="after")
    def _tags_follow_the_scheme(self) -> Family:
        pattern = re.compile(self.tag_pattern)
        seen: set[str] = set()
        for row in self.tags:
            if row.tag in seen:
                raise ValueError(f"tag {row.tag} is listed twice")
            seen.add(row.tag)
            match = pattern.fullmatch(row.tag)
            if match is None:
                raise ValueError(f"tag {row.tag} does not follow {self.tag_scheme!r}")
            for field, in_tag in match.groupdict().items():
                _agrees(row, field, in_tag)
        return self

    def find(self, tag: str) -> TagFacts | None:
        return next((row for row in self.tags if row.tag == tag), None)


def _agrees(row: TagFacts, field: str, in_tag: str | None) -> None:
    """What the tag's name says (cuda10.1, cudnn7, ubuntu20.04 …) must match the row's facts."""
    stated = getattr(row, field, None)
    if in_tag is None or not isinstance(stated, str):
        return
    same = stated == in_tag or stated.startswith(in_tag + ".")
    if not same:
        raise ValueError(f"tag {row.tag} says {field} {in_tag} but the row says {stated}")


class FrameworkImagesFile(_Strict):
    sources: dict[str, str]
    families: tuple[Family, ...]

    @field_validator("families")
    @classmethod
    def _cited_sources_exist(
        cls, families: tuple[Family, ...], info: ValidationInfo
    ) -> tuple[Family, ...]:
        # A field validator (not a document one), so the error names `families`.
        names = [family.name for family in families]
        if len(names) != len(set(names)):
            raise ValueError("a family is listed twice")
        known = info.data.get("sources", {})
        for family in families:
            for key in (*family.sources, *(k for row in family.tags for k in row.sources)):
                if key not in known:
                    raise ValueError(f"{family.name} cites unknown source {key!r}")
        return families

    def family(self, repository: str) -> Family | None:
        return next((f for f in self.families if f.repository == repository), None)
