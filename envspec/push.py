"""Pushing a built image to a registry, with streamed status and a typed error."""

from __future__ import annotations

import dataclasses
import re
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from envspec.errors import EnvspecError, ExitCode, UsageError
from envspec.imageref import DEFAULT_TAG, DOCKER_HUB, ImageRef, ImageRefError
from envspec.progress import BuildFinished, EventCallback, LogLine, ignore_event

if TYPE_CHECKING:
    from envspec.engine import Engine

_DIGEST_LINE = re.compile(r"digest: (sha256:[0-9a-f]{64})")


class PushError(EnvspecError):
    """The registry refused or could not take the image."""

    exit_code = ExitCode.REGISTRY_FAILED


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


def push(
    engine: Engine,
    image_tag: str,
    repository: str,
    *,
    on_event: EventCallback = ignore_event,
) -> str:
    """Tag `image_tag` as `repository` (which may carry its own `:tag`, else the image's tag or
    `latest` is used), push it, and return the manifest digest the registry reported."""
    destination = _destination(image_tag, repository)
    repo, tag, target = destination.familiar_name, destination.tag or DEFAULT_TAG, destination.familiar
    engine.tag(image_tag, target)
    digest = _stream_push(engine.push(repo, tag), target, destination.registry, on_event)
    on_event(BuildFinished(ok=True, detail=f"{target}@{digest}", tags=(target,)))
    return digest


def _destination(image_tag: str, repository: str) -> ImageRef:
    """`repository` with its own tag, else `image_tag`'s, else `latest`."""
    try:
        destination = ImageRef.parse(repository, default_tag=None)
    except ImageRefError as err:
        raise UsageError(str(err), hint="give a repository like registry:port/name[:tag]") from None
    if destination.digest is not None:
        raise UsageError(f"cannot push to a digest ({repository})",
                           hint="a digest names existing content; push to a tag instead")
    if destination.tag is None:
        tag = _tag_of(image_tag) or DEFAULT_TAG
        destination = dataclasses.replace(destination, tag=tag)
    return destination


def _tag_of(image: str) -> str | None:
    try:
        return ImageRef.parse(image, default_tag=None).tag
    except ImageRefError:
        return None  # an image id, or a name the engine resolves: it lends no tag


def _fail_if_gone(target: str, registry: str, on_event: EventCallback) -> None:
    """The engine retries a failed upload for about a minute, even when the registry has gone
    away: when it no longer accepts connections, say so now instead."""
    host, _, port = registry.rpartition(":") if ":" in registry else (registry, "", "443")
    if registry == DOCKER_HUB:
        host, port = "registry-1.docker.io", "443"
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except (OSError, ValueError) as err:
        message = f"the registry {registry} went away during the push ({err})"
        on_event(BuildFinished(ok=False, detail=message))
        raise PushError(f"pushing {target} failed: {message}",
                        hint=_hint("connection refused", registry)) from err


def _stream_push(chunks: Any, target: str, registry: str, on_event: EventCallback) -> str:
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
                f"pushing {target} failed: {message}", hint=_hint(message, registry)
            )
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and aux.get("Digest"):
            digest = str(aux["Digest"])
        status = str(chunk.get("status") or "")
        if status.startswith("Retrying in"):
            _fail_if_gone(target, registry, on_event)
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
