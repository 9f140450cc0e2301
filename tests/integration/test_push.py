"""Push → rmi → pull round trips through the local docker-registry."""

from __future__ import annotations

from typing import Any

import pytest

from envspec.build import BuildRequest, DockerPyBuilder
from envspec.context_tar import ContextEntry, ContextTar
from envspec.engine import Engine, ImageNotFoundError
from envspec.progress import BuildEvent, LogLine
from envspec.push import PushError, push

pytestmark = pytest.mark.docker


def build(engine: Engine, dockerfile: str, tag: str) -> str:
    context = ContextTar.from_entries({"Dockerfile": ContextEntry(dockerfile.encode())})
    return DockerPyBuilder(engine).build(BuildRequest(context, (tag,))).image_id


def test_push_rmi_pull_round_trip_keeps_the_digest(
    engine: Engine,
    docker_client: Any,
    base_image: str,
    local_registry: str,
    unique_name: str,
    image_cleanup: list[str],
) -> None:
    local = f"envspec-itest/{unique_name}:v1"
    remote = f"{local_registry}/envspec-itest/{unique_name}"
    image_cleanup.extend([local, f"{remote}:v1"])
    built_id = build(engine, f"FROM {base_image}\nRUN echo {unique_name} > /id\n", local)
    events: list[BuildEvent] = []

    digest = push(engine, local, remote, on_event=events.append)

    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert any(isinstance(e, LogLine) and "Pushed" in e.text for e in events)
    docker_client.remove_image(f"{remote}:v1")
    docker_client.remove_image(local)
    assert engine.image_id(built_id) is None, "the image must really be gone"

    pulled = [c for c in docker_client.pull(remote, tag="v1", stream=True, decode=True)]
    statuses = " ".join(str(c.get("status", "")) for c in pulled)
    assert f"Digest: {digest}" in statuses
    image = docker_client.inspect_image(f"{remote}:v1")
    assert f"{remote}@{digest}" in image["RepoDigests"]
    assert image["Id"] == built_id


def test_push_with_explicit_tag(
    engine: Engine,
    docker_client: Any,
    base_image: str,
    local_registry: str,
    unique_name: str,
    image_cleanup: list[str],
) -> None:
    local = f"envspec-itest/{unique_name}:abc"
    target = f"{local_registry}/envspec-itest/{unique_name}:release"
    image_cleanup.extend([local, target])
    build(engine, f"FROM {base_image}\nLABEL test={unique_name}\n", local)
    digest = push(engine, local, target)
    assert docker_client.inspect_image(target)["RepoDigests"] == [
        f"{local_registry}/envspec-itest/{unique_name}@{digest}"
    ]


def test_push_to_a_dead_registry_is_a_push_error(
    engine: Engine, base_image: str, unique_name: str, image_cleanup: list[str]
) -> None:
    target = f"127.0.0.1:5999/envspec-itest/{unique_name}:x"
    image_cleanup.append(target)
    with pytest.raises(PushError) as caught:
        push(engine, base_image, target)
    assert "connection refused" in caught.value.message
    assert caught.value.hint and "127.0.0.1:5999" in caught.value.hint


def test_push_of_a_missing_image_is_image_not_found(
    engine: Engine, local_registry: str, unique_name: str
) -> None:
    with pytest.raises(ImageNotFoundError):
        push(engine, f"envspec-itest/{unique_name}:missing", f"{local_registry}/x/y")
