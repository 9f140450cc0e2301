"""GPU selections: every spec and CLI form → DeviceRequest kwargs; bad input → a clear error."""

from __future__ import annotations

from typing import Any

import pytest

from envspec.errors import DockerUnavailableError
from envspec.gpus import GpuRequest, GpuSelectionError, gpu_error, parse_gpus

GPU = [["gpu"]]


@pytest.mark.parametrize(
    ("value", "kwargs"),
    [
        ("all", {"count": -1, "capabilities": GPU}),
        ("ALL", {"count": -1, "capabilities": GPU}),
        (2, {"count": 2, "capabilities": GPU}),
        ("2", {"count": 2, "capabilities": GPU}),
        ("count=3", {"count": 3, "capabilities": GPU}),
        ("count=all", {"count": -1, "capabilities": GPU}),
        ([1, 2], {"device_ids": ["1", "2"], "capabilities": GPU}),
        (["GPU-3a1b2c3d-4e5f", 1], {"device_ids": ["GPU-3a1b2c3d-4e5f", "1"], "capabilities": GPU}),
        ("device=1,2", {"device_ids": ["1", "2"], "capabilities": GPU}),
        ('"device=1,2"', {"device_ids": ["1", "2"], "capabilities": GPU}),
        ('"device=UUID-ABCDEF,1"', {"device_ids": ["UUID-ABCDEF", "1"], "capabilities": GPU}),
        ("device=MIG-4b1c5d6e-7f80,0:1", {"device_ids": ["MIG-4b1c5d6e-7f80", "0:1"], "capabilities": GPU}),
        ("[0, 'GPU-ab']", {"device_ids": ["0", "GPU-ab"], "capabilities": GPU}),
    ],
)
def test_forms_become_device_request_kwargs(value: Any, kwargs: dict[str, Any]) -> None:
    request = parse_gpus(value)
    assert request is not None
    assert request.device_request_kwargs() == kwargs


@pytest.mark.parametrize("value", [None, "none", "NONE", 0, "0", [], ""])
def test_none_means_no_request(value: Any) -> None:
    assert parse_gpus(value) is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (-1, "negative"),
        (True, "boolean"),
        ("some", "accepted forms"),
        ("1,2", "device=1,2"),
        ("device=", "empty entry"),
        ("device=1,,2", "empty entry"),
        ([1, 1], "twice"),
        ([-2], "negative"),
        (["has space"], "not a GPU index"),
        ([1.5], "not a GPU index"),
        ("count=x", "count must be"),
        ({"count": 1}, "unsupported type"),
    ],
)
def test_bad_input_is_a_clear_error(value: Any, why: str) -> None:
    with pytest.raises(GpuSelectionError) as caught:
        parse_gpus(value)
    assert why in caught.value.message
    assert caught.value.hint and "device=0,1" in caught.value.hint


def test_cli_value_round_trips() -> None:
    for value in ("all", "2", '"device=1,2"', '"device=UUID-ABCDEF,1"'):
        request = parse_gpus(value)
        assert request is not None
        assert parse_gpus(request.cli_value()) == request
    assert GpuRequest(count=-1).describe() == "all GPUs"


def test_device_request_object() -> None:
    request = parse_gpus("device=0,GPU-ab")
    assert request is not None
    made = request.device_request()
    assert made["DeviceIDs"] == ["0", "GPU-ab"]
    assert made["Capabilities"] == GPU


class _ApiError(Exception):
    explanation = 'could not select device driver "" with capabilities: [[gpu]]'


def test_missing_runtime_error_is_typed_with_fix() -> None:
    err = gpu_error(_ApiError("500 Server Error"))
    assert isinstance(err, DockerUnavailableError)
    assert "NVIDIA Container Toolkit" in err.message
    assert err.hint is not None
    assert "nvidia-ctk runtime configure --runtime=docker" in err.hint
    assert "--gpus none" in err.hint
    assert gpu_error(Exception("no such image")) is None
