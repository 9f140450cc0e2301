"""The docker-py builder only ever receives classic Dockerfile syntax; BuildKit gets mounts."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from envspec import build as build_mod
from envspec import pipeline
from envspec.build import BuildRequest, BuildResult
from envspec.engine import Engine
from tests.conftest import REPO


class RecordingBuilder:
    """Stands in for a builder and keeps the Dockerfile it was handed."""

    dockerfiles: ClassVar[list[str]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def build(self, request: BuildRequest, on_event: Any = None) -> BuildResult:
        with tarfile.open(fileobj=io.BytesIO(request.context.data)) as tar:
            dockerfile = tar.extractfile("Dockerfile")
            assert dockerfile is not None
            RecordingBuilder.dockerfiles.append(dockerfile.read().decode())
        return BuildResult("sha256:0", request.tags)


class EmptyEngine(Engine):
    """An engine without images: every build is needed."""

    def __init__(self) -> None:
        super().__init__(api=None)  # type: ignore[arg-type]

    def image_id(self, ref: str) -> str | None:
        return None


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    RecordingBuilder.dockerfiles = []
    monkeypatch.setattr(Engine, "connect", classmethod(lambda cls, *a, **k: EmptyEngine()))
    monkeypatch.setattr(pipeline, "_existing_image", lambda tag: None)  # nothing cached
    monkeypatch.setattr(build_mod, "DockerPyBuilder", RecordingBuilder)
    monkeypatch.setattr(build_mod, "CliBuilder", RecordingBuilder)
    return RecordingBuilder.dockerfiles


@pytest.mark.parametrize(("builder", "mounts"), [("docker", False), ("buildkit", True)])
def test_builder_gets_the_syntax_it_supports(recorded: list[str], builder: str, mounts: bool) -> None:
    examples = sorted((REPO / "examples").glob("*/env.yaml"))
    for example in examples:
        pipeline.ensure_image(example, builder=builder)  # type: ignore[arg-type]
    assert len(recorded) == len(examples) >= 5  # one build each
    for dockerfile in recorded:
        assert ("--mount=type=cache" in dockerfile) is mounts


def test_build_args_do_not_leak_into_the_dockerfile(recorded: list[str]) -> None:
    args: Mapping[str, str] = {"HTTPS_PROXY": "http://proxy.internal:3128"}
    pipeline.ensure_image(REPO / "examples" / "cpu-debian" / "env.yaml", build_args=args)
    assert "proxy.internal" not in recorded[0]
