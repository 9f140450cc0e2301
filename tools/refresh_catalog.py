"""Refresh the statuses in envspec/data/cuda_images.yaml from a live registry listing.

Tags the registry lists are present: their last_seen becomes today (a tag recorded as deleted
that shows up again becomes eol). Catalog tags the registry does not list become deleted, with
deleted_on set to today. Ubuntu tags the catalog does not know yet are added as unverified.
Nothing is written when the listing looks wrong (it contains none of the catalog's live tags).

Usage:
  .venv/bin/python tools/refresh_catalog.py [--registry URL] [--repository nvidia/cuda]
      [--catalog PATH] [--today YYYY-MM-DD] [--dry-run]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envspec.catalog import CudaImage, dump_cuda_images, parse_cuda_images, parse_tag
from envspec.errors import EnvspecError
from envspec.registry import DOCKER_HUB_REGISTRY, RegistryClient

CATALOG = Path(__file__).resolve().parents[1] / "envspec" / "data" / "cuda_images.yaml"
REFRESH_MARK = "# Last refresh:"


def refresh(images: Iterable[CudaImage], seen: set[str], today: str) -> list[CudaImage]:
    """New catalog rows given the set of tags the registry lists today."""
    result: list[CudaImage] = []
    known: set[str] = set()
    for img in images:
        known.add(img.tag)
        if img.tag in seen:
            status = "eol" if img.status == "deleted" else img.status
            result.append(dataclasses.replace(img, status=status, last_seen=today, deleted_on=None))
        else:
            # already deleted: keep its date (None when it went before refreshes existed)
            deleted_on = img.deleted_on if img.status == "deleted" else today
            result.append(dataclasses.replace(img, status="deleted", deleted_on=deleted_on))
    for tag in sorted(seen - known):
        parsed = parse_tag(tag)
        if parsed is not None:
            cuda, cudnn, flavor, os_id = parsed
            result.append(CudaImage(cuda, flavor, cudnn, os_id, "unverified", today))
    return result


def header_of(text: str, registry: str, repository: str, today: str) -> str:
    """The file's comment header with its refresh line replaced."""
    lines = text.split("\nimages:", 1)[0].splitlines()
    lines = [line for line in lines if not line.startswith(REFRESH_MARK)]
    lines.append(f"{REFRESH_MARK} {today} from {registry} ({repository})")
    return "\n".join(lines) + "\n"


def summarize(before: list[CudaImage], after: list[CudaImage]) -> str:
    old = {img.tag: img.status for img in before}
    changes = Counter(
        f"{old.get(img.tag, 'new')} -> {img.status}"
        for img in after
        if old.get(img.tag) != img.status
    )
    return ", ".join(f"{n} {what}" for what, n in sorted(changes.items())) or "no status changes"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=DOCKER_HUB_REGISTRY)
    parser.add_argument("--repository", default="nvidia/cuda")
    parser.add_argument("--catalog", type=Path, default=CATALOG)
    parser.add_argument("--today", default=datetime.date.today().isoformat())
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--dry-run", action="store_true", help="report, do not write")
    args = parser.parse_args(argv)

    text = args.catalog.read_text(encoding="utf-8")
    before = list(parse_cuda_images(text))
    try:
        seen = set(RegistryClient(args.registry, timeout=args.timeout).list_tags(args.repository))
    except EnvspecError as err:
        print(err.format(), file=sys.stderr)
        return 1
    if not any(img.tag in seen for img in before if img.status != "deleted"):
        print(f"refusing: none of {len(seen)} listed tags is a live catalog tag", file=sys.stderr)
        return 1
    after = refresh(before, seen, args.today)
    print(f"{len(seen)} tags listed; {summarize(before, after)}")
    if not args.dry_run:
        header = header_of(text, args.registry, args.repository, args.today)
        args.catalog.write_text(dump_cuda_images(after, header), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
