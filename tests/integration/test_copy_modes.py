"""Files given in `copy:` keep their executable bit all the way into the image, and the image
runs through `envspec run` (the engine room's container path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_spec_builds import envspec, image_of, run_in

SPEC = "name: copy-modes\nbase:\n  os: debian12\ncopy:\n  - {src: tools/, dest: /opt/tools}\n"


@pytest.fixture
def spec_with_a_script(tmp_path: Path) -> Path:
    folder = tmp_path / "copy-modes"
    (folder / "tools").mkdir(parents=True)
    (folder / "env.yaml").write_text(SPEC)
    script = folder / "tools" / "hello.sh"
    script.write_text(f'#!/bin/sh\necho "hello from $0 ({tmp_path.name})"\n')
    script.chmod(0o744)  # owner-only x: the image must still get 0755
    (folder / "tools" / "data.txt").write_text("data\n")
    (folder / "tools" / "data.txt").chmod(0o600)
    return folder / "env.yaml"


def test_copied_script_is_executable_in_the_built_image(
    docker_client: Any, base_image: str, spec_with_a_script: Path, image_cleanup: list[str]
) -> None:
    spec = str(spec_with_a_script)
    image = image_of(envspec("build", spec, "--base-image", base_image, "--progress", "plain"))
    image_cleanup.append(image)

    out = run_in(docker_client, image, "stat -c '%a %n' /opt/tools/*; /opt/tools/hello.sh")
    assert "755 /opt/tools/hello.sh" in out
    assert "644 /opt/tools/data.txt" in out
    assert f"hello from /opt/tools/hello.sh ({spec_with_a_script.parent.parent.name})" in out

    ran = envspec("run", spec, "--base-image", base_image, "--progress", "plain", "--gpus", "none", "--",
                  "/opt/tools/hello.sh")
    assert "hello from /opt/tools/hello.sh" in ran.stdout
    failed = envspec("run", spec, "--base-image", base_image, "--progress", "plain", "--gpus", "none", "--",
                     "sh", "-c", "exit 3", check=False)
    assert failed.returncode == 3, failed.stderr
