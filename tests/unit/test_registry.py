"""The registry client and tools/refresh_catalog.py against a real local HTTP server."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from envspec.catalog import parse_cuda_images
from envspec.errors import EnvspecError
from envspec.registry import (
    MANIFEST_MEDIA_TYPES,
    RegistryAuthError,
    RegistryClient,
    RegistryError,
    RegistryUnavailableError,
    RepositoryNotFoundError,
    next_page_url,
    parse_bearer_challenge,
)

TOKEN = "anon-token-123"
TAGS = ["11.0.3-base-ubuntu20.04", "12.4.1-cudnn-devel-ubuntu22.04", "13.9.0-base-ubuntu24.04",
        "13.0.0-tensorrt-devel-ubuntu24.04", "12.6.3-runtime-ubuntu24.04"]
INDEX_DIGEST = "sha256:" + "ab" * 32
RAW_MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}'


class FakeRegistry(BaseHTTPRequestHandler):
    """Answers like Docker Hub does, in miniature; records what it was asked."""

    log: ClassVar[list[tuple[str, str, dict[str, str]]]] = []
    token_calls: ClassVar[int] = 0

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self._route("GET")

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, doc: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(doc).encode(), {"Content-Type": "application/json",
                                                     **(headers or {})})

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        type(self).log.append((method, self.path, dict(self.headers.items())))
        if url.path == "/token":
            return self._token(query)
        if url.path == "/slow/v2/x/tags/list":
            time.sleep(1.0)
            return self._json(200, {"tags": []})
        if url.path.startswith("/basic/"):
            return self._send(401, b"", {"WWW-Authenticate": 'Basic realm="x"'})
        if url.path == "/v2/broken/repo/tags/list":
            return self._json(503, {"errors": [{"code": "UNAVAILABLE"}]})
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._challenge(url.path)
        if url.path == "/v2/nvidia/cuda/tags/list":
            return self._tags(query)
        if url.path.startswith("/v2/nvidia/cuda/manifests/"):
            return self._manifest(method, url.path.rsplit("/", 1)[1])
        return self._json(404, {"errors": [{"code": "NAME_UNKNOWN"}]})

    def _challenge(self, path: str) -> None:
        repo = path.removeprefix("/v2/").split("/tags/")[0].split("/manifests/")[0]
        host = f"http://127.0.0.1:{self.server.server_address[1]}"
        challenge = (f'Bearer realm="{host}/token",service="fake-registry",'
                     f'scope="repository:{repo}:pull"')
        self._json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, {"WWW-Authenticate": challenge})

    def _token(self, query: dict[str, str]) -> None:
        type(self).token_calls += 1
        if query.get("service") != "fake-registry" or "private" in query.get("scope", ""):
            return self._json(401, {"details": "access denied"})
        self._json(200, {"token": TOKEN, "expires_in": 300})

    def _tags(self, query: dict[str, str]) -> None:
        n = int(query.get("n", "100"))
        start = TAGS.index(query["last"]) + 1 if "last" in query else 0
        page = TAGS[start:start + n]
        headers = {}
        if start + n < len(TAGS):  # relative Link, as Docker Hub sends it
            headers["Link"] = f'</v2/nvidia/cuda/tags/list?last={page[-1]}&n={n}>; rel="next"'
        self._json(200, {"name": "nvidia/cuda", "tags": page}, headers)

    def _manifest(self, method: str, tag: str) -> None:
        accept = self.headers.get("Accept", "")
        if tag == "head-refused" and method == "HEAD":
            return self._send(405)
        if tag == "head-refused":
            return self._send(200, RAW_MANIFEST, {"Content-Type": MANIFEST_MEDIA_TYPES[0]})
        if tag not in TAGS:
            return self._json(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        if MANIFEST_MEDIA_TYPES[0] not in accept:
            return self._json(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        self._send(200, RAW_MANIFEST, {"Docker-Content-Digest": INDEX_DIGEST,
                                      "Content-Type": MANIFEST_MEDIA_TYPES[0]})


class QuietServer(ThreadingHTTPServer):
    """Clients that time out on purpose hang up early; that is not worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@pytest.fixture()
def registry() -> Iterator[str]:
    FakeRegistry.log = []
    FakeRegistry.token_calls = 0
    server = QuietServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ---------------------------------------------------------------- parsing helpers


