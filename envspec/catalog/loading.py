"""The one door to `envspec/data/*.yaml`: YAML → validated document models, cached between runs.

Validating needs pydantic validators for every model, and building those costs more than the
rest of resolving a spec. So the validated documents are kept as JSON in the user cache
folder, keyed by a hash of every data file and of models.py; a later run with the same files
rebuilds the models from it with `model_construct`, without validating again. The cache only
ever holds what validated, and a cache that cannot be read is ignored and rewritten.
Tests validate every file fully (`validate_document`, `validate_all`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import types
from collections.abc import Callable, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, cast, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from envspec import __version__
from envspec.catalog.models import DATA_FILES, Row
from envspec.errors import EnvspecError
from envspec.user_cache import user_cache_dir

# libyaml when PyYAML was built with it: the data files load several times faster.
FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

M = TypeVar("M", bound=BaseModel)


class CatalogDataError(EnvspecError):
    """A catalog data file is malformed; the message names the file and the row."""


class Documents:
    """The validated data files, looked up by their document model."""

    def __init__(self, by_name: Mapping[str, Row]) -> None:
        self._by_model: dict[type[BaseModel], BaseModel] = {type(d): d for d in by_name.values()}

    def __getitem__(self, model: type[M]) -> M:
        return cast(M, self._by_model[model])


def data_text(name: str) -> str:
    return (files("envspec") / "data" / name).read_text(encoding="utf-8")


def validate_document(name: str, text: str | None = None) -> Row:
    """Data file `name` (or `text` in its place) validated against its model."""
    try:
        doc = yaml.load(data_text(name) if text is None else text, Loader=FAST_LOADER)
    except yaml.YAMLError as err:
        raise CatalogDataError(f"{name}: not valid YAML: {err}") from None
    try:
        return DATA_FILES[name].model_validate(doc)
    except ValidationError as err:
        raise CatalogDataError(f"{name}: " + "; ".join(_describe(e) for e in err.errors()[:5])
                               ) from None


def validate_all() -> Documents:
    return Documents({name: validate_document(name) for name in DATA_FILES})


def load_documents() -> Documents:
    """Every data file, from the cache when the files and models are unchanged."""
    texts = {name: data_text(name) for name in DATA_FILES}
    folder = user_cache_dir("catalog")
    cached = folder / f"{_fingerprint(texts)}.json" if folder else None
    if cached is not None and cached.is_file():
        try:
            dumped = json.loads(cached.read_text(encoding="utf-8"))
            return Documents({name: rebuild(DATA_FILES[name], dumped[name]) for name in DATA_FILES})
        except (OSError, ValueError, KeyError, TypeError):
            pass  # unreadable or from a different layout: validate again and rewrite
    docs = {name: validate_document(name, text) for name, text in texts.items()}
    if cached is not None:
        _write_atomically(cached, json.dumps({n: d.model_dump(mode="json") for n, d in docs.items()}))
        _remove_others(cached)
    return Documents(docs)


def _fingerprint(texts: Mapping[str, str]) -> str:
    digest = hashlib.sha256(_models_source())
    for name, text in sorted(texts.items()):
        digest.update(f"\0{name}\0".encode())
        digest.update(text.encode())
    return digest.hexdigest()[:32]


def _models_source() -> bytes:
    """models.py decides what a cached document means, so its source is part of the key."""
    try:
        return (files("envspec.catalog") / "models.py").read_bytes()
    except OSError:  # installed without sources
        return __version__.encode()


def _remove_others(keep: Path) -> None:
    """Entries for data files as they were before an edit or upgrade will not be read again."""
    try:
        for old in keep.parent.glob("*.json"):
            if old != keep:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # left for the next run


def _write_atomically(path: Path, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs time


def rebuild(model: type[M], data: Mapping[str, Any]) -> M:
    """`model` from its own `model_dump(mode="json")`, without validating (see module doc)."""
    return model.model_construct(**{name: convert(data[name]) if convert else data[name]
                                    for name, convert in _field_converters(model) if name in data})


Converter = Callable[[Any], Any] | None  # None: the JSON value is already right


@functools.cache
def _field_converters(model: type[BaseModel]) -> tuple[tuple[str, Converter], ...]:
    return tuple((name, _converter(field.annotation)) for name, field in model.model_fields.items())


def _converter(annotation: Any) -> Converter:
    """What turns a JSON value back into `annotation`: JSON made tuples lists, models dicts."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _converter(args[0])
    if origin in (Union, types.UnionType):
        choices = [a for a in args if a is not type(None)]
        inner = _converter(choices[0]) if len(choices) == 1 else None
        return None if inner is None else lambda v: None if v is None else inner(v)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        model = annotation
        return lambda v: rebuild(model, v)
    if origin is tuple:
        item = _converter(args[0])
        return tuple if item is None else lambda v: tuple(item(x) for x in v)
    if origin is dict:
        value = _converter(args[1])
        return None if value is None else lambda v: {k: value(x) for k, x in v.items()}
    return None


def _describe(error: Mapping[str, Any]) -> str:
    """One pydantic error as `section[row].key: message`."""
    loc = [p for p in error["loc"] if isinstance(p, int) or "[" not in p]  # drop pydantic's tags
    kind, value = error["type"], error.get("input")
    if not loc:
        return f"expected a mapping of sections at the top level, got {type(value).__name__}"
    if len(loc) == 1 and kind in ("tuple_type", "list_type", "dict_type", "missing"):
        shape = "mapping" if kind == "dict_type" else "list" if kind != "missing" else "section"
        return f"expected a top-level {shape} `{loc[0]}`" + (
            "" if kind == "missing" else f", got {type(value).__name__}")
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        message += f", got {value!r} (quote versions)"
    elif kind.endswith("_type") or kind.startswith("literal"):
        message += f", got {value!r}"
    return f"{where}: {message}"
