"""Files the spec names must exist next to it and stay inside its folder."""

from __future__ import annotations

from pathlib import Path

from envspec.loader import KeyPath
from envspec.resolve.model import Collector
from envspec.spec import Spec


def check_referenced_files(spec: Spec, spec_dir: Path, out: Collector) -> None:
    for path, rel in _references(spec):
        target = spec_dir / rel
        if not target.exists():
            out.error("files.missing", f"{rel} does not exist next to the spec", path,
                      f"create it in {spec_dir} or fix the path")
        elif not target.resolve().is_relative_to(spec_dir.resolve()):
            out.error("files.outside", f"{rel} leads outside the spec's folder (a link?)", path,
                      "copy the file next to env.yaml instead of linking to it")


def _references(spec: Spec) -> list[tuple[KeyPath, str]]:
    refs: list[tuple[KeyPath, str]] = []
    if spec.python is not None:
        refs += [(("python", "pip", "requirements", i), r)
                 for i, r in enumerate(spec.python.pip.requirements)]
        if spec.python.conda is not None and spec.python.conda.environment:
            refs.append((("python", "conda", "environment"), spec.python.conda.environment))
    refs += [(("copy", i, "src"), c.src) for i, c in enumerate(spec.copy_files)]
    refs += [(("build", "ca_certificates", i), c) for i, c in enumerate(spec.build.ca_certificates)]
    return refs
