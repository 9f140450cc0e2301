"""`envspec lock` for git sources: the commit each tag points to, asked with `git ls-remote`.

A repository that cannot be asked (no network, no git) is not an error: the lock records the
tag without a commit and says so, and the build checks out the tag. A ref that turns out to be
a branch, or that the repository does not have, is an error: the build could not be repeated.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from envspec.errors import Diagnostic, Location, SpecError
from envspec.lockfile import LockedSource
from envspec.resolve.model import ResolvedSource
from envspec.resolve.sources import FULL_COMMIT

LS_REMOTE_TIMEOUT = 60.0  # seconds per repository


@dataclass(frozen=True)
class SourcesLock:
    sources: tuple[LockedSource, ...]
    notices: tuple[Diagnostic, ...]  # repositories that could not be asked


def lock_sources(sources: tuple[ResolvedSource, ...], spec_path: Path) -> SourcesLock:
    locked: list[LockedSource] = []
    notices: list[Diagnostic] = []
    errors: list[Diagnostic] = []
    for index, resolved in enumerate(sources):
        source = resolved.spec
        if source.git is None or source.ref is None:
            continue
        where = Location(str(spec_path), key=f"sources[{index}].ref")
        if FULL_COMMIT.fullmatch(source.ref):
            commit: str | None = source.ref
        else:
            refs = ls_remote(source.git, source.ref)
            commit, problem = _commit_of_tag(source.ref, source.git, refs, where)
            if problem is not None:
                (notices if problem.severity == "warning" else errors).append(problem)
        locked.append(LockedSource(name=source.name, url=source.git, ref=source.ref, commit=commit))
    if errors:
        raise SpecError(errors)
    return SourcesLock(tuple(locked), tuple(notices))


def ls_remote(url: str, ref: str) -> dict[str, str] | None:
    """Ref name → object id for the tag and a branch of that name; None: not reachable."""
    patterns = [f"refs/tags/{ref}", f"refs/tags/{ref}^{{}}", f"refs/heads/{ref}"]
    try:
        done = subprocess.run(["git", "ls-remote", "--", url, *patterns], capture_output=True,
                              text=True, timeout=LS_REMOTE_TIMEOUT, check=False,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    pairs = (line.split("\t", 1) for line in done.stdout.splitlines() if "\t" in line)
    return {name: oid for oid, name in pairs}


def _commit_of_tag(
    ref: str, url: str, refs: dict[str, str] | None, where: Location
) -> tuple[str | None, Diagnostic | None]:
    if refs is None:
        return None, Diagnostic(
            "lock.source-unreachable", f"could not ask {url} for {ref}; the lock records the tag "
            "without its commit", where, "run `envspec lock` again where the repository is "
            "reachable", "warning")
    # An annotated tag's own id is not a commit: its peeled `^{}` entry is.
    commit = refs.get(f"refs/tags/{ref}^{{}}") or refs.get(f"refs/tags/{ref}")
    if commit is not None:
        return commit, None
    if f"refs/heads/{ref}" in refs:
        return None, Diagnostic("sources.branch", f"{ref!r} is a branch of {url}, not a tag: it "
                                "moves", where, "pin a tag or a full 40-hex commit")
    return None, Diagnostic("sources.no-tag", f"{url} has no tag {ref!r}", where,
                            "check the name with `git ls-remote --tags`")
