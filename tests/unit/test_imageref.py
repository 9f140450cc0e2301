"""ImageRef: the distribution/reference grammar, cross-checked against docker-py's own parsing."""

from __future__ import annotations

from typing import Any

import pytest

from envspec.imageref import ImageRef, ImageRefError

DIGEST = "sha256:" + "ab" * 32

# Valid references, as users write them in env.yaml, on the command line and in `--tag`.
VALID = [
    "ubuntu",
    "ubuntu:22.04",
    "library/ubuntu:22.04",
    "docker.io/ubuntu",
    "docker.io/library/ubuntu:24.04",
    "index.docker.io/library/ubuntu:20.04",
    "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",
    "docker.io/nvidia/cuda:12.1.1-runtime-ubuntu22.04",
    "nvcr.io/nvidia/pytorch:24.01-py3",
    "ghcr.io/org/team/tool:v1.2.3",
    "127.0.0.1:5000/team/img",
    "127.0.0.1:5000/team/img:1",
    "127.0.0.1:5000/img",
    "localhost/img:1",
    "localhost/img",
    "localhost:5000/a/b/c:tag_with.dots-and-dashes",
    "registry.example.com:443/x",
    "my-registry.local/x/y",
    "envspec-test/debian:bookworm",
    "envspec-itest/itest-0123456789:v1",
    "a",
    "a/b",
    "user/repo__double_underscore",
    "user/repo---dashes",
    "user/repo.dot",
    f"ubuntu@{DIGEST}",
    f"ubuntu:22.04@{DIGEST}",
    f"127.0.0.1:5000/team/img@{DIGEST}",
    f"localhost/img:1@{DIGEST}",
    "x:" + "t" * 128,
    "[::1]:5000/img:2",
]

INVALID = [
    "",
    ":tag",
    "Ubuntu",  # upper case repository
    "team/Img",
    "ubuntu:",
    "ubuntu:-bad",
    "ubuntu:.bad",
    "x:" + "t" * 129,
    "ubuntu@sha256:short",
    "ubuntu@md5",
    "a//b",
    "a/",
    "-a",
    "a-",
    "a_/b",
    "a..b",
    "localhost/",
    "ex ample.com/x",
    "127.0.0.1:5000/team/img:1:2",
    "-registry.example.com/x",
    "ubuntu;rm -rf /",
    "ubuntu:22.04 && evil",
    "$(evil)/x",
    "a" * 256,
]


def docker_view(ref: str) -> tuple[str, str, str | None, str | None]:
    """What docker-py makes of `ref`, completed with the defaults Docker applies."""
    from docker.auth import resolve_repository_name
    from docker.utils import parse_repository_tag

    name, tag = parse_repository_tag(ref)
    digest = None
    if tag is not None and "@" in ref and ref.endswith(tag):
        digest = tag
        name, tag = parse_repository_tag(name)
    registry, repository = resolve_repository_name(name)
    if registry == "docker.io" and "/" not in repository:
        repository = f"library/{repository}"
    if tag is None and digest is None:
        tag = "latest"
    return registry, repository, tag, digest


@pytest.mark.parametrize("ref", VALID)
def test_parse_agrees_with_docker_py(ref: str) -> None:
    parsed = ImageRef.parse(ref)
    assert (parsed.registry, parsed.repository, parsed.tag, parsed.digest) == docker_view(ref)


@pytest.mark.parametrize("ref", VALID)
def test_familiar_and_qualified_forms_parse_back_to_the_same_reference(ref: str) -> None:
    parsed = ImageRef.parse(ref)
    assert ImageRef.parse(parsed.familiar) == parsed
    assert ImageRef.parse(parsed.qualified) == parsed
    assert str(parsed) == parsed.familiar


@pytest.mark.parametrize("ref", INVALID)
def test_invalid_references_are_refused_with_a_reason(ref: str) -> None:
    with pytest.raises(ImageRefError, match="is not an image reference"):
        ImageRef.parse(ref)


def test_plain_name_is_an_official_docker_hub_image() -> None:
    ref = ImageRef.parse("ubuntu")
    assert ref == ImageRef("docker.io", "library/ubuntu", "latest", None)
    assert ref.familiar == "ubuntu:latest"
    assert ref.qualified == "docker.io/library/ubuntu:latest"
    assert ref.familiar_name == "ubuntu"


@pytest.mark.parametrize(("ref", "registry", "repository", "tag"), [
    ("127.0.0.1:5000/team/img", "127.0.0.1:5000", "team/img", "latest"),
    ("localhost/img:1", "localhost", "img", "1"),
    ("localhost:5000/img", "localhost:5000", "img", "latest"),
    ("team/img:2", "docker.io", "team/img", "2"),  # `team` has no `.` or `:`: not a host
    ("nvcr.io/nvidia/pytorch:24.01-py3", "nvcr.io", "nvidia/pytorch", "24.01-py3"),
])
def test_registry_detection(ref: str, registry: str, repository: str, tag: str) -> None:
    parsed = ImageRef.parse(ref)
    assert (parsed.registry, parsed.repository, parsed.tag) == (registry, repository, tag)


