"""The nvidia-apt CUDA source built for real: a signed apt repository on loopback, laid out like
NVIDIA's (a flat `<root>/ubuntu1804/x86_64/` with InRelease and the `3bf863cc.pub` key file),
holding small .deb packages with NVIDIA's names and versions, built FROM the local Debian base
through the spec's `base.image` and `base.cuda_repo` overrides.

The repository is made with Debian's own tools: dpkg-deb (the packages), apt-ftparchive from
apt-utils (Packages and Release of a flat repository, which is NVIDIA's layout; reprepro and
aptly only publish dists/<suite>/ trees), and gpg (a key made here, InRelease signed with it).
Newer decoy versions of two packages sit next to the pinned ones, so the pins must really hold.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envspec.catalog import load_catalog
from envspec.catalog.models import AptPin, CudaAptRelease
from tests.integration.conftest import unavailable
from tests.integration.test_spec_builds import envspec, image_of, run_in

TOOLS = ("dpkg-deb", "apt-ftparchive", "gpg")
CUDA = "10.2"
OS_DIR = "ubuntu1804/x86_64"
DECOYS = {"cuda-cudart-10-2": "10.2.300-1", "libcublas10": "10.2.3.254-1"}


@pytest.fixture(scope="module")
def release() -> CudaAptRelease:
    found = load_catalog().cuda_apt().release(CUDA)
    assert found is not None
    return found


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{argv}: {result.stderr}"
    return result.stdout


def _deb(pool: Path, work: Path, name: str, version: str, files: dict[str, str]) -> None:
    """A tiny binary package `name_version_amd64.deb` holding `files` (path -> text)."""
    root = work / f"{name}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n"
        "Maintainer: envspec tests <tests@example.invalid>\n"
        f"Description: stand-in for NVIDIA's {name}\n"
    )
    for rel, text in files.items():
        target = root / rel.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    _run(["dpkg-deb", "--root-owner-group", "--build", str(root),
          str(pool / f"{name}_{version.replace(':', '%3a')}_amd64.deb")], work)


def _payload(pin: AptPin, release: CudaAptRelease) -> dict[str, str]:
    lib = f"/usr/local/cuda-{release.major_minor}/lib64"
    if pin.name.startswith("cuda-cudart-"):
        return {f"{lib}/libcudart.so.{release.major_minor}": "fake cudart\n"}
    return {f"/usr/share/doc/{pin.name}/stand-in": f"{pin.spec}\n"}


def _signed_repository(top: Path, release: CudaAptRelease, pins: tuple[AptPin, ...]) -> None:
    gnupg = top / "gnupg"
    gnupg.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(gnupg), "PATH": "/usr/bin:/bin"}
    _run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
          "envspec test repository <repo@example.invalid>", "rsa2048", "sign", "never"], top, env)
    repo = top / "repos" / OS_DIR
    repo.mkdir(parents=True)
    work = top / "build"
    work.mkdir()
    for pin in pins:
        _deb(repo, work, pin.name, pin.version or "1.0-1", _payload(pin, release))
    for name, version in DECOYS.items():
        _deb(repo, work, name, version, {f"/usr/share/doc/{name}/decoy": "newer, not pinned\n"})
    (repo / "Packages").write_text(_run(["apt-ftparchive", "packages", "."], repo))
    (repo / "Release").write_text(_run(["apt-ftparchive", "release", "."], repo))
    _run(["gpg", "--batch", "--yes", "--clearsign", "-o", "InRelease", "Release"], repo, env)
    _run(["gpg", "--batch", "--yes", "--armor", "--output", "3bf863cc.pub", "--export"], repo, env)


@pytest.fixture
def served_repository(tmp_path: Path, release: CudaAptRelease) -> Iterator[str]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        unavailable(f"{', '.join(missing)} missing: apt-get install -y apt-utils dpkg-dev gnupg")
    pins = release.packages("runtime", release.cudnn[0], "ubuntu18.04")
    _signed_repository(tmp_path, release, pins)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/repos"
    finally:
        server.shutdown()
        server.server_close()


def test_cuda_from_a_signed_apt_repository(
    docker_client: Any, base_image: str, served_repository: str, tmp_path: Path,
    image_cleanup: list[str], release: CudaAptRelease,
) -> None:
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "env.yaml").write_text(
        f"name: cuda-apt-itest\nbase:\n  os: ubuntu18.04\n  image: {base_image}\n"
        f"  cuda: '{CUDA}'\n  flavor: runtime\n  cudnn: 7\n  cuda_source: nvidia-apt\n"
        f"  cuda_repo: {served_repository}\npython: null\nuser: null\n"
    )
    result = envspec("build", str(folder / "env.yaml"), "--network", "host", "--no-cache",
                     "--progress", "plain")
    image = image_of(result)
    image_cleanup.append(image)
    pins = release.packages("runtime", release.cudnn[0], "ubuntu18.04")
    out = run_in(docker_client, image, (
        "echo HOLDS; apt-mark showhold; echo LINK; readlink /usr/local/cuda; echo ENV; env; "
        "echo VERSIONS; dpkg-query -W -f '${Package}=${Version}\\n' "
        + " ".join(p.name for p in pins)
        + "; echo SOURCES; cat /etc/apt/sources.list.d/cuda.list; echo LDSO; "
        "cat /etc/ld.so.conf.d/nvidia.conf; ls /usr/local/cuda/lib64/; "
        "test -s /usr/share/keyrings/cuda-archive-keyring.gpg && echo KEYRING-OK; "
        "command -v curl || echo NO-CURL"
    ))
    section = _sections(out)
    assert set(section["HOLDS"]) == {p.name for p in pins if p.hold}
    assert section["LINK"] == ["cuda-10.2"]
    env = dict(line.split("=", 1) for line in section["ENV"] if "=" in line)
    assert env["CUDA_VERSION"] == release.cuda
    assert env["NVIDIA_REQUIRE_CUDA"] == release.require_cuda
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"
    assert env["PATH"].startswith("/usr/local/nvidia/bin:/usr/local/cuda/bin:")
    assert env["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib:/usr/local/nvidia/lib64"
    assert env["CUDNN_VERSION"] == release.cudnn[0].version
    # the pinned versions, not the newer decoys beside them
    assert set(section["VERSIONS"]) == {p.spec for p in pins if p.version} | {
        f"{p.name}=1.0-1" for p in pins if not p.version}
    assert section["SOURCES"][0] == (
        f"deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] "
        f"{served_repository}/{OS_DIR} /")
    assert section["LDSO"][:2] == ["/usr/local/nvidia/lib", "/usr/local/nvidia/lib64"]
    assert "libcudart.so.10.2" in out and "KEYRING-OK" in out and "NO-CURL" in out
    _smoke_sees_the_real_cuda(folder, release)


def _smoke_sees_the_real_cuda(folder: Path, release: CudaAptRelease) -> None:
    """`envspec test` reuses the image (unchanged spec) and its cuda-runtime check expects the
    CUDA the image has. The whole run exits 4 here: the `os` check rightly sees Debian, not the
    spec's ubuntu18.04, so only the CUDA check is judged."""
    report = folder / "smoke.json"
    result = envspec("test", str(folder / "env.yaml"), "--progress", "plain", "--json",
                     str(report), check=False)
    assert result.returncode in (0, 4), result.stderr[-2000:]
    checks = {c["name"]: c for c in json.loads(report.read_text())["results"]}
    assert checks["cuda-runtime"]["status"] == "pass", checks["cuda-runtime"]
    assert f"CUDA_VERSION={release.cuda}" in checks["cuda-runtime"]["detail"]


