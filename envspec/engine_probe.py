"""A stdlib-only look-up of a local image over the Docker socket, for the no-op rebuild.

Importing docker-py (and requests under it) costs more than the whole look-up. An unchanged
spec only needs one question answered — does the engine have this tag? — so it is asked here
directly; any answer other than a clear yes or no falls back to docker-py, which reports
problems properly.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse

DEFAULT_SOCKET = "/var/run/docker.sock"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _socket_path() -> str | None:
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    return host.removeprefix("unix://") if host.startswith("unix://") else None


def local_image_id(tag: str, *, timeout: float = 2.0) -> str | None:
    """The image id for `tag` if the local engine has it; None when it surely does not.

    Raises LookupError when the question could not be answered (no socket, TCP DOCKER_HOST,
    an unexpected reply): the caller then goes the ordinary way.
    """
    path = _socket_path()
    if path is None:
        raise LookupError("DOCKER_HOST is not a unix socket")
    connection = _UnixConnection(path, timeout)
    try:
        connection.request("GET", f"/images/{urllib.parse.quote(tag, safe='')}/json")
        response = connection.getresponse()
        body = response.read()
    except OSError as err:
        raise LookupError(str(err)) from err
    finally:
        connection.close()
    if response.status == 404:
        return None
    if response.status != 200:
        raise LookupError(f"engine answered {response.status}")
    return str(json.loads(body)["Id"])
