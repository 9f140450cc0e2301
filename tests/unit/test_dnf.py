"""dnf (Rocky Linux, UBI): the commands the plan writes, run where this machine can run them.

No Rocky or UBI repository is reachable here, so no RPM is installed for real. What is real:
the mirror rewrite runs in bash against repo files laid out as Rocky's, and dnf's own parser
(Debian's python3-dnf, dnf 4.14 as on EL9) reads the result when it is installed; every RUN of
the rendered Rocky and UBI Dockerfiles passes `bash -n` and hadolint.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from envspec.loader import load_spec
from envspec.plan import BuildPlan, make_plan
from envspec.plan.packages import Apt, Dnf, package_manager
from envspec.plan.steps import Copy, Env, Run, Step, sh
from envspec.render import render_dockerfile
from envspec.resolve import Resolved, resolve
from envspec.resolve.model import AptRepo
from tests.conftest import REPO
from tests.unit.test_hadolint import _hadolint

DNF_CACHE = ("type=cache,target=/var/cache/dnf,sharing=locked",)
INSTALL = "dnf install -y --allowerasing --setopt=install_weak_deps=False --nodocs"
CERT = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"
MIRROR = "https://mirror.invalid/rocky"

# Laid out as Rocky Linux 9's /etc/yum.repos.d/rocky.repo and 8's Rocky-AppStream.repo, and as
# the cuda.repo NVIDIA's images add (which a Rocky mirror must leave alone).
ROCKY9 = """[baseos]
name=Rocky Linux $releasever - BaseOS
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever$rltype
#baseurl=http://dl.rockylinux.org/$contentdir/$releasever/BaseOS/$basearch/os/
gpgcheck=1
enabled=1

