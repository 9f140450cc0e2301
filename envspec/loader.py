"""env.yaml → Spec, reporting every problem at once with file:line:col, key path and a hint.

PyYAML's composer keeps the position of every node; we walk that node tree once to build
plain data plus a map from key path to position, then let pydantic validate the data and
translate each of its errors back to the position the user typed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from envspec import grammar, yaml_safe
from envspec.errors import Diagnostic, Location, SpecError
from envspec.spec import Spec

KeyPath = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

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
    spec = _validate_as(Spec, data, positions, path)
    return LoadedSpec(spec=spec, path=path, data=data, positions=positions, sources=sources)


def _load_with_extends(
    path: Path, depth: int
) -> tuple[dict[str, Any], Positions, tuple[Path, ...]]:
    data, positions = _read_yaml(path)
    parent_ref = data.get("extends")
    if parent_ref is None:
        return data, positions, (path,)
    parent_path = _extends_target(path, parent_ref, positions, depth)
    try:
        parent_data, parent_positions, parent_sources = _load_with_extends(parent_path, depth + 1)
    except SpecError as err:  # a problem with no place in the parent (unreadable) is the key's
        where = positions.locate(("extends",))
        raise SpecError([d if d.location else replace(d, location=where)
                         for d in err.diagnostics]) from None
    merged = _merge(parent_data, {k: v for k, v in data.items() if k != "extends"})
    parent_positions.by_path.update(positions.by_path)
    parent_positions.key_positions.update(positions.key_positions)
    parent_positions.raw_text.update(positions.raw_text)
    return merged, parent_positions, (path, *parent_sources)


def _extends_target(path: Path, ref: object, positions: Positions, depth: int) -> Path:
    location = positions.locate(("extends",))
    if not isinstance(ref, str):
        raise SpecError([_diag("spec.extends", "`extends` must be a relative path", location)])
    if depth >= MAX_EXTENDS_DEPTH:
        raise SpecError(
            [_diag("spec.extends", f"`extends` nests deeper than {MAX_EXTENDS_DEPTH}", location,
                   "look for a cycle: a spec that extends itself through others")]
        )
    target = _existing_file(path.parent / ref)
    problem = _extends_problem(ref, target)
    if problem is not None or target is None:
        raise SpecError([_diag("spec.extends", problem or "bad `extends`", location,
                               f"name a .yaml spec by its path relative to {path.name}'s folder")])
    return target


_SPEC_SUFFIXES = (".yaml", ".yml")


def _extends_problem(ref: str, target: Path | None) -> str | None:
    """`extends` may climb to a sibling folder of templates, but names a spec file, relatively
    (never /etc/passwd, directly or through a link: its errors would point into that file)."""
    try:
        grammar.one_line(ref)
    except ValueError as err:
        return f"`extends`: {err}"
    if ref.startswith(("/", "~")):
        return f"`extends` must be a relative path, got {_show(ref)}"
    if len(ref) > grammar.MAX_PATH or not ref.endswith(_SPEC_SUFFIXES):
        return f"`extends` must name a .yaml file, got {_show(ref)}"
    if target is None:
        return f"`extends` names {_show(ref)}, which does not exist"
    if target.suffix not in _SPEC_SUFFIXES:
        return f"`extends` names {_show(ref)}, which leads to {target.name}, not a .yaml file"
    return None


def _existing_file(path: Path) -> Path | None:
    if "\0" in str(path):  # the file system cannot even be asked; _extends_problem says why
        return None
    try:
        target = path.resolve()
        return target if target.is_file() else None
    except (OSError, RuntimeError):  # a link loop, a name too long for the file system
        return None


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
    text = yaml_safe.read_text(path)
    node = yaml_safe.compose(text, str(path))
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
    """Turns a composed YAML node tree into plain data, recording positions on the way.

    Aliases are expanded here, so every node visited is paid for from the budget."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.positions = Positions()
        self.problems: list[Diagnostic] = []
        self._constructor = yaml.SafeLoader("")
        self._budget = yaml_safe.ExpansionBudget(file)

    def _loc(self, node: yaml.Node, path: KeyPath) -> Location:
        mark = node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1, dotted_key(path) or None)

    def value(self, node: yaml.Node, path: KeyPath) -> Any:
        self._pay(node, path)
        self.positions.by_path[path] = self._loc(node, path)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        self.positions.raw_text[path] = node.value
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        """YAML 1.1 reads some plain words as dates or numbers that Python cannot hold."""
        try:
            return self._constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError):
            self.problems.append(_diag("spec.yaml-value", f"cannot read {_show(node.value)} as "
                                       "a YAML value", self._loc(node, path),
                                       "quote it to keep it as text"))
            return node.value

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            child = (*path, key)
            self.positions.key_positions[child] = self._loc(key_node, child)
            if key in result:
                self.problems.append(
                    _diag("spec.duplicate-key", f"`{dotted_key(child)}` is set twice",
                          self._loc(key_node, child), "remove one of them; YAML keeps the last")
                )
            result[key] = self.value(value_node, child)
        return result

    def _key(self, node: yaml.Node, path: KeyPath) -> str:
        if not isinstance(node, yaml.ScalarNode):
            self.problems.append(_diag("spec.key-type", "a key must be a plain word, not a list "
                                       "or mapping", self._loc(node, path),
                                       "remove the `?` or brackets around the key"))
            return f"<{type(node).__name__} key>"
        if node.tag == "tag:yaml.org,2002:merge":
            self.problems.append(_diag("spec.merge-key", "YAML merge keys (`<<`) are not "
                                       "supported", self._loc(node, path),
                                       "write the keys out, or share settings with `extends:`"))
            return "<<"
        self._pay(node, path)
        return str(self._scalar(node, path))

    def _pay(self, node: yaml.Node, path: KeyPath) -> None:
        """Stop past the budget: too deep where it happens, too large at the top-level key
        being expanded (the node itself may be an anchor far above)."""
        code = self._budget.spend(node, len(path))
        if code is not None:
            top = self.positions.key_positions.get(path[:1]) if code == "spec.too-large" else None
            raise self._budget.exceeded(code, top or self._loc(node, path))


