"""The pieces that handle faults, without an engine: the real ones are provoked in
tests/integration/test_faults.py."""

from __future__ import annotations

import errno
import threading
from pathlib import Path
from typing import Any

import pytest
import urllib3.exceptions

from envspec.build.parsers import ClassicStreamParser
from envspec.build.request import content_lock
from envspec.context import MANIFEST, write_context, write_file
from envspec.context_tar import ContextEntry
from envspec.engine import translate_docker_error, translated
from envspec.errors import BuildError, DockerUnavailableError, ExitCode, WriteFailedError
from envspec.push import PushError, _stream_push
from tests.integration.private_daemons import free_port


def test_the_classic_parser_knows_the_running_steps_container() -> None:
    parser = ClassicStreamParser()
    parser.feed({"stream": "Step 2/3 : RUN sleep 60\n"})
    parser.feed({"stream": " ---> Running in 0123456789ab\n"})
    assert parser.running_container == "0123456789ab"


def test_a_failed_from_step_names_the_image_and_the_override() -> None:
    parser = ClassicStreamParser()
    parser.feed({"stream": "Step 1/2 : FROM team/base:gone\n"})
    with pytest.raises(BuildError) as caught:
        parser.feed({"error": 'Get "https://registry-1.docker.io/v2/": dial tcp: no such host'})
    assert caught.value.hint and "team/base:gone" in caught.value.hint
    assert "--base-image" in caught.value.hint


def test_a_write_failing_midway_leaves_the_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = {"Dockerfile": ContextEntry(b"FROM a\n"), "a.txt": ContextEntry(b"old\n")}
    write_context(old, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    import envspec.context

    real = envspec.context._write_temporary
    calls: list[str] = []

    def fills_up(folder: Path, content: bytes, mode: int) -> str:
        calls.append(str(folder))
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(folder, content, mode)

    monkeypatch.setattr(envspec.context, "_write_temporary", fills_up)
    new = {**{k: ContextEntry(b"new\n") for k in old}, "sub/b.txt": ContextEntry(b"b\n")}
    with pytest.raises(WriteFailedError) as caught:
        write_context(new, tmp_path)
    assert caught.value.exit_code == ExitCode.WRITE_FAILED == 10
    assert "No space left on device" in caught.value.message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert not (tmp_path / "sub").exists() and MANIFEST in before


def test_write_file_replaces_whole(tmp_path: Path) -> None:
    write_file(tmp_path / "env.lock", b"one\n")
    write_file(tmp_path / "env.lock", b"two\n")
    assert [p.name for p in tmp_path.iterdir()] == ["env.lock"]
    assert (tmp_path / "env.lock").read_bytes() == b"two\n"


def test_a_second_holder_of_the_content_lock_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    entered = threading.Event()

    def second() -> None:
        with content_lock("envspec/x:0123456789ab"):
            entered.set()

    with content_lock("envspec/x:0123456789ab"):
        waiter = threading.Thread(target=second)
        waiter.start()
        assert not entered.wait(0.5), "the second build did not wait"
        with content_lock("envspec/other:0123456789ab"):  # another content: no waiting
            pass
    assert entered.wait(5)
    waiter.join()


def test_a_stream_the_daemon_broke_is_docker_unavailable() -> None:
    broken = urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead(0 bytes read)")
    with pytest.raises(DockerUnavailableError) as caught, translated("unix:///x.sock"):
        raise broken
    assert "went away in the middle of the request" in caught.value.message
    assert translate_docker_error(broken).exit_code == 5


def test_an_upload_retry_against_a_gone_registry_fails_at_once() -> None:
    registry = f"127.0.0.1:{free_port()}"  # nothing listens there
    chunks: list[dict[str, Any]] = [
        {"status": "The push refers to repository [x]"},
        {"status": "Preparing", "id": "abc"},
        {"status": "Retrying in 5 seconds", "id": "abc"},
        {"status": "never read", "id": "abc"},
    ]
    with pytest.raises(PushError) as caught:
        _stream_push(iter(chunks), f"{registry}/x:1", registry, lambda event: None)
    assert f"the registry {registry} went away during the push" in caught.value.message
    assert caught.value.exit_code == 8
