"""Reading an env.yaml safely: bytes → text → a YAML node tree, bounded in size and depth.

A spec is a few KiB of plain keys and values, so anything far beyond that is refused up front,
with a located error, before it can cost minutes or gigabytes: the file size, the nesting
depth and the number of nodes are checked on libyaml's event stream (not recursive, fast), then
the same text is composed into nodes. Alias expansion is bounded later, by the walker that
turns nodes into data (`ExpansionBudget`), since a few aliases can stand for billions of nodes.
Every tag is refused: envspec reads plain values only, and a tag is either a mistake or an
attempt to make the loader construct something.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml

from envspec.catalog import FAST_LOADER
from envspec.errors import Diagnostic, Location, SpecError

MAX_FILE_BYTES = 1 << 20  # the largest real spec is a few KiB
MAX_DEPTH = 32  # the model nests 5 deep (smoke.checks[0].name); room for flow lists
MAX_NODES = 20_000  # after alias expansion; every model list at its limit adds up to ~12,000
MAX_SCALAR_CHARS = 4 << 20  # characters of all values together, after alias expansion

_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE  # YAML 1.1's printable set, as pyyaml has it
_LIBYAML = FAST_LOADER is not yaml.SafeLoader
_NESTING_START = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_NESTING_END = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def read_text(path: Path) -> str:
    """The file's text, decoded by its byte-order mark (UTF-8 without one)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise _error("spec.unreadable", f"cannot read {path}: {err.strerror}", None) from None
    if len(raw) > MAX_FILE_BYTES:
        raise _error("spec.too-large", f"the file is larger than {MAX_FILE_BYTES // 1024} KiB",
                     Location(str(path)), "a spec is a few KiB: list files, don't inline them")
    text = _decode(raw, str(path))
    _check_printable(text, str(path))
    return text


def _decode(raw: bytes, file: str) -> str:
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), None)
    if encoding is None and b"\x00" in raw[:2]:
        raise _error("spec.encoding", "the file looks like UTF-16 or UTF-32 without a byte-order "
                     "mark", Location(file, 1, 1), "save it as UTF-8")
    try:
        return raw.decode(encoding or "utf-8")
    except UnicodeDecodeError as err:
        where = _location_of_byte(raw, err.start, encoding or "utf-8", file)
        raise _error("spec.encoding", f"the file is not valid {encoding or 'UTF-8'} text "
                     f"(byte 0x{raw[err.start]:02x})", where, "save it as UTF-8") from None


def _location_of_byte(raw: bytes, offset: int, encoding: str, file: str) -> Location:
    before = raw[:offset].decode(encoding, errors="replace")
    line_start = before.rfind("\n") + 1
    return Location(file, before.count("\n") + 1, len(before) - line_start + 1)


def _check_printable(text: str, file: str) -> None:
    bad = _NON_PRINTABLE.search(text)
    if bad is not None:
        before = text[: bad.start()]
        where = Location(file, before.count("\n") + 1, bad.start() - (before.rfind("\n") + 1) + 1)
        raise _error("spec.yaml", f"control character U+{ord(bad.group()):04X} is not allowed "
                     "in YAML", where, "remove it (a NUL or escape code pasted by accident?)")


def compose(text: str, file: str) -> yaml.Node | None:
    """One document's node tree; None for an empty file. Raises SpecError, located.

    The event pass costs more than composing itself, so it runs only when needed: a tag needs
    a `!`, and libyaml's composer does not recurse in Python (its parser stops at 1,000 levels);
    without libyaml, pyyaml's composer does, and deep nesting must be refused before it."""
    try:
        if "!" in text or not _LIBYAML:
            check_events(text, file)
        return yaml.compose(text, Loader=FAST_LOADER)
    except yaml.MarkedYAMLError as err:
        raise _syntax_error(err, text, file) from None
    except yaml.YAMLError as err:  # a reader error without a mark; _check_printable runs first
        raise _error("spec.yaml", f"not valid YAML: {err}", Location(file)) from None


def check_events(text: str, file: str) -> None:
    """Refuse tags, deep nesting and huge node counts before composing anything."""
    depth = 0
    for count, event in enumerate(yaml.parse(text, Loader=FAST_LOADER)):
        if count > MAX_NODES:
            raise _error("spec.too-large", f"more than {MAX_NODES} YAML nodes",
                         _mark(event.start_mark, file), "a spec is a few KiB")
        tag = getattr(event, "tag", None)
        if tag is not None:
            tag = tag.replace("tag:yaml.org,2002:", "!!")  # as the user typed it
            raise _error("spec.yaml-tag", f"YAML tags such as `{tag}` are not allowed",
                         _mark(event.start_mark, file),
                         "envspec reads plain values only: remove the tag, or quote a value "
                         "that starts with `!`")
        if isinstance(event, _NESTING_START):
            depth += 1
            if depth > MAX_DEPTH:
                raise _error("spec.too-deep", f"values nest deeper than {MAX_DEPTH} levels",
                             _mark(event.start_mark, file), "a spec nests 5 levels at most")
        elif isinstance(event, _NESTING_END):
            depth -= 1


