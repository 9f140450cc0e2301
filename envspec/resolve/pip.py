"""python.pip.packages: every item parsed once (envspec.requirements), torch's family handed to
the torch resolver, the rest checked for what makes a build unrepeatable or unbuildable."""

from __future__ import annotations

from envspec.catalog import Catalog
from envspec.loader import KeyPath
from envspec.requirements import (
    canonical_name,
    has_local_version,
    marker_applies,
    read_requirement,
    unhashed_requirements,
)
from envspec.resolve.framework import torch_in_image
from envspec.resolve.model import Collector, PipInstall, ResolvedBase, TorchInstall
from envspec.resolve.torch import Family, is_torch_family, resolve_torch
from envspec.spec import Pip, PipPackage, Python


def resolve_pip_packages(
    python: Python, version: str, base: ResolvedBase, catalog: Catalog, out: Collector
) -> tuple[TorchInstall | None, tuple[PipInstall, ...], tuple[str, ...]]:
    """The torch install, the other packages in spec order, and the names the smoke checks
    import."""
    family: Family = {}
    where: dict[str, KeyPath] = {}
    installs: list[PipInstall] = []
    for index, item in enumerate(python.pip.packages):
        path = item_path(index, item)
        install = pip_install(item)
        parsed = install.requirement
        if parsed.kind == "named" and parsed.requirement and is_torch_family(parsed.requirement.name):
            if _torch_item_ok(install, python.pip, path, out):
                family[canonical_name(parsed.requirement.name)] = parsed.requirement
                where[canonical_name(parsed.requirement.name)] = path
            continue
        _check(install, python.pip, path, out)
        installs.append(install)
    if python.pip.require_hashes:
        _check_hashed_files(python.pip, out)
    family = torch_in_image(family, base, out)  # provider: image keeps the image's own torch
    torch = resolve_torch(family, where, python.torch.variant, version, base, catalog, out)
    if torch is None and python.torch.variant != "auto" and not family:
        out.warn("python.torch-variant-unused", "python.torch.variant is set, but no torch, "
                 "torchvision or torchaudio is in python.pip.packages", ("python", "torch"),
                 "add torch to python.pip.packages, or drop python.torch")
    return torch, tuple(installs), _import_names(installs, version, out)


def item_path(index: int, item: str | PipPackage) -> KeyPath:
    """Where a `packages` item's requirement is written (the mapping's `requirement` key)."""
    path: KeyPath = ("python", "pip", "packages", index)
    return (*path, "requirement") if isinstance(item, PipPackage) else path


def pip_install(item: str | PipPackage) -> PipInstall:
    if isinstance(item, str):
        return PipInstall(read_requirement(item))
    settings = {key: (value,) if isinstance(value, str) else tuple(value)
                for key, value in item.config_settings.items()}
    return PipInstall(read_requirement(item.requirement), item.no_build_isolation, item.no_deps,
                      settings, dict(item.env), tuple(item.hashes))


def _torch_item_ok(install: PipInstall, pip: Pip, path: KeyPath, out: Collector) -> bool:
    text = install.requirement.text
    if not install.plain or install.hashes:
        out.error("python.torch-options", f"`{text}`: torch's family is installed by envspec's "
                  "torch step, which takes no per-package options", path,
                  "list it as a plain string; use python.torch.variant to choose its wheels")
        return False
    if pip.require_hashes:
        out.error("python.torch-hashes", f"`{text}`: envspec picks torch's wheels and index, "
                  "so it cannot carry hashes for them (require_hashes is on)", path,
                  "list torch with its --hash entries (and its dependencies') in a requirements "
                  "file instead")
        return False
    return True


def _check(install: PipInstall, pip: Pip, path: KeyPath, out: Collector) -> None:
    parsed = install.requirement
    problem = parsed.pin_problem()
    if problem:
        out.warn("python.pip-unpinned", f"`{parsed.text}`: {problem}; rebuilds may install "
                 "different code", path, "pin a tag (`@v1.2.0`) or a full 40-hex commit")
    if parsed.name and is_torch_family(parsed.name):
        out.note("python.torch-as-given", f"`{parsed.text}` is installed as written: envspec "
                 "does not check a direct URL's CUDA build", path)
    if (parsed.requirement and parsed.kind == "named" and has_local_version(parsed.requirement)
            and not (pip.find_links or pip.extra_index_urls or pip.index_url)):
        out.warn("python.pip-local-version", f"`{parsed.text}` pins a local version, which PyPI "
                 "does not host", path, "add the page that has it to python.pip.find_links "
                 "(or an index to extra_index_urls)")
    _check_hashes(install, pip, path, out)


def _check_hashes(install: PipInstall, pip: Pip, path: KeyPath, out: Collector) -> None:
    parsed = install.requirement
    if install.hashes and not pip.require_hashes:
        out.error("python.pip-hashes", f"`{parsed.text}` has hashes, but hash-checking mode "
                  "is off", path, "set python.pip.require_hashes: true")
    if not pip.require_hashes:
        return
    if parsed.kind == "vcs":
        out.error("python.pip-hashes", f"`{parsed.text}`: pip cannot hash a git checkout, so "
                  "hash-checking mode refuses it", path,
                  "build a wheel from that tag and list it with its hash, or turn require_hashes off")
    elif not install.hashes:
        out.error("python.pip-hashes", f"`{parsed.text}` has no hashes, and require_hashes is on",
                  path, "write it as a mapping with `hashes: [sha256:…]` (`pip hash FILE` prints "
                  "one), or move it to a requirements file with --hash entries")
    elif parsed.kind == "named" and not _exact(parsed.text):
        out.error("python.pip-hashes", f"`{parsed.text}`: hash-checking mode needs an exact "
                  "`==` pin", path, "pin the version whose files the hashes are of")


def _check_hashed_files(pip: Pip, out: Collector) -> None:
    """Every requirement of the requirements files needs a --hash under require_hashes (a
    missing file is reported by the file check)."""
    folder = out.loaded.path.parent
    for index, rel in enumerate(pip.requirements):
        path = folder / rel
        unhashed = unhashed_requirements(path.read_text("utf-8")) if path.is_file() else ()
        if unhashed:
            out.error("python.pip-hashes", f"{rel}: {', '.join(unhashed[:3])}"
                      + (f" and {len(unhashed) - 3} more" if len(unhashed) > 3 else "")
                      + " have no --hash, and require_hashes is on",
                      ("python", "pip", "requirements", index),
                      "generate the file with `pip-compile --generate-hashes`")


def _exact(text: str) -> bool:
    requirement = read_requirement(text).requirement
    clauses = list(requirement.specifier) if requirement else []
    return len(clauses) == 1 and clauses[0].operator in ("==", "===") and "*" not in str(clauses[0])


def _import_names(installs: list[PipInstall], version: str, out: Collector) -> tuple[str, ...]:
    """Names the smoke checks import; a requirement without one is said so in `explain`."""
    names = []
    for install in installs:
        parsed = install.requirement
        if parsed.requirement is not None and not marker_applies(parsed.requirement, version):
            continue
        if parsed.name is None:
            out.decide("smoke.imports", parsed.text, "derived", "not import-checked: its "
                       "distribution name is unknown (write `name @ …` or add `#egg=name`)")
            continue
        names.append(parsed.name)
    return tuple(names)
