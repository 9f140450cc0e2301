"""Issue 10's research features, built for real on the local Debian base and checked inside the
image: env values extending PATH (Docker expands them), `$$` as a literal dollar, run steps at
named phases (before_apt really runs before the apt layer), a passwordless-sudo user in extra
groups, an apt version glob, EXPOSE/VOLUME metadata, and apt repository keys in armored (.asc)
and binary (.gpg) form from a loopback HTTP server with a tiny repository signed by a key made
here (gpg, apt-ftparchive)."""

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

from tests.integration.conftest import unavailable
from tests.integration.test_spec_builds import HOST_CA, envspec, image_of, run_in

HOOK = "/var/tmp/before-apt-hook"


def _features_spec(folder: Path, base_image: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "env.yaml"
    spec.write_text(f"""\
name: {folder.name}
base: {{os: debian12, image: {base_image}}}
apt:
  packages: ["tree=2.*"]
python: {{}}
env:
  PATH: /opt/x/bin:${{PATH}}
  PRICE: "costs $$5"
  FALLBACK: "${{UNSET_HERE:-fallback}}"
  DERIVED: ${{PRICE}}!
user:
  sudo: true
  groups: [video, research]
run:
  - phase: before_apt
    command: echo 'DPkg::Post-Invoke {{"touch {HOOK}";}};' > /etc/apt/apt.conf.d/99envspec-test
  - phase: after_apt
    command: mkdir -p /opt/x/bin && command -v tree > /opt/x/tree-path
  - echo final > /opt/x/final
expose: ["8888", "6006/udp"]
volumes: [/data]
""")
    return spec


@pytest.fixture
def features_spec(base_image: str, tmp_path: Path) -> Path:
    return _features_spec(tmp_path / "research-features", base_image)


@pytest.fixture
def features_image(docker_client: Any, features_spec: Path, image_cleanup: list[str]) -> str:
    result = envspec("build", str(features_spec), "--ca-cert", str(HOST_CA), "--progress", "plain")
    assert "UNSET_HERE" in result.stderr  # the undefined reference is a warning
    image = image_of(result)
    image_cleanup.append(image)
    return image


def test_env_sudo_groups_and_phases_in_a_built_image(docker_client: Any,
                                                     features_image: str) -> None:
    out = run_in(docker_client, features_image, "echo $PATH; command -v apt-get; command -v python; "
                 "id -un; id -nG; sudo -n true && echo sudo-ok; sudo -n id -u; "
                 'echo "$PRICE|$FALLBACK|$DERIVED"; '
                 f"cat /opt/x/tree-path /opt/x/final; ls {HOOK}; tree --version").splitlines()
    path = out[0].split(":")
    assert path[0] == "/opt/venv/bin" and path[1] == "/opt/x/bin"  # the venv, then the spec's dir
    assert "/usr/bin" in path and path.index("/opt/x/bin") < path.index("/usr/bin")
    assert out[1] == "/usr/bin/apt-get" and out[2] == "/opt/venv/bin/python"
    assert out[3] == "dev"
    assert set(out[4].split()) == {"dev", "video", "research"}
    assert out[5:7] == ["sudo-ok", "0"]
    assert out[7] == "costs $5|fallback|costs $5!"
    assert out[8:10] == ["/usr/bin/tree", "final"]  # after_apt saw apt's package
    assert out[10] == HOOK  # dpkg, in the apt layer, ran the hook the before_apt step wrote
    assert out[11].startswith("tree v2.")  # the version glob tree=2.* resolved


def test_phases_are_layers_in_order_and_metadata_is_in_the_image(docker_client: Any,
                                                                features_image: str) -> None:
    created = [entry["CreatedBy"] for entry in reversed(docker_client.history(features_image))]
    before = next(i for i, line in enumerate(created) if "99envspec-test" in line)
    apt = next(i for i, line in enumerate(created) if "apt-get update" in line)
    after = next(i for i, line in enumerate(created) if "/opt/x/tree-path" in line)
    final = next(i for i, line in enumerate(created) if "/opt/x/final" in line)
    assert before < apt < after < final
    config = docker_client.inspect_image(features_image)["Config"]
    assert set(config["ExposedPorts"]) == {"8888/tcp", "6006/udp"}
    assert set(config["Volumes"]) == {"/data"}


def test_smoke_checks_pass_with_expanded_env_values(features_image: str, features_spec: Path,
                                                    tmp_path: Path) -> None:
    report = tmp_path / "smoke.json"
    result = envspec("test", str(features_spec), "--ca-cert", str(HOST_CA), "--progress", "plain",
                     "--json", str(report))
    assert result.returncode == 0
    checks = {c["name"]: c for c in json.loads(report.read_text())["results"]}
    assert checks["env"]["status"] == "pass", checks["env"]
    assert "PRICE" in checks["env"]["detail"] and "PATH" not in checks["env"]["detail"]


# --- apt repository keys, armored and binary ---

def _gpg(home: Path, *args: str, stdout: Path | None = None) -> None:
    with open(stdout, "wb") if stdout else open("/dev/null", "wb") as out:
        subprocess.run(["gpg", "--batch", "--homedir", str(home), *args], check=True,
                       stdout=out, stderr=subprocess.PIPE)


def _package(root: Path, name: str) -> None:
    """A tiny arch-independent .deb that installs one file."""
    tree = root / "build" / name
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "usr/share" / name).mkdir(parents=True)
    (tree / "usr/share" / name / "ok").write_text("ok\n")
    (tree / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.invalid>\n"
        "Description: envspec test package\n")
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(tree), str(root / f"{name}.deb")],
                   check=True, capture_output=True)


