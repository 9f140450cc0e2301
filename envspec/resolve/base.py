"""base: OS + CUDA → a FROM image that exists today, or the reason why not."""

from __future__ import annotations

import re

from envspec.catalog import Catalog, CudaImage, Distro, version_key
from envspec.framework_images import FrameworkImage, lookup
from envspec.imageref import DOCKER_HUB, ImageRef
from envspec.resolve.framework import check_framework_base
from envspec.resolve.model import Collector, ResolvedBase
from envspec.spec import Base

# Preference when several patch releases of one CUDA minor still exist.
_STATUS_RANK = {"supported": 0, "eol": 1, "unverified": 2, "deleted": 3}
_OS_IN_IMAGE = re.compile(r"(ubuntu)[:\-]?(\d\d\.\d\d)|(debian)[:\-]?(\d+|bullseye|bookworm|trixie)")
_DEBIAN_CODENAMES = {"bullseye": "11", "bookworm": "12", "trixie": "13"}
NVIDIA_CUDA = "nvidia/cuda"


def resolve_base(base: Base, catalog: Catalog, out: Collector) -> ResolvedBase | None:
    framework = lookup(base.image) if base.image is not None else None
    distro = _distro(base, catalog, out, framework)
    if distro is None:
        return None
    if base.image is not None:
        if framework is not None:
            return _framework_image(base, base.image, framework, distro, out)
        return _explicit_image(base, base.image, distro, catalog, out)
    if base.cuda is None:
        out.decide("base.image", distro.docker_image, "catalog", f"CPU-only {distro.id} image")
        return ResolvedBase(distro.docker_image, distro, None, None, False)
    return _cuda_image(base, base.cuda, distro, catalog, out)


def _distro(
    base: Base, catalog: Catalog, out: Collector, framework: FrameworkImage | None
) -> Distro | None:
    known_os = framework.os if framework else None
    os_id = base.os or known_os or _guess_os(base.image or "")
    if os_id is None:
        out.error(
            "base.os-unknown",
            f"cannot tell which distribution `{base.image}` is",
            ("base", "image"),
            "add `os:` (e.g. ubuntu22.04 or debian12) so apt and Python are set up correctly",
        )
        return None
    distro = catalog.distro(os_id)
    if distro is None:
        out.error("base.os", f"unsupported OS {os_id!r}", ("base", "os"),
                  "supported: " + ", ".join(d.id for d in catalog.distros()))
        return None
    if base.os is None and known_os is not None:
        out.decide("base.os", distro.id, "catalog", f"what {base.image} is built on")
    elif base.os is None:
        out.decide("base.os", distro.id, "derived", f"guessed from the image name {base.image}")
    return distro


def _guess_os(image: str) -> str | None:
    """From the repository and tag only: a registry host (`debian-mirror.example`) says nothing."""
    if not image:
        return None
    ref = ImageRef.parse(image)
    match = _OS_IN_IMAGE.search(f"{ref.repository}:{ref.tag or ''}")
    if match is None:
        return None
    if match.group(1):
        return f"ubuntu{match.group(2)}"
    version = match.group(4)
    return f"debian{_DEBIAN_CODENAMES.get(version, version)}"


def _explicit_image(
    base: Base, image: str, distro: Distro, catalog: Catalog, out: Collector
) -> ResolvedBase:
    known = _catalog_image(ImageRef.parse(image), catalog)
    cuda = known.cuda if known else base.cuda
    flavor = known.flavor if known else (base.flavor if base.cuda else None)
    if known is not None and known.status == "deleted":
        out.warn("base.tag-deleted", f"{image} was deleted by NVIDIA (last listed {known.last_seen})",
                 ("base", "image"), _replacement_hint(known, catalog))
    out.decide("base.image", image, "spec", "explicit `base.image`")
    return ResolvedBase(image, distro, cuda, flavor, known.cudnn is not None if known else False)


def _framework_image(
    base: Base, image: str, known: FrameworkImage, distro: Distro, out: Collector
) -> ResolvedBase:
    """A catalogued framework image: its CUDA is the catalog's, checked against `base.cuda`."""
    check_framework_base(base, image, known, out)
    out.decide("base.image", image, "spec", "explicit `base.image` (a framework image)")
    cuda = known.cuda or base.cuda
    flavor = next((f for f in ("devel", "runtime") if image.endswith(f"-{f}")), None)
    return ResolvedBase(image, distro, cuda, flavor, known.cudnn is not None, known)


def _catalog_image(ref: ImageRef, catalog: Catalog) -> CudaImage | None:
    """What the catalog knows of an explicit `nvidia/cuda` tag (however the name is spelled)."""
    if ref.qualified_name != f"{DOCKER_HUB}/{NVIDIA_CUDA}" or ref.tag is None:
        return None
    return catalog.image_for_tag(ref.tag)


