"""Refresh envspec/data/torch.yaml from PyTorch's own wheel index listings.

One simple-index page per CUDA variant (`<index>/<variant>/torch/`, e.g. .../whl/cu129/torch/)
lists every torch wheel of that variant. A page read (from the network or a saved HTML file) is
authoritative for its variant: a release with Linux x86_64 wheels there gains the variant (and
loses any "uncertain" mark on it); a release without them loses the variant. Releases of the
find-links era (<= 1.10) only gain variants: their wheels may live in torch_stable.html instead.
Python versions with wheels are added, never removed. Releases the listings show but torch.yaml
lacks are reported: their torchvision/torchaudio pairing and default CUDA are not in a listing
(read them from PyPI's metadata) and must be added by hand. The file records the date and source.

Used by `tools/refresh_catalog.py torch`; see its --help.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

WHEEL = re.compile(
    r"^torch-(?P<version>\d+(?:\.\d+)+)(?:\+(?P<local>[A-Za-z0-9.]+))?"
    r"-(?P<python>[^-]+)-(?P<abi>[^-]+)-(?P<platform>[^-]+)\.whl$"
)
LINUX_X86_64 = re.compile(r"^(?:many)?linux[0-9_]*_x86_64$")
CPYTHON = re.compile(r"^cp(?P<major>\d)(?P<minor>\d+)$")  # cp313t (free-threaded) is left out
ROW_KEYS = ("torch", "torchvision", "torchaudio", "variants", "default_cuda", "python",
            "index_style", "uncertain_variants", "confidence", "note")
PLAIN = re.compile(r"^[a-z][a-z0-9-]*$")
VERSIONISH = re.compile(r"^\d+(?:\.\d+)*$")


class _Anchors(HTMLParser):
    """The file names an index page links to (the text of each <a>, else its href's name)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href") or "", []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            text = "".join(self._text).strip()
            self.names.append(text or unquote(urlsplit(self._href).path.rsplit("/", 1)[-1]))
            self._href = None


@dataclass(frozen=True)
class Listing:
    """What one variant's page says: torch version -> CPython versions with Linux x86_64 wheels."""

    variant: str
    source: str
    wheels: Mapping[str, frozenset[str]] = field(default_factory=dict)


def parse_listing(html: str, variant: str, source: str) -> Listing:
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    wheels: dict[str, set[str]] = {}
    for name in parser.names:
        match = WHEEL.match(name)
        if not match or match["local"] != variant or not LINUX_X86_64.match(match["platform"]):
            continue
        pythons = wheels.setdefault(match["version"], set())
        for tag in match["python"].split("."):  # compressed tags: cp38.cp39
            cpython = CPYTHON.match(tag)
            if cpython:
                pythons.add(f"{cpython['major']}.{cpython['minor']}")
    return Listing(variant, source, {v: frozenset(p) for v, p in wheels.items()})


def fetch_listing(index: str, variant: str, timeout: float) -> Listing:
    """GET <index>/<variant>/torch/; OSError (URLError included) when it cannot be read."""
    url = f"{index.rstrip('/')}/{variant}/torch/"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        html = response.read().decode("utf-8", "replace")
    return parse_listing(html, variant, url)


def _variant_key(variant: str) -> int:
    return int(variant[2:])  # cu92 < cu100 < cu129


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _update_row(row: dict[str, Any], listings: Iterable[Listing], changes: list[str]) -> None:
    version = row["torch"]
    variants, uncertain = set(row["variants"]), set(row.get("uncertain_variants") or [])
    pythons = set(row.get("python") or [])
    for listing in listings:
        if version in listing.wheels:
            if listing.variant not in variants or listing.variant in uncertain:
                changes.append(f"{version}: {listing.variant} confirmed by {listing.source}")
            variants.add(listing.variant)
            uncertain.discard(listing.variant)
            pythons |= listing.wheels[version]
        elif listing.variant in variants and row.get("index_style") != "find-links":
            changes.append(f"{version}: {listing.variant} not in {listing.source}, removed")
            variants.discard(listing.variant)
            uncertain.discard(listing.variant)
    row["variants"] = sorted(variants, key=_variant_key)
    row["python"] = sorted(pythons, key=_version_key)
    if uncertain:
        row["uncertain_variants"] = sorted(uncertain, key=_variant_key)
    else:
        row.pop("uncertain_variants", None)


def refresh_rows(
    rows: list[dict[str, Any]], listings: list[Listing]
) -> tuple[list[str], dict[str, list[str]]]:
    """Update `rows` in place; return (changes, {new release: variants it has wheels for})."""
    changes: list[str] = []
    for row in rows:
        _update_row(row, listings, changes)
    known = {row["torch"] for row in rows}
    new: dict[str, list[str]] = {}
    for listing in listings:
        for version in listing.wheels:
            if version not in known:
                new.setdefault(version, []).append(listing.variant)
    return changes, {v: new[v] for v in sorted(new, key=_version_key)}


# --------------------------------------------------------------------------- the file
def split_file(text: str) -> tuple[str, dict[str, Any]]:
    """(the comment header, the parsed document)."""
    header = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            break
        header.append(line)
    while header and not header[-1].strip():
        header.pop()
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("releases"), list):
        raise ValueError("torch.yaml: expected a top-level list `releases`")
    return "\n".join(header) + "\n", doc


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool | int):
        return json.dumps(value)
    text = str(value)
    if VERSIONISH.match(text):
        return f"'{text}'"
    return text if PLAIN.match(text) and text not in ("null", "true", "false") else json.dumps(text)


def _value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    return _scalar(value)


def dump_file(header: str, refreshed: Mapping[str, str], rows: list[dict[str, Any]]) -> str:
    lines = [header.rstrip("\n"), "", "refreshed:"]
    lines += [f"  {key}: {_scalar(value)}" for key, value in refreshed.items()]
    lines += ["", "releases:"]
    for row in rows:
        keys = [k for k in ROW_KEYS if k in row] + [k for k in row if k not in ROW_KEYS]
        for number, key in enumerate(keys):
            lines.append(f"{'  - ' if number == 0 else '    '}{key}: {_value(row[key])}")
    return "\n".join(lines) + "\n"


def read_error(err: urllib.error.URLError | OSError) -> str:
    return str(getattr(err, "reason", None) or err)
