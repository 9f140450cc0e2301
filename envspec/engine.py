"""The engine room: the only module that talks to the container engine (docker-py).

Everything else asks an `Engine` — images (id, tag, push, remove), builds (the classic
builder's stream), containers (create, start, wait, logs, exec, stop, remove) — and gets typed
envspec errors, all made by `translate_docker_error`. The `Engine` class is the seam for another
engine API later (Podman). docker-py is imported lazily, inside methods: `envspec --help`,
`render` and `validate` never load it; neither does the no-op rebuild, which asks
`local_image_id` over the socket with the standard library only.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from envspec.errors import DockerUnavailableError, EnvspecError, ExitCode

if TYPE_CHECKING:
    from docker import APIClient

DEFAULT_SOCKET_PATH = "/var/run/docker.sock"
DEFAULT_SOCKET = f"unix://{DEFAULT_SOCKET_PATH}"
_HINT_CHECK_DAEMON = (
    "check the engine with `docker info`; start it with `sudo systemctl start docker` "
    "(or `sudo dockerd &` where there is no systemd); if it listens elsewhere, set DOCKER_HOST"
)


class DockerEngineError(EnvspecError):
    """The engine answered, but refused or failed a request (other than a build step)."""

    exit_code = ExitCode.ENGINE_REFUSED


class ImageNotFoundError(DockerEngineError):
    """An image (or container) that the command needs is not in the engine."""


class EngineTimeoutError(DockerEngineError):
    """The engine did not answer within the time the caller allowed (e.g. waiting for a container)."""


# --------------------------------------------------------------------------- addresses


def engine_address(base_url: str | None = None) -> str:
    """Where the engine is: `base_url`, else DOCKER_HOST, else the local socket."""
    return base_url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def socket_path(address: str) -> str | None:
    """The unix socket's path for an engine address; None for any other transport."""
    if address.startswith("unix://"):
        return address.removeprefix("unix://")
    return address if address.startswith("/") else None


def split_ref(ref: str) -> tuple[str, str | None]:
    """("127.0.0.1:5000/a/b", "tag") from "127.0.0.1:5000/a/b:tag"; the tag is None if absent."""
    if "@" in ref:
        return ref, None
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, None