def test_digest_without_tag_has_no_tag() -> None:
    ref = ImageRef.parse(f"127.0.0.1:5000/team/img@{DIGEST}")
    assert ref.tag is None and ref.digest == DIGEST
    assert ref.familiar == f"127.0.0.1:5000/team/img@{DIGEST}"


def test_familiar_name_is_what_client_tag_needs() -> None:
    ref = ImageRef.parse("127.0.0.1:5000/a/b:t")
    assert (ref.familiar_name, ref.tag) == ("127.0.0.1:5000/a/b", "t")
    assert ImageRef.parse("envspec-itest/x").familiar_name == "envspec-itest/x"


@pytest.mark.parametrize("ref", ["ubuntu@sha256:" + "AB" * 32, "ubuntu@md5:" + "ab" * 16,
                                 "ubuntu@sha256:" + "ab" * 33])
def test_digests_the_engine_would_refuse_are_refused(ref: str) -> None:
    with pytest.raises(ImageRefError, match="bad digest"):
        ImageRef.parse(ref)


def test_sha512_digest() -> None:
    assert ImageRef.parse("ubuntu@sha512:" + "ab" * 64).digest == "sha512:" + "ab" * 64


# ---------------------------------------------------------------- users of ImageRef


def test_push_destination_takes_its_own_tag_else_the_image_tag_else_latest() -> None:
    from envspec.push import _destination

    assert _destination("envspec/x:abc", "127.0.0.1:5000/team/x:v1").familiar == "127.0.0.1:5000/team/x:v1"
    assert _destination("envspec/x:abc", "127.0.0.1:5000/team/x").familiar == "127.0.0.1:5000/team/x:abc"
    assert _destination("sha256:" + "ab" * 32, "localhost/x").familiar == "localhost/x:" + "ab" * 32
    assert _destination("not an image", "localhost/x").familiar == "localhost/x:latest"


@pytest.mark.parametrize(("repository", "message"), [
    ("127.0.0.1:5000/Team/x", "lower case"),
    (f"localhost/x@{DIGEST}", "cannot push to a digest"),
])
def test_push_destination_errors_are_envspec_errors(repository: str, message: str) -> None:
    from envspec.errors import EnvspecError
    from envspec.push import _destination

    with pytest.raises(EnvspecError, match=message):
        _destination("envspec/x:abc", repository)


@pytest.mark.parametrize("image", [
    "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",
    "docker.io/nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",
    "index.docker.io/nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",
])
def test_explicit_nvidia_cuda_image_is_known_however_spelled(write_spec: Any, image: str) -> None:
    from envspec.loader import load_spec
    from envspec.resolve import resolve

    result = resolve(load_spec(write_spec(f"name: t\nbase:\n  image: {image}\n")))
    assert (result.base.cuda, result.base.flavor, result.base.distro.id) == ("12.4.1", "devel", "ubuntu22.04")


def test_a_registry_host_says_nothing_about_the_os(write_spec: Any) -> None:
    from envspec.errors import SpecError
    from envspec.loader import load_spec
    from envspec.resolve import resolve

    with pytest.raises(SpecError) as caught:
        resolve(load_spec(write_spec("name: t\nbase:\n  image: ubuntu22.04.example.com/team/img:1\n")))
    assert [d.code for d in caught.value.diagnostics] == ["base.os-unknown"]
    guessed = resolve(load_spec(write_spec("name: t\nbase:\n  image: 127.0.0.1:5000/team/debian:bookworm\n")))
    assert guessed.base.distro.id == "debian12"


def test_an_invalid_base_image_is_a_located_spec_error(write_spec: Any) -> None:
    from envspec.errors import SpecError
    from envspec.loader import load_spec

    with pytest.raises(SpecError) as caught:
        load_spec(write_spec("name: t\nbase:\n  os: debian12\n  image: 'Team/img:1'\n"))
    [error] = caught.value.diagnostics
    assert error.location is not None and (error.location.line, error.location.key) == (4, "base.image")
    assert "lower case" in error.message


@pytest.mark.parametrize(("ref", "url"), [
    ("ubuntu:22.04", "https://registry-1.docker.io"),
    ("nvcr.io/nvidia/pytorch:24.01-py3", "https://nvcr.io"),
    ("127.0.0.1:5000/team/img", "http://127.0.0.1:5000"),
    ("localhost/img:1", "http://localhost"),
    ("localhost:5000/img", "http://localhost:5000"),
    ("[::1]:5000/img", "http://[::1]:5000"),
    ("registry.example.com:5000/img", "https://registry.example.com:5000"),
])
def test_registry_url_for_lock_refresh(ref: str, url: str) -> None:
    from envspec.lock_refresh import registry_url

    assert registry_url(ImageRef.parse(ref)) == url


def test_a_reference_with_a_digest_needs_no_registry() -> None:
    from envspec.lock_refresh import registry_digest

    assert registry_digest(ImageRef.parse(f"localhost/img:1@{DIGEST}"), "http://127.0.0.1:9") == DIGEST
