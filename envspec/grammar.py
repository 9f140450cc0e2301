"""Grammars for every value that can reach a shell or a Dockerfile line.

Each function returns its argument unchanged or raises ValueError with a message that says
what the value should look like. Values are also shell-quoted when rendered; validating them
first means an injection attempt is reported as an error instead of being built, quoted.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from envspec.imageref import ImageRef, ImageRefError
from envspec.requirements import read_requirement

if TYPE_CHECKING:
    from envspec.catalog.queries import Catalog

# Length limits, each below what the consumer accepts, so that an oversized value is an error
# here and not at build time (or a 10 MB string run through every regex below).
MAX_WORD = 128  # names, versions, words: Docker caps a tag at 128 characters
MAX_IMAGE_NAME = 128  # Docker caps a whole reference at 255; room for a registry and a tag
MAX_USER_NAME = 32  # useradd's limit (the pattern says it too)
MAX_PACKAGE = 256  # a package name with its version or constraint
MAX_URL = 2048
MAX_PATH = 4096  # Linux PATH_MAX
MAX_VALUE = 32 * 1024  # env values, commands: far below Linux's 128 KiB for one argv/env string

_APT_NAME = r"[a-z0-9][a-z0-9+.\-]+"
_APT_VERSION = r"(?:[A-Za-z0-9.+~:\-]+\*?|\*)"  # a trailing * is apt's version glob
_APT_PACKAGE = re.compile(rf"{_APT_NAME}(?::[a-z0-9]+)?(?:={_APT_VERSION}|/[a-z0-9\-]+)?")
_CONDA_SPEC = re.compile(r"(?:[a-z0-9_\-]+::)?[A-Za-z0-9_.\-]+(?:[=<>!]{1,2}[A-Za-z0-9.*_+,<>=!\-]+)?")
_CONDA_CHANNEL = re.compile(r"[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*|https?://[^\s'\"`$\\;|&<>]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_USER_NAME = re.compile(r"[a-z_][a-z0-9_\-]{0,31}")
_IMAGE_NAME = re.compile(r"[a-z0-9]+(?:[._\-][a-z0-9]+)*")
_LABEL_KEY = re.compile(r"[a-z0-9](?:[a-z0-9.\-]*[a-z0-9])?")
_PATH_CHARS = re.compile(r"[A-Za-z0-9_.\-+@/]+")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?(?::[0-9]{1,5})?")
_PORT = re.compile(r"(?:(?:\d{1,3}\.){3}\d{1,3}:)?\d{1,5}(?::\d{1,5})?(?:/(?:tcp|udp))?")
_SIZE = re.compile(r"\d+(?:\.\d+)?[bkmgBKMG]?")
_PPA = re.compile(r"[a-z0-9][a-z0-9.+\-]*/[a-z0-9][a-z0-9.+\-]*")
_APT_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-/]*")
_MAJOR_MINOR = re.compile(r"[0-9]+\.[0-9]+")
_PYTHON_VERSION = re.compile(r"[0-9]+\.[0-9]+(?:\.[0-9]+)?")
_CUDA = re.compile(r"[0-9]{1,2}\.[0-9]{1,2}(?:\.[0-9]{1,3})?")
_CUDNN = re.compile(r"[0-9]{1,2}(\.[0-9]{1,3}){1,3}")
_INSTALLER_VERSION = re.compile(r"[A-Za-z0-9_.\-]+")
_SHA256 = re.compile(r"[a-f0-9]{64}")
_PIP_HASH = re.compile(r"sha256:[a-f0-9]{64}")
_CONFIG_KEY = re.compile(r"-{0,2}[A-Za-z0-9][A-Za-z0-9_.\-]*")
_TORCH_VARIANT = re.compile(r"auto|cpu|pypi|cu[0-9]{2,3}")
_MIRROR_NAME = re.compile(r"[a-z][a-z0-9\-]*")
_URL_FORBIDDEN = re.compile(r"[\s'\"`$\\;|&<>(){}#]")
_EXPOSE = re.compile(r"[0-9]{1,5}(?:/(?:tcp|udp))?")
_GROUP_NAME = _USER_NAME
# A `$` in an env value: `$$` (a literal dollar), `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:+word}`
_ENV_REFERENCE = re.compile(
    r"\$(?:\$|([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?::[-+][^${}\\]*)?\})")
_SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9._\-]{0,63}")
# A git tag or commit: the characters git allows in a ref name, minus the ones a shell or
# `git` itself would read as something else (leading `-` would be an option).
_GIT_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+/\-]{0,127}")
_BUILD_ARG = re.compile(r"[A-Za-z0-9_.,:=+/@%^\- ]+")
_CUDA_ARCH = re.compile(r"[0-9]{1,2}\.[0-9](?:\+PTX)?|[a-z]+")


def _full(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"{value!r} is not {what}")
    return value


def one_line(value: str) -> str:
    """Free text that lands in a single Dockerfile line (quoted): no line breaks, no control
    characters (form feed, NEL and U+2028 count as line breaks to some parsers)."""
    if any(_is_break_or_control(ch) for ch in value):
        raise ValueError(
            "must be a single line: a line break would start a new Dockerfile instruction "
            "(split it into several list items instead)"
        )
    return value


def _is_break_or_control(ch: str) -> bool:
    return ch != "\t" and unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def apt_package(value: str) -> str:
    return _full(_APT_PACKAGE, value, "a Debian package name (like `libgl1` or `curl=7.88.1-10+deb12u5`)")


def pip_requirement(value: str) -> str:
    """Any form envspec.requirements reads (PEP 508 on `packaging`, git+, direct URLs, local
    files), then its shell-safety check."""
    read_requirement(value)
    return value.strip()


def pip_hash(value: str) -> str:
    return _full(_PIP_HASH, value, "a pip hash (`sha256:` and 64 lower-case hex digits)")


def config_setting_key(value: str) -> str:
    return _full(_CONFIG_KEY, value, "a build backend setting name (like `--build-option` or "
                 "`cmake.define.USE_CUDA`)")


def torch_variant(value: str) -> str:
    return _full(_TORCH_VARIANT, value, "auto, cpu, pypi or a CUDA wheel variant like cu121")


def conda_spec(value: str) -> str:
    return _full(_CONDA_SPEC, value, "a conda package spec (like `numpy=1.26` or `pytorch`)")


def conda_channel(value: str) -> str:
    return _full(_CONDA_CHANNEL, value, "a conda channel name or URL (like `conda-forge`)")


def url(value: str) -> str:
    return _url(value, ("http", "https"), "an http(s) URL")


def _url(value: str, schemes: tuple[str, ...], what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"{value!r} is not {what}")
    if _URL_FORBIDDEN.search(value):
        raise ValueError(f"{value!r} contains characters not allowed in a URL here (quotes, $, ;…)")
    return value


def key_url(value: str) -> str:
    """A signing key's URL: like `url`, but a query string may join its fields with `&`
    (keyservers: `…/pks/lookup?op=get&search=0x…`). It only ever reaches a shell quoted."""
    url(value.replace("&", ""))  # `&` is the one character added to `url`'s grammar
    return value


def git_url(value: str) -> str:
    """A repository git can clone without credential prompts: git://, http(s)://."""
    return _url(value, ("git", "http", "https"), "a git://, http:// or https:// repository URL")


