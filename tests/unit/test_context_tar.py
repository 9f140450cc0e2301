"""The context as one value: a deterministic tar made in memory from the plan's files."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

from envspec.context_tar import ContextEntry, ContextTar
from tests.conftest import EXAMPLES


def entries(files: dict[str, str], modes: dict[str, int] | None = None) -> dict[str, ContextEntry]:
    modes = modes or {}
    return {name: ContextEntry(text.encode(), modes.get(name, 0o644)) for name, text in files.items()}


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmembers()


def test_same_content_gives_identical_bytes_regardless_of_mode_and_order() -> None:
    files = {"Dockerfile": "FROM x\n", "b/z.txt": "z", "a.txt": "a", "b/y/deep.txt": "d"}
    one = ContextTar.from_entries(entries(files))
    two = ContextTar.from_entries(entries(dict(reversed(files.items())), {"a.txt": 0o600}))
    assert one.data == two.data
    assert one.digest == two.digest
    assert one == ContextTar.from_entries(entries(files))


def test_entries_are_sorted_normalised_and_owned_by_root() -> None:
    files = entries({"Dockerfile": "FROM x\n", "bin/run.sh": "#!/bin/sh\n", "a-b": "x"},
                    {"bin/run.sh": 0o700})
    files["link"] = ContextEntry(b"", link="a-b")
    infos = members(ContextTar.from_entries(files).data)
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


def test_content_change_changes_the_digest() -> None:
    before = ContextTar.from_entries(entries({"Dockerfile": "FROM x\n", "req.txt": "six\n"}))
    after = ContextTar.from_entries(entries({"Dockerfile": "FROM x\n", "req.txt": "six==1.16\n"}))
    assert after.digest != before.digest
    assert len(before.digest) == 64


def test_executable_bit_is_part_of_the_content() -> None:
    files = {"Dockerfile": "FROM x\n", "s.sh": "echo\n"}
    plain = ContextTar.from_entries(entries(files))
    executable = ContextTar.from_entries(entries(files, {"s.sh": 0o755}))
    assert executable.digest != plain.digest
    assert ContextTar.from_entries(entries(files, {"s.sh": 0o100})) == executable  # any x bit


def test_digest_is_the_sha256_of_the_bytes() -> None:
    import hashlib

    context = ContextTar.from_entries(entries({"Dockerfile": "FROM x\n"}))
    assert context.digest == hashlib.sha256(context.data).hexdigest()


def test_digest_is_stable_across_processes() -> None:
    """The same spec gives the same tar in another interpreter (no hash seeds, no clocks)."""
    code = (
        "import sys; from pathlib import Path; from envspec.pipeline import compile_spec; "
        "print(compile_spec(Path(sys.argv[1])).context().digest)"
    )
    spec = str(EXAMPLES[0] / "env.yaml")
    runs = {
        subprocess.run([sys.executable, "-c", code, spec], capture_output=True, text=True,
                       check=True, env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin",
                                        "HOME": str(Path.home())}).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(runs) == 1 and len(runs.pop()) == 64
