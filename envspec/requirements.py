"""pip requirements, parsed in one place, on `packaging`.

Every user of a requirement string (the spec's grammar check, the torch resolver, the smoke
checks' import names, requirements files, the plan) goes through `read_requirement` (every
form pip takes on its command line) or `parse_requirement` (named PEP 508 only), so they agree
on what `Torch[opt]>=2.1,<2.3; python_version>="3.9"` or `x @ git+https://…@v1` means.

The forms:
  named   `name[extras] specifier; marker`
  vcs     `git+https://host/repo.git@<tag|commit>#subdirectory=…&egg=name`, or `name @ git+…`
  url     `name @ https://…/x.whl`, or a bare `https://…/name-1.0.tar.gz`
  local   `./wheels/x.whl`, `file:wheels/x.whl` or `name @ file:./x.whl`: a wheel, sdist or
          archive inside the spec's folder

Parsing is the first gate; the shell check is the second: a requirement reaches a `pip install`
command line (quoted when rendered), so characters a shell would act on are refused even where
PEP 508 or a URL allows them (`$`, backticks, `\\`, `&` outside a URL's fragment, `|`, `;`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

__all__ = [
    "PipRequirement",
    "Requirement",
    "RequirementError",
    "canonical_name",
    "has_local_version",
    "marker_applies",
    "parse_requirement",
    "read_requirement",
    "requirement_lines",
    "requirement_names",
    "unhashed_requirements",
]

Kind = Literal["named", "vcs", "url", "local"]
EXAMPLES = "like `numpy`, `torch==2.1.2` or `black[jupyter]>=24`"
FORMS = ("like `numpy>=1.26`, `name @ https://host/x.whl`, `git+https://host/repo.git@v1.0` or "
         "`./wheels/x.whl`")
# Before the marker: names, extras, version clauses. The marker: PEP 508's marker language.
_SAFE_HEAD = re.compile(r"[A-Za-z0-9._\-\[\],<>=!~*+ ]+")
_SAFE_MARKER = re.compile(r"[A-Za-z0-9._\-<>=!~'\" ()]+")
# A URL up to its fragment: no quotes, `$`, `;`, `&`, `?`, spaces, backslashes or globs.
_SAFE_URL = re.compile(r"[A-Za-z0-9._~:/@%+\-=,]+")
_FRAGMENT_KEYS = ("egg", "subdirectory", "sha256")
_FRAGMENT_VALUE = re.compile(r"[A-Za-z0-9._\-/+]+")
_LOCAL_PATH = re.compile(r"[A-Za-z0-9_.\-+@/]+")
ARCHIVES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")
_VCS_SCHEMES = ("git+https", "git+http", "git+ssh", "git+git")
_FULL_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SHORT_COMMIT = re.compile(r"[0-9a-f]{7,39}")
_COMMENT = re.compile(r"(?:^|\s)#.*$")  # pip's rule: a # at the start or after whitespace
_LINE_OPTIONS = re.compile(r"\s--\S.*$")  # per-requirement options: `pkg==1 --hash=sha256:…`


class RequirementError(ValueError):
    """Not a requirement envspec accepts; the message says why and shows the expected shape."""


@dataclass(frozen=True)
class PipRequirement:
    """One requirement in any form pip takes on its command line (see the module's docstring)."""

    text: str  # as written, stripped
    kind: Kind
    name: str | None  # the distribution's name, where the text tells it (smoke import checks)
    requirement: Requirement | None = None  # the PEP 508 parse: named and `name @ URL` forms
    url: str | None = None  # vcs and url forms, without `name @`
    path: str | None = None  # local form: relative to the spec's folder, without `./`
    ref: str | None = None  # vcs form: the tag or commit after the URL path's last `@`

    def argument(self, local_dir: str) -> str:
        """What `pip install` gets: the text, or for a local file its path under `local_dir`."""
        if self.path is None:
            return self.text
        target = f"{local_dir}/{self.path}"
        if self.requirement is None:
            return target
        extras = f"[{','.join(sorted(self.requirement.extras))}]" if self.requirement.extras else ""
        marker = f" ; {self.requirement.marker}" if self.requirement.marker else ""
        return f"{self.requirement.name}{extras} @ file://{target}{marker}"

    def pin_problem(self) -> str | None:
        """Why a git+ requirement may install different code tomorrow; None when it is pinned
        to a full commit or to what looks like a tag (a ref with a digit: `v1.2`, `2024.01`)."""
        if self.kind != "vcs":
            return None
        if self.ref is None:
            return "no tag or commit, so every build gets the branch's newest commit"
        if _FULL_COMMIT.fullmatch(self.ref):
            return None
        if _SHORT_COMMIT.fullmatch(self.ref):
            return f"pins the abbreviated commit `{self.ref}`, which may become ambiguous"
        if not any(ch.isdigit() for ch in self.ref):
            return f"`@{self.ref}` looks like a branch name, which moves"
        return None


def read_requirement(text: str) -> PipRequirement:
    """Any form envspec accepts in `python.pip.packages`, or RequirementError."""
    value = text.strip()
    if value.startswith(("./", "../", "/", "file:")):
        return _local(value, value, None)
    if value.startswith(("git+", "hg+", "svn+", "bzr+")):
        return _vcs(value, value, None)
    if value.startswith(("http://", "https://")):
        return _url(value, value, None)
    requirement = _pep508(value, FORMS)
    if requirement.url is None:
        _shell_safe(value)
        return PipRequirement(value, "named", requirement.name, requirement)
    _, semicolon, marker = value.partition(";")  # a URL holds no `;` (_safe_url refuses one)
    _shell_safe(value.split("@", 1)[0] + semicolon + marker)  # the name, extras and marker
    if requirement.url.startswith("file:"):
        return _local(value, requirement.url, requirement)
    if requirement.url.startswith(("git+", "hg+", "svn+", "bzr+")):
        return _vcs(value, requirement.url, requirement)
    return _url(value, requirement.url, requirement)


def parse_requirement(text: str) -> Requirement:
    """A named PEP 508 requirement (no URL), or RequirementError."""
    value = text.strip()
    requirement = _pep508(value, EXAMPLES)
    if requirement.url is not None:
        raise RequirementError(
            f"{value!r}: direct URL and git+ requirements name no version to resolve")
    _shell_safe(value)
    return requirement


def _pep508(value: str, examples: str) -> Requirement:
    try:
        return Requirement(value)
    except InvalidRequirement as err:
        reason = str(err).splitlines()[0]
        raise RequirementError(f"{value!r} is not a pip requirement ({examples}): {reason}") from None


def _shell_safe(value: str) -> None:
    head, semicolon, marker = value.partition(";")
    if not _SAFE_HEAD.fullmatch(head) or (semicolon and not _SAFE_MARKER.fullmatch(marker)):
        raise RequirementError(
            f"{value!r} is not a pip requirement ({EXAMPLES}): it contains characters a shell "
            "would act on (quotes outside a marker, $, `, \\, &, |, a second ;)")


def _vcs(text: str, url: str, named: Requirement | None) -> PipRequirement:
    scheme = url.split("://", 1)[0]
    if scheme not in _VCS_SCHEMES:
        raise RequirementError(f"{text!r}: envspec installs version-control requirements from git "
                               f"only, over {', '.join(s + '://' for s in _VCS_SCHEMES)}")
    fragment = _safe_url(text, url)
    parts = urlsplit(url)
    path, at, ref = parts.path.rpartition("@")
    if not at:
        path, ref = parts.path, ""
    if not path.strip("/"):
        raise RequirementError(f"{text!r}: the URL names no repository")
    name = named.name if named else fragment.get("egg")
    return PipRequirement(text, "vcs", name, named, url=url, ref=ref or None)


def _url(text: str, url: str, named: Requirement | None) -> PipRequirement:
    fragment = _safe_url(text, url)
    filename = urlsplit(url).path.rsplit("/", 1)[-1]
    if not filename.endswith(ARCHIVES):
        raise RequirementError(f"{text!r}: a direct URL must name a wheel, sdist or archive "
                               f"({', '.join(ARCHIVES)})")
    name = named.name if named else fragment.get("egg") or _name_from_file(filename)
    return PipRequirement(text, "url", name, named, url=url)


def _safe_url(text: str, url: str) -> dict[str, str]:
    """The shell gate for URLs; returns the fragment's `key=value` pairs (`egg`, `subdirectory`,
    `sha256`), the only place a `&` may appear."""
    address, _, fragment = url.partition("#")
    if not _SAFE_URL.fullmatch(address):
        raise RequirementError(
            f"{text!r}: the URL contains characters a shell would act on or that envspec does "
            "not pass to pip (spaces, quotes, $, `, \\, ;, &, |, ?, *, parentheses)")
    netloc = urlsplit(address).netloc
    if ":" in netloc.rpartition("@")[0]:
        raise RequirementError(f"{text!r}: a password in a URL would be written into the "
                               "Dockerfile and the image's history")
    pairs: dict[str, str] = {}
    for item in fragment.split("&") if fragment else ():
        key, eq, value = item.partition("=")
        if key not in _FRAGMENT_KEYS or not eq or not _FRAGMENT_VALUE.fullmatch(value) \
                or ".." in value.split("/"):
            raise RequirementError(
                f"{text!r}: the URL fragment may hold only "
                + ", ".join(f"`{k}=…`" for k in _FRAGMENT_KEYS) + " joined by `&`")
        pairs[key] = value
    return pairs


def _local(text: str, url: str, named: Requirement | None) -> PipRequirement:
    path = url.removeprefix("file:")
    if path.startswith(("/", "~")):
        raise RequirementError(f"{text!r}: a local file must be given relative to env.yaml "
                               "(like `./wheels/x.whl`), inside its folder")
    while path.startswith("./"):
        path = path[2:]
    if not _LOCAL_PATH.fullmatch(path) or ".." in path.split("/"):
        raise RequirementError(f"{text!r}: a local file must stay inside the folder of env.yaml "
                               "and use letters, digits and `_.-+@/` (no `..`)")
    if not path.endswith(ARCHIVES):
        raise RequirementError(f"{text!r}: a local requirement must be a wheel, sdist or archive "
                               f"({', '.join(ARCHIVES)}); build a folder with `python -m build`")
    name = named.name if named else _name_from_file(path.rsplit("/", 1)[-1])
    return PipRequirement(text, "local", name, named, path=path)


def _name_from_file(filename: str) -> str | None:
    """The distribution's name from a wheel's or sdist's file name (PEP 427, PEP 625)."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def has_local_version(requirement: Requirement) -> bool:
    """`==2.0.5+cu101`: a local version, which PyPI refuses to host."""
    return any("+" in clause.version for clause in requirement.specifier)


def canonical_name(name: str) -> str:
    """PEP 503: `Torch`, `torch_vision` and `Torch.Vision` name the same distribution."""
    return str(canonicalize_name(name))


def marker_applies(requirement: Requirement, python: str) -> bool:
    """Whether the requirement's marker holds inside the image: Linux, CPython `python` (X.Y;
    its patch release is unknown here, so python_full_version compares as X.Y.0)."""
    if requirement.marker is None:
        return True
    environment = {key: str(value) for key, value in default_environment().items()}
    environment.update(
        python_version=python, python_full_version=python, sys_platform="linux",
        platform_system="Linux", os_name="posix", implementation_name="cpython",
        platform_python_implementation="CPython",
    )
    return requirement.marker.evaluate(environment)


def requirement_lines(text: str) -> Iterator[str]:
    """The requirement lines of a requirements file: comments, blank lines and option lines
    (`-r`, `-c`, `--index-url` …) skipped, per-requirement options (`--hash`) cut off."""
    for logical in _logical_lines(text):
        line = _LINE_OPTIONS.sub("", logical).strip()
        if line and not line.startswith("-"):
            yield line


def unhashed_requirements(text: str) -> tuple[str, ...]:
    """Requirement lines without a `--hash=` option: what hash-checking mode refuses."""
    return tuple(_LINE_OPTIONS.sub("", line).strip() for line in _logical_lines(text)
                 if line.strip() and not line.lstrip().startswith("-") and "--hash=" not in line)


def _logical_lines(text: str) -> Iterator[str]:
    """Lines as pip reads them: comments cut, a trailing `\\` joining the next line (the way
    pip-compile writes `--hash` options under their requirement)."""
    pending = ""
    for raw in text.splitlines():
        line = _COMMENT.sub("", raw)
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def requirement_names(text: str) -> tuple[str, ...]:
    """Distribution names a requirements file installs, as written; lines without a name pip
    can tell before installing (a path, a bare URL) are left out."""
    names = []
    for line in requirement_lines(text):
        try:
            names.append(Requirement(line).name)
        except InvalidRequirement:
            continue
    return tuple(names)
