"""GPU tests run on a machine with an NVIDIA GPU, Python 3, pytest and (ideally) torch.

They need none of envspec's dependencies: only envspec.smoke.probe and envspec.nvidia (both
stdlib only) are imported. Without nvidia-smi every test here skips with the reason.
"""

from __future__ import annotations

import shutil

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="no nvidia-smi on PATH: this host has no NVIDIA GPU/driver")
    for item in items:
        if "tests/gpu/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.gpu)
            if shutil.which("nvidia-smi") is None:
                item.add_marker(skip)