def test_a_repository_signed_by_another_key_is_refused(
    served_repository: str, tmp_path: Path, base_image: str,
) -> None:
    """The keyring is really what apt checks: a key file that did not sign InRelease fails."""
    other = tmp_path / "other-gnupg"
    other.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(other), "PATH": "/usr/bin:/bin"}
    _run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "someone else <x@example.invalid>",
          "rsa2048", "sign", "never"], tmp_path, env)
    _run(["gpg", "--batch", "--yes", "--armor", "--output",
          str(tmp_path / "repos" / OS_DIR / "3bf863cc.pub"), "--export"], tmp_path, env)
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "env.yaml").write_text(
        f"name: cuda-apt-badkey\nbase:\n  os: ubuntu18.04\n  image: {base_image}\n"
        f"  cuda: '{CUDA}'\n  cuda_source: nvidia-apt\n  cuda_repo: {served_repository}\n"
        "python: null\nuser: null\n"
    )
    result = envspec("build", str(folder / "env.yaml"), "--network", "host", "--no-cache",
                     "--progress", "plain", check=False)
    assert result.returncode == 3, result.stderr
    assert "NO_PUBKEY" in result.stderr or "not signed" in result.stderr, result.stderr[-2000:]


def _sections(output: str) -> dict[str, list[str]]:
    names = ("HOLDS", "LINK", "ENV", "VERSIONS", "SOURCES", "LDSO")
    sections: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line in names:
            current = sections.setdefault(line, [])
        elif current is not None and line:
            current.append(line)
    return sections
