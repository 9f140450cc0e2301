"""The reproductions of real research Dockerfiles (examples/reproductions/) stay valid specs.

Each one resolves with exactly the diagnostics its README explains (old CUDA releases whose
images NVIDIA deleted or marked end-of-life), and is documented in the summary table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from envspec.loader import load_spec
from envspec.resolve import resolve
from tests.conftest import REPO, REPRODUCTIONS

# Warnings each reproduction is expected to produce, and why.
EXPECTED_WARNINGS: dict[str, list[str]] = {
    "maskrcnn-benchmark": [],  # CUDA 9.0: images deleted, installed from NVIDIA apt instead
    "alphafold": ["base.tag-eol"],  # CUDA 11.0.3: end-of-life, still listed
    # pytorch/pytorch sets LD_LIBRARY_PATH, but envspec does not know a `base.image`'s ENV
    "nvdiffrast": [],
    "nerfstudio": ["python.torch-cuda-runtime"],  # cu116 wheels (as the paper) bundle CUDA 11.6
}
SUMMARY = REPO / "examples" / "reproductions" / "README.md"


def test_there_are_at_least_five_reproductions() -> None:
    assert len(REPRODUCTIONS) >= 5


@pytest.mark.parametrize("folder", REPRODUCTIONS, ids=lambda p: p.name)
def test_reproduction_resolves_with_only_the_expected_warnings(folder: Path) -> None:
    result = resolve(load_spec(folder / "env.yaml"))
    assert [w.code for w in result.warnings] == EXPECTED_WARNINGS.get(folder.name, [])


@pytest.mark.parametrize("folder", REPRODUCTIONS, ids=lambda p: p.name)
def test_reproduction_points_editors_at_the_schema(folder: Path) -> None:
    first = (folder / "env.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../../schemas/env.schema.json"


@pytest.mark.parametrize("folder", REPRODUCTIONS, ids=lambda p: p.name)
def test_reproduction_readme_names_its_source_and_counts(folder: Path) -> None:
    readme = (folder / "README.md").read_text()
    assert "github.com/" in readme and "## Counts" in readme
    assert f"[{folder.name}]({folder.name}/README.md)" in SUMMARY.read_text()


STEP_ROW = re.compile(r"^\| (\d+) \|.*\| ([DARM]) \|(.*)\|$")
COUNT_COLUMNS = ("steps", "D", "A", "R", "M", "after")


def _counted_from_table(readme: str) -> dict[str, int]:
    """Count the step table's kinds; a step is declarative after issue 10 when it already is
    (D) or its "after" cell names a key (a cell starting with an em dash names none)."""
    counts = dict.fromkeys(COUNT_COLUMNS, 0)
    numbers = []
    for line in readme.splitlines():
        match = STEP_ROW.match(line)
        if match is None:
            continue
        number, kind, after = int(match.group(1)), match.group(2), match.group(3).strip()
        numbers.append(number)
        counts["steps"] += 1
        counts[kind] += 1
        counts["after"] += kind == "D" or (after != "" and not after.startswith("—"))
    assert numbers == list(range(1, len(numbers) + 1)), "steps must be numbered 1..n"
    return counts


def _stated_counts(readme: str) -> dict[str, int]:
    section = readme.split("## Counts", 1)[1]
    data = next(line for line in section.splitlines() if re.match(r"^\| \d", line))
    values = [int(cell) for cell in data.strip("|").split("|")]
    return dict(zip(COUNT_COLUMNS, values, strict=True))


@pytest.mark.parametrize("folder", REPRODUCTIONS, ids=lambda p: p.name)
def test_reproduction_counts_match_its_step_table(folder: Path) -> None:
    readme = (folder / "README.md").read_text()
    assert _stated_counts(readme) == _counted_from_table(readme)


def test_summary_table_matches_every_reproduction_and_its_total() -> None:
    rows = {}
    for line in SUMMARY.read_text().splitlines():
        match = re.match(r"^\| (\[[^]]+\]\([^)]+\)|\*\*total\*\*) \|[^|]*\|[^|]*\|(.*)\|$", line)
        if match:
            cells = [int(c.strip().strip("*")) for c in match.group(2).split("|")]
            rows[match.group(1)] = dict(zip(COUNT_COLUMNS, cells, strict=True))
    total = rows.pop("**total**")
    assert len(rows) == len(REPRODUCTIONS)
    for folder in REPRODUCTIONS:
        stated = rows[f"[{folder.name}]({folder.name}/README.md)"]
        assert stated == _stated_counts((folder / "README.md").read_text()), folder.name
    assert total == {k: sum(row[k] for row in rows.values()) for k in COUNT_COLUMNS}


# How each planned key is named in the "after" cells and in the summary's ranking.
FEATURES = ("`sources:`", "pip requirement forms", "`python.provider: image`",
            "env values referencing variables", "`user.sudo`", "`user.groups`",
            "`python.version` with a patch", "torch pins in every PEP 440 form", "`expose:`",
            "`base.cuda_source`")


def _needed_features() -> dict[str, tuple[int, int]]:
    """feature → (steps that need it, repositories with such a step), from the step tables."""
    steps = dict.fromkeys(FEATURES, 0)
    repos: dict[str, set[str]] = {feature: set() for feature in FEATURES}
    for folder in REPRODUCTIONS:
        for line in (folder / "README.md").read_text().splitlines():
            match = STEP_ROW.match(line)
            if match is None or match.group(2) == "D" or match.group(3).strip().startswith("—"):
                continue
            for feature in FEATURES:
                if feature in match.group(3):
                    steps[feature] += 1
                    repos[feature].add(folder.name)
    return {feature: (steps[feature], len(repos[feature])) for feature in FEATURES}


def _ranked_features() -> dict[str, tuple[int, int]]:
    """feature → (steps, repositories) as the summary's ranking table states them."""
    ranking = SUMMARY.read_text().split("## Which issue-10 features", 1)[1]
    stated: dict[str, tuple[int, int]] = {}
    for line in ranking.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != 5 or not cells[0].isdigit():
            continue
        named = sorted((cells[1].index(f), f) for f in FEATURES if f in cells[1])
        steps, repos = (_numbers(cells[2], len(named)), _numbers(cells[3], len(named)))
        stated.update({f: (s, r) for (_, f), s, r in zip(named, steps, repos, strict=True)})
    return stated


def _numbers(cell: str, how_many: int) -> list[int]:
    if cell.endswith("each"):
        return [int(cell.split()[0])] * how_many
    return [int(part) for part in cell.split("/")]


def test_feature_ranking_matches_the_step_tables() -> None:
    needed = {f: counts for f, counts in _needed_features().items() if counts[0]}
    assert _ranked_features() == needed
