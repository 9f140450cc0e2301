"""nvidia-apt: the exact CUDA stack of a deleted `nvidia/cuda` tag, from NVIDIA's apt repository.

NVIDIA built its `base`, `runtime`, `devel` and `cudnn` images by installing pinned packages from
its CUDA apt repository onto the plain Ubuntu image. That repository still serves the old
releases after the tags are gone, so envspec repeats those recipes (package sets in
`envspec/data/cuda_apt.yaml`) instead of swapping in another CUDA.
"""

from __future__ import annotations

from envspec.catalog import Catalog, Distro
from envspec.catalog.models import AptPin, CudaAptFile, CudaAptRelease, CudnnSet
from envspec.catalog.records import Flavor
from envspec.resolve.mirrors import mirror_url
from envspec.resolve.model import Collector, CudaAptInstall, ResolvedBase, Source
from envspec.spec import Base

# What NVIDIA's images put on PATH and LD_LIBRARY_PATH: the driver files the container toolkit
# mounts (/usr/local/nvidia) come first, then the toolkit. PATH is spelled out because ENV
# values are written literally (the Dockerfile's own ${PATH} expansion is not used).
_PATH = ("/usr/local/nvidia/bin:/usr/local/cuda/bin:"
         "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
_LD_LIBRARY_PATH = "/usr/local/nvidia/lib:/usr/local/nvidia/lib64"


def apt_covers(
    base: Base, cuda: str, distro: Distro, catalog: Catalog, *, cudnn: bool = True
) -> bool:
    """Whether the data file has this CUDA for this OS (and, with `cudnn`, the cuDNN asked for)."""
    release = _release(catalog.cuda_apt(), cuda)
    if release is None or distro.id not in release.os:
        return False
    return not cudnn or base.cudnn is False or _cudnn_choices(release, base.cudnn, distro) != ()


def apt_releases_text(catalog: Catalog) -> str:
    """"10.0.130 (ubuntu18.04), 10.2.89 (ubuntu18.04)": what nvidia-apt can build."""
    return ", ".join(f"{r.cuda} ({', '.join(r.os)})" for r in catalog.cuda_apt().releases)


def resolve_cuda_apt(
    base: Base, cuda: str, distro: Distro, from_image: str, catalog: Catalog, out: Collector,
    why: str,
) -> ResolvedBase | None:
    data = catalog.cuda_apt()
    release = _release(data, cuda)
    if release is None or distro.id not in release.os:
        out.error("base.cuda-apt", f"envspec has no NVIDIA apt package set for CUDA {cuda} on "
                  f"{distro.id}", ("base", "cuda"),
                  f"nvidia-apt knows {apt_releases_text(catalog)}")
        return None
    found, cudnn = _chosen_cudnn(base, release, distro, out)
    if not found:
        return None
    repository = _repository(base, data, release, distro, catalog, out)
    flavor: Flavor = base.flavor
    pins = release.packages(flavor, cudnn, distro.id)
    install = CudaAptInstall(
        repository=repository,
        key_url=f"{repository}/{data.repository.key_file}",
        packages=tuple(pin.spec for pin in pins),
        holds=tuple(pin.name for pin in pins if pin.hold),
        cuda_dir=f"cuda-{release.major_minor}",
        bootstrap=data.repository.bootstrap.get(distro.id, ()),
        env=_environment(release, flavor, cudnn, pins, distro.id),
    )
    out.decide("base.cuda_source", "nvidia-apt", source_of(base), why)
    out.decide("base.image", from_image, "spec" if base.image else "catalog",
               f"plain {distro.id} image; CUDA {release.cuda} is installed on it")
    out.decide("base.cuda", release.cuda, "catalog",
               f"{len(pins)} packages, pins as in NVIDIA's recipe ({release.source.split(';')[0]})")
    if cudnn is not None:
        out.decide("base.cudnn", cudnn.version, "catalog", f"cuDNN packaged for CUDA {release.cuda}")
    return ResolvedBase(from_image, distro, release.cuda, flavor, cudnn is not None, install)


def source_of(base: Base) -> Source:
    """`spec` when the user chose cuda_source, `default` when auto was left to itself."""
    return "spec" if "cuda_source" in base.model_fields_set else "default"


def _release(data: CudaAptFile, cuda: str) -> CudaAptRelease | None:
    return data.release(cuda)


def _cudnn_choices(
    release: CudaAptRelease, wanted: bool | int | str, distro: Distro
) -> tuple[CudnnSet, ...]:
    """The cuDNN sets of `release` on `distro` that satisfy `wanted` (true, a major, a version)."""
    packaged = release.cudnn_for(distro.id)
    if wanted is True:
        return packaged
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        return tuple(c for c in packaged if c.major == wanted)
    return tuple(c for c in packaged if c.version == wanted)


def _chosen_cudnn(
    base: Base, release: CudaAptRelease, distro: Distro, out: Collector
) -> tuple[bool, CudnnSet | None]:
    """(found, the set or None for no cuDNN); not found is reported here."""
    if base.cudnn is False:
        return True, None
    choices = _cudnn_choices(release, base.cudnn, distro)
    if choices:
        return True, choices[-1]  # the data lists them oldest first
    known = ", ".join(c.version for c in release.cudnn_for(distro.id)) or "none"
    wanted = "" if base.cudnn is True else f" {base.cudnn}"
    out.error("base.cudnn", f"no cuDNN{wanted} is packaged for CUDA {release.cuda} on "
              f"{distro.id} in envspec's NVIDIA apt data", ("base", "cudnn"),
              f"known for this CUDA there: {known}")
    return False, None


def _repository(
    base: Base, data: CudaAptFile, release: CudaAptRelease, distro: Distro, catalog: Catalog,
    out: Collector,
) -> str:
    root = mirror_url(base.cuda_repo, "cuda", catalog, out, ("base", "cuda_repo"))
    url = root or data.repository.url.rstrip("/")
    folder = release.os_dirs.get(distro.id) or data.repository.os_dirs[distro.id]
    return f"{url}/{folder}/{data.repository.arch}"


def _environment(
    release: CudaAptRelease, flavor: Flavor, cudnn: CudnnSet | None, pins: tuple[AptPin, ...],
    os_id: str,
) -> dict[str, str]:
    env = {
        "CUDA_VERSION": release.cuda,
        "NVIDIA_REQUIRE_CUDA": release.require_cuda,
        "NVIDIA_VISIBLE_DEVICES": "all",
        "NVIDIA_DRIVER_CAPABILITIES": "compute,utility",
        "PATH": _PATH,
        "LD_LIBRARY_PATH": _LD_LIBRARY_PATH,
    }
    if release.nccl and any(pin.name == "libnccl2" for pin in pins):
        env["NCCL_VERSION"] = release.nccl_by_os.get(os_id, release.nccl)
    if cudnn is not None:
        env["CUDNN_VERSION"] = cudnn.version
    if flavor == "devel":
        env["LIBRARY_PATH"] = "/usr/local/cuda/lib64/stubs"  # link against libcuda without a GPU
    return env
