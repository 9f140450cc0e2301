"""Fixtures for tests against a real Docker engine and the services .ci/run starts.

Everything here skips with a reason when the engine (or a base image, or a service) is missing,
and FAILS instead when ENVSPEC_REQUIRE_DOCKER=1, so CI cannot pass by skipping.
Every test in tests/integration is marked `docker`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BASE_IMAGE = "envspec-test/debian:bookworm"
BASE_IMAGE_DEB822 = "envspec-test/debian:bookworm-deb822"
APT_CACHER = "127.0.0.1:3142"
REGISTRY = "127.0.0.1:5000"
SETUP_HINT = "run .ci/run as root (or see /work/shared/docs/TEST-ENVIRONMENT.md) to set it up"


def docker_required() -> bool:
    return os.environ.get("ENVSPEC_REQUIRE_DOCKER", "") not in ("", "0")


def unavailable(reason: str) -> None:
    """Skip, or fail when ENVSPEC_REQUIRE_DOCKER=1."""
    if docker_required():
        pytest.fail(f"{reason} (ENVSPEC_REQUIRE_DOCKER=1, so this fails instead of skipping)")
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.docker)


def _http_up(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=3)
    except urllib.error.HTTPError as err:
        return err.code < 500
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def engine() -> Any:
    """A connected `envspec.engine.Engine`."""
    from envspec.engine import Engine
    from envspec.errors import DockerUnavailableError

    try:
        return Engine.connect()
    except DockerUnavailableError as err:
        unavailable(f"no Docker engine: {err.message}; {SETUP_HINT}")


@pytest.fixture(scope="session")
def docker_client(engine: Any) -> Any:
    """The engine's docker-py APIClient, for tests that look at the engine directly."""
    return engine.api


def _require_image(client: Any, tag: str) -> str:
    from envspec.engine import Engine

    if Engine(client).image_id(tag) is None:
        unavailable(f"base image {tag} is missing; {SETUP_HINT}")
    return tag


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    """debootstrap'ed bookworm (minbase) with a one-line /etc/apt/sources.list."""
    return _require_image(docker_client, BASE_IMAGE)


@pytest.fixture(scope="session")
def base_image_deb822(docker_client: Any) -> str:
    """The same rootfs with /etc/apt/sources.list.d/debian.sources instead."""
    return _require_image(docker_client, BASE_IMAGE_DEB822)


def host_debian_archive() -> str:
    """This machine's own Debian archive URL (for the release's codename), from its apt sources."""
    codename = next(
        (
            line.split("=", 1)[1].strip().strip('"')
            for line in Path("/etc/os-release").read_text().splitlines()
            if line.startswith("VERSION_CODENAME=")
        ),
        "bookworm",
    )
    uris: list[str] = []
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
        if os.path.exists(path):
            for line in Path(path).read_text().splitlines():
                words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == codename:
                    uris.append(words[1])
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", Path(path).read_text()):
            fields = {
                k.strip().lower(): v.split()
                for k, _, v in (ln.partition(":") for ln in stanza.splitlines())
                if v and not k.startswith("#")
            }
            if "deb" in fields.get("types", []) and codename in fields.get("suites", []):
                uris.extend(fields.get("uris", []))
    if not uris:
        pytest.skip(f"no deb source for {codename} in this machine's apt sources")
    return uris[0].rstrip("/")


@dataclass(frozen=True)
class AptCacher:
    """The running apt-cacher-ng. Builds reach it only with network="host"."""

    url: str  # http://127.0.0.1:3142
    log_path: Path  # its access log: one line per file it served
    archive: str  # this machine's Debian archive, e.g. http://<host>/debian

    @property
    def mirror_url(self) -> str:
        """The archive through the cache: http://127.0.0.1:3142/<host>/<path>."""
        return f"{self.url}/{self.archive.split('://', 1)[1]}"

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")


def _acng_log_dir() -> Path:
    conf = Path("/etc/apt-cacher-ng/acng.conf")
    if conf.exists():
        for line in conf.read_text().splitlines():
            if line.strip().lower().startswith("logdir:"):
                return Path(line.split(":", 1)[1].strip())
    return Path("/var/log/apt-cacher-ng")


@pytest.fixture(scope="session")
def apt_cacher() -> AptCacher:
    url = f"http://{APT_CACHER}"
    if not _http_up(f"{url}/acng-report.html"):
        unavailable(f"apt-cacher-ng does not answer on {APT_CACHER}; {SETUP_HINT}")
    return AptCacher(url, _acng_log_dir() / "apt-cacher.log", host_debian_archive())


@pytest.fixture(scope="session")
def local_registry() -> str:
    """host:port of the running docker-registry (plain HTTP; loopback is trusted by dockerd)."""
    if not _http_up(f"http://{REGISTRY}/v2/"):
        unavailable(f"docker-registry does not answer on {REGISTRY}; {SETUP_HINT}")
    return REGISTRY


@pytest.fixture
def unique_name() -> str:
    """A repository-safe name no other test run uses."""
    return f"itest-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def image_cleanup(docker_client: Any) -> Iterator[list[str]]:
    """Append image refs or ids; they are removed (forced) after the test."""
    refs: list[str] = []
    yield refs
    for ref in reversed(refs):
        with contextlib.suppress(Exception):  # already gone: nothing to do
            docker_client.remove_image(ref, force=True, noprune=False)


def own_containers(client: Any, marker: str) -> list[dict[str, Any]]:
    """The engine's containers, running or not, whose command carries `marker`. Other builds
    share the engine: a test puts a marker of its own (`unique_name`) into every step that
    makes a container and looks only at those, never at the engine's whole list."""
    return [c for c in client.containers(all=True, trunc=False) if marker in c["Command"]]