def _signed_repo(root: Path, home: Path, package: str) -> None:
    """root/dists/stable/{InRelease,main/binary-amd64/Packages} and root/<package>.deb."""
    _package(root, package)
    binary = root / "dists/stable/main/binary-amd64"
    binary.mkdir(parents=True)
    packages = subprocess.run(["apt-ftparchive", "packages", "."], cwd=root, check=True,
                              capture_output=True, text=True).stdout
    (binary / "Packages").write_text(packages)
    options = [f"-oAPT::FTPArchive::Release::{k}={v}" for k, v in
               (("Suite", "stable"), ("Codename", "stable"), ("Components", "main"),
                ("Architectures", "amd64"))]
    release = subprocess.run(["apt-ftparchive", *options, "release", "dists/stable"], cwd=root,
                             check=True, capture_output=True, text=True).stdout
    (root / "dists/stable/Release").write_text(release)
    _gpg(home, "--clearsign", "-o", str(root / "dists/stable/InRelease"),
         str(root / "dists/stable/Release"))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over a fresh folder: (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_apt_repository_keys_armored_and_binary(docker_client: Any, base_image: str,
                                                tmp_path: Path, served: tuple[str, Path],
                                                image_cleanup: list[str]) -> None:
    for tool in ("gpg", "apt-ftparchive", "dpkg-deb"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed on this machine (apt-get install gnupg apt-utils)")
    url, root = served
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    _gpg(home, "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", "envspec test <t@example.invalid>",
         "ed25519", "sign", "never")
    (root / "keys").mkdir()
    _gpg(home, "--armor", "--export", stdout=root / "keys/armored.asc")
    _gpg(home, "--export", stdout=root / "keys/binary.gpg")
    _signed_repo(root / "asc", home, "envspec-from-asc")
    _signed_repo(root / "gpg", home, "envspec-from-gpg")
    folder = tmp_path / "apt-keys"
    folder.mkdir()
    (folder / "env.yaml").write_text(f"""\
name: apt-keys
base: {{os: debian12, image: {base_image}}}
apt:
  packages: [envspec-from-asc, envspec-from-gpg]
  repositories:
    - url: {url}/asc
      suite: stable
      key_url: "{url}/keys/armored.asc?op=get&search=0xKEY"
    - url: {url}/gpg
      suite: stable
      key_url: {url}/keys/binary.gpg
python: null
user: null
""")
    result = envspec("build", str(folder / "env.yaml"), "--network", "host",
                     "--ca-cert", str(HOST_CA), "--progress", "plain")
    image = image_of(result)
    image_cleanup.append(image)
    out = run_in(docker_client, image, "ls /etc/apt/keyrings; cat /usr/share/envspec-from-asc/ok "
                 "/usr/share/envspec-from-gpg/ok; head -c 5 /etc/apt/keyrings/*asc*.asc")
    keyrings = [line for line in out.splitlines() if line.startswith("envspec-")]
    assert sorted(k.rsplit(".", 1)[1] for k in keyrings) == ["asc", "gpg"], out
    assert out.count("ok\n") == 2  # both packages came from their signed repositories
    assert "-----" in out  # the .asc keyring is the armored download