def test_parse_bearer_challenge() -> None:
    header = 'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"'
    assert parse_bearer_challenge(header) == {
        "realm": "https://auth.example/token", "service": "reg", "scope": "repository:a/b:pull",
    }
    assert parse_bearer_challenge('Basic realm="x"') is None


def test_next_page_url_resolves_relative_links() -> None:
    link = '</v2/a/tags/list?last=x&n=2>; rel="next"'
    assert next_page_url(link, "http://h:1/v2/a/tags/list?n=2") == "http://h:1/v2/a/tags/list?last=x&n=2"
    assert next_page_url(None, "http://h/") is None


# ---------------------------------------------------------------- client


def test_list_tags_authenticates_and_follows_pagination(registry: str) -> None:
    client = RegistryClient(registry, timeout=5, page_size=2)
    assert client.list_tags("nvidia/cuda") == TAGS
    assert FakeRegistry.token_calls == 1  # the token is cached across pages
    pages = [p for m, p, _ in FakeRegistry.log if "/tags/list" in p]
    assert len(pages) == 1 + 3  # one challenged request, then three pages


def test_token_request_carries_service_and_scope(registry: str) -> None:
    RegistryClient(registry, timeout=5).list_tags("nvidia/cuda")
    token_path = next(p for _, p, _ in FakeRegistry.log if p.startswith("/token"))
    query = parse_qs(urlsplit(token_path).query)
    assert query == {"service": ["fake-registry"], "scope": ["repository:nvidia/cuda:pull"]}


def test_manifest_digest_uses_head_and_accepts_indexes(registry: str) -> None:
    client = RegistryClient(registry, timeout=5)
    assert client.manifest_digest("nvidia/cuda", "12.4.1-cudnn-devel-ubuntu22.04") == INDEX_DIGEST
    method, _, headers = FakeRegistry.log[-1]
    assert method == "HEAD"
    for media_type in MANIFEST_MEDIA_TYPES:
        assert media_type in headers["Accept"]


def test_manifest_digest_missing_tag_is_none(registry: str) -> None:
    client = RegistryClient(registry, timeout=5)
    assert client.manifest_digest("nvidia/cuda", "10.2-cudnn7-devel-ubuntu18.04") is None


def test_manifest_digest_falls_back_to_get_and_hashes_body(registry: str) -> None:
    import hashlib

    client = RegistryClient(registry, timeout=5)
    expected = "sha256:" + hashlib.sha256(RAW_MANIFEST).hexdigest()
    assert client.manifest_digest("nvidia/cuda", "head-refused") == expected


def test_unknown_repository(registry: str) -> None:
    with pytest.raises(RepositoryNotFoundError):
        RegistryClient(registry, timeout=5).list_tags("nvidia/nothing")


def test_private_repository_is_an_auth_error(registry: str) -> None:
    with pytest.raises(RegistryAuthError) as info:
        RegistryClient(registry, timeout=5).list_tags("acme/private")
    assert isinstance(info.value, EnvspecError)
    assert info.value.hint


def test_basic_auth_challenge_is_refused(registry: str) -> None:
    with pytest.raises(RegistryAuthError):
        RegistryClient(f"{registry}/basic", timeout=5).list_tags("nvidia/cuda")


def test_server_error_is_unavailable(registry: str) -> None:
    with pytest.raises(RegistryUnavailableError) as info:
        RegistryClient(registry, timeout=5).list_tags("broken/repo")
    assert info.value.status == 503


def test_timeout_is_typed(registry: str) -> None:
    with pytest.raises(RegistryUnavailableError):
        RegistryClient(f"{registry}/slow", timeout=0.2).list_tags("x")


def test_connection_refused_is_typed() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RegistryUnavailableError):
        RegistryClient(f"http://127.0.0.1:{port}", timeout=2).list_tags("nvidia/cuda")


@pytest.mark.parametrize("repo, tag", [("Bad Repo", "x"), ("nvidia/cuda", "../../etc"),
                                       ("nvidia/cuda", "")])
def test_invalid_names_are_rejected_before_any_request(repo: str, tag: str) -> None:
    with pytest.raises(RegistryError):
        RegistryClient("http://127.0.0.1:9", timeout=1).manifest_digest(repo, tag)


