"""Files the spec names must exist next to it and stay inside its folder."""

from __future__ import annotations

from pathlib import Path

from envspec.loader import KeyPath
from envspec.requirements import read_requirement
from envspec.resolve.model import Collector
from envspec.resolve.pip import item_path
from envspec.spec import PipPackage, Spec


def check_referenced_files(spec: Spec, spec_dir: Path, out: Collector) -> None:
    root = spec_dir.resolve()
    for path, rel in _references(spec):
        target = spec_dir / rel
        if not _exists(target):
            out.error("files.missing", f"{rel} does not exist next to the spec", path,
                      f"create it in {spec_dir} or fix the path")
        elif not _inside(target, root):
            out.error("files.outside", f"{rel} leads outside the spec's folder (a link?)", path,
                      "copy the file next to env.yaml instead of linking to it")
        elif (link := _link_leading_outside(target, root)) is not None:
            inner = link.relative_to(target).as_posix()
            out.error("files.outside", f"{rel}/{inner} is a link that leads outside the spec's "
                      "folder (or nowhere)", path,
                      "copy the file next to env.yaml instead of linking to it")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system, say
        return False


def _link_leading_outside(folder: Path, root: Path) -> Path | None:
    """The first link inside a copied folder whose target is not under `root`: found here, it is
    reported at the `copy` key instead of failing later, with no line, while the context is made."""
    if not folder.is_dir():
        return None
    for path in sorted(folder.rglob("*")):  # `**` does not descend into linked folders
        if path.is_symlink() and not _inside(path, root):
            return path
    return None


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a link loop leads nowhere, so not inside either
        return False


def _references(spec: Spec) -> list[tuple[KeyPath, str]]:
    refs: list[tuple[KeyPath, str]] = []
    if spec.python is not None:
        pip = spec.python.pip
        refs += [(("python", "pip", "requirements", i), r) for i, r in enumerate(pip.requirements)]
        refs += [(("python", "pip", "constraints", i), r) for i, r in enumerate(pip.constraints)]
        refs += _local_packages(pip.packages)
        if spec.python.conda is not None and spec.python.conda.environment:
            refs.append((("python", "conda", "environment"), spec.python.conda.environment))
    refs += [(("copy", i, "src"), c.src) for i, c in enumerate(spec.copy_files)]
    refs += [(("build", "ca_certificates", i), c) for i, c in enumerate(spec.build.ca_certificates)]
    return refs


def _local_packages(items: list[str | PipPackage]) -> list[tuple[KeyPath, str]]:
    """Wheels, sdists and archives next to env.yaml that `packages` installs."""
    refs: list[tuple[KeyPath, str]] = []
    for index, item in enumerate(items):
        text = item.requirement if isinstance(item, PipPackage) else item
        path = read_requirement(text).path
        if path is not None:
            refs.append((item_path(index, item), path))
    return refs