def git_ref(value: str) -> str:
    _full(_GIT_REF, value, "a git tag or a 40-hex commit (like `v1.2.0`)")
    if ".." in value or value.endswith((".lock", "/", ".")) or "//" in value:
        raise ValueError(f"{value!r} is not a valid git ref name")
    return value


def source_name(value: str) -> str:
    return _full(_SOURCE_NAME, value, "a source name (lower case, digits, `.`, `_`, `-`)")


def build_arg(value: str) -> str:
    """One argument of a build tool (`-DWITH_X=ON`), quoted when rendered: no shell syntax."""
    return _full(_BUILD_ARG, value, "a build argument of letters, digits, spaces and `_.,:=+/@%^-`")


def cuda_arch(value: str) -> str:
    return _full(_CUDA_ARCH, value, "a compute capability (like `8.6` or `8.6+PTX`) or a "
                 "family name (like `ampere`)")


def mirror_ref(value: str) -> str:
    """A preset name (checked against the catalog by the resolver) or a URL."""
    if "://" in value:
        return url(value)
    return _full(_MIRROR_NAME, value, "a mirror preset name (like `tuna`) or an http(s) URL")


def hostname(value: str) -> str:
    return _full(_HOSTNAME, value, "a host name (like `mirrors.example.com`)")