def test_docker_hub_official_images_get_library_prefix() -> None:
    client = RegistryClient()
    assert client._repository("ubuntu") == "library/ubuntu"
    assert client._repository("nvidia/cuda") == "nvidia/cuda"


def test_non_http_base_url_is_rejected() -> None:
    with pytest.raises(RegistryError):
        RegistryClient("file:///etc")


# ---------------------------------------------------------------- tools/refresh_catalog.py


def _load_refresh_tool() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "tools" / "refresh_catalog.py"
    spec = importlib.util.spec_from_file_location("refresh_catalog", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SMALL_CATALOG = """\
# test catalog
images:
  - {cuda: '11.0.3', os: ubuntu20.04, status: supported, last_seen: '2025-12-15',
     variants: [base, devel]}
  - {cuda: '10.2', os: ubuntu18.04, status: deleted, last_seen: '2023-04-28', variants: [base]}
  - {cuda: '12.4.1', os: ubuntu22.04, status: supported, last_seen: '2025-12-15',
     variants: [cudnn-devel]}
  - {cuda: '12.6.3', os: ubuntu24.04, status: deleted, last_seen: '2025-01-01', variants: [runtime]}
"""


def test_refresh_catalog_against_local_registry(registry: str, tmp_path: Path) -> None:
    catalog = tmp_path / "cuda_images.yaml"
    catalog.write_text(SMALL_CATALOG, encoding="utf-8")
    tool = _load_refresh_tool()
    argv = ["--registry", registry, "--catalog", str(catalog), "--today", "2026-11-28"]
    assert tool.main(argv) == 0

    text = catalog.read_text(encoding="utf-8")
    assert text.startswith("# test catalog\n# Last refresh: 2026-11-28")
    images = {img.tag: img for img in parse_cuda_images(text)}
    present = images["11.0.3-base-ubuntu20.04"]
    assert (present.status, present.last_seen) == ("supported", "2026-11-28")
    assert present.deleted_on is None
    gone = images["11.0.3-devel-ubuntu20.04"]
    assert (gone.status, gone.last_seen, gone.deleted_on) == ("deleted", "2025-12-15", "2026-11-28")
    assert images["10.2-base-ubuntu18.04"].deleted_on is None  # gone before refreshes existed
    assert images["12.6.3-runtime-ubuntu24.04"].status == "eol"  # back again
    assert images["13.9.0-base-ubuntu24.04"].status == "unverified"  # new upstream tag
    assert "13.0.0-tensorrt-devel-ubuntu24.04" not in images  # not a cuda/flavor/os tag

    assert tool.main(argv) == 0  # idempotent
    assert catalog.read_text(encoding="utf-8") == text


def test_refresh_catalog_refuses_an_implausible_listing(registry: str, tmp_path: Path) -> None:
    catalog = tmp_path / "cuda_images.yaml"
    stale = SMALL_CATALOG.replace("11.0.3", "11.0.2").replace("12.4.1", "12.4.0")
    catalog.write_text(stale)
    tool = _load_refresh_tool()
    assert tool.main(["--registry", registry, "--catalog", str(catalog)]) == 1
    assert catalog.read_text() == stale


def test_refresh_catalog_reports_registry_errors(tmp_path: Path) -> None:
    catalog = tmp_path / "cuda_images.yaml"
    catalog.write_text(SMALL_CATALOG)
    tool = _load_refresh_tool()
    assert tool.main(["--registry", "http://127.0.0.1:9", "--catalog", str(catalog),
                      "--timeout", "1"]) == 1


# ---------------------------------------------------------------- envspec lock --refresh


def test_lock_refresh_pins_the_base_image_by_digest(registry: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from envspec.cli import _register_commands, cli

    _register_commands()
    spec = tmp_path / "env.yaml"
    spec.write_text("name: pinned\nbase:\n  os: ubuntu22.04\n  cuda: '12.4'\n  flavor: devel\n"
                    "  cudnn: true\n")
    runner = CliRunner()
    locked = runner.invoke(cli, ["lock", str(spec), "--refresh", "--registry", registry])
    assert locked.exit_code == 0, locked.output
    assert f"base_digest: {INDEX_DIGEST}" in (tmp_path / "env.lock").read_text()
    rendered = runner.invoke(cli, ["render", str(spec), "--locked"])
    assert rendered.exit_code == 0, rendered.output
    assert f"FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04@{INDEX_DIGEST}" in rendered.stdout
