"""`tools/refresh_catalog.py torch`: torch.yaml from the wheel index listings (saved or served)."""

from __future__ import annotations

import functools
import importlib.util
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from envspec.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]
PAGES = Path(__file__).parent / "data" / "torch_index"
TORCH_YAML = ROOT / "envspec" / "data" / "torch.yaml"


def load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it is being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_tool("refresh_catalog")


@pytest.fixture(scope="module")
def index_tool() -> ModuleType:
    return load_tool("torch_index")


def rows_of(path: Path) -> dict[str, dict[str, Any]]:
    return {row["torch"]: row for row in yaml.safe_load(path.read_text())["releases"]}


def test_parse_listing_keeps_linux_x86_64_releases_of_the_variant(index_tool: ModuleType) -> None:
    listing = index_tool.parse_listing((PAGES / "cu129.html").read_text(), "cu129", "cu129.html")
    assert dict(listing.wheels) == {
        "2.8.0": {"3.12"},  # the win_amd64 wheel does not count
        "2.9.0": {"3.10", "3.14"},  # cp314t is a CPython 3.14 build too
        "2.10.0": {"3.11"},  # the .dev build and the +cu128 file are not cu129 releases
        "2.16.0": {"3.12"},  # an <a> without text: the name comes from the href
    }  # 2.9.1 has only an aarch64 wheel here


def test_refresh_from_saved_listings(tool: ModuleType, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "torch.yaml"
    shutil.copy(TORCH_YAML, catalog)
    argv = ["torch", "--listing", f"cu129={PAGES / 'cu129.html'}",
            "--listing", f"cu130={PAGES / 'cu130.html'}", "--catalog", str(catalog),
            "--today", "2026-12-24"]
    assert tool.main(argv) == 0
    out = capsys.readouterr().out
    rows = rows_of(catalog)
    assert rows["2.9.0"]["variants"] == ["cu126", "cu128", "cu129"]  # the cu130 page lacks it
    assert "uncertain_variants" not in rows["2.9.0"]  # the listing confirms cu129
    assert rows["2.10.0"]["variants"] == ["cu126", "cu128", "cu129", "cu130"]
    assert "cu129" not in rows["2.9.1"]["variants"]  # only aarch64 wheels on the page
    assert "cu129" not in rows["2.11.0"]["variants"]
    assert "cu130" not in rows["2.14.1"]["variants"]  # the cu130 page lists only 2.10.0
    assert rows["1.4.0"]["variants"] == ["cu92", "cu100", "cu101"]  # find-links era: only gains
    assert "2.16.0" not in rows and "torch 2.16.0 (cu129)" in out  # reported, not guessed
    assert "2.9.1: cu129 not in" in out
    refreshed = yaml.safe_load(catalog.read_text())["refreshed"]
    assert refreshed["date"] == "2026-12-24" and str(PAGES / "cu130.html") in refreshed["source"]
    text = catalog.read_text()
    assert text.startswith("# PyTorch releases") and "# Refresh:" in text  # header kept
    assert tool.main(argv) == 0  # idempotent
    assert catalog.read_text() == text


def test_dump_round_trips_the_real_file(index_tool: ModuleType) -> None:
    header, doc = index_tool.split_file(TORCH_YAML.read_text())
    again = index_tool.dump_file(header, doc["refreshed"], doc["releases"])
    assert yaml.safe_load(again) == doc


@pytest.fixture
def served_index(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server with <index>/cu129/torch/ and <index>/cu130/torch/ pages."""
    for variant in ("cu129", "cu130"):
        page = tmp_path / "whl" / variant / "torch"
        page.mkdir(parents=True)
        shutil.copy(PAGES / f"{variant}.html", page / "index.html")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/whl"
    server.shutdown()
    server.server_close()


def test_refresh_from_the_network(tool: ModuleType, served_index: str, tmp_path: Path) -> None:
    catalog = tmp_path / "torch.yaml"
    shutil.copy(TORCH_YAML, catalog)
    argv = ["torch", "--index", served_index, "--variant", "cu129", "--variant", "cu130",
            "--catalog", str(catalog), "--today", "2026-12-24"]
    assert tool.main(argv) == 0
    assert "uncertain_variants" not in rows_of(catalog)["2.10.0"]
    assert f"{served_index}/cu129/torch/" in yaml.safe_load(catalog.read_text())["refreshed"]["source"]
    missing = ["torch", "--index", served_index, "--variant", "cu118", "--catalog", str(catalog)]
    assert tool.main(missing) == 1  # a 404 is an error, not an empty listing


def test_refuses_listings_without_wheels(tool: ModuleType, tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><h1>Links for torch</h1></body></html>")
    catalog = tmp_path / "torch.yaml"
    shutil.copy(TORCH_YAML, catalog)
    assert tool.main(["torch", "--listing", f"cu129={empty}", "--catalog", str(catalog)]) == 1
    assert catalog.read_text() == TORCH_YAML.read_text()


def test_committed_file_records_its_refresh() -> None:
    doc = yaml.safe_load(TORCH_YAML.read_text())
    assert set(doc["refreshed"]) == {"date", "how", "source"}
    assert load_catalog().torch_release("2.10.0") is not None
