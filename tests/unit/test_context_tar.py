"""The deterministic context tar and Docker's .dockerignore rules."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from envspec.context_tar import (
    context_digest,
    context_files,
    deterministic_tar,
    is_ignored,
    parse_dockerignore,
)


def make(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmembers()


def test_same_content_gives_identical_bytes_regardless_of_mtime_mode_and_order(
    tmp_path: Path,
) -> None:
    files = {"Dockerfile": "FROM x\n", "b/z.txt": "z", "a.txt": "a", "b/y/deep.txt": "d"}
    one = make(tmp_path / "one", files)
    two = make(tmp_path / "two", dict(reversed(files.items())))
    os.utime(two / "a.txt", (1_000_000, 1_000_000))
    (two / "a.txt").chmod(0o600)
    assert deterministic_tar(one) == deterministic_tar(two)
    assert context_digest(one) == context_digest(two)
    assert deterministic_tar(one) == deterministic_tar(one)


def test_entries_are_sorted_normalised_and_owned_by_root(tmp_path: Path) -> None:
    root = make(tmp_path, {"Dockerfile": "FROM x\n", "bin/run.sh": "#!/bin/sh\n", "a-b": "x"})
    (root / "bin/run.sh").chmod(0o700)
    (root / "link").symlink_to("a-b")
    infos = members(deterministic_tar(root))
    assert [i.name for i in infos] == ["Dockerfile", "a-b", "bin", "bin/run.sh", "link"]
    assert {(i.mtime, i.uid, i.gid, i.uname, i.gname) for i in infos} == {(0, 0, 0, "", "")}
    modes = {i.name: i.mode for i in infos}
    assert modes == {
        "Dockerfile": 0o644,
        "a-b": 0o644,
        "bin": 0o755,
        "bin/run.sh": 0o755,
        "link": 0o777,
    }
    link = next(i for i in infos if i.name == "link")
    assert link.issym() and link.linkname == "a-b"


def test_content_change_changes_the_digest(tmp_path: Path) -> None:
    root = make(tmp_path, {"Dockerfile": "FROM x\n", "req.txt": "six\n"})
    before = context_digest(root)
    (root / "req.txt").write_text("six==1.16\n")
    assert context_digest(root) != before
    assert len(before) == 64


def test_executable_bit_is_part_of_the_content(tmp_path: Path) -> None:
    root = make(tmp_path, {"Dockerfile": "FROM x\n", "s.sh": "echo\n"})
    before = context_digest(root)
    (root / "s.sh").chmod(0o755)
    assert context_digest(root) != before


def test_dockerignore_is_honoured(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "Dockerfile": "FROM x\n",
            ".dockerignore": "# comment\n\n.git\n**/*.pyc\n/build\ndata/*\n!data/keep.csv\n",
            ".git/HEAD": "ref",
            "src/m.py": "",
            "src/m.pyc": "",
            "m.pyc": "",
            "build/out.o": "",
            "data/big.bin": "",
            "data/keep.csv": "",
        },
    )
    assert context_files(root) == [
        ".dockerignore",
        "Dockerfile",
        "data",
        "data/keep.csv",
        "src",
        "src/m.py",
    ]
    names = [i.name for i in members(deterministic_tar(root))]
    assert names == context_files(root)


def test_dockerfile_and_dockerignore_are_always_sent(tmp_path: Path) -> None:
    root = make(tmp_path, {"Dockerfile": "FROM x\n", ".dockerignore": "*\n", "a": ""})
    assert context_files(root) == [".dockerignore", "Dockerfile"]


def test_ignoring_content_changes_nothing(tmp_path: Path) -> None:
    root = make(tmp_path, {"Dockerfile": "FROM x\n", ".dockerignore": "*.log\n", "x.log": "1"})
    before = context_digest(root)
    (root / "x.log").write_text("2")
    (root / "y.log").write_text("3")
    assert context_digest(root) == before


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        ("*.md", "README.md", True),
        ("*.md", "docs/README.md", False),  # `*` does not cross directories
        ("**/*.md", "docs/x/README.md", True),
        ("**/*.md", "README.md", True),
        ("docs", "docs/a/b.txt", True),  # a parent's match covers its content
        ("docs/**", "docs/a/b.txt", True),
        ("d?c", "doc", True),
        ("d?c", "do/c", False),
        ("[a-c].txt", "b.txt", True),
        ("[!a-c].txt", "b.txt", False),
        ("/abs", "abs", True),
        ("./rel/../x", "x", True),
        ("*\n!keep", "keep", False),
        ("a\n!a\na", "a", True),  # the last matching pattern wins
        ("f.txt", "f_txt", False),  # `.` is literal
    ],
)
def test_docker_pattern_semantics(patterns: str, path: str, ignored: bool) -> None:
    assert is_ignored(path, parse_dockerignore(patterns)) is ignored


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        deterministic_tar(tmp_path / "missing")
