"""pip requirements (PEP 508), parsed in one place, on `packaging`.

Every user of a requirement string (the spec's grammar check, the torch resolver, the smoke
checks' import names, requirements files) goes through `parse_requirement`, so they agree on
what `Torch[opt]>=2.1,<2.3; python_version>="3.9"` means.

Parsing is the first gate; `_shell_safe` is the second: a requirement reaches a `pip install`
command line (quoted when rendered), so characters a shell would act on are refused even where
PEP 508 allows them (`$`, backticks, `\\`, `&`, `|`, a second `;`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

__all__ = [
    "Requirement",
    "RequirementError",
    "canonical_name",
    "marker_applies",
    "parse_requirement",
    "requirement_lines",
    "requirement_names",
]

EXAMPLES = "like `numpy`, `torch==2.1.2` or `black[jupyter]>=24`"
# Before the marker: names, extras, version clauses. The marker: PEP 508's marker language.
_SAFE_HEAD = re.compile(r"[A-Za-z0-9._\-\[\],<>=!~*+ ]+")
_SAFE_MARKER = re.compile(r"[A-Za-z0-9._\-<>=!~'\" ()]+")
_COMMENT = re.compile(r"(?:^|\s)#.*$")  # pip's rule: a # at the start or after whitespace
_LINE_OPTIONS = re.compile(r"\s--\S.*$")  # per-requirement options: `pkg==1 --hash=sha256:…`


class RequirementError(ValueError):
    """Not a requirement envspec accepts; the message says why and shows the expected shape."""


def parse_requirement(text: str) -> Requirement:
    """A named PEP 508 requirement, or RequirementError."""
    value = text.strip()
    try:
        requirement = Requirement(value)
    except InvalidRequirement as err:
        reason = str(err).splitlines()[0]
        raise RequirementError(f"{value!r} is not a pip requirement ({EXAMPLES}): {reason}") from None
    if requirement.url is not None:
        raise RequirementError(
            f"{value!r}: direct URL and git+ requirements are not supported in `pip.packages` yet "
            "(list the package by name and version, or put the URL in a requirements file)")
    _shell_safe(value)
    return requirement


def _shell_safe(value: str) -> None:
    head, semicolon, marker = value.partition(";")
    if not _SAFE_HEAD.fullmatch(head) or (semicolon and not _SAFE_MARKER.fullmatch(marker)):
        raise RequirementError(
            f"{value!r} is not a pip requirement ({EXAMPLES}): it contains characters a shell "
            "would act on (quotes outside a marker, $, `, \\, &, |, a second ;)")


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
    for raw in text.splitlines():
        line = _LINE_OPTIONS.sub("", _COMMENT.sub("", raw)).strip()
        if line and not line.startswith("-"):
            yield line


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
