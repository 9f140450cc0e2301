"""The dnf path built for real, against a stand-in for Rocky Linux.

No Rocky Linux or UBI image or repository is reachable from this project's machines, so the base
is a stand-in, made here and said to be one: the local Debian 12 image with Debian's own dnf
(4.14, the dnf of EL9) and a repo file laid out as Rocky's (`mirrorlist=` in force,
`#baseurl=…/$contentdir/…`; gpgcheck=0, as the probe RPM is unsigned). The repository is real:
an RPM made with rpmbuild, indexed by createrepo_c, served over loopback HTTP. What runs for real
is envspec's rendered Dockerfile for `os: rockylinux9`: the mirror rewrite, `dnf install` with
its flags, the clean-up, and under BuildKit the /var/cache/dnf cache mount with keepcache. Not
exercised: Rocky's and UBI's own packages (gcc-toolset, python3.11, shadow-utils,
update-ca-trust), which exist only in their repositories.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import BASE_IMAGE, unavailable
from tests.integration.test_spec_builds import envspec, image_of, run_in

STANDIN = "envspec-test/dnf-standin:rocky9"
PROBE = "envspec-probe"
REPO_FILE = """[baseos]
name=Rocky Linux $releasever - BaseOS
mirrorlist=https://mirrors.rockylinux.invalid/mirrorlist?arch=$basearch&repo=BaseOS-$releasever
#baseurl=http://dl.rockylinux.org/$contentdir/$releasever/BaseOS/$basearch/os/
gpgcheck=0
enabled=1
"""
STANDIN_DOCKERFILE = f"""FROM {BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends dnf \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY rocky.repo /etc/yum.repos.d/rocky.repo
RUN mkdir -p /etc/dnf/vars && echo 9 > /etc/dnf/vars/releasever
"""
RPM_SPEC = f"""Name: {PROBE}
Version: 1.0
Release: 1
Summary: installed by dnf in envspec's stand-in build
License: MIT
BuildArch: noarch
AutoReqProv: no
%description
One file, no dependencies.
%install
mkdir -p %{{buildroot}}/usr/share/{PROBE}
echo installed-by-dnf > %{{buildroot}}/usr/share/{PROBE}/hello
%files
/usr/share/{PROBE}/hello
"""


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} is missing (apt-get install rpm createrepo-c)")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def rpm_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real RPM repository laid out as a Rocky mirror: <root>/9/BaseOS/x86_64/os/."""
    top = tmp_path_factory.mktemp("rpmbuild")
    (top / "probe.spec").write_text(RPM_SPEC)
    subprocess.run([_tool("rpmbuild"), "--define", f"_topdir {top}", "-bb",
                    str(top / "probe.spec")], check=True, capture_output=True)
    root = tmp_path_factory.mktemp("mirror")
    os_dir = root / "9" / "BaseOS" / "x86_64" / "os"
    os_dir.mkdir(parents=True)
    (rpm,) = (top / "RPMS" / "noarch").glob(f"{PROBE}-*.rpm")
    shutil.copy(rpm, os_dir)
    subprocess.run([_tool("createrepo_c"), "-q", str(os_dir)], check=True, capture_output=True)
    return root


@pytest.fixture(scope="session")
def mirror(rpm_repo: Path) -> Iterator[tuple[str, list[str]]]:
    """The repository over loopback HTTP, and the paths it served (in order)."""
    served: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            served.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(rpm_repo)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", served
    server.shutdown()


@pytest.fixture(scope="session")
def standin(docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    context = tmp_path_factory.mktemp("standin")
    (context / "Dockerfile").write_text(STANDIN_DOCKERFILE)
    (context / "rocky.repo").write_text(REPO_FILE)
    for line in docker_client.build(path=str(context), tag=STANDIN, network_mode="host",
                                    rm=True, forcerm=True, decode=True):
        if "error" in line:
            pytest.fail(f"the stand-in image did not build: {line['error']}")
    return STANDIN


def _spec(folder: Path, url: str, round_: str = "1") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "env.yaml").write_text(
        f"name: {folder.name}\nbase:\n  os: rockylinux9\n  image: {STANDIN}\n"
        f"apt:\n  mirror: {url}\n  packages: [{PROBE}]\npython: null\nuser: null\n"
        f"env:\n  ROUND: '{round_}'\n")  # a new round is a new spec: envspec builds it again
    return folder / "env.yaml"


def _rpm_downloads(served: list[str]) -> int:
    return sum(path.endswith(".rpm") for path in served)


def test_dnf_mirror_and_install_run_for_real(
    docker_client: Any, standin: str, mirror: tuple[str, list[str]], tmp_path: Path,
    image_cleanup: list[str],
) -> None:
    url, served = mirror
    before = _rpm_downloads(served)
    result = envspec("build", str(_spec(tmp_path / "dnf-classic", url)), "--network", "host",
                     "--no-cache", "--progress", "plain")
    image = image_of(result)
    image_cleanup.append(image)
    assert _rpm_downloads(served) == before + 1, served
    out = run_in(docker_client, image, f"cat /usr/share/{PROBE}/hello; "
                 "grep -h '^baseurl=\\|^#mirrorlist=' /etc/yum.repos.d/rocky.repo; "
                 "ls -A /var/cache/dnf 2>/dev/null | wc -l")
    lines = out.splitlines()
    assert lines[0] == "installed-by-dnf"
    assert f"baseurl={url}/$releasever/BaseOS/$basearch/os/" in lines
    assert any(line.startswith("#mirrorlist=") for line in lines)
    assert lines[-1] == "0"  # dnf clean all + rm -rf /var/cache/dnf: nothing left in the layer


def test_buildkit_cache_mount_keeps_the_rpm_between_builds(
    standin: str, mirror: tuple[str, list[str]], tmp_path: Path, image_cleanup: list[str],
    unique_name: str,
) -> None:
    """Two builds whose `env` differs (so dnf runs again, unlike a layer-cache hit) share the
    /var/cache/dnf cache mount, where keepcache=1 left the RPM: the second downloads none.
    Without --no-cache: this engine's BuildKit (Docker 20.10) starts cache mounts empty then."""
    url, served = mirror
    folder = tmp_path / "dnf-buildkit"
    builds = []
    for round_ in (f"{unique_name}-1", f"{unique_name}-2"):
        result = envspec("build", str(_spec(folder, url, round_)), "--builder", "buildkit",
                         "--network", "host", "--progress", "plain")
        image_cleanup.append(image_of(result))
        assert "Complete!" in result.stdout + result.stderr  # dnf really ran
        builds.append(_rpm_downloads(served))
    assert builds[1] == builds[0], served