def relative_path(value: str) -> str:
    one_line(value)
    if value.startswith("/") or value.startswith("~"):
        raise ValueError(f"{value!r} must be relative to the folder of env.yaml")
    if any(part == ".." for part in value.replace("\\", "/").split("/")):
        raise ValueError(f"{value!r} leaves the folder of env.yaml (`..` is not allowed)")
    return _full(_PATH_CHARS, value, "a path of letters, digits and `_.-+@/`")


def absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must be an absolute path (start with /)")
    if ".." in value.split("/"):
        raise ValueError(f"{value!r} must not contain `..`")
    return _full(_PATH_CHARS, value, "a path of letters, digits and `_.-+@/`")


def env_name(value: str) -> str:
    return _full(_ENV_NAME, value, "an environment variable name (letters, digits, _)")


def user_name(value: str) -> str:
    _full(_USER_NAME, value, "a Linux user name (lower case, digits, _ and -)")
    if _catalog().is_system_account(value):
        raise ValueError(f"{value!r} is a system user or group in Debian and Ubuntu images; "
                         "the non-root user needs a name of its own (or `user: null` for root)")
    return value


def user_id(value: int) -> int:
    """A uid or gid for the non-root user: not one the base images reserve."""
    catalog = _catalog()
    if catalog.is_reserved_id(value):
        below = catalog.reserved_ids().below
        raise ValueError(f"id {value} is reserved for system accounts (0-{below - 1}, "
                         "65534 nobody, 65535); use your host id, usually 1000 or above")
    return value


def _catalog() -> Catalog:
    # Imported here: only a spec that names its user or ids needs the catalog for it.
    from envspec.catalog import load_catalog

    return load_catalog()


def image_name(value: str) -> str:
    return _full(_IMAGE_NAME, value, "an image name (lower case letters, digits, `.`, `_`, `-`)")


def image_reference(value: str) -> str:
    """Docker's reference grammar (envspec.imageref); its characters are all shell-safe."""
    try:
        ImageRef.parse(value)
    except ImageRefError as err:
        raise ValueError(f"{err} (like `ubuntu:22.04`, `127.0.0.1:5000/team/img:1` or "
                         "`repo/img@sha256:…`)") from None
    return value


def label_key(value: str) -> str:
    return _full(_LABEL_KEY, value, "a label key (like `org.example.owner`)")


def port_mapping(value: str) -> str:
    _full(_PORT, value, "a port mapping (like `8888:8888` or `127.0.0.1:6006:6006`)")
    ports = value.split("/")[0].split(":")[-2:]
    address = value.split(":")[0] if value.count(":") == 2 else None
    if address is not None and any(int(octet) > 255 for octet in address.split(".")):
        raise ValueError(f"{value!r}: {address} is not an IPv4 address")
    for port in ports:
        _port_in_range(value, port)
    return value


def _port_in_range(value: str, port: str) -> None:
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"{value!r}: port {int(port)} is outside 1-65535")


def size(value: str) -> str:
    return _full(_SIZE, value, "a size (like `8g` or `512m`)")


def ppa(value: str) -> str:
    return _full(_PPA, value, "a PPA as owner/name (like `deadsnakes/ppa`)")


def apt_word(value: str) -> str:
    return _full(_APT_WORD, value, "an apt suite or component (like `jammy` or `main`)")


def python_version(value: str) -> str:
    return _full(_PYTHON_VERSION, value, "a Python version (like `3.10` or `3.8.13`); quote it in YAML")


def expose_port(value: str) -> str:
    _full(_EXPOSE, value, "a container port (like `8888` or `6006/udp`)")
    _port_in_range(value, value.split("/")[0])
    return value