class ExpansionBudget:
    """Counts nodes and characters as aliases are expanded ("billion laughs" stops here).
    A plain class: a dataclass costs a millisecond of start-up to build."""

    __slots__ = ("chars", "file", "nodes")

    def __init__(self, file: str) -> None:
        self.file = file
        self.nodes = 0
        self.chars = 0

    def spend(self, node: yaml.Node, depth: int) -> str | None:
        """Pay for one node; the code of the limit it passes, if any."""
        self.nodes += 1
        if isinstance(node, yaml.ScalarNode):
            self.chars += len(node.value)
        if depth > MAX_DEPTH:
            return "spec.too-deep"
        if self.nodes > MAX_NODES or self.chars > MAX_SCALAR_CHARS:
            return "spec.too-large"
        return None

    def exceeded(self, code: str, where: Location) -> SpecError:
        if code == "spec.too-deep":
            return _error(code, f"values nest deeper than {MAX_DEPTH} levels", where,
                          "a spec nests 5 levels at most; an alias inside its own anchor nests "
                          "forever")
        return _error(code, f"the spec holds more than {MAX_NODES} values or "
                      f"{MAX_SCALAR_CHARS // (1 << 20)} MiB of text (aliases expanded)", where,
                      "use fewer aliases (`*name`), and none inside its own anchor")


def _syntax_error(err: yaml.MarkedYAMLError, text: str, file: str) -> SpecError:
    mark = err.problem_mark or err.context_mark
    where = _mark(mark, file) if mark is not None else Location(file)
    problem = err.problem or "unknown problem"
    context = f" ({err.context})" if err.context else ""
    return _error("spec.yaml", f"not valid YAML: {problem}{context}", where, syntax_hint(err, text))


_CONTEXT_HINTS = (
    ("quoted scalar", "the quote opened at line {line}, column {col} is never closed"),
    ("flow sequence", "the `[` opened at line {line}, column {col} is not closed, or an item "
                      "before this point lacks its comma"),
    ("flow mapping", "the `{{` opened at line {line}, column {col} is not closed, or an item "
                     "before this point lacks its comma"),
)
_PROBLEM_HINTS = (
    ("tab", "YAML indents with spaces only: replace the tab with spaces"),
    ("mapping values are not allowed", "a value contains `: `: quote the whole value, or "
                                        "check this line's indentation"),
    ("undefined alias", "`*name` must refer to an anchor `&name` written earlier in the file"),
    ("expected key", "this line's indentation does not match its neighbours: keys of one "
                     "mapping start in the same column"),
    ("block end", "this line's indentation does not match its neighbours: keys of one mapping "
                  "start in the same column"),
    ("expected ':'", "a key needs `: ` after it; a value over several lines needs quotes"),
    ("nesting depth", "values nest far deeper than a spec does: look for unclosed brackets"),
    ("single document", "the file holds several YAML documents (`---`); keep one"),
    ("another document", "the file holds several YAML documents (`---`); keep one"),
)
_RESERVED_START = "@`%"  # YAML reserves these at the start of a plain value


def syntax_hint(err: yaml.MarkedYAMLError, text: str) -> str:
    """A hint for the kind of syntax error, not one hint for all of them."""
    problem = (err.problem or "").lower()
    found = _char_at(text, err.problem_mark)
    if found == "\t" or "tab" in problem:
        return _PROBLEM_HINTS[0][1]
    context = (err.context or "").lower()
    cmark = err.context_mark
    for words, hint in _CONTEXT_HINTS:
        if words in context and cmark is not None:
            return hint.format(line=cmark.line + 1, col=cmark.column + 1)
    for words, hint in _PROBLEM_HINTS[1:]:
        if words in problem:
            return hint
    if found is not None and found in _RESERVED_START:
        return f"a value starting with {found!r} must be quoted"
    return "check indentation and that `:` is followed by a space"


def _char_at(text: str, mark: yaml.Mark | None) -> str | None:
    if mark is None:
        return None
    lines = text.split("\n")
    if mark.line >= len(lines) or mark.column >= len(lines[mark.line]):
        return None
    return lines[mark.line][mark.column]


def _mark(mark: Any, file: str) -> Location:
    """A location from a mark of pyyaml's or libyaml's (two classes with the same fields)."""
    return Location(file, mark.line + 1, mark.column + 1) if mark is not None else Location(file)


def _error(code: str, message: str, location: Location | None, hint: str | None = None) -> SpecError:
    return SpecError([Diagnostic(code=code, message=message, location=location, hint=hint)])