def load_model(path: Path, model: type[M]) -> M:
    """Any envspec YAML file (the user config, a catalog index) read with the spec's safety
    limits and validated with the spec's located errors, against `model`. Unlike a spec, an
    empty file (or one of comments only) is valid: it sets nothing."""
    if yaml_safe.compose(yaml_safe.read_text(path), str(path)) is None:
        return model.model_validate({})
    data, positions = _read_yaml(path)
    return _validate_as(model, data, positions, path)


def _validate_as(model: type[M], data: Mapping[str, Any], positions: Positions, path: Path) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        errors = err.errors()
        diagnostics = [_from_pydantic(e, positions, path, model) for e in errors[:MAX_REPORTED]]
        diagnostics.sort(key=_order)
        if len(errors) > MAX_REPORTED:
            diagnostics.append(Diagnostic("spec.more", f"… and {len(errors) - MAX_REPORTED} more "
                                          "problems", Location(str(path)), "fix these first", "info"))
        raise SpecError(diagnostics) from None


MAX_REPORTED = 100  # a generated or pasted spec can have thousands; the first ones tell the story


def _order(d: Diagnostic) -> tuple[int, int]:
    loc = d.location
    return (loc.line or 0, loc.column or 0) if loc else (0, 0)


def _from_pydantic(error: Any, positions: Positions, path: Path,
                   model: type[BaseModel]) -> Diagnostic:
    loc_path = _user_path(error["loc"])
    kind = error["type"]
    is_key_problem = kind == "extra_forbidden" or "[key]" in error["loc"]
    location = positions.locate(loc_path, key=is_key_problem) or Location(str(path))
    location = Location(location.file, location.line, location.column, dotted_key(loc_path) or None)
    message = _message(error, loc_path)
    hint = _hint(error, loc_path, positions.raw_text.get(loc_path), model)
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
    key = dotted_key(loc_path)
    if kind == "extra_forbidden":
        return f"unknown key `{_cut(str(loc_path[-1]))}`" if loc_path else "unknown key"
    if kind == "missing":
        return f"`{key}` is required"
    text = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if kind.startswith(("string_type", "int_", "bool_", "literal_", "list_type", "dict_type")):
        return f"`{key}`: {text}, got {_show(value)}"
    return f"`{key}`: {text}" if key else text


def _hint(error: Any, loc_path: KeyPath, typed: str | None, model: type[BaseModel]) -> str | None:
    kind = error["type"]
    if "hint" in (error.get("ctx") or {}):  # a validator that knows better (spec.CudaVersion)
        return str(error["ctx"]["hint"])
    if kind == "extra_forbidden" and loc_path:
        return _did_you_mean(str(loc_path[-1]), _allowed_keys(model, loc_path[:-1]))
    if kind == "string_type" and isinstance(error.get("input"), float | int):
        return f"quote it: `{loc_path[-1]}: \"{typed}\"` (unquoted, YAML reads 3.10 as the number 3.1)"
    if kind == "missing" and loc_path and loc_path[-1] == "name":
        return "add `name: my-env` at the top of the spec"
    if kind == "literal_error":
        return _closest_choice(error.get("input"), str(error.get("ctx", {}).get("expected", "")))
    return _LIMIT_HINTS.get(kind)


_LIMIT_HINTS = {
    "string_too_long": "envspec bounds every value (see the spec reference); a value this long "
                       "is usually pasted by mistake, or belongs in a file",
    "too_long": "envspec bounds every list (see the spec reference); split the environment, or "
                "keep long package lists in a requirements file",
}


def _closest_choice(value: object, expected: str) -> str | None:
    """`flavor: devle` → did you mean `devel`? (pydantic lists the choices as 'a', 'b' or 'c')."""
    choices = re.findall(r"'([^']*)'", expected)
    if not isinstance(value, str) or not choices:
        return None
    close = difflib.get_close_matches(value.lower(), choices, n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def _did_you_mean(word: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    return "allowed keys here: " + ", ".join(f"`{k}`" for k in allowed)


def _allowed_keys(top: type[BaseModel], parent: KeyPath) -> list[str]:
    model: type[BaseModel] | None = top
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


def dotted_key(path: KeyPath) -> str:
    """`python.pip.packages[1].requirement`: how a key is named in every diagnostic, the
    loader's and the resolver's alike."""
    out = ""
    for part in path:
        word = _cut(str(part))
        out += f"[{part}]" if isinstance(part, int) else (f".{word}" if out else word)
    return out


def _cut(key: str, limit: int = 60) -> str:
    """A key as shown in messages: an oversized one (a pasted blob) is cut, not echoed whole."""
    return key if len(key) <= limit else key[: limit - 1] + "…"


def _diag(code: str, message: str, location: Location | None, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, message=message, location=location, hint=hint)
