"""Refresh the catalog from live listings: nvidia/cuda tags, or PyTorch's wheel indexes.

`refresh_catalog.py [options]` refreshes envspec/data/cuda_images.yaml from a registry:

Tags the registry lists are present: their last_seen becomes today (a tag recorded as deleted
that shows up again becomes eol). Catalog tags the registry does not list become deleted, with
deleted_on set to today. Ubuntu tags the catalog does not know yet are added as unverified.
Nothing is written when the listing looks wrong (it contains none of the catalog's live tags).

`refresh_catalog.py torch [options]` refreshes envspec/data/torch.yaml from the per-variant
simple-index pages of the PyTorch wheel index (tools/torch_index.py says how), read from the
network or from saved pages (`--listing cu129=saved.html`, repeatable), and records the date.

Usage:
  .venv/bin/python tools/refresh_catalog.py [--registry URL] [--repository nvidia/cuda]
      [--catalog PATH] [--today YYYY-MM-DD] [--dry-run]
  .venv/bin/python tools/refresh_catalog.py torch [--variant cu130 ...] [--index URL]
      [--listing VARIANT=FILE ...] [--catalog PATH] [--today YYYY-MM-DD] [--dry-run]
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

from envspec.catalog import TORCH_INDEX, CudaImage, dump_cuda_images, parse_cuda_images, parse_tag
from envspec.errors import EnvspecError
from envspec.registry import DOCKER_HUB_REGISTRY, RegistryClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_index  # beside this script

CATALOG = Path(__file__).resolve().parents[1] / "envspec" / "data" / "cuda_images.yaml"
TORCH_CATALOG = CATALOG.with_name("torch.yaml")
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


def _listings(args: argparse.Namespace, known: set[str]) -> list[torch_index.Listing]:
    """Saved pages first; the network for every other variant torch.yaml names (or --variant)."""
    listings = []
    for item in args.listing:
        variant, _, path = item.partition("=")
        html = Path(path).read_text(encoding="utf-8")
        listings.append(torch_index.parse_listing(html, variant, path))
    read = {listing.variant for listing in listings}
    wanted = args.variant or ([] if args.listing else sorted(known))
    for variant in (v for v in wanted if v not in read):
        listings.append(torch_index.fetch_listing(args.index, variant, args.timeout))
    return listings


def torch_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="refresh_catalog.py torch", description=torch_index.__doc__)
    parser.add_argument("--index", default=TORCH_INDEX)
    parser.add_argument("--variant", action="append", default=[], help="e.g. cu130 (repeatable)")
    parser.add_argument("--listing", action="append", default=[], metavar="VARIANT=FILE",
                        help="a saved <index>/<variant>/torch/ page (repeatable)")
    parser.add_argument("--catalog", type=Path, default=TORCH_CATALOG)
    parser.add_argument("--today", default=datetime.date.today().isoformat())
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--dry-run", action="store_true", help="report, do not write")
    args = parser.parse_args(argv)
    header, doc = torch_index.split_file(args.catalog.read_text(encoding="utf-8"))
    rows = doc["releases"]
    known = {v for row in rows for v in row["variants"]}
    try:
        listings = _listings(args, known)
    except OSError as err:
        print(f"cannot read a listing: {torch_index.read_error(err)}", file=sys.stderr)
        return 1
    if not any(listing.wheels for listing in listings):
        print("refusing: the listings name no Linux x86_64 torch wheel", file=sys.stderr)
        return 1
    changes, new = torch_index.refresh_rows(rows, listings)
    print("\n".join(changes) or "no variant changes")
    for version, variants in new.items():
        print(f"not in torch.yaml: torch {version} ({', '.join(variants)}): add it by hand with its "
              "torchvision/torchaudio pairing and default CUDA from PyPI's metadata")
    if not args.dry_run:
        sources = ", ".join(listing.source for listing in listings)
        refreshed = {"date": args.today, "how": "tools/refresh_catalog.py torch",
                     "source": f"listings {sources}"}
        args.catalog.write_text(torch_index.dump_file(header, refreshed, rows), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["torch"]:
        return torch_main(argv[1:])
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
