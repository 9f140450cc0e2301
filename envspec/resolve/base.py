"""base: OS + CUDA → a FROM image that exists today, or the reason why not."""

from __future__ import annotations

import re

from envspec.catalog import Catalog, CudaImage, Distro, version_key
from envspec.framework_images import FrameworkImage, lookup
from envspec.imageref import DOCKER_HUB, ImageRef
from envspec.resolve.cuda_apt import apt_covers, apt_releases_text, resolve_cuda_apt, source_of
from envspec.resolve.framework import check_framework_base
from envspec.resolve.model import Collector, ResolvedBase
from envspec.spec import Base

# Preference when several patch releases of one CUDA minor still exist.
_STATUS_RANK = {"supported": 0, "eol": 1, "unverified": 2, "deleted": 3}
_OS_IN_IMAGE = re.compile(r"(ubuntu)[:\-]?(\d\d\.\d\d)|(debian)[:\-]?(\d+|bullseye|bookworm|trixie)"
                          r"|(rockylinux|ubi)[:/\-]?(\d+)")
_DEBIAN_CODENAMES = {"bullseye": "11", "bookworm": "12", "trixie": "13"}
NVIDIA_CUDA = "nvidia/cuda"


def resolve_base(base: Base, catalog: Catalog, out: Collector) -> ResolvedBase | None:
    framework = lookup(base.image) if base.image is not None else None
    distro = _distro(base, catalog, out, framework)
    if distro is None:
        return None
    if base.image is not None:
        if base.cuda is not None and base.cuda_source == "nvidia-apt":
            return resolve_cuda_apt(base, base.cuda, distro, base.image, catalog, out,
                                    "asked for, on the explicit `base.image`")
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
    if match.group(5):
        return f"{match.group(5)}{match.group(6)}"
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
    return ResolvedBase(image, distro, cuda, flavor, known.cudnn is not None, framework=known)


def _catalog_image(ref: ImageRef, catalog: Catalog) -> CudaImage | None:
    """What the catalog knows of an explicit `nvidia/cuda` tag (however the name is spelled)."""
    if ref.qualified_name != f"{DOCKER_HUB}/{NVIDIA_CUDA}" or ref.tag is None:
        return None
    return catalog.image_for_tag(ref.tag)


def _cuda_image(
    base: Base, cuda: str, distro: Distro, catalog: Catalog, out: Collector
) -> ResolvedBase | None:
    if not catalog.find_images(os=distro.id, include_deleted=True):
        published = sorted({i.os for i in catalog.cuda_images()})
        out.error("base.cuda-os", "nvidia/cuda images are published for Ubuntu, Rocky Linux "
                  f"and UBI, not {distro.id}", ("base", "os"),
                  f"use one of {', '.join(published)}, or name an image in `base.image`")
        return None
    if base.cuda_source == "nvidia-apt":
        return resolve_cuda_apt(base, cuda, distro, distro.docker_image, catalog, out,
                                "asked for in the spec")
    if isinstance(base.cudnn, str) and base.cuda_source == "auto":
        return resolve_cuda_apt(base, cuda, distro, distro.docker_image, catalog, out,
                                f"only NVIDIA's apt repository pins cuDNN {base.cudnn} exactly")
    if isinstance(base.cudnn, str):
        out.error("base.cudnn", f"a full cuDNN version ({base.cudnn}) can only be installed from "
                  "NVIDIA's apt repository; images carry whatever cuDNN NVIDIA put in them",
                  ("base", "cudnn"), f"set `cuda_source: nvidia-apt`, or `cudnn: "
                  f"{base.cudnn.split('.')[0]}`")
        return None
    wanted = [i for i in catalog.find_images(cuda=cuda, flavor=base.flavor,
                                             cudnn=base.cudnn is not False, os=distro.id,
                                             include_deleted=True)
              if cudnn_fits(i, base.cudnn)]
    alive = [i for i in wanted if i.status != "deleted"]
    if alive:
        return _published(base, cuda, _best(alive), distro, catalog, out)
    return _without_tag(base, cuda, wanted, distro, catalog, out)


def cudnn_fits(image: CudaImage, wanted: bool | int | str) -> bool:
    """Whether an image's cuDNN token satisfies `base.cudnn` (true, false or a major)."""
    if isinstance(wanted, bool):
        return (image.cudnn is not None) == wanted
    return image.cudnn is not None and cudnn_major(image.cudnn) == wanted


def cudnn_major(token: str) -> int:
    """cudnn8 -> 8. NVIDIA dropped the number from 12.4.1 on; those tags carry cuDNN 9
    (doc/supported-tags.md, nvidia/container-images/cuda, e.g. 12.4.1 -> cuDNN 9.1.0.70)."""
    digits = token.removeprefix("cudnn")
    return int(digits) if digits else 9


