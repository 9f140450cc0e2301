"""cuda_images.yaml's compact rows ⇄ one `CudaImage` per tag (the tools rewrite the file)."""

from __future__ import annotations

from collections.abc import Iterable

from envspec.catalog.loading import validate_document
from envspec.catalog.models import CudaImageRow, CudaImagesFile, split_variant
from envspec.catalog.records import CudaImage, TagStatus, version_key

NAME = "cuda_images.yaml"


def expand_images(rows: Iterable[CudaImageRow]) -> tuple[CudaImage, ...]:
    """One record per tag: a row's `variants` times its version, OS, status and dates."""
    images: list[CudaImage] = []
    for row in rows:
        for variant in row.variants:
            cudnn, flavor = split_variant(variant)
            images.append(CudaImage(row.cuda, flavor, cudnn, row.os, row.status, row.last_seen,
                                    row.deleted_on))
    return tuple(images)


def parse_cuda_images(text: str | None = None) -> tuple[CudaImage, ...]:
    """Validate and expand cuda_images.yaml, or `text` in its place."""
    doc = validate_document(NAME, text)
    assert isinstance(doc, CudaImagesFile)
    return expand_images(doc.images)


def dump_cuda_images(images: Iterable[CudaImage], header: str) -> str:
    """Inverse of `parse_cuda_images`: compact rows, one line each, in a stable order."""
    groups: dict[tuple[str, str, TagStatus, str, str | None], list[str]] = {}
    for img in images:
        key = (img.cuda, img.os, img.status, img.last_seen, img.deleted_on)
        groups.setdefault(key, []).append(img.variant)
    order = {"base": 0, "runtime": 1, "devel": 2}
    lines = [header.rstrip("\n"), "images:"]
    for key in sorted(groups, key=lambda k: (version_key(k[0]), k[1], k[2], k[3])):
        cuda, os_id, status, last_seen, deleted_on = key
        variants = sorted(set(groups[key]), key=lambda v: ("-" in v, order[v.split("-")[-1]], v))
        extra = f", deleted_on: '{deleted_on}'" if deleted_on else ""
        lines.append(
            f"  - {{cuda: '{cuda}', os: {os_id}, status: {status}, last_seen: '{last_seen}'"
            f"{extra}, variants: [{', '.join(variants)}]}}"
        )
    return "\n".join(lines) + "\n"
