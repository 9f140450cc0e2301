"""The build context writer: minimal, deterministic, and never clobbers a user's edit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envspec.context import MANIFEST, write_context
from envspec.context_tar import ContextEntry
from envspec.errors import RefusedError
from envspec.inputs import BuildInputs


def entries(files: dict[str, bytes]) -> dict[str, ContextEntry]:
    return {name: ContextEntry(data) for name, data in files.items()}


def test_second_write_of_unchanged_output_is_allowed(tmp_path: Path) -> None:
    files = {"Dockerfile": b"FROM x\n", "r.txt": b"six\n"}
    write_context(entries(files), tmp_path)
    write_context(entries(files), tmp_path)
    assert (tmp_path / "Dockerfile").read_bytes() == b"FROM x\n"
    assert (tmp_path / MANIFEST).exists()


def test_edited_file_is_not_overwritten_without_force(tmp_path: Path) -> None:
    write_context(entries({"Dockerfile": b"FROM x\n"}), tmp_path)
    (tmp_path / "Dockerfile").write_text("FROM x\n# my edit\n")
    with pytest.raises(RefusedError, match="edited"):
        write_context(entries({"Dockerfile": b"FROM y\n"}), tmp_path)
    assert "my edit" in (tmp_path / "Dockerfile").read_text()
    write_context(entries({"Dockerfile": b"FROM y\n"}), tmp_path, force=True)
    assert (tmp_path / "Dockerfile").read_text() == "FROM y\n"


def test_foreign_file_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM mine\n")
    with pytest.raises(RefusedError):
        write_context(entries({"Dockerfile": b"FROM x\n", "other": b"1"}), tmp_path)
    assert not (tmp_path / "other").exists()  # nothing half-written


def test_files_no_longer_generated_are_removed(tmp_path: Path) -> None:
    write_context(entries({"Dockerfile": b"a", "old.txt": b"b"}), tmp_path)
    write_context(entries({"Dockerfile": b"a"}), tmp_path)
    assert not (tmp_path / "old.txt").exists()


def test_link_out_of_the_spec_folder_is_refused(write_spec: Callable[[str], Path],
                                               tmp_path: Path) -> None:
    from envspec.errors import SpecError
    from envspec.pipeline import compile_spec

    outside = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    outside.write_text("secret")
    spec = write_spec("name: x\nbase:\n  os: debian12\npython:\n  pip:\n    requirements: [r.txt]\n")
    (spec.parent / "r.txt").symlink_to(outside)
    with pytest.raises(SpecError) as caught:
        compile_spec(spec)
    assert caught.value.diagnostics[0].code == "files.outside"


def test_command_line_certificates_may_come_from_outside_the_folder(
    write_spec: Callable[[str], Path], tmp_path: Path
) -> None:
    from envspec.pipeline import compile_spec

    host_bundle = tmp_path.parent / f"{tmp_path.name}-host-ca.crt"
    host_bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    spec = write_spec("name: x\nbase:\n  os: debian12\n")
    files = compile_spec(spec, BuildInputs(extra_ca_certs=(host_bundle,))).files
    assert files[f"ca-certificates/00-{host_bundle.stem}.crt"].data == b"-----BEGIN CERTIFICATE-----\n"


def test_written_files_keep_their_executable_bit(tmp_path: Path) -> None:
    files = {"Dockerfile": ContextEntry(b"FROM x\n"), "bin/run.sh": ContextEntry(b"#!/bin/sh\n", 0o700)}
    write_context(files, tmp_path)
    assert (tmp_path / "bin/run.sh").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "Dockerfile").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / MANIFEST).stat().st_mode & 0o777 == 0o644


def test_copied_files_carry_their_mode_into_the_context(write_spec: Callable[[str], Path]) -> None:
    from envspec.pipeline import compile_spec

    spec = write_spec("name: x\nbase:\n  os: debian12\ncopy:\n  - {src: tools/, dest: /opt/tools}\n"
                      "  - {src: notes.txt, dest: /opt/notes.txt}\n")
    (spec.parent / "tools").mkdir()
    (spec.parent / "tools/hello.sh").write_text("#!/bin/sh\necho hello\n")
    (spec.parent / "tools/hello.sh").chmod(0o744)
    (spec.parent / "tools/data.txt").write_text("d\n")
    (spec.parent / "notes.txt").write_text("n\n")
    (spec.parent / "notes.txt").chmod(0o600)
    files = compile_spec(spec).files
    assert files["tools/hello.sh"].mode == 0o755
    assert files["tools/data.txt"].mode == 0o644
    assert files["notes.txt"].mode == 0o644  # normalised: the image does not get 0600
    assert files["Dockerfile"].mode == 0o644


def test_render_output_keeps_the_executable_bit(write_spec: Callable[[str], Path],
                                                tmp_path: Path) -> None:
    from click.testing import CliRunner

    from envspec.cli import _register_commands, cli

    spec = write_spec("name: x\nbase:\n  os: debian12\ncopy:\n  - {src: go.sh, dest: /go.sh}\n")
    (spec.parent / "go.sh").write_text("#!/bin/sh\n")
    (spec.parent / "go.sh").chmod(0o755)
    _register_commands()
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["render", str(spec), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "go.sh").stat().st_mode & 0o777 == 0o755
    assert "!go.sh" in (out / ".dockerignore").read_text()
    assert (out / MANIFEST).is_file()