def _published(
    base: Base, cuda: str, chosen: CudaImage, distro: Distro, catalog: Catalog, out: Collector
) -> ResolvedBase:
    why = "exact tag" if cuda.count(".") == 2 else f"latest published patch of CUDA {cuda}"
    out.decide("base.cuda_source", "image", source_of(base), f"{chosen.reference} exists")
    if base.cuda_repo is not None:
        out.note("base.cuda-repo-unused", f"`cuda_repo` is not used: CUDA comes with the image "
                 f"{chosen.reference}", ("base", "cuda_repo"),
                 "set `cuda_source: nvidia-apt` to install CUDA from the repository instead")
    out.decide("base.image", chosen.reference, "catalog", f"{why} ({chosen.status})")
    if chosen.status == "eol":
        # A pinned patch release is a deliberate choice: say it once in explain, not on
        # every build; a major.minor that lands on an EOL tag deserves the warning.
        report = out.note if cuda.count(".") == 2 else out.warn
        report("base.tag-eol", f"{chosen.reference} is end-of-life and may be deleted",
               ("base", "cuda"), _newer_hint(chosen, catalog))
    return _from_image(chosen, distro)


def _without_tag(
    base: Base, cuda: str, wanted: list[CudaImage], distro: Distro, catalog: Catalog,
    out: Collector,
) -> ResolvedBase | None:
    """No published tag: nvidia-apt under auto, a same-major tag under nearest, else an error."""
    gone = _best(wanted) if wanted else None
    what = (f"{gone.reference} was deleted by NVIDIA (last listed {gone.last_seen})" if gone
            else _never_existed(cuda, base, distro))
    # A cuDNN the apt data lacks is reported by resolve_cuda_apt, naming the ones it has.
    if base.cuda_source == "auto" and apt_covers(base, cuda, distro, catalog, cudnn=False):
        return resolve_cuda_apt(base, cuda, distro, distro.docker_image, catalog, out,
                                f"{what}; the same CUDA is installed from NVIDIA's apt repository")
    if base.cuda_source == "nearest" and gone is not None:
        replacement = _nearest_alive(gone, catalog)
        if replacement is not None:
            return _substitute(gone, replacement, what, distro, catalog, out)
    out.error("base.tag-deleted" if gone else "base.no-such-image", what, ("base", "cuda"),
              _choices_hint(base, cuda, gone, distro, catalog))
    return None


def _substitute(
    gone: CudaImage, replacement: CudaImage, what: str, distro: Distro, catalog: Catalog,
    out: Collector,
) -> ResolvedBase:
    out.warn("base.tag-substituted", f"{what}; building FROM {replacement.reference} instead "
             f"(CUDA {replacement.cuda}, not {gone.cuda})", ("base", "cuda"),
             f"pin it to silence this: `cuda: \"{replacement.cuda}\"`")
    out.decide("base.cuda_source", "nearest", "spec", f"nearest existing tag to {gone.tag}")
    out.decide("base.image", replacement.reference, "catalog",
               f"same CUDA major, OS and cuDNN as deleted {gone.tag}")
    return _from_image(replacement, distro)


def _choices_hint(
    base: Base, cuda: str, gone: CudaImage | None, distro: Distro, catalog: Catalog
) -> str:
    """Name the other `cuda_source` choices that would work, or what exists."""
    fixes = []
    if base.cuda_source != "nvidia-apt" and apt_covers(base, cuda, distro, catalog):
        fixes.append("`cuda_source: nvidia-apt` installs this exact CUDA from NVIDIA's apt "
                     "repository")
    nearest = _nearest_alive(gone, catalog) if gone else None
    if nearest is not None and base.cuda_source != "nearest":
        fixes.append(f"`cuda_source: nearest` builds FROM {nearest.reference}")
    if fixes:
        return "; ".join(fixes)
    if gone is not None:
        return (f"nvidia-apt knows {apt_releases_text(catalog)}; "
                "otherwise choose a newer CUDA (`envspec explain` lists what exists)")
    return _existing_hint(cuda, base, distro, catalog)


def _best(images: list[CudaImage]) -> CudaImage:
    return min(images, key=lambda i: (_STATUS_RANK[i.status], [-n for n in version_key(i.cuda)]))


def _from_image(image: CudaImage, distro: Distro) -> ResolvedBase:
    return ResolvedBase(image.reference, distro, image.cuda, image.flavor, image.cudnn is not None)


def _nearest_alive(gone: CudaImage, catalog: Catalog) -> CudaImage | None:
    """A published tag with the same flavour, OS, CUDA major and cuDNN major, closest in version
    (newer first): never another CUDA major, never another OS."""
    major = version_key(gone.cuda)[0]
    candidates = [
        i for i in catalog.find_images(flavor=gone.flavor, cudnn=gone.cudnn is not None,
                                       os=gone.os)
        if version_key(i.cuda)[0] == major
        and (gone.cudnn is None or (i.cudnn is not None and
                                    cudnn_major(i.cudnn) == cudnn_major(gone.cudnn)))
    ]
    if not candidates:
        return None

    def distance(image: CudaImage) -> tuple[bool, tuple[int, ...], int]:
        older = version_key(image.cuda) < version_key(gone.cuda)
        gap = tuple(abs(a - b) for a, b in zip(version_key(image.cuda), version_key(gone.cuda),
                                               strict=False))
        return (older, gap, _STATUS_RANK[image.status])

    return min(candidates, key=distance)


def _replacement_hint(gone: CudaImage, catalog: Catalog) -> str:
    if catalog.cuda_apt().release(gone.cuda) is not None:
        return (f"drop `image` and set `cuda: \"{gone.cuda}\"` with `os: {gone.os}`: envspec "
                "installs that CUDA from NVIDIA's apt repository")
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