# --------------------------------------------------------------------------- errors


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """exc, its causes and contexts, and exceptions nested in args (requests → urllib3 → OS)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(a for a in current.args if isinstance(a, BaseException))
    return seen


def translate_docker_error(exc: BaseException, *, base_url: str | None = None) -> EnvspecError:
    """Turn a docker-py / requests / OS error into a typed envspec error with a hint."""
    if isinstance(exc, EnvspecError):
        return exc
    where = engine_address(base_url)
    api_error = _translate_api_error(exc)
    if api_error is not None:
        return api_error
    chain = _exception_chain(exc)
    text = " | ".join(str(e) for e in chain)

    def has(kind: type[BaseException], words: str) -> bool:
        return any(isinstance(e, kind) for e in chain) or words in text

    shown = socket_path(where) or where
    if has(PermissionError, "Permission denied"):
        return DockerUnavailableError(
            f"permission denied on the Docker socket {shown}",
            hint="let your user talk to the engine: `sudo usermod -aG docker $USER`, then log "
            "out and back in (or run `newgrp docker`); check with `docker info`",
        )
    if has(FileNotFoundError, "No such file or directory"):
        return DockerUnavailableError(f"no Docker engine socket at {shown}", hint=_HINT_CHECK_DAEMON)
    if has(ConnectionRefusedError, "Connection refused"):
        return DockerUnavailableError(
            f"the Docker engine at {where} refused the connection (is the daemon running?)",
            hint=_HINT_CHECK_DAEMON,
        )
    if has(ConnectionResetError, "Connection broken") or "closed connection" in text:
        return DockerUnavailableError(
            f"the Docker engine at {where} went away in the middle of the request (did the "
            "daemon stop or restart?); nothing was tagged",
            hint=_HINT_CHECK_DAEMON + "; then run the command again",
        )
    if has(TimeoutError, "timed out"):
        return DockerUnavailableError(
            f"the Docker engine at {where} did not answer in time", hint=_HINT_CHECK_DAEMON
        )
    return DockerUnavailableError(
        f"cannot talk to the Docker engine at {where}: {exc}", hint=_HINT_CHECK_DAEMON
    )


def _translate_api_error(exc: BaseException) -> EnvspecError | None:
    import docker.errors

    if not isinstance(exc, docker.errors.APIError):
        return None
    from envspec.gpus import gpu_error

    explanation = str(getattr(exc, "explanation", None) or exc)
    if isinstance(exc, docker.errors.NotFound):
        return ImageNotFoundError(
            f"not found in the Docker engine: {explanation}",
            hint="list what is there with `docker images`; build the image first",
        )
    return gpu_error(exc) or DockerEngineError(
        f"the Docker engine refused the request: {explanation}"
    )


@contextmanager
def translated(base_url: str | None = None) -> Iterator[None]:
    """Run a block of engine calls; any docker-py, requests or OS error leaves it typed."""
    import docker.errors
    import urllib3.exceptions

    try:
        yield
    # urllib3's own errors: a streamed answer (build, push, logs) is read below requests, so a
    # daemon that dies mid-stream surfaces as urllib3's ProtocolError, not as an OSError
    except (docker.errors.DockerException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise translate_docker_error(exc, base_url=base_url) from exc


# --------------------------------------------------------------------------- stdlib look-up


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def local_image_id(tag: str, *, timeout: float = 2.0) -> str | None:
    """The image id for `tag` if the local engine has it; None when it surely does not.

    Importing docker-py (and requests under it) costs more than the whole look-up, and an
    unchanged spec needs only this one answer, so it is asked with the standard library.
    Raises LookupError when the question could not be answered (no socket, TCP DOCKER_HOST,
    an unexpected reply): the caller then goes the ordinary way, through `Engine`.
    """
    path = socket_path(engine_address())
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


def device_request(kwargs: Mapping[str, Any]) -> Any:
    """A docker-py DeviceRequest (a dict) from `GpuRequest.device_request_kwargs()`."""
    from docker.types import DeviceRequest

    return DeviceRequest(**kwargs)


# --------------------------------------------------------------------------- the engine


class Engine:
    """A connected engine, wrapping docker-py's low-level APIClient (`api`).

    Every method raises typed envspec errors only. Containers are named by id (or name).
    """

    def __init__(self, api: APIClient, *, base_url: str | None = None) -> None:
        self.api = api
        self.base_url = base_url

    @classmethod
    def connect(cls, base_url: str | None = None, *, timeout: int = 60) -> Engine:
        """An engine that has answered a ping; `base_url` defaults to DOCKER_HOST (and the
        other DOCKER_* variables) or the local socket."""
        import docker

        with translated(base_url):
            kwargs: dict[str, Any] = (
                {"base_url": base_url} if base_url else docker.utils.kwargs_from_env()
            )
            api = docker.APIClient(version="auto", timeout=timeout, **kwargs)
            api.ping()
        return cls(api, base_url=base_url)

    # images
    def image_id(self, ref: str) -> str | None:
        """The id of the local image `ref`, or None (no registry is asked)."""
        try:
            with translated(self.base_url):
                return str(self.api.inspect_image(ref)["Id"])
        except ImageNotFoundError:
            return None

    def tag(self, image: str, ref: str) -> None:
        """Tag `image` (an id or a reference) as `ref` (`latest` when it has no tag)."""
        repository, tag = split_ref(ref)
        with translated(self.base_url):
            self.api.tag(image, repository, tag or "latest")

    def remove_image(self, ref: str) -> None:
        with translated(self.base_url):
            self.api.remove_image(ref, force=True)

    def build(self, tar: bytes, *, tag: str | None, no_cache: bool, pull: bool,
              network: str | None, build_args: Mapping[str, str]) -> Iterator[Mapping[str, Any]]:
        """The classic builder's decoded JSON chunks for a context tar (intermediate
        containers removed even when a step fails)."""
        with translated(self.base_url):
            yield from self.api.build(
                fileobj=io.BytesIO(tar), custom_context=True, tag=tag, rm=True, forcerm=True,
                decode=True, nocache=no_cache, pull=pull, network_mode=network,
                buildargs=dict(build_args),
            )

    def push(self, repository: str, tag: str) -> Iterator[Any]:
        """The registry push's decoded status chunks."""
        with translated(self.base_url):
            yield from self.api.push(repository, tag=tag, stream=True, decode=True)

    # containers
    def create_container(
        self,
        image: str,
        *,
        command: Sequence[str] = (),
        entrypoint: Sequence[str] | None = None,
        name: str | None = None,
        workdir: str | None = None,
        user: str | None = None,
        volumes: Sequence[tuple[str, str, bool]] = (),
        ports: Sequence[str] = (),
        env: Sequence[tuple[str, str]] = (),
        shm_size: str | None = None,
        gpus: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Create (not start) a container; `gpus` is `GpuRequest.device_request_kwargs()`."""
        bindings: dict[str, str] = {}
        for mapping in ports:
            host, _, container = mapping.rpartition(":")
            bindings[container if "/" in container else f"{container}/tcp"] = host
        with translated(self.base_url):
            host_config = self.api.create_host_config(
                binds={h: {"bind": t, "mode": "ro" if ro else "rw"} for h, t, ro in volumes},
                port_bindings=bindings or None,
                shm_size=shm_size,
                device_requests=[device_request(gpus)] if gpus is not None else None,
            )
            created = self.api.create_container(
                image, command=list(command) or None, entrypoint=entrypoint, name=name,
                working_dir=workdir, user=user, environment=dict(env),
                volumes=[t for _, t, _ in volumes] or None,
                ports=[tuple(p.split("/")) for p in bindings] or None,
                labels=dict(labels or {}), host_config=host_config,
            )
        return str(created["Id"])

    def put_archive(self, container: str, path: str, data: bytes) -> None:
        with translated(self.base_url):
            self.api.put_archive(container, path, data)

    def start(self, container: str) -> None:
        with translated(self.base_url):
            self.api.start(container)

    def wait(self, container: str, *, timeout: float | None = None) -> int:
        """The container's exit status; EngineTimeoutError when it runs past `timeout`."""
        import requests.exceptions

        try:
            with translated(self.base_url):
                return int(self.api.wait(container, timeout=timeout).get("StatusCode", -1))
        except DockerUnavailableError as err:
            if isinstance(err.__cause__, requests.exceptions.RequestException):
                raise EngineTimeoutError(f"{container} did not finish within {timeout}s") from err
            raise

    def logs(self, container: str, *, stdout: bool = True, stderr: bool = True) -> bytes:
        with translated(self.base_url):
            return bytes(self.api.logs(container, stdout=stdout, stderr=stderr))

    def follow_logs(self, container: str) -> Iterator[bytes]:
        with translated(self.base_url):
            yield from self.api.logs(container, stream=True, follow=True)

    def exec(self, container: str, command: Sequence[str]) -> tuple[int, bytes]:
        """Run `command` in a running container; its exit status and combined output."""
        with translated(self.base_url):
            exec_id = self.api.exec_create(container, list(command))["Id"]
            output = bytes(self.api.exec_start(exec_id))
            return int(self.api.exec_inspect(exec_id).get("ExitCode") or 0), output

    def stop(self, container: str, *, timeout: int = 10) -> None:
        with translated(self.base_url):
            self.api.stop(container, timeout=timeout)

    def remove_container(self, container: str) -> None:
        with translated(self.base_url):
            self.api.remove_container(container, force=True)
