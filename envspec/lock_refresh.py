"""`envspec lock --refresh`: the digest a base image's tag points to now, asked of its registry."""

from __future__ import annotations

import ipaddress

from envspec.imageref import ImageRef
from envspec.registry import DOCKER_HUB_REGISTRY, RegistryClient, RegistryError


def registry_url(ref: ImageRef) -> str:
    """The API base URL of `ref`'s registry. Loopback registries speak plain HTTP, as dockerd
    assumes (it trusts 127.0.0.0/8 as an insecure registry by default); others HTTPS."""
    if ref.on_docker_hub:
        return DOCKER_HUB_REGISTRY
    scheme = "http" if _is_loopback(ref.registry) else "https"
    return f"{scheme}://{ref.registry}"


def _is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.endswith("]") else registry
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def registry_digest(ref: ImageRef, registry: str | None = None) -> str:
    """The manifest digest `ref` resolves to (a reference that already names a digest keeps it).

    `registry` overrides the API base URL (a mirror, or a registry reached under another name);
    the repository asked for is still `ref.repository`. Registry failures raise `RegistryError`.
    """
    if ref.digest is not None:
        return ref.digest
    tag = ref.tag or "latest"
    base_url = registry or registry_url(ref)
    digest = RegistryClient(base_url).manifest_digest(ref.repository, tag)
    if digest is None:
        raise RegistryError(f"the registry does not have {ref.familiar}", url=base_url,
                            status=404, hint="`envspec explain` shows why this tag was chosen")
    return digest
