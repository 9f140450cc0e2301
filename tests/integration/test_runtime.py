"""`envspec exec` and `envspec stop` against a real running container (through envspec.engine)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_spec_builds import envspec


@pytest.fixture
def running(docker_client: Any, base_image: str, unique_name: str) -> Iterator[str]:
    name = f"envspec-itest-{unique_name}"
    container = docker_client.create_container(base_image, ["sleep", "120"], name=name)
    docker_client.start(container)
    try:
        yield name
    finally:
        docker_client.remove_container(container, force=True)


def test_exec_runs_in_the_container_and_keeps_its_exit_status(running: str) -> None:
    done = envspec("exec", running, "--", "sh", "-c", "echo inside $(hostname -s); exit 4",
                   check=False)
    assert done.returncode == 4, done.stderr
    assert done.stdout.startswith("inside ")


def test_stop_stops_it_and_a_missing_one_is_refused(docker_client: Any, running: str) -> None:
    stopped = envspec("stop", running, "-t", "1")
    assert stopped.stdout.strip() == f"stopped {running}"
    assert docker_client.inspect_container(running)["State"]["Running"] is False
    missing = envspec("stop", f"{running}-absent", check=False)
    assert missing.returncode == 6 and "no container named" in missing.stderr
