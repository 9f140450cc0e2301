"""The JSON Schema of env.yaml, generated from the pydantic models."""

from __future__ import annotations

import json
from typing import Any

from envspec import __version__
from envspec.spec import Spec


def schema_dict() -> dict[str, Any]:
    schema = Spec.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"envspec env.yaml (envspec {__version__})",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text() -> str:
    return json.dumps(schema_dict(), indent=2, sort_keys=True) + "\n"
