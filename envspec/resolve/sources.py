"""sources: git refs that stay put, the packages source builds need, and the CUDA architectures
checked against the image's nvcc (envspec/data/cuda_arch.yaml)."""

from __future__ import annotations

import re

from envspec.catalog import Catalog
from envspec.lockfile import Lock
from envspec.resolve.model import Collector, CudaArchs, ResolvedBase, ResolvedSource
from envspec.spec import Spec
from envspec.spec_sources import Source

FULL_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHORT_COMMIT = re.compile(r"[0-9a-f]{7,39}")
# Names that are branches in almost every repository: building one is not reproducible.
# Other names are taken as tags here; `envspec lock` asks the repository and refuses branches.
_BRANCH_NAMES = frozenset({"main", "master", "develop", "dev", "trunk", "HEAD", "stable", "next"})


def resolve_sources(
    spec: Spec, lock: Lock | None, catalog: Catalog, out: Collector
) -> tuple[ResolvedSource, ...]:
    locked = {s.name: s.commit for s in lock.sources} if lock else {}
    seen: set[str] = set()
    resolved = []
    for index, source in enumerate(spec.sources):
        path = ("sources", index)
        if source.name in seen:
            out.error("sources.duplicate", f"two sources are named {source.name!r}", (*path, "name"),
                      "give each source its own name (it names its folder)")
        seen.add(source.name)
        if source.builder == "pip" and spec.python is None:
            out.error("sources.pip-needs-python", f"{source.name} is built with pip, but the spec "
                      "has no `python`", (*path, "builder"), "add a `python:` section")
        commit = _check_ref(source, path, out) if source.git else None
        out.decide(f"sources.{source.name}", source.ref or source.archive, "spec",
                   f"built with {source.builder} in {source.folder}")
        if source.git and commit is None and lock is not None:
            commit = _locked_commit(source, locked.get(source.name), path, out)
        resolved.append(ResolvedSource(source, commit))
    return tuple(resolved)


def _locked_commit(
    source: Source, commit: str | None, path: tuple[str | int, ...], out: Collector
) -> str | None:
    if commit is None:
        out.warn("lock.source-unpinned", f"env.lock has no commit for {source.name}'s tag "
                 f"{source.ref}: the build checks out whatever the tag names then",
                 (*path, "ref"), "run `envspec lock` where the repository is reachable")
        return None
    out.decide(f"sources.{source.name}", commit, "lock", f"the commit {source.ref} named "
               "when env.lock was written")
    return commit


def _check_ref(source: Source, path: tuple[str | int, ...], out: Collector) -> str | None:
    """The commit when the ref is one; branch names and short hashes are errors."""
    ref = source.ref or ""
    if FULL_COMMIT.fullmatch(ref):
        return ref
    where = (*path, "ref")
    if _SHORT_COMMIT.fullmatch(ref) and not ref.isdigit():
        out.error("sources.short-commit", f"{ref!r} looks like an abbreviated commit",
                  where, "write the full 40-hex commit (`git rev-parse <ref>`)")
    elif ref in _BRANCH_NAMES or ref.startswith(("refs/heads/", "origin/")):
        out.error("sources.branch", f"{ref!r} is a branch: it moves, so the build would change "
                  "under the same spec", where, "pin a tag or a full 40-hex commit")
    return None


def implied_packages(spec: Spec) -> tuple[str, ...]:
    """apt packages the source builds need to run at all (compilers stay the user's choice)."""
    needs: set[str] = set()
    for source in spec.sources:
        needs |= {"git", "ca-certificates"} if source.git else {"curl", "ca-certificates"}
        needs |= {"cmake": {"cmake", "make"}, "make": {"make"}}.get(source.builder, set())
    return tuple(sorted(needs))


def resolve_cuda_arch(
    spec: Spec, base: ResolvedBase, catalog: Catalog, out: Collector
) -> CudaArchs | None:
    wanted = spec.compilers.cuda_arch
    if not wanted:
        return None
    where = ("compilers", "cuda_arch")
    if base.cuda is None:
        out.error("sources.cuda-arch-no-cuda", "cuda_arch is set but the image has no CUDA",
                  where, "set base.cuda (with flavor: devel)")
        return None
    if base.flavor != "devel":
        out.warn("base.needs-devel", f"cuda_arch compiles CUDA code, but a {base.flavor} image "
                 "has no nvcc", ("base", "flavor"), "set `flavor: devel`")
    archs = [a for i, item in enumerate(wanted) for a in _expand(item, i, catalog, out)]
    _check_supported(archs, base.cuda, catalog, out)
    torch = ";".join(dict.fromkeys(archs))
    cmake = ";".join(_cmake_arch(a) for a in dict.fromkeys(archs))
    out.decide("compilers.cuda_arch", torch, "spec", "TORCH_CUDA_ARCH_LIST and "
               f"CMAKE_CUDA_ARCHITECTURES={cmake} in source builds")
    return CudaArchs(torch, cmake)


def _expand(item: str, index: int, catalog: Catalog, out: Collector) -> tuple[str, ...]:
    if item[0].isdigit():
        return (item,)
    family = catalog.arch_family(item)
    if family is None:
        out.error("sources.cuda-arch-family", f"unknown GPU family {item!r}",
                  ("compilers", "cuda_arch", index),
                  "known families: " + ", ".join(catalog.arch_families()))
        return ()
    return family


def _check_supported(archs: list[str], cuda: str, catalog: Catalog, out: Collector) -> None:
    release = catalog.nvcc_archs(cuda)
    if release is None:
        out.warn("sources.cuda-arch-unknown", f"envspec does not know which GPUs CUDA {cuda}'s "
                 "nvcc supports", ("base", "cuda"))
        return
    for arch in archs:
        sm = arch.removesuffix("+PTX")
        if sm not in release.sms:
            out.error("sources.cuda-arch", f"CUDA {cuda}'s nvcc cannot compile for sm_"
                      f"{sm.replace('.', '')} ({arch})", ("compilers", "cuda_arch"),
                      "it supports " + ", ".join(release.sms))


def _cmake_arch(arch: str) -> str:
    sm = arch.removesuffix("+PTX").replace(".", "")
    return sm if arch.endswith("+PTX") else f"{sm}-real"
