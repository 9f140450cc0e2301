"""render: BuildPlan → Dockerfile text. Templates lay values out; they make no decisions."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import jinja2

from envspec import __version__
from envspec.plan import BuildPlan
from envspec.user_cache import user_cache_dir

_PACKAGED = Path(__file__).parent / "templates"  # inside the wheel
_SOURCE = Path(__file__).parent.parent / "templates"  # in a source checkout


def templates_dir() -> Path:
    return _PACKAGED if _PACKAGED.is_dir() else _SOURCE


def shell_quote(value: object) -> str:
    """Quote for /bin/sh; plain words stay readable (`vim`, not `'vim'`)."""
    return shlex.quote(str(value))


def docker_kv(pairs: Mapping[str, str], expand: bool = False) -> str:
    """KEY="value" pairs for ENV/LABEL, one per continuation line, Dockerfile-escaped; with
    `expand`, values keep their `$NAME`/`${…}` references for Docker to expand and `$$`
    becomes a literal dollar (the plan says when; see steps.Env)."""
    items = [f"{key}={_expanding(value) if expand else _dq(value)}" for key, value in pairs.items()]
    return " \\\n    ".join(items)


_BARE = re.compile(r"[A-Za-z0-9_./:,+@%=\-]+")
_BARE_REFERENCES = re.compile(r"[A-Za-z0-9_./:,+@%=\-${}]+")


def _expanding(value: str) -> str:
    if _BARE_REFERENCES.fullmatch(value) and "$$" not in value:
        return value  # PATH=/opt/venv/bin:$PATH reads as an expert would write it
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$$", "\\$")
    return f'"{escaped}"'


def _dq(value: str) -> str:
    if _BARE.fullmatch(value):
        return value  # nothing to escape: keep the Dockerfile readable
    # The Dockerfile's double-quoted strings honour \" \\ and expand $VAR; escape all three.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def exec_form(argv: Iterable[str]) -> str:
    """JSON exec form. json.dumps, not |tojson, which would escape <>&' into \\u003c…"""
    return json.dumps(list(argv))


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        extensions=["jinja2.ext.do"],
        bytecode_cache=_bytecode_cache(),
    )
    env.filters["q"] = shell_quote
    env.filters["docker_kv"] = docker_kv
    env.filters["exec_form"] = exec_form
    return env


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs: compiling them is most of a render's own time.
    Jinja keys each entry by the template's source checksum, so edited templates recompile."""
    folder = user_cache_dir(f"jinja-{__version__}")
    if folder is None:
        return None  # read-only home: render without the cache
    return jinja2.FileSystemBytecodeCache(str(folder))


def render_dockerfile(plan: BuildPlan) -> str:
    template = environment().get_template("Dockerfile.j2")
    return template.render(plan=plan, version=__version__)
