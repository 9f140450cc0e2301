"""env.yaml → Spec, reporting every problem at once with file:line:col, key path and a hint.

PyYAML's composer keeps the position of every node; we walk that node tree once to build
plain data plus a map from key path to position, then let pydantic validate the data and
translate each of its errors back to the position the user typed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from envspec.catalog import FAST_LOADER
from envspec.errors import Diagnostic, Location, SpecError
from envspec.spec import Spec

KeyPath = tuple[str | int, ...]

MAX_EXTENDS_DEPTH = 8


@dataclass
class Positions:
    """Where each key path was written: (file, line, column), 1-based."""

    by_path: dict[KeyPath, Location] = field(default_factory=dict)
    key_positions: dict[KeyPath, Location] = field(default_factory=dict)
    raw_text: dict[KeyPath, str] = field(default_factory=dict)  # scalars as typed, for hints

    def locate(self, path: KeyPath, *, key: bool = False) -> Location | None:
        table = self.key_positions if key else self.by_path
        probe = path
        while probe:  # fall back to the closest parent the user actually wrote
            if probe in table:
                return table[probe]
            if probe in self.by_path:
                return self.by_path[probe]
            probe = probe[:-1]
        return self.by_path.get((), None)


@dataclass(frozen=True)
class LoadedSpec:
    spec: Spec
    path: Path
    data: Mapping[str, Any]  # the merged plain data, for hashing and explain
    positions: Positions
    sources: tuple[Path, ...]  # the spec and every file it extends, outermost first


def load_spec(path: Path) -> LoadedSpec:
    """Read, merge `extends:`, and validate. Raises SpecError with every problem found."""
    data, positions, sources = _load_with_extends(path, depth=0)
    spec = _validate(data, positions, path)
    return LoadedSpec(spec=spec, path=path, data=data, positions=positions, sources=sources)


def _load_with_extends(
    path: Path, depth: int
) -> tuple[dict[str, Any], Positions, tuple[Path, ...]]:
    data, positions = _read_yaml(path)
    parent_ref = data.get("extends")
    if parent_ref is None:
        return data, positions, (path,)
    parent_path = _extends_target(path, parent_ref, positions, depth)
    parent_data, parent_positions, parent_sources = _load_with_extends(parent_path, depth + 1)
    merged = _merge(parent_data, {k: v for k, v in data.items() if k != "extends"})
    parent_positions.by_path.update(positions.by_path)
    parent_positions.key_positions.update(positions.key_positions)
    parent_positions.raw_text.update(positions.raw_text)
    return merged, parent_positions, (path, *parent_sources)


def _extends_target(path: Path, ref: object, positions: Positions, depth: int) -> Path:
    location = positions.locate(("extends",))
    if not isinstance(ref, str):
        raise SpecError([_diag("spec.extends", "`extends` must be a relative path", location)])
    target = (path.parent / ref).resolve()
    if depth >= MAX_EXTENDS_DEPTH:
        raise SpecError(
            [_diag("spec.extends", f"`extends` nests deeper than {MAX_EXTENDS_DEPTH}", location,
                   "look for a cycle: a spec that extends itself through others")]
        )
    if not target.is_file():
        raise SpecError(
            [_diag("spec.extends", f"`extends` names {ref!r}, which does not exist", location,
                   f"the path is relative to {path.parent}")]
        )
    return target


def _merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else in the child replaces the parent's value."""
    merged = dict(parent)
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> tuple[dict[str, Any], Positions]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SpecError([_diag("spec.unreadable", f"cannot read {path}: {err.strerror}", None)]) from None
    except UnicodeDecodeError:
        raise SpecError([_diag("spec.encoding", f"{path} is not UTF-8 text", None)]) from None
    try:
        node = yaml.compose(text, Loader=FAST_LOADER)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        location = Location(str(path), mark.line + 1, mark.column + 1) if mark else None
        raise SpecError(
            [_diag("spec.yaml", f"not valid YAML: {err.problem}", location,
                   "check indentation and that `:` is followed by a space")]
        ) from None
    if node is None:
        raise SpecError([_diag("spec.empty", "the file is empty", Location(str(path)),
                               "run `envspec init` for a commented starter spec")])
    walker = _Walker(str(path))
    data = walker.value(node, ())
    if walker.problems:
        raise SpecError(walker.problems)
    if not isinstance(data, dict):
        raise SpecError([_diag("spec.shape", "the top level must be a mapping of keys",
                               Location(str(path), 1, 1))])
    return data, walker.positions


