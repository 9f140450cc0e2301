"""Pushing a built image to a registry, with streamed status and a typed error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from envspec.build import split_ref, translate_docker_error
from envspec.errors import EnvspecError, ExitCode
from envspec.progress import BuildFinished, EventCallback, LogLine, ignore_event

if TYPE_CHECKING:
    from docker import APIClient

_DIGEST_LINE = re.compile(r"digest: (sha256:[0-9a-f]{64})")


class PushError(EnvspecError):
    """The registry refused or could not take the image."""

    exit_code = ExitCode.BUILD_FAILED


def _hint(message: str, registry: str) -> str | None:
    text = message.lower()
    if "connection refused" in text or "no such host" in text or "dial tcp" in text:
        return f"the registry {registry} is not reachable: check its address and that it runs"
    if any(
        w in text for w in ("unauthorized", "authentication required", "denied", "no basic auth")
    ):
        return f"log in first: `docker login {registry}` (or check your rights on the repository)"
    if "http response to https client" in text:
        return (
            f"{registry} speaks plain HTTP: add it to `insecure-registries` in "
            "/etc/docker/daemon.json and restart the engine (loopback addresses need not be)"
        )
    return None


def _registry_of(repository: str) -> str:
    first = repository.split("/", 1)[0]
    has_host = "/" in repository and ("." in first or ":" in first or first == "localhost")
    return first if has_host else "docker.io"


def push(
    client: APIClient,
    image_tag: str,
    repository: str,
    *,
    on_event: EventCallback = ignore_event,
) -> str:
    """Tag `image_tag` as `repository` (which may carry its own `:tag`, else the image's tag or
    `latest` is used), push it, and return the manifest digest the registry reported."""
    import docker.errors

    repo, tag = split_ref(repository)
    tag = tag or split_ref(image_tag)[1] or "latest"
    target = f"{repo}:{tag}"
    try:
        client.tag(image_tag, repo, tag)
        digest = _stream_push(
            client.push(repo, tag=tag, stream=True, decode=True), target, on_event
        )
    except (docker.errors.DockerException, OSError) as exc:
        raise translate_docker_error(exc) from exc
    on_event(BuildFinished(ok=True, detail=f"{target}@{digest}", tags=(target,)))
    return digest


def _stream_push(chunks: Any, target: str, on_event: EventCallback) -> str:
    digest: str | None = None
    last_status: dict[str, str] = {}
    for chunk in chunks:
        if not isinstance(chunk, Mapping):
            continue
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            message = str(detail.get("message") or chunk.get("error") or "push failed")
            on_event(BuildFinished(ok=False, detail=message))
            raise PushError(
                f"pushing {target} failed: {message}", hint=_hint(message, _registry_of(target))
            )
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and aux.get("Digest"):
            digest = str(aux["Digest"])
        status = str(chunk.get("status") or "")
        if status:
            match = _DIGEST_LINE.search(status)
            digest = digest or (match[1] if match else None)
            layer = str(chunk.get("id") or "")
            # One line per change of a layer's status, not per progress tick.
            if last_status.get(layer) != status:
                last_status[layer] = status
                on_event(LogLine(f"{layer}: {status}" if layer else status))
    if digest is None:
        raise PushError(f"pushing {target} ended without a digest from the registry")
    return digest
