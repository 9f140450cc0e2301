"""schemas/env.schema.json and the README's spec reference must match the models."""

from __future__ import annotations

import json

from envspec.schema import reference_markdown, schema_text
from tests.conftest import EXAMPLES, REPO

README_BEGIN = "<!-- spec-reference:begin -->"
README_END = "<!-- spec-reference:end -->"


def test_committed_schema_matches_the_models() -> None:
    committed = (REPO / "schemas" / "env.schema.json").read_text()
    assert committed == schema_text(), "run: envspec schema -o schemas/env.schema.json"


def test_schema_rejects_unknown_top_level_keys() -> None:
    schema = json.loads(schema_text())
    assert schema["additionalProperties"] is False
    assert {"name", "base"} <= set(schema["required"])


def test_examples_point_editors_at_the_schema() -> None:
    for example in EXAMPLES:
        first = (example / "env.yaml").read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schemas/env.schema.json", example


def test_readme_spec_reference_is_current() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split(README_BEGIN)[1].split(README_END)[0]
    assert section.strip() == reference_markdown().strip(), "run: python -m envspec.schema"
