"""The compatibility catalog: every table parses, and its answers match the reference facts."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import pytest

from envspec.catalog import (
    Catalog,
    CatalogDataError,
    CudaImage,
    Distro,
    TorchRelease,
    dump_cuda_images,
    load_catalog,
    parse_cuda_images,
    parse_tag,
    version_key,
)

DATA_FILES = ["cuda_images.yaml", "cuda_drivers.yaml", "cuda_gcc.yaml", "distros.yaml",
              "torch.yaml", "mirrors.yaml"]
REFERENCE = Path("/work/shared/reference/nvidia-cuda")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _image_status(c: Catalog, tag: str) -> str | None:
    image = c.image_for_tag(tag)
    return image.status if image else None


def _available(c: Catalog, tag: str) -> bool:
    image = c.image_for_tag(tag)
    return image is not None and image.status != "deleted"


def _torch(c: Catalog, version: str) -> TorchRelease:
    release = c.torch_release(version)
    assert release is not None, version
    return release


def _distro(c: Catalog, os_id: str) -> Distro:
    distro = c.distro(os_id)
    assert distro is not None, os_id
    return distro


QUERIES: dict[str, Callable[[Catalog, str], object]] = {
    "gcc_max": lambda c, v: c.gcc_max(v),
    "lowest_cuda_for_gcc": lambda c, v: c.lowest_cuda_accepting_gcc(int(v)),
    "driver_exact": lambda c, v: c.driver_requirement(v).exact_min,
    "driver_minor_compat": lambda c, v: c.driver_requirement(v).minor_compat_min,
    "driver_branch": lambda c, v: c.driver_requirement(v).branch,
    "tag_status": _image_status,
    "tag_available": _available,
    "torch_default_cuda": lambda c, v: _torch(c, v).default_cuda,
    "torch_variants": lambda c, v: _torch(c, v).variants,
    "torch_index_style": lambda c, v: _torch(c, v).index_style,
    "torch_audio": lambda c, v: _torch(c, v).torchaudio,
    "distro_gcc_packages": lambda c, v: _distro(c, v).gcc_packages,
    "distro_default_gcc": lambda c, v: _distro(c, v).default_gcc,
    "distro_python": lambda c, v: _distro(c, v).default_python,
    "distro_layout": lambda c, v: _distro(c, v).sources_layout,
    "distro_pep668": lambda c, v: _distro(c, v).pep668,
}

CONTAINS = object()  # marker: expected value is a member of the actual tuple
LACKS = object()

FACTS: list[tuple[str, str, object]] = [
    # CUDA -> max GCC (crt/host_config.h; Spack/nixpkgs for older releases)
    ("gcc_max", "9.2", 7),
    ("gcc_max", "10.2", 8),
    ("gcc_max", "11.0", 9),
    ("gcc_max", "11.0.3", 9),
    ("gcc_max", "11.3.1", 10),
    ("gcc_max", "11.4.0", 10),
    ("gcc_max", "11.4.1", 11),
    ("gcc_max", "11.4.4", 11),
    ("gcc_max", "11.8.0", 11),
    ("gcc_max", "12.0.1", 12),
    ("gcc_max", "12.3", 12),
    ("gcc_max", "12.3.2", 12),
    ("gcc_max", "12.4", 13),
    ("gcc_max", "12.6.3", 13),
    ("gcc_max", "12.8", 14),
    ("gcc_max", "12.9.1", 14),
    ("gcc_max", "13.0", 15),
    ("gcc_max", "13.3.0", 15),
    ("gcc_max", "13.4", 16),
    ("gcc_max", "13.5", 16),
    ("gcc_max", "12.7", None),  # never released
    ("gcc_max", "8.0", None),
    ("lowest_cuda_for_gcc", "9", "11.0"),
    ("lowest_cuda_for_gcc", "11", "11.4.1"),
    ("lowest_cuda_for_gcc", "13", "12.4"),
    ("lowest_cuda_for_gcc", "14", "12.8"),
    ("lowest_cuda_for_gcc", "15", "13.0"),
    ("lowest_cuda_for_gcc", "16", "13.4"),
    ("lowest_cuda_for_gcc", "17", None),
    # CUDA -> driver, exact toolkit minimum (Table 3)
    ("driver_exact", "10.2", "440.33"),
    ("driver_exact", "10.1", "418.39"),
    ("driver_exact", "11.0", "450.51.05"),  # X.Y means its GA release
    ("driver_exact", "11.0.3", "450.51.06"),
    ("driver_exact", "11.4.0", "470.42.01"),
    ("driver_exact", "11.4.2", "470.57.02"),
    ("driver_exact", "11.8.0", "520.61.05"),
    ("driver_exact", "12.0.0", "525.60.13"),
    ("driver_exact", "12.2.2", "535.104.05"),
    ("driver_exact", "12.8.0", "570.26"),
    ("driver_exact", "12.9.1", "575.57.08"),
    ("driver_exact", "13.0.0", "580.65.06"),
    ("driver_exact", "13.0.2", "580.95.05"),
    ("driver_exact", "13.1.0", "590.44.01"),
    ("driver_exact", "12.3.2", None),  # no Table 3 row
    ("driver_exact", "12.9.2", None),
    ("driver_exact", "13.0.3", None),
    ("driver_exact", "13.1.2", None),
    ("driver_exact", "13.4", None),
    ("driver_exact", "13.5", None),
    # minor-version compatibility floor per major
    ("driver_minor_compat", "11.0.3", "450.80.02"),
    ("driver_minor_compat", "11.8.0", "450.80.02"),
    ("driver_minor_compat", "12.0.0", "525.60.13"),
    ("driver_minor_compat", "12.9.2", "525.60.13"),
    ("driver_minor_compat", "13.0.0", "580.65.06"),
    ("driver_minor_compat", "13.5", "580.65.06"),
    ("driver_minor_compat", "10.2", None),
    ("driver_branch", "12.2.2", "R535"),
    ("driver_branch", "13.0.3", "R580"),
    ("driver_branch", "13.1.2", "R590"),
    ("driver_branch", "13.4", "R615"),
    ("driver_branch", "13.5", None),
    # nvidia/cuda tags
    ("tag_available", "11.0-base", False),  # OS-less short tag: removed
    ("tag_status", "11.0-base-ubuntu20.04", "deleted"),
    ("tag_status", "10.2-cudnn7-devel-ubuntu18.04", "deleted"),
    ("tag_status", "11.7.0-devel-ubuntu22.04", "deleted"),
    ("tag_available", "11.0.3-base-ubuntu20.04", True),
    ("tag_status", "11.0.3-base-ubuntu20.04", "eol"),  # listed as both supported and EOL
    ("tag_status", "nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04", "supported"),
    ("tag_status", "12.3.2-cudnn9-devel-ubuntu22.04", "supported"),
    ("tag_status", "12.4.1-cudnn-runtime-ubuntu22.04", "supported"),
    ("tag_status", "12.6.0-cudnn-devel-ubuntu24.04", "eol"),
    ("tag_status", "12.5.1-devel-ubuntu24.04", "supported"),
    ("tag_status", "12.5.1-cudnn-devel-ubuntu24.04", None),  # no cuDNN on 24.04 for 12.5.1
    ("tag_status", "12.2.0-cudnn8-devel-ubuntu22.04", None),
    ("tag_status", "13.0.2-cudnn-devel-ubuntu20.04", None),  # 13.x dropped 20.04
    ("tag_status", "13.1.0-cudnn-devel-ubuntu24.04", None),
    ("tag_status", "13.1.2-cudnn-devel-ubuntu24.04", "unverified"),
    ("tag_status", "12.9.2-base-ubuntu20.04", "unverified"),
    # torch -> CUDA
    ("torch_default_cuda", "2.1.2", "12.1"),
    ("torch_default_cuda", "2.5.1", "12.4"),
    ("torch_default_cuda", "2.8.0", "12.8"),
    ("torch_default_cuda", "2.11.0", "13.0"),
    ("torch_default_cuda", "1.13.1", "11.7"),
    ("torch_variants", "1.7.1", (CONTAINS, "cu110")),
    ("torch_variants", "2.5.1", (CONTAINS, "cu124")),
    ("torch_variants", "1.13.1", (LACKS, "cu102")),
    ("torch_variants", "2.13.0", (CONTAINS, "cu130")),
    ("torch_variants", "2.8.0", (LACKS, "cu118")),
    ("torch_index_style", "1.10.1", "find-links"),
    ("torch_index_style", "1.12.1", "extra-index"),
    ("torch_index_style", "2.0.0", "index"),
    ("torch_audio", "2.12.1", None),
    ("torch_audio", "2.0.0", "2.0.1"),
    # distros
    ("distro_gcc_packages", "debian12", (11, 12)),
    ("distro_default_gcc", "debian12", 12),
    ("distro_python", "debian12", "3.11"),
    ("distro_layout", "debian12", "deb822"),
    ("distro_layout", "debian11", "classic"),
    ("distro_layout", "ubuntu22.04", "classic"),
    ("distro_layout", "ubuntu24.04", "deb822"),
    ("distro_default_gcc", "ubuntu22.04", 11),
    ("distro_default_gcc", "ubuntu24.04", 13),
    ("distro_python", "ubuntu20.04", "3.8"),
    ("distro_pep668", "ubuntu24.04", True),
    ("distro_pep668", "ubuntu22.04", False),
    ("distro_pep668", "debian13", True),
]


@pytest.mark.parametrize(
    ("kind", "query", "expected"), FACTS, ids=[f"{k}[{q}]" for k, q, _ in FACTS]
)
def test_reference_fact(catalog: Catalog, kind: str, query: str, expected: object) -> None:
    actual = QUERIES[kind](catalog, query)
    if isinstance(expected, tuple) and expected and expected[0] in (CONTAINS, LACKS):
        marker, item = expected
        assert isinstance(actual, tuple)
        assert (item in actual) == (marker is CONTAINS), actual
    else:
        assert actual == expected


def test_fact_table_is_large_enough() -> None:
    assert len(FACTS) >= 45


# ---------------------------------------------------------------- one test per table


def test_every_data_file_has_a_sourced_header_and_parses() -> None:
    for name in DATA_FILES:
        text = (files("envspec") / "data" / name).read_text(encoding="utf-8")
        assert text.startswith("# "), name
        header = text.split("\n\n", 1)[0] if not name.startswith("cuda_images") else text[:2000]
        assert "Source" in header and "as of" in header, name
    fresh = Catalog()  # not the cached one: parse everything again
    assert fresh.cuda_images() and fresh.distros() and fresh.torch_releases() and fresh.mirrors()


def test_cuda_images_table(catalog: Catalog) -> None:
    images = catalog.cuda_images()
    tags = [img.tag for img in images]
    assert len(tags) == len(set(tags))
    assert {img.status for img in images} == {"supported", "eol", "deleted", "unverified"}
    for img in images:
        assert parse_tag(img.tag) == (img.cuda, img.cudnn, img.flavor, img.os)
        assert img.reference == f"nvidia/cuda:{img.tag}"
    assert {img.os for img in images} >= {f"ubuntu{v}" for v in
                                         ("14.04", "16.04", "18.04", "20.04", "22.04", "24.04")}


def test_cuda_images_file_is_in_canonical_form() -> None:
    text = (files("envspec") / "data" / "cuda_images.yaml").read_text(encoding="utf-8")
    header = text.split("\nimages:", 1)[0] + "\n"
    assert dump_cuda_images(parse_cuda_images(text), header) == text


@pytest.fixture(scope="module")
def refresh_tool() -> ModuleType:
    return _tool("refresh_catalog")


@pytest.fixture(scope="module")
def generated_images(tmp_path_factory: pytest.TempPathFactory) -> str:
    """cuda_images.yaml as tools/build_cuda_catalog.py writes it from the reference copies."""
    if not REFERENCE.is_dir():
        pytest.skip(f"the reference copies ({REFERENCE}) are not on this machine")
    out = tmp_path_factory.mktemp("generated") / "cuda_images.yaml"
    assert _tool("build_cuda_catalog").main(["--reference", str(REFERENCE), "--output", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def _tool(name: str) -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def _assert_is_refresh_of(refreshed: Sequence[CudaImage], generated: Sequence[CudaImage]) -> None:
    """What tools/refresh_catalog.py may change: statuses and dates, never the tags known."""
    now = {img.tag: img for img in refreshed}
    lost = [img.tag for img in generated if img.tag not in now]
    assert not lost, f"a refresh never drops tags: {lost[:5]}"
    for old in generated:
        new = now[old.tag]
        assert new.last_seen >= old.last_seen, new
        if new.status != old.status:
            assert new.status in ("deleted", "eol"), (old, new)
            assert new.status == "eol" or new.deleted_on is not None, new
    for img in refreshed:
        assert img.status != "deleted" or img.deleted_on or img.tag in {g.tag for g in generated}


def test_cuda_images_file_matches_its_generator(
    generated_images: str, refresh_tool: ModuleType
) -> None:
    shipped = (files("envspec") / "data" / "cuda_images.yaml").read_text(encoding="utf-8")
    if refresh_tool.REFRESH_MARK in shipped:  # statuses and dates moved on since generation; tags did not
        _assert_is_refresh_of(parse_cuda_images(shipped), parse_cuda_images(generated_images))
    else:
        assert generated_images == shipped


def test_refresh_check_accepts_a_refresh_and_catches_a_lost_tag(
    generated_images: str, refresh_tool: ModuleType
) -> None:
    generated = parse_cuda_images(generated_images)
    live = sorted(img.tag for img in generated if img.status != "deleted")
    seen = {*live[::2], "13.9.0-devel-ubuntu26.04"}  # half of them went; one tag is new
    refreshed = refresh_tool.refresh(generated, seen, "2031-01-01")
    _assert_is_refresh_of(refreshed, generated)
    assert {img.status for img in refreshed if img.tag in live[1::2]} == {"deleted"}
    with pytest.raises(AssertionError, match="never drops tags"):
        _assert_is_refresh_of(refreshed[1:], generated)
    with pytest.raises(AssertionError):
        _assert_is_refresh_of([dataclasses.replace(i, last_seen="2000-01-01") for i in refreshed],
                              generated)


def test_find_images(catalog: Catalog) -> None:
    by_minor = catalog.find_images(cuda="12.4", flavor="devel", cudnn=False, os="ubuntu22.04")
    assert [img.tag for img in by_minor] == ["12.4.0-devel-ubuntu22.04", "12.4.1-devel-ubuntu22.04"]
    assert not catalog.find_images(cuda="12.4.1", cudnn=True, os="ubuntu24.04")
    assert catalog.find_images(cuda="11.0", os="ubuntu20.04") != []  # 11.0.3 survives
    assert all(img.cuda != "11.0" for img in catalog.find_images(cuda="11.0"))
    with_deleted = catalog.find_images(cuda="11.0", include_deleted=True)
    assert any(img.cuda == "11.0" and img.status == "deleted" for img in with_deleted)
    assert not catalog.find_images(cuda="1")  # "1" is not a prefix of "11.x"


def test_cuda_versions_sorted(catalog: Catalog) -> None:
    versions = catalog.cuda_versions()
    assert versions == sorted(versions, key=version_key)
    assert {"11.0", "11.0.3", "12.9.2", "13.3.0"} <= set(versions)


def test_driver_table_is_monotonic(catalog: Catalog) -> None:
    known = [catalog.driver_requirement(v) for v in catalog._drivers]
    known = [r for r in known if r.exact_min]
    keys = [version_key(r.exact_min) for r in sorted(known, key=lambda r: version_key(r.cuda))
            if r.exact_min]
    assert keys == sorted(keys)


def test_driver_requirement_for_an_unknown_release_keeps_the_major_floor(catalog: Catalog) -> None:
    req = catalog.driver_requirement("12.7")
    assert (req.exact_min, req.minor_compat_min) == (None, "525.60.13")
    assert req.note
    assert catalog.driver_requirement("99.0").minor_compat_min is None


def test_gcc_table_is_monotonic(catalog: Catalog) -> None:
    limits = [catalog.gcc_max(v) for v in catalog.cuda_versions()]
    assert None not in limits[limits.index(6):]  # every release from 9.0 on has a limit
    known = [n for n in limits if n is not None]
    assert known == sorted(known)
    assert catalog.gcc_min("10.2") == 5 and catalog.gcc_min("12.4") == 6


def test_distros_table(catalog: Catalog) -> None:
    ids = {d.id for d in catalog.distros()}
    assert ids == {"ubuntu16.04", "ubuntu18.04", "ubuntu20.04", "ubuntu22.04", "ubuntu24.04",
                   "debian11", "debian12", "debian13", "rockylinux8", "rockylinux9", "ubi8", "ubi9"}
    apt_distros = [d for d in catalog.distros() if d.package_manager == "apt"]
    assert {d.family for d in apt_distros} == {"ubuntu", "debian"}
    for d in apt_distros:
        assert d.default_gcc in d.gcc_packages, d.id
        assert d.default_python not in d.python_packages + d.deadsnakes_python, d.id
        assert d.docker_image.startswith(f"{d.family}:"), d.id
    assert _distro(catalog, "debian12").codename == "bookworm"
    _assert_rpm_distros(catalog)
    assert _distro(catalog, "ubuntu22.04").deadsnakes_python[-1] == "3.13"
    assert catalog.distro("ubuntu26.04") is None


def _assert_rpm_distros(catalog: Catalog) -> None:
    """EL 8/9: the system GCC is apart from the gcc-toolset-N majors, which live in /opt/rh."""
    for os_id, default_gcc, toolsets in (("rockylinux8", 8, (9, 10, 11, 12, 13, 14)),
                                         ("rockylinux9", 11, (12, 13, 14)),
                                         ("ubi8", 8, (9, 10, 11, 12, 13, 14)),
                                         ("ubi9", 11, (12, 13, 14))):
        d = _distro(catalog, os_id)
        assert (d.package_manager, d.sources_layout) == ("dnf", "yum-repos"), os_id
        assert (d.default_gcc, d.gcc_packages) == (default_gcc, toolsets), os_id
        assert d.gcc_packages_for(13) == ("gcc-toolset-13-gcc", "gcc-toolset-13-gcc-c++")
        assert d.gcc_packages_for(default_gcc) == ("gcc", "gcc-c++")
        assert d.gcc_bin_dir_for(13) == "/opt/rh/gcc-toolset-13/root/usr/bin"
        assert d.gcc_bin_dir_for(default_gcc) is None
        assert d.python_packages_for(d.default_python) == ("python3",)
        assert d.user_packages == ("shadow-utils",)
        assert d.public_mirrors == os_id.startswith("rocky")
    assert _distro(catalog, "rockylinux8").python_packages_for("3.9") == ("python39",)
    assert _distro(catalog, "rockylinux9").python_packages_for("3.11") == ("python3.11",)
    assert _distro(catalog, "debian12").python_packages_for("3.11") == ("python3", "python3-venv")
    assert _distro(catalog, "ubuntu22.04").python_packages_for("3.11") == (
        "python3.11", "python3.11-venv")


def test_torch_table(catalog: Catalog) -> None:
    releases = catalog.torch_releases()
    assert [r.torch for r in releases] == sorted((r.torch for r in releases), key=version_key)
    for r in releases:
        assert f"cu{r.default_cuda.replace('.', '')}" in r.variants, r.torch
        assert set(r.uncertain_variants) <= set(r.variants)
    assert _torch(catalog, "2.1.2").index_url("cu121") == "https://download.pytorch.org/whl/cu121"
    assert _torch(catalog, "1.7.1").index_url("cu110") == (
        "https://download.pytorch.org/whl/torch_stable.html"
    )
    assert "cu113" in _torch(catalog, "1.10.0").uncertain_variants
    assert catalog.torch_release("9.9.9") is None


def test_mirrors_table(catalog: Catalog) -> None:
    assert {m.name for m in catalog.mirrors()} >= {"aliyun", "tuna", "ustc"}
    tuna = catalog.mirror("tuna")
    assert tuna is not None
    assert set(tuna.urls) >= {"ubuntu", "debian", "debian-security", "pypi"}
    assert all(url.startswith("https://") for m in catalog.mirrors() for url in m.urls.values())
    assert catalog.mirror("nowhere") is None


# ---------------------------------------------------------------- loading and helpers


def test_load_catalog_is_cached() -> None:
    assert load_catalog() is load_catalog()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("images: 3", "top-level list"),
        ("images: [{cuda: 11.0, os: ubuntu20.04, status: eol, last_seen: '2020-01-01', "
         "variants: [base]}]", "quote versions"),
        ("images: [{cuda: '11.0', os: ubuntu20.04, status: gone, last_seen: '2020-01-01', "
         "variants: [base]}]", "status"),
        ("images: [{cuda: '11.0', os: ubuntu20.04, status: eol, last_seen: '2020-01-01', "
         "variants: [cudnn8-base]}]", "runtime or devel"),
        ("images: [{cuda: '11.0', os: ubuntu20.04, status: eol, last_seen: 'May', "
         "variants: [base]}]", "YYYY-MM-DD"),
        ("images: [: bad", "not valid YAML"),
    ],
)
def test_malformed_data_names_the_file(text: str, needle: str) -> None:
    with pytest.raises(CatalogDataError) as info:
        parse_cuda_images(text)
    assert "cuda_images.yaml" in str(info.value)
    assert needle in str(info.value)


def test_version_key() -> None:
    assert version_key("11.4.1") == (11, 4, 1)
    assert version_key("11.10") > version_key("11.9")
    with pytest.raises(ValueError):
        version_key("11.x")


def test_parse_tag_reads_ubuntu_rocky_and_ubi_and_rejects_other_tags() -> None:
    # Rocky Linux and UBI tags are in the catalog since dnf support; other OSes are not.
    assert parse_tag("12.4.1-devel-ubi9") == ("12.4.1", None, "devel", "ubi9")
    assert parse_tag("12.4.1-cudnn-runtime-rockylinux8") == (
        "12.4.1", "cudnn", "runtime", "rockylinux8")
    assert parse_tag("12.3.2-devel-centos7") is None
    assert parse_tag("13.0.0-tensorrt-devel-ubuntu24.04") is None
    assert parse_tag("nvidia/cuda:10.2-cudnn7-devel-ubuntu18.04") == (
        "10.2", "cudnn7", "devel", "ubuntu18.04")
