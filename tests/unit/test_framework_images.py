"""The framework-image catalog: the shipped file validates, lookups answer from it, and data
that contradicts itself (a tag naming one CUDA, its row another) is refused."""

from __future__ import annotations

import pytest

from envspec.catalog import CatalogDataError, load_catalog
from envspec.framework_images import (
    load_framework_images,
    lookup,
    parse_framework_images,
)

DIGEST = "@sha256:" + "0" * 64


def test_shipped_file_validates_and_covers_every_family() -> None:
    catalog = load_framework_images()
    assert {f.repository for f in catalog.families} == {
        "pytorch/pytorch", "nvcr.io/nvidia/pytorch", "nvcr.io/nvidia/tensorflow",
        "tensorflow/tensorflow", "continuumio/miniconda3", "condaforge/miniforge3",
        "nvidia/cudagl",
    }
    assert all(family.tags for family in catalog.families)


def test_pytorch_image_has_conda_python_and_its_torch() -> None:
    image = lookup("pytorch/pytorch:1.6.0-cuda10.1-cudnn7-devel")
    assert image is not None
    assert (image.cuda, image.cudnn, image.python, image.torch) == ("10.1", "7", "3.7.7", "1.6.0")
    assert image.conda and image.python_path == "/opt/conda/bin/python"
    assert any("#42604" in source for source in image.sources)


def test_ngc_image_with_registry_prefix_and_digest() -> None:
    image = lookup("nvcr.io/nvidia/pytorch:23.10-py3" + DIGEST)
    assert image is not None
    assert (image.os, image.cuda, image.python) == ("ubuntu22.04", "12.2.2", "3.10")
    assert image.torch == "2.1.0a0+32f93b1" and not image.conda


@pytest.mark.parametrize(("ref", "cuda", "python", "torch"), [
    ("pytorch/pytorch:1.13.1-cuda11.6-cudnn8-runtime", "11.6", "3.10.8", "1.13.1"),
    ("pytorch/pytorch:2.1.2-cuda12.1-cudnn8-devel", "12.1", "3.10", "2.1.2"),
    ("nvcr.io/nvidia/pytorch:21.08-py3", "11.4.1", "3.8", "1.10.0a0+3fd9dcf"),
    ("nvcr.io/nvidia/pytorch:24.05-py3", "12.4", "3.10", "2.4.0a0+07cecf4"),
])
def test_lookup_answers_cuda_python_and_torch(ref: str, cuda: str, python: str, torch: str) -> None:
    image = lookup(ref)
    assert image is not None
    assert (image.cuda, image.python, image.torch) == (cuda, python, torch)


def test_docker_hub_prefix_is_the_same_image() -> None:
    assert lookup("docker.io/pytorch/pytorch:2.1.2-cuda12.1-cudnn8-devel") == lookup(
        "pytorch/pytorch:2.1.2-cuda12.1-cudnn8-devel")


def test_a_row_can_override_the_family_interpreter() -> None:
    image = lookup("tensorflow/tensorflow:2.1.0-gpu")
    assert image is not None
    assert (image.python, image.python_path, image.tensorflow) == ("2.7.17", "/usr/bin/python", "2.1.0")


def test_end_of_life_and_never_published_tags_say_so() -> None:
    cudagl = lookup("nvidia/cudagl:11.4.2-devel-ubuntu20.04")
    assert cudagl is not None and cudagl.status == "eol" and cudagl.python_path is None
    missing = lookup("tensorflow/tensorflow:2.14.1-gpu")
    assert missing is not None and missing.status == "never-published"


@pytest.mark.parametrize("ref", [
    "pytorch/pytorch:9.9.9-cuda1.0-cudnn1-devel",  # unknown tag
    "pytorch/pytorch",                              # no tag: a moving target
    "example.org/team/pytorch:1.6.0-cuda10.1-cudnn7-devel",  # unknown family
    "localhost:5000/pytorch/pytorch",               # the colon is a registry port
    "Pytorch/Pytorch:1.6.0",                         # not an image reference at all
])
def test_unknown_images_give_none(ref: str) -> None:
    assert lookup(ref) is None


def test_legacy_docker_hub_name_and_a_digest_still_find_the_tag() -> None:
    image = lookup("index.docker.io/pytorch/pytorch:1.6.0-cuda10.1-cudnn7-devel" + DIGEST)
    assert image is not None and image.torch == "1.6.0"


def test_pytorch_tags_name_cuda_variants_that_have_wheels() -> None:
    """Cross-check two data files: each pytorch/pytorch tag's torch has a +cuXY build."""
    torch = load_catalog()
    family = load_framework_images().family("pytorch/pytorch")
    assert family is not None
    for row in family.tags:
        release = torch.torch_release(row.torch or "")
        assert release is not None, row.tag
        assert "cu" + (row.cuda or "").replace(".", "") in release.variants, row.tag


GOOD_ROW = ("{tag: 1.6.0-cuda10.1-cudnn7-devel, os: ubuntu18.04, cuda: '10.1', cudnn: '7', "
            "python: '3.7.7', torch: '1.6.0', status: available, sources: [s]}")


def _file(row: str, source: str = "s") -> str:
    return f"""
sources: {{{source}: a document}}
families:
  - name: pytorch/pytorch
    repository: pytorch/pytorch
    tag_scheme: x
    tag_pattern: '^(?P<torch>[0-9.]+)-cuda(?P<cuda>[0-9.]+)-cudnn(?P<cudnn>[0-9]+)-devel$'
    python_path: /opt/conda/bin/python
    conda: true
    sources: [s]
    tags:
      - {row}
"""


def test_a_consistent_row_parses() -> None:
    assert parse_framework_images(_file(GOOD_ROW)).families[0].tags[0].python == "3.7.7"


@pytest.mark.parametrize(("row", "source", "message"), [
    (GOOD_ROW.replace("cuda: '10.1'", "cuda: '11.0'"), "s", "says cuda 10.1"),
    (GOOD_ROW.replace("1.6.0-cuda10.1-cudnn7-devel", "1.6.0-cu101"), "s", "does not follow"),
    (GOOD_ROW.replace("python: '3.7.7'", "python: 'three'"), "s", "not a Python version"),
    (GOOD_ROW.replace("status: available", "status: gone"), "s", "status"),
    (GOOD_ROW, "t", "unknown source 's'"),
    (GOOD_ROW.replace("sources: [s]", "sources: [s], extra: 1"), "s", "extra"),
])
def test_contradicting_or_malformed_rows_are_refused(row: str, source: str, message: str) -> None:
    with pytest.raises(CatalogDataError, match=r"framework_images\.yaml") as err:
        parse_framework_images(_file(row, source))
    assert message in str(err.value)


def test_a_tag_listed_twice_is_refused() -> None:
    text = _file(GOOD_ROW) + f"      - {GOOD_ROW}\n"
    with pytest.raises(CatalogDataError, match="listed twice"):
        parse_framework_images(text)
