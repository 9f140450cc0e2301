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
