"""The JSON Schema of env.yaml, generated from the pydantic models."""

from __future__ import annotations

import json
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from envspec import __version__, grammar
from envspec.spec import Spec


class _WithGrammarPatterns(GenerateJsonSchema):
    """A string checked by a grammar gets the grammar's regex as its `pattern`, so editors flag
    bad values too. Added here, not in the models, so validation does not carry schema-only
    metadata (building the models is most of envspec's start-up)."""

    def function_after_schema(self, schema: core_schema.AfterValidatorFunctionSchema) -> JsonSchemaValue:
        json_schema = super().function_after_schema(schema)
        pattern = grammar.json_pattern(schema["function"].get("function"))
        if pattern is not None and json_schema.get("type") == "string":
            json_schema = {**json_schema, "pattern": pattern}
        return json_schema


def schema_dict() -> dict[str, Any]:
    schema = Spec.model_json_schema(by_alias=True, schema_generator=_WithGrammarPatterns)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"envspec env.yaml (envspec {__version__})",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text() -> str:
    return json.dumps(schema_dict(), indent=2, sort_keys=True) + "\n"


def reference_markdown() -> str:
    """The README's spec reference: one row per key, from the models' field descriptions."""
    rows = ["| key | default | description |", "|---|---|---|"]
    _walk(Spec, "", rows)
    return "\n".join(rows) + "\n"


def _walk(model: type[BaseModel], prefix: str, rows: list[str]) -> None:
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        nested = _nested_model(info.annotation)
        description = (info.description or "").replace("|", "/")
        rows.append(f"| `{key}` | {_default_text(info, nested)} | {description} |")
        if nested is not None:
            _walk(nested, f"{key}.", rows)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds: itself, optional, in a list, or a branch of a union inside an
    Annotated (a `packages` item that is a string or a mapping)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for inner in get_args(annotation):
        found = _nested_model(inner)
        if found is not None:
            return found
    return None


def _default_text(info: FieldInfo, nested: type[BaseModel] | None) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see below"
    if value is None or value == [] or value == {}:
        return "—"
    return f"`{json.dumps(value)}`"


if __name__ == "__main__":
    print(reference_markdown(), end="")
