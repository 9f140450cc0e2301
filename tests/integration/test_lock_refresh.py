"""`envspec lock --refresh` against the local docker-registry: registry hosts, ports and
`localhost` are told apart from Docker Hub namespaces, and the digest pinned is the pushed one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from envspec.cli import _register_commands, cli
from envspec.push import push

_register_commands()


def _lock(tmp_path: Path, image: str, *args: str) -> tuple[int, str, dict[str, Any]]:
    spec = tmp_path / "env.yaml"
    spec.write_text(f"name: refresh\nbase:\n  image: {image}\n  os: debian12\n")
    result = CliRunner().invoke(cli, ["lock", str(spec), "--refresh", *args])
    lock_file = tmp_path / "env.lock"
    lock = yaml.safe_load(lock_file.read_text()) if lock_file.exists() else {}
    return result.exit_code, result.stdout + result.stderr, lock


def test_refresh_with_a_registry_port_and_namespace(
    tmp_path: Path, engine: Any, base_image: str, local_registry: str, unique_name: str,
    image_cleanup: list[str],
) -> None:
    image = f"{local_registry}/{unique_name}/img"  # like 127.0.0.1:5000/team/img
    image_cleanup.append(f"{image}:latest")
    digest = push(engine, base_image, f"{image}:latest")

    code, output, lock = _lock(tmp_path, image)

    assert code == 0, output
    assert lock["base_digest"] == digest
    assert f"base pinned to {digest}" in output


def test_refresh_of_a_localhost_reference_asks_for_the_repository_without_the_host(
    tmp_path: Path, engine: Any, base_image: str, local_registry: str, unique_name: str,
    image_cleanup: list[str],
) -> None:
    image_cleanup.append(f"{local_registry}/{unique_name}:1")
    digest = push(engine, base_image, f"{local_registry}/{unique_name}:1")

    code, output, lock = _lock(tmp_path, f"localhost/{unique_name}:1",
                               "--registry", f"http://{local_registry}")

    assert code == 0, output
    assert lock["base_digest"] == digest


def test_a_tag_the_registry_lacks_is_a_registry_failure(
    tmp_path: Path, local_registry: str, unique_name: str
) -> None:
    code, output, lock = _lock(tmp_path, f"{local_registry}/{unique_name}/img:nope")
    assert code == 8, output
    assert "does not have" in output and "Traceback" not in output
    assert lock == {}
