"""Values at the edge of what the spec accepts, built for real: the engine must read the
rendered Dockerfile exactly as the spec meant it.

The fuzzer (tests/unit/test_fuzz_specs.py) found env values ending in a backslash, which
hadolint's parser cannot read (`unexpected '"'`); this proves Docker itself does, and that no
later instruction (WORKDIR, USER) is swallowed by a continuation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.integration.test_spec_builds import envspec, image_of, run_in

EDGE_VALUES = {
    "TRAILING_BACKSLASH": "C:\\tools\\",
    "ONLY_BACKSLASH": "\\",
    "QUOTES": "say \"hi\" and 'bye'",
    # `$$` is env's literal dollar (issue 10 item 3): the image holds "$HOME ${PATH} $(id) `id`"
    "DOLLAR": "$$HOME $${PATH} $$(id) `id`",
    "SPACES": "  two  spaces  ",
    "UNICODE": "héllo wörld ✓",
    "HASH": "# not a comment",
}


def test_edge_values_reach_the_image_exactly(
    docker_client: Any, base_image: str, image_cleanup: list[str], tmp_path: Path
) -> None:
    spec = {
        "name": "hostile-values",
        "base": {"os": "debian12"},
        "env": EDGE_VALUES,
        "run": ["echo \"it's\" > /opt/quoted.txt", "printf '%s\\n' 'a\\b' >> /opt/quoted.txt"],
        "workdir": "/work/space",
    }
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    result = envspec("build", str(path), "--base-image", base_image, "--progress", "plain")
    image = image_of(result)
    image_cleanup.append(image)
    names = " ".join(f'"${name}"' for name in EDGE_VALUES)
    out = run_in(docker_client, image, f"printf '[%s]\\n' {names}; pwd; id -un; cat /opt/quoted.txt")
    lines = out.splitlines()
    literal = [value.replace("$$", "$") for value in EDGE_VALUES.values()]
    assert lines[: len(EDGE_VALUES)] == [f"[{value}]" for value in literal]
    assert lines[len(EDGE_VALUES):] == ["/work/space", "dev", "it's", "a\\b"]