def _cuda_image(
    base: Base, cuda: str, distro: Distro, catalog: Catalog, out: Collector
) -> ResolvedBase | None:
    if distro.family != "ubuntu":
        out.error("base.cuda-os", f"nvidia/cuda images are published for Ubuntu, not {distro.id}",
                  ("base", "os"), "use ubuntu22.04 or ubuntu24.04, or name an image in `base.image`")
        return None
    wanted = catalog.find_images(cuda=cuda, flavor=base.flavor, cudnn=base.cudnn, os=distro.id,
                                 include_deleted=True)
    alive = [i for i in wanted if i.status != "deleted"]
    if alive:
        chosen = _best(alive)
        why = "exact tag" if cuda.count(".") == 2 else f"latest published patch of CUDA {cuda}"
        out.decide("base.image", chosen.reference, "catalog", f"{why} ({chosen.status})")
        if chosen.status == "eol":
            # A pinned patch release is a deliberate choice: say it once in explain, not on
            # every build; a major.minor that lands on an EOL tag deserves the warning.
            report = out.note if cuda.count(".") == 2 else out.warn
            report("base.tag-eol", f"{chosen.reference} is end-of-life and may be deleted",
                   ("base", "cuda"), _newer_hint(chosen, catalog))
        return _from_image(chosen, distro)
    if wanted:
        return _substitute_deleted(_best(wanted), distro, catalog, out)
    out.error("base.no-such-image", _never_existed(cuda, base, distro), ("base", "cuda"),
              _existing_hint(cuda, base, distro, catalog))
    return None


def _best(images: list[CudaImage]) -> CudaImage:
    return min(images, key=lambda i: (_STATUS_RANK[i.status], [-n for n in version_key(i.cuda)]))


def _from_image(image: CudaImage, distro: Distro) -> ResolvedBase:
    return ResolvedBase(image.reference, distro, image.cuda, image.flavor, image.cudnn is not None)


def _substitute_deleted(
    gone: CudaImage, distro: Distro, catalog: Catalog, out: Collector
) -> ResolvedBase | None:
    replacement = _nearest_alive(gone, catalog)
    if replacement is None:
        out.error("base.tag-deleted", f"{gone.reference} was deleted by NVIDIA "
                  f"(last listed {gone.last_seen}) and no nearby tag exists",
                  ("base", "cuda"), "choose a newer CUDA; `envspec explain` lists what exists")
        return None
    out.warn(
        "base.tag-deleted",
        f"{gone.reference} was deleted by NVIDIA (last listed {gone.last_seen}); "
        f"building FROM {replacement.reference} instead",
        ("base", "cuda"),
        f"pin this choice to silence the warning: `cuda: \"{replacement.cuda}\"`"
        + (f" with `os: {replacement.os}`" if replacement.os != gone.os else ""),
    )
    out.decide("base.image", replacement.reference, "catalog",
               f"nearest existing tag to deleted {gone.tag}")
    return _from_image(replacement, catalog.distro(replacement.os) or distro)


def _nearest_alive(gone: CudaImage, catalog: Catalog) -> CudaImage | None:
    """Same flavour and cuDNN-ness, closest CUDA version at or above the deleted one."""
    candidates = [
        i for i in catalog.find_images(flavor=gone.flavor, cudnn=gone.cudnn is not None)
        if i.status != "deleted" and version_key(i.cuda) >= version_key(gone.cuda)
    ]
    if not candidates:
        return None

    def distance(image: CudaImage) -> tuple[tuple[int, ...], int, int]:
        return (version_key(image.cuda), image.os != gone.os, _STATUS_RANK[image.status])

    return min(candidates, key=distance)


def _replacement_hint(gone: CudaImage, catalog: Catalog) -> str:
    nearest = _nearest_alive(gone, catalog)
    return f"use {nearest.reference}" if nearest else "choose a newer CUDA version"


def _newer_hint(image: CudaImage, catalog: Catalog) -> str:
    newest = _best([
        i for i in catalog.find_images(cuda=".".join(image.cuda.split(".")[:2]),
                                       flavor=image.flavor, cudnn=image.cudnn is not None,
                                       os=image.os)
        if i.status == "supported"
    ] or [image])
    return f"the supported tag is {newest.reference}" if newest != image else "pin a newer CUDA"


def _never_existed(cuda: str, base: Base, distro: Distro) -> str:
    cudnn = "cuDNN " if base.cudnn else ""
    return f"NVIDIA never published a CUDA {cuda} {cudnn}{base.flavor} image for {distro.id}"


def _existing_hint(cuda: str, base: Base, distro: Distro, catalog: Catalog) -> str:
    same_cuda = catalog.find_images(cuda=cuda, include_deleted=False)
    combos = sorted({f"{i.os} {i.flavor}{' +cudnn' if i.cudnn else ''}" for i in same_cuda})
    if combos:
        return f"CUDA {cuda} exists as: " + ", ".join(combos[:8])
    on_os = sorted({i.cuda for i in catalog.find_images(os=distro.id)}, key=version_key)
    return f"CUDA versions published for {distro.id}: " + ", ".join(on_os[-10:])