[appstream]
name=Rocky Linux $releasever - AppStream
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=AppStream-$releasever$rltype
#baseurl=http://dl.rockylinux.org/$contentdir/$releasever/AppStream/$basearch/os/
gpgcheck=1
enabled=1
"""
ROCKY8 = """[appstream]
name=Rocky Linux $releasever - AppStream
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=AppStream-$releasever
#baseurl=http://dl.rockylinux.org/$contentdir/$releasever/AppStream/$basearch/os/
gpgcheck=1
enabled=1
"""
CUDA = """[cuda]
name=cuda
baseurl=https://developer.download.nvidia.com/compute/cuda/repos/rhel9/x86_64
enabled=1
"""
UBI = """[ubi-9-baseos-rpms]
name = Red Hat Universal Base Image 9 (RPMs) - BaseOS
baseurl = https://cdn-ubi.redhat.com/content/public/ubi/dist/ubi9/9/$basearch/baseos/os
enabled = 1
"""


def _texts(run: Run) -> list[str]:
    return [command.text for command in run.commands]


def _spec(write_spec: Callable[[str], Path], os_id: str, text: str) -> Resolved:
    return resolve(load_spec(write_spec(f"name: t\nbase:\n  os: {os_id}\n" + text)))


def _step(plan: BuildPlan, name: str) -> Step:
    (found,) = [step for step in plan.steps if step.name == name]
    return found


def test_install_skips_weak_dependencies_and_cleans_in_the_same_layer() -> None:
    run = Dnf("rocky").install(("git", "gcc-toolset-13-gcc-c++"))
    assert _texts(run) == [INSTALL, "dnf clean all", "rm -rf /var/cache/dnf"]
    assert run.commands[0].args == ("git", "gcc-toolset-13-gcc-c++")
    assert run.mounts == ()


def test_install_with_a_cache_mount_keeps_the_packages_and_skips_the_clean_up() -> None:
    run = Dnf("ubi", DNF_CACHE).install(("git",), then=(sh("update-ca-trust extract"),))
    assert _texts(run) == [INSTALL + " --setopt=keepcache=1", "update-ca-trust extract"]
    assert run.mounts == DNF_CACHE


def test_dnf_refuses_apt_repositories() -> None:
    repo = AptRepo("x", "https://example.invalid/debian", "bookworm", ("main",),
                   "https://example.invalid/key")
    with pytest.raises(ValueError, match="apt repositories"):
        Dnf("rocky").install(("git",), (repo,))


def test_the_family_picks_the_manager_and_its_cache_mounts() -> None:
    assert isinstance(package_manager("rocky"), Dnf)
    assert isinstance(package_manager("ubi"), Dnf)
    assert isinstance(package_manager("debian"), Apt)
    assert package_manager("ubi").cache_mounts() == DNF_CACHE
    assert package_manager("rocky").build_args() == ()
    assert package_manager("ubuntu").build_args() == ("DEBIAN_FRONTEND=noninteractive",)


def test_the_plan_and_the_catalog_agree_on_every_distributions_package_manager() -> None:
    """The resolver reads `package_manager` from distros.yaml, the plan picks its class by
    family: a distribution added to one and not the other must fail here."""
    from envspec.catalog import load_catalog

    classes = {"apt": Apt, "dnf": Dnf}
    for distro in load_catalog().distros():
        assert type(package_manager(distro.family)) is classes[distro.package_manager], distro.id


def test_gcc_toolset_goes_first_on_path_and_the_system_gcc_needs_nothing() -> None:
    env, check = Dnf("rocky").default_gcc(13, "/opt/rh/gcc-toolset-13/root/usr/bin")
    assert env == Env({"PATH": "/opt/rh/gcc-toolset-13/root/usr/bin:$PATH"}, expand=True)
    assert isinstance(check, Run) and _texts(check) == ["gcc --version | head -n 1"]
    (only,) = Dnf("rocky").default_gcc(11, None)
    assert isinstance(only, Run) and _texts(only) == ["gcc --version | head -n 1"]


def _run_mirror(tmp_path: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    run = Dnf("rocky", repos_dir=str(tmp_path)).use_mirror(MIRROR)
    script = " && ".join(_texts(run))
    return subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True,
                          text=True, check=False)


def test_mirror_rewrite_runs_against_rocky_repo_files(tmp_path: Path) -> None:
    done = _run_mirror(tmp_path, {"rocky.repo": ROCKY9, "Rocky-AppStream.repo": ROCKY8,
                                  "cuda.repo": CUDA})
    assert done.returncode == 0, done.stderr
    rocky9 = (tmp_path / "rocky.repo").read_text().splitlines()
    assert f"baseurl={MIRROR}/$releasever/BaseOS/$basearch/os/" in rocky9
    assert f"baseurl={MIRROR}/$releasever/AppStream/$basearch/os/" in rocky9
    assert not [line for line in rocky9 if line.startswith(("mirrorlist=", "metalink="))]
    rocky8 = (tmp_path / "Rocky-AppStream.repo").read_text()
    assert f"\nbaseurl={MIRROR}/$releasever/AppStream/" in rocky8 and "\n#mirrorlist=" in rocky8
    assert (tmp_path / "cuda.repo").read_text() == CUDA


def test_mirror_rewrite_fails_the_build_when_no_repo_matched(tmp_path: Path) -> None:
    done = _run_mirror(tmp_path, {"ubi.repo": UBI})
    assert done.returncode == 1
    assert "no dnf repository matched" in done.stderr
    assert (tmp_path / "ubi.repo").read_text() == UBI


def _system_python_with_dnf() -> str:
    """Debian's python3-dnf (apt-get install dnf): dnf's own repo-file parser."""
    python = shutil.which("python3", path="/usr/bin")
    if python is None or subprocess.run([python, "-c", "import dnf"], capture_output=True,
                                        check=False).returncode != 0:
        pytest.skip("dnf's Python module is not installed (apt-get install dnf)")
    return python


def test_dnf_itself_reads_the_rewritten_repo_files(tmp_path: Path) -> None:
    python = _system_python_with_dnf()
    assert _run_mirror(tmp_path, {"rocky.repo": ROCKY9, "cuda.repo": CUDA}).returncode == 0
    probe = (
        "import dnf, sys\n"
        "base = dnf.Base()\n"
        "base.conf.reposdir = [sys.argv[1]]\n"
        "base.conf.substitutions.update(releasever='9', basearch='x86_64')\n"
        "base.read_all_repos()\n"
        "for r in sorted(base.repos.all(), key=lambda r: r.id):\n"
        "    print(r.id, *r.baseurl, r.mirrorlist, r.metalink)\n"
        "print(base.conf.install_weak_deps, base.conf.keepcache)\n"
    )
    out = subprocess.run([python, "-c", probe, str(tmp_path)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == [
        f"appstream {MIRROR}/9/AppStream/x86_64/os/ None None",
        f"baseos {MIRROR}/9/BaseOS/x86_64/os/ None None",
        "cuda https://developer.download.nvidia.com/compute/cuda/repos/rhel9/x86_64 None None",
        "True False",  # the options the install line sets exist, with these defaults
    ]


def test_certificates_go_to_the_ca_trust_anchors(
    write_spec: Callable[[str], Path], tmp_path: Path
) -> None:
    (tmp_path / "corp.crt").write_text(CERT)
    resolved = _spec(write_spec, "rockylinux9", "build:\n  ca_certificates: [corp.crt]\n"
                     "  keep_ca_certificates: false\napt:\n  packages: [git]\n")
    plan = make_plan(resolved)
    assert set(plan.files) >= {"ca-certificates/envspec-00-corp.crt"}
    copy, trust, env = _step(plan, "ca_certificates").instructions
    assert copy == Copy("ca-certificates/", "/etc/pki/ca-trust/source/anchors/")
    assert isinstance(trust, Run) and _texts(trust) == ["update-ca-trust extract"]
    assert isinstance(env, Env) and set(env.pairs.values()) == {"/etc/pki/tls/certs/ca-bundle.crt"}
    (install,) = _step(plan, "apt").instructions
    assert isinstance(install, Run) and "update-ca-certificates" not in _texts(install)
    _, remove = _step(plan, "ca_cleanup").instructions
    assert isinstance(remove, Run)
    assert _texts(remove) == ["rm -f /etc/pki/ca-trust/source/anchors/envspec-*",
                              "update-ca-trust extract"]


UBI9_SPEC = """python:
  version: "3.11"
  pip:
    packages: [numpy]
