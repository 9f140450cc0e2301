"""Framework base images: what is inside pytorch/pytorch, NGC, tensorflow, conda and cudagl tags.

The facts live in `envspec/data/framework_images.yaml` (each row cites its sources); this module
validates that file with pydantic models and answers "what is in this image?" for an image
reference. Unknown families and tags give None, so a caller (the resolver, once
`python.provider: image` exists) turns that into a diagnostic of its own.
"""

from __future__ import annotations

import functools
import re
from importlib.resources import files
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from envspec.catalog import FAST_LOADER, CatalogDataError
from envspec.imageref import ImageRef, ImageRefError

DATA_FILE = "framework_images.yaml"

ImageStatus = Literal["available", "eol", "deleted", "never-published"]
Confidence = Literal["third-party", "uncertain"]

_DOTTED = re.compile(r"\d+(?:\.\d+)*")
_PYTHON = re.compile(r"\d+\.\d+(?:\.\d+)?(?:(?:a|b|rc)\d+)?")
_FRAMEWORK = re.compile(r"\d+\.\d+(?:\.\d+)?(?:[a-z]+\d*)?(?:\+[0-9a-z.]+)?")
_OS = re.compile(r"(?:ubuntu\d\d\.\d\d|debian\d+)")


def _matching(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


Dotted = Annotated[str, _matching(_DOTTED, "a dotted version like 11.4.1")]
PythonVersion = Annotated[str, _matching(_PYTHON, "a Python version like 3.10 or 3.11.0rc1")]
FrameworkVersion = Annotated[str, _matching(_FRAMEWORK, "a version like 2.1.2 or 2.1.0a0+32f93b1")]
OsName = Annotated[str, _matching(_OS, "an OS like ubuntu22.04 or debian12")]
AbsolutePath = Annotated[str, _matching(re.compile(r"/[A-Za-z0-9_.\-/]+"), "an absolute path")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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

    @model_validator(mode="after")
    def _cited_sources_exist(self) -> FrameworkImagesFile:
        names = [family.name for family in self.families]
        if len(names) != len(set(names)):
            raise ValueError("a family is listed twice")
        for family in self.families:
            for key in (*family.sources, *(k for row in family.tags for k in row.sources)):
                if key not in self.sources:
                    raise ValueError(f"{family.name} cites unknown source {key!r}")
        return self

    def family(self, repository: str) -> Family | None:
        return next((f for f in self.families if f.repository == repository), None)


class FrameworkImage(_Strict):
    """The answer of `lookup`: a tag's facts with the family's defaults filled in."""

    family: str
    reference: str
    tag: str
    os: str | None
    cuda: str | None
    cudnn: str | None
    python: str | None
    python_path: str | None
    conda: bool
    torch: str | None
    tensorflow: str | None
    status: ImageStatus
    confidence: Confidence | None
    sources: tuple[str, ...]  # the cited documents, in words
    note: str | None


def parse_framework_images(text: str, where: str = DATA_FILE) -> FrameworkImagesFile:
    """Validate the data file's text; malformed data raises CatalogDataError naming the row."""
    try:
        return FrameworkImagesFile.model_validate(yaml.load(text, Loader=FAST_LOADER))
    except yaml.YAMLError as err:
        raise CatalogDataError(f"{where}: not valid YAML: {err}") from err
    except ValidationError as err:
        first = err.errors()[0]
        at = ".".join(str(part) for part in first["loc"])
        raise CatalogDataError(f"{where}: {at}: {first['msg']}") from err


@functools.cache
def load_framework_images() -> FrameworkImagesFile:
    """The shipped catalog of framework images (parsed once)."""
    text = (files("envspec") / "data" / DATA_FILE).read_text(encoding="utf-8")
    return parse_framework_images(text)


def lookup(image_ref: str, catalog: FrameworkImagesFile | None = None) -> FrameworkImage | None:
    """What the catalog knows about this image, or None for unknown families and tags (and for
    references without a tag: `latest` moves). Families are keyed by the name as `docker
    images` shows it (`pytorch/pytorch`, `nvcr.io/nvidia/pytorch`)."""
    catalog = catalog or load_framework_images()
    try:
        ref = ImageRef.parse(image_ref, default_tag=None)
    except ImageRefError:
        return None
    family = catalog.family(ref.familiar_name)
    row = family.find(ref.tag) if family and ref.tag else None
    if family is None or row is None:
        return None
    return FrameworkImage(
        family=family.name, reference=f"{family.repository}:{row.tag}", tag=row.tag,
        os=row.os, cuda=row.cuda, cudnn=row.cudnn, python=row.python,
        python_path=row.python_path or family.python_path,
        conda=family.conda if row.conda is None else row.conda,
        torch=row.torch, tensorflow=row.tensorflow, status=row.status,
        confidence=row.confidence, sources=tuple(catalog.sources[k] for k in row.sources),
        note=row.note,
    )
