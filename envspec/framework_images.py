"""Framework base images: what is inside pytorch/pytorch, NGC, tensorflow, conda and cudagl tags.

The facts live in `envspec/data/framework_images.yaml` (each row cites its sources), validated by
the catalog (`envspec/catalog/framework_models.py`); this module answers "what is in this
image?" for an image reference. Unknown families and tags give None, so a caller (the resolver,
once `python.provider: image` exists) turns that into a diagnostic of its own.
"""

from __future__ import annotations

import functools
from typing import cast

from pydantic import BaseModel, ConfigDict

from envspec.catalog.framework_models import (
    Confidence,
    FrameworkImagesFile,
    ImageStatus,
)
from envspec.catalog.loading import load_documents, validate_document
from envspec.imageref import ImageRef, ImageRefError

DATA_FILE = "framework_images.yaml"


class FrameworkImage(BaseModel):
    """The answer of `lookup`: a tag's facts with the family's defaults filled in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


def parse_framework_images(text: str) -> FrameworkImagesFile:
    """Validate text in place of the data file; malformed data raises CatalogDataError naming
    the file and the row (the catalog's own validation)."""
    return cast(FrameworkImagesFile, validate_document(DATA_FILE, text))


@functools.cache
def load_framework_images() -> FrameworkImagesFile:
    """The shipped catalog of framework images, read through the catalog's one door."""
    return load_documents()[FrameworkImagesFile]


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