compilers:
  gcc: 12
apt:
  packages: [git]
base:
  os: ubi9
  cuda: "12.6"
  flavor: devel
  cudnn: true
"""


@pytest.mark.parametrize("buildkit", [False, True], ids=["classic", "buildkit"])
def test_ubi9_renders_syntactically_valid_lint_clean_commands(
    write_spec: Callable[[str], Path], buildkit: bool
) -> None:
    resolved = resolve(load_spec(write_spec("name: t\n" + UBI9_SPEC)))
    plan = make_plan(resolved, buildkit=buildkit)
    assert plan.base_image == "nvidia/cuda:12.6.3-cudnn-devel-ubi9"
    runs = [i for step in plan.steps for i in step.instructions if isinstance(i, Run)]
    for run in runs:
        script = " && ".join(c.text + "".join(f" {a}" for a in c.args) for c in run.commands)
        checked = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True,
                                 check=False)
        assert checked.returncode == 0, (script, checked.stderr)
    dockerfile = render_dockerfile(plan)
    assert "DEBIAN_FRONTEND" not in dockerfile and "apt-get" not in dockerfile
    assert "gcc-toolset-12-gcc-c++" in dockerfile and "python3.11 \\\n" in dockerfile
    assert ("--mount=type=cache,target=/var/cache/dnf" in dockerfile) is buildkit
    linted = subprocess.run(
        [_hadolint(), "--no-color", "--config", str(REPO / ".hadolint.yaml"), "-"],
        input=dockerfile, capture_output=True, text=True, check=False)
    assert linted.returncode == 0, linted.stdout + linted.stderr

