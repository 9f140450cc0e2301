"""GPU selection: the spec's `runtime.gpus` and the CLI's `--gpus` → a Docker device request.

Accepted forms (spec value or CLI string):
  all            every GPU                      → count=-1
  none / 0       no device request at all       → None
  2              that many GPUs                 → count=2
  [1, 2]         indices, UUIDs or MIG ids      → device_ids=["1", "2"]
  device=1,2     Docker's CLI form, also quoted as '"device=UUID-ABCDEF,1"'
  count=2        Docker's CLI form of a count
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from envspec.errors import DockerUnavailableError, EnvspecError

# An index ("1"), a MIG index ("0:1"), a UUID ("GPU-3a1b…", "MIG-…") or another driver id.
_DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
_HINT = (
    "use all, none, a count such as 2, a list such as [0, 1] or ['GPU-3a1b…', 1], "
    "or on the command line device=0,1"
)


class GpuSelectionError(EnvspecError):
    """A GPU selection that cannot be turned into a device request."""

    def __init__(self, value: object, why: str) -> None:
        super().__init__(f"invalid GPU selection {value!r}: {why}", hint=_HINT)


@dataclass(frozen=True)
class GpuRequest:
    """Either a count (-1 = all) or explicit device ids; never both."""

    count: int | None = None
    device_ids: tuple[str, ...] = ()

    def device_request_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `docker.types.DeviceRequest`."""
        kwargs: dict[str, Any] = {"capabilities": [["gpu"]]}
        if self.device_ids:
            kwargs["device_ids"] = list(self.device_ids)
        else:
            kwargs["count"] = self.count
        return kwargs

    def device_request(self) -> Any:
        """A `docker.types.DeviceRequest`, made by the engine room."""
        from envspec.engine import device_request

        return device_request(self.device_request_kwargs())

    def cli_value(self) -> str:
        """The `docker run --gpus` argument for the same selection."""
        if self.device_ids:
            return '"device={}"'.format(",".join(self.device_ids))
        return "all" if self.count == -1 else str(self.count)

    def describe(self) -> str:
        if self.device_ids:
            return "GPU(s) " + ", ".join(self.device_ids)
        return "all GPUs" if self.count == -1 else f"{self.count} GPU(s)"


ALL = GpuRequest(count=-1)


def _count(value: int, original: object) -> GpuRequest | None:
    if value < 0:
        raise GpuSelectionError(original, "a count cannot be negative")
    return None if value == 0 else GpuRequest(count=value)


def _device_ids(items: Sequence[object], original: object) -> GpuRequest | None:
    ids: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise GpuSelectionError(original, f"{item!r} is not a GPU index or UUID")
        text = str(item).strip()
        if isinstance(item, int) and item < 0:
            raise GpuSelectionError(original, f"GPU index {item} is negative")
        if not _DEVICE_ID.match(text):
            raise GpuSelectionError(original, f"{text!r} is not a GPU index or UUID")
        if text in ids:
            raise GpuSelectionError(original, f"GPU {text} is listed twice")
        ids.append(text)
    if not ids:
        return None
    return GpuRequest(device_ids=tuple(ids))


def _from_string(text: str, original: object) -> GpuRequest | None:
    value = text.strip()
    # The shell keeps the inner quotes of --gpus '"device=1,2"'; Docker strips them, so do we.
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    lowered = value.lower()
    if lowered == "all":
        return ALL
    if lowered in ("none", ""):
        return None
    if re.fullmatch(r"\d+", value):
        return _count(int(value), original)
    if lowered.startswith("count="):
        rest = value.split("=", 1)[1].strip()
        if rest.lower() == "all":
            return ALL
        if not re.fullmatch(r"\d+", rest):
            raise GpuSelectionError(original, f"count must be a number or all, not {rest!r}")
        return _count(int(rest), original)
    if lowered.startswith("device="):
        items = [part.strip() for part in value.split("=", 1)[1].split(",")]
        if any(not part for part in items):
            raise GpuSelectionError(original, "empty entry in the device list")
        return _device_ids(items, original)
    if value.startswith("[") and value.endswith("]"):
        inner = [part.strip().strip("\"'") for part in value[1:-1].split(",") if part.strip()]
        return _device_ids(inner, original)
    if "," in value:
        raise GpuSelectionError(
            original, "a bare list is ambiguous; write device=" + value + " to pick those GPUs"
        )
    raise GpuSelectionError(original, "not one of the accepted forms")


def parse_gpus(value: object) -> GpuRequest | None:
    """Parse any accepted form; None means "request no GPUs"."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise GpuSelectionError(value, "a boolean is not a GPU selection")
    if isinstance(value, int):
        return _count(value, value)
    if isinstance(value, str):
        return _from_string(value, value)
    if isinstance(value, list | tuple):
        return _device_ids(value, value)
    raise GpuSelectionError(value, f"unsupported type {type(value).__name__}")


NVIDIA_RUNTIME_MISSING = 'could not select device driver "" with capabilities: [[gpu]]'


class NvidiaRuntimeMissingError(DockerUnavailableError):
    """Docker was asked for GPUs but has no NVIDIA runtime (Container Toolkit) to provide them."""


def gpu_error(err: BaseException) -> NvidiaRuntimeMissingError | None:
    """Docker's answer to a GPU request on a host without the NVIDIA Container Toolkit, typed."""
    text = str(getattr(err, "explanation", None) or err)
    if "could not select device driver" not in text or "gpu" not in text:
        return None
    from envspec.host_fixes import toolkit_fix_commands

    fix = "\n    ".join(toolkit_fix_commands())
    return NvidiaRuntimeMissingError(
        "Docker cannot give this container GPUs: the NVIDIA Container Toolkit is not installed "
        f"or not registered with Docker ({NVIDIA_RUNTIME_MISSING})",
        hint="install and register it (needs an NVIDIA driver on the host), then restart "
        f"Docker:\n    {fix}\n  or run without GPUs: --gpus none",
    )