class _Walker:
    """Turns a composed YAML node tree into plain data, recording positions on the way."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.positions = Positions()
        self.problems: list[Diagnostic] = []
        self._constructor = yaml.SafeLoader("")

    def _loc(self, node: yaml.Node, path: KeyPath) -> Location:
        mark = node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1, _dotted(path) or None)

    def value(self, node: yaml.Node, path: KeyPath) -> Any:
        self.positions.by_path[path] = self._loc(node, path)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        self.positions.raw_text[path] = node.value
        return self._constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._constructor.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            self.positions.key_positions[child] = self._loc(key_node, child)
            if key in result:
                self.problems.append(
                    _diag("spec.duplicate-key", f"`{_dotted(child)}` is set twice",
                          self._loc(key_node, child), "remove one of them; YAML keeps the last")
                )
            result[key] = self.value(value_node, child)
        return result


def _validate(data: Mapping[str, Any], positions: Positions, path: Path) -> Spec:
    try:
        return Spec.model_validate(data)
    except ValidationError as err:
        diagnostics = [_from_pydantic(e, positions, path) for e in err.errors()]
        raise SpecError(sorted(diagnostics, key=_order)) from None


def _order(d: Diagnostic) -> tuple[int, int]:
    loc = d.location
    return (loc.line or 0, loc.column or 0) if loc else (0, 0)


def _from_pydantic(error: Any, positions: Positions, path: Path) -> Diagnostic:
    loc_path = _user_path(error["loc"])
    kind = error["type"]
    is_key_problem = kind == "extra_forbidden" or "[key]" in error["loc"]
    location = positions.locate(loc_path, key=is_key_problem) or Location(str(path))
    location = Location(location.file, location.line, location.column, _dotted(loc_path) or None)
    message = _message(error, loc_path)
    hint = _hint(error, loc_path, positions.raw_text.get(loc_path))
    return _diag(f"spec.{kind.replace('_', '-')}", message, location, hint)


def _user_path(loc: Iterable[Any]) -> KeyPath:
    """pydantic paths include union branch names and validator tags; keep what the user wrote."""
    result: list[str | int] = []
    for part in loc:
        if isinstance(part, int) or (isinstance(part, str) and not _is_internal(part)):
            result.append(part)
    return tuple(result)


_TYPE_TAGS = {"str", "int", "float", "bool", "none", "[key]"}


def _is_internal(part: str) -> bool:
    """pydantic names union branches by type (`str`, `list[...]`, `function-after[...]`); a
    user's key is never one of those exact words nor contains `[`, so match exactly."""
    return part in _TYPE_TAGS or "[" in part


def _message(error: Any, loc_path: KeyPath) -> str:
    kind = error["type"]
    key = _dotted(loc_path)
    if kind == "extra_forbidden":
        return f"unknown key `{loc_path[-1]}`" if loc_path else "unknown key"
    if kind == "missing":
        return f"`{key}` is required"
    text = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if kind.startswith(("string_type", "int_", "bool_", "literal_", "list_type", "dict_type")):
        return f"`{key}`: {text}, got {_show(value)}"
    return f"`{key}`: {text}" if key else text


def _hint(error: Any, loc_path: KeyPath, typed: str | None) -> str | None:
    kind = error["type"]
    if "hint" in (error.get("ctx") or {}):  # a validator that knows better (spec.CudaVersion)
        return str(error["ctx"]["hint"])
    if kind == "extra_forbidden" and loc_path:
        return _did_you_mean(str(loc_path[-1]), _allowed_keys(loc_path[:-1]))
    if kind == "string_type" and isinstance(error.get("input"), float | int):
        return f"quote it: `{loc_path[-1]}: \"{typed}\"` (unquoted, YAML reads 3.10 as the number 3.1)"
    if kind == "missing" and loc_path and loc_path[-1] == "name":
        return "add `name: my-env` at the top of the spec"
    return None


def _did_you_mean(word: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    return "allowed keys here: " + ", ".join(f"`{k}`" for k in allowed)


def _allowed_keys(parent: KeyPath) -> list[str]:
    model: type[BaseModel] | None = Spec
    for part in parent:
        if model is None or isinstance(part, int):
            continue
        model = _field_model(model, part)
    if model is None:
        return []
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _field_model(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return _model_in(info.annotation)
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _diag(code: str, message: str, location: Location | None, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, message=message, location=location, hint=hint)
