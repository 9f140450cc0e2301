"""The socket look-up behind the no-op rebuild, against a real HTTP server on a unix socket."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from envspec.engine import local_image_id


class Engine(BaseHTTPRequestHandler):
    def address_string(self) -> str:  # unix sockets have no client address
        return "local"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/images/envspec%2Fx%3Aabc/json":
            body, status = json.dumps({"Id": "sha256:123"}).encode(), 200
        elif "broken" in self.path:
            body, status = b"{}", 500
        else:
            body, status = b'{"message":"no such image"}', 404
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "docker.sock"
    server = UnixServer(str(path), Engine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    yield path
    server.shutdown()
    server.server_close()


def test_existing_image(engine: Path) -> None:
    assert local_image_id("envspec/x:abc") == "sha256:123"


def test_missing_image(engine: Path) -> None:
    assert local_image_id("envspec/x:other") is None


def test_unexpected_answer_is_not_a_verdict(engine: Path) -> None:
    with pytest.raises(LookupError):
        local_image_id("envspec/broken:1")


def test_no_socket_or_tcp_host_is_not_a_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    with pytest.raises(LookupError):
        local_image_id("envspec/x:abc")
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    with pytest.raises(LookupError):
        local_image_id("envspec/x:abc")


class EveryImageEngine(Engine):
    def do_GET(self) -> None:
        body = json.dumps({"Id": "sha256:456"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_no_op_build_neither_builds_nor_imports_docker_py(tmp_path: Path) -> None:
    """An image with the content tag exists: ensure_image returns without the builder and
    without loading docker-py (the whole point of the stdlib look-up)."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    path = tmp_path / "docker.sock"
    server = UnixServer(str(path), EveryImageEngine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    code = (
        "import sys; from pathlib import Path; from envspec.pipeline import ensure_image; "
        "built = ensure_image(Path(sys.argv[1])); "
        "print(built.built, 'docker' in sys.modules, built.image.startswith('envspec/'))"
    )
    spec = str(REPO / "examples" / "cpu-debian" / "env.yaml")
    try:
        done = subprocess.run([sys.executable, "-c", code, spec], capture_output=True, text=True,
                              env={**os.environ, "DOCKER_HOST": f"unix://{path}"}, timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    assert done.stdout.split() == ["False", "False", "True"], done.stderr