def group_name(value: str) -> str:
    return _full(_GROUP_NAME, value, "a Linux group name (lower case, digits, _ and -)")


def env_value(value: str) -> str:
    """One line whose every `$` is a reference Docker expands (`$NAME`, `${NAME}`,
    `${NAME:-default}`, `${NAME:+alternative}`) or `$$`, a literal dollar."""
    one_line(value)
    rest = _ENV_REFERENCE.sub("", value)
    if "$" in rest:
        raise ValueError(
            f"{value!r} has a `$` that is not a variable reference: write $NAME, ${{NAME}}, "
            "${NAME:-default} or ${NAME:+alternative}, or `$$` for a literal dollar "
            "(Docker does no command substitution)")
    return value


def env_references(value: str) -> list[str]:
    """The variable names an env value (valid for `env_value`) refers to, in order."""
    return [m.group(1) or m.group(2) for m in _ENV_REFERENCE.finditer(value)
            if m.group(0) != "$$"]


def major_minor(value: str) -> str:
    return _full(_MAJOR_MINOR, value, "a major.minor version (like `3.10`); quote it in YAML")


def cuda_version(value: str) -> str:
    return _full(_CUDA, value, "a CUDA version (like `12.4` or `12.4.1`); quote it in YAML")


def cudnn_version(value: str) -> str:
    return _full(_CUDNN, value, "a cuDNN version (like `7.6.5.32`) or major (7, 8, 9)")


def installer_version(value: str) -> str:
    return _full(_INSTALLER_VERSION, value, "an installer version (like `py311_24.1.2-0`)")


def sha256(value: str) -> str:
    return _full(_SHA256, value, "a SHA-256 digest (64 lower-case hex digits)")


_CONTINUATIONS = ("&&", "||", "|")


def shell_fragment(value: str) -> str:
    """One shell command line: quotes closed, no trailing `\\` or `&&` that would continue it
    into the next Dockerfile line (a trailing backslash swallows the next instruction)."""
    import shlex  # only specs with commands need it: keep it off the start-up path

    one_line(value)
    try:
        lexer = shlex.shlex(value, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)  # `#` starts a comment only between words, as in sh
    except ValueError as err:  # "No closing quotation", "No escaped character"
        raise ValueError(f"is not a complete shell command: {_shlex_reason(err)}") from None
    if not tokens:  # blank, or a comment only
        raise ValueError("is empty: an empty RUN is a Dockerfile syntax error; remove the item")
    if tokens and tokens[-1] in _CONTINUATIONS:
        raise ValueError(f"ends with `{tokens[-1]}`, so it continues into whatever follows; "
                         "finish the command in this item")
    return value


def _shlex_reason(err: ValueError) -> str:
    if "escaped" in str(err):
        return "it ends with `\\`, which would continue it into the next Dockerfile line"
    return "a quote is never closed"


def json_pattern(check: object) -> str | None:
    """The anchored regular expression behind a grammar, for the JSON Schema (None: no regex)."""
    regex = SCHEMA_PATTERNS.get(getattr(check, "__name__", ""))
    return f"^(?:{regex.pattern})$" if regex is not None else None


SCHEMA_PATTERNS: dict[str, re.Pattern[str]] = {
    "apt_package": _APT_PACKAGE,
    "conda_spec": _CONDA_SPEC,
    "conda_channel": _CONDA_CHANNEL,
    "env_name": _ENV_NAME,
    "user_name": _USER_NAME,
    "image_name": _IMAGE_NAME,
    "label_key": _LABEL_KEY,
    "hostname": _HOSTNAME,
    "port_mapping": _PORT,
    "size": _SIZE,
    "ppa": _PPA,
    "apt_word": _APT_WORD,
    "major_minor": _MAJOR_MINOR,
    "python_version": _PYTHON_VERSION,
    "expose_port": _EXPOSE,
    "group_name": _GROUP_NAME,
    "cuda_version": _CUDA,
    "installer_version": _INSTALLER_VERSION,
    "sha256": _SHA256,
    "source_name": _SOURCE_NAME,
    "build_arg": _BUILD_ARG,
    "cuda_arch": _CUDA_ARCH,
}
