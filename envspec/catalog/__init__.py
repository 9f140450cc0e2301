"""Typed, cached access to the compatibility catalog in `envspec/data/*.yaml`.

The facts (which tags exist, which driver and GCC a CUDA release needs, what a distro ships,
which PyTorch wheels exist, mirrors, PPAs, conda installers, import names) live in the YAML
files; this package only validates, caches and indexes them. Every data file is read here and
nowhere else:

  models.py       one strict pydantic model per data file (DATA_FILES); rows are the records
  loading.py      YAML → validated models, cached by content hash (CatalogDataError if bad)
  cuda_images.py  the compact tag rows ⇄ one CudaImage per tag
  queries.py      Catalog: the look-ups the resolver uses; unknown things give None
"""

from envspec.catalog.cuda_images import dump_cuda_images, parse_cuda_images
from envspec.catalog.loading import FAST_LOADER, CatalogDataError
from envspec.catalog.models import (
    DATA_FILES,
    TORCH_INDEX,
    CondaInstaller,
    Distro,
    Family,
    GccLimit,
    IndexStyle,
    MirrorKey,
    MirrorPreset,
    PackageManagerName,
    Ppa,
    SourcesLayout,
    TorchRelease,
)
from envspec.catalog.queries import Catalog, load_catalog
from envspec.catalog.records import (
    FLAVORS,
    TAG_STATUSES,
    CudaImage,
    DriverRequirement,
    Flavor,
    TagStatus,
    major_minor,
    parse_tag,
    version_key,
)

__all__ = [
    "DATA_FILES", "FAST_LOADER", "FLAVORS", "TAG_STATUSES", "TORCH_INDEX", "Catalog",
    "CatalogDataError", "CondaInstaller", "CudaImage", "Distro", "DriverRequirement", "Family",
    "Flavor", "GccLimit", "IndexStyle", "MirrorKey", "MirrorPreset", "PackageManagerName",
    "Ppa", "SourcesLayout", "TagStatus",
    "TorchRelease", "dump_cuda_images", "load_catalog", "major_minor", "parse_cuda_images",
    "parse_tag", "version_key",
]
