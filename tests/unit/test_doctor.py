"""doctor against injected hosts: recorded command outputs, files and groups."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from envspec import doctor
from envspec.doctor import Host, run_doctor

DATA = Path(__file__).parent / "data" / "nvidia"
UBUNTU = 'ID=ubuntu\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n'
DEBIAN = 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
ROCKY = 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n'
INFO = {
    "ServerVersion": "27.1.1",
    "Driver": "overlay2",
    "DockerRootDir": "/var/lib/docker",
    "Runtimes": {"runc": {"path": "runc"}},
}


class FakeHost(Host):
    def __init__(
        self,
        *,
        programs: Sequence[str] = ("docker",),
        os_release: str = UBUNTU,
        commands: dict[str, tuple[int, str, str]] | None = None,
        files: dict[str, str] | None = None,
        dirs: dict[str, list[str]] | None = None,
        free_gib: float = 100,
        user: tuple[int, str, list[int]] = (1000, "ada", [1000]),
        groups: dict[str, tuple[int, list[str]]] | None = None,
    ) -> None:
        self.programs = set(programs)
        self.commands = {"docker --version": (0, "Docker version 27.1.1, build 6312585", "")}
        self.commands.update(commands or {})
        self.files = {"/etc/os-release": os_release, **(files or {})}
        self.dirs = dirs or {}
        self.free = int(free_gib * doctor.GIB)
        self._user = user
        self.groups = groups or {}

    def which(self, program: str) -> str | None:
        return f"/usr/bin/{program}" if program in self.programs else None

    def run(self, argv: Sequence[str]) -> tuple[int, str, str]:
        if argv[0] not in self.programs:
            return 127, "", f"{argv[0]}: not found"
        return self.commands.get(" ".join(argv), (1, "", "unexpected command"))

    def read(self, path: str) -> str | None:
        return self.files.get(path)

    def exists(self, path: str) -> bool:
        return path in self.files or path in self.dirs

    def listdir(self, path: str) -> list[str]:
        return self.dirs.get(path, [])

    def free_bytes(self, path: str) -> int | None:
        return self.free

    def user(self) -> tuple[int, str, list[int]]:
        return self._user

    def group_members(self, group: str) -> tuple[int, list[str]] | None:
        return self.groups.get(group)


def info(**extra: Any) -> tuple[int, str, str]:
    return 0, json.dumps({**INFO, **extra}), ""


DOCKER_INFO = "docker info --format {{json .}}"
SMI_QUERY = " ".join(doctor.nvidia.QUERY_ARGV)


def gpu_host(**kw: Any) -> FakeHost:
    commands = {
        DOCKER_INFO: info(Runtimes={"runc": {}, "nvidia": {"path": "nvidia-container-runtime"}}),
        SMI_QUERY: (0, (DATA / "query_csv_noheader.txt").read_text(), ""),
        "nvidia-smi": (0, (DATA / "smi_580_h200x2.txt").read_text(), ""),
        **kw.pop("commands", {}),
    }
    programs = kw.pop("programs", ("docker", "nvidia-smi", "nvidia-ctk"))
    return FakeHost(commands=commands, programs=programs, **kw)


def items(report: doctor.DoctorReport) -> dict[str, doctor.DoctorItem]:
    return {item.name: item for item in report.items}


def test_healthy_gpu_host() -> None:
    report = run_doctor(gpu_host())
    assert not report.problems
    assert {i.name: i.status for i in report.items} == {
        "docker CLI": "ok",
        "docker daemon": "ok",
        "docker socket": "ok",
        "NVIDIA driver": "ok",
        "NVIDIA Container Toolkit": "ok",
        "toolkit registered with Docker": "ok",
        "disk space": "ok",
    }
    assert "580.65.06" in items(report)["NVIDIA driver"].detail
    assert "CUDA <= 13.0" in items(report)["NVIDIA driver"].detail


def test_no_docker_cli_gives_the_distros_install_commands() -> None:
    for os_text, needle in (
        (UBUNTU, "download.docker.com/linux/ubuntu"),
        (DEBIAN, "download.docker.com/linux/debian"),
        (ROCKY, "download.docker.com/linux/rhel/docker-ce.repo"),
    ):
        report = run_doctor(FakeHost(programs=(), os_release=os_text))
        cli = items(report)["docker CLI"]
        assert cli.status == "fail" and report.problems
        assert any(needle in line for line in cli.fix)
        assert "docker daemon" not in items(report)  # nothing more to ask without a CLI


def test_daemon_down() -> None:
    down = (
        1,
        "",
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
    )
    report = run_doctor(FakeHost(commands={DOCKER_INFO: down}))
    daemon = items(report)["docker daemon"]
    assert daemon.status == "fail" and "systemctl enable --now docker" in daemon.fix[0]
    assert items(report)["docker socket"].status == "warn"


DENIED = (
    1,
    json.dumps(
        {
            "ServerErrors": [
                "permission denied while trying to connect to the Docker daemon socket at "
                "unix:///var/run/docker.sock"
            ]
        }
    ),
    "",
)


def test_socket_permission_denied_gives_usermod_hint() -> None:
    report = run_doctor(FakeHost(commands={DOCKER_INFO: DENIED}))
    socket = items(report)["docker socket"]
    assert socket.status == "fail"
    assert socket.fix[0] == "sudo usermod -aG docker $USER"
    assert any("log out" in line for line in socket.fix)
    assert items(report)["docker daemon"].status == "warn"


def test_in_docker_group_but_stale_session() -> None:
    report = run_doctor(FakeHost(commands={DOCKER_INFO: DENIED}, groups={"docker": (998, ["ada"])}))
    socket = items(report)["docker socket"]
    assert socket.status == "fail" and "newgrp docker" in socket.fix


def test_driver_without_toolkit_fails_with_toolkit_commands() -> None:
    report = run_doctor(
        gpu_host(commands={DOCKER_INFO: info()}, programs=("docker", "nvidia-smi"), os_release=UBUNTU)
    )
    toolkit = items(report)["NVIDIA Container Toolkit"]
    registered = items(report)["toolkit registered with Docker"]
    assert toolkit.status == "fail" and registered.status == "fail" and report.problems
    text = "\n".join(toolkit.fix)
    assert "nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list" in text
    assert "sudo nvidia-ctk runtime configure --runtime=docker" in text
    assert "sudo systemctl restart docker" in text
    rpm = run_doctor(
        gpu_host(commands={DOCKER_INFO: info()}, programs=("docker", "nvidia-smi"), os_release=ROCKY)
    )
    assert any("yum.repos.d" in c for c in items(rpm)["NVIDIA Container Toolkit"].fix)


def test_toolkit_installed_but_not_registered() -> None:
    report = run_doctor(gpu_host(commands={DOCKER_INFO: info()}))
    registered = items(report)["toolkit registered with Docker"]
    assert registered.status == "fail"
    assert registered.fix == doctor.REGISTER_TOOLKIT
    assert "could not select device driver" in registered.detail


def test_cdi_spec_counts_as_registered() -> None:
    report = run_doctor(gpu_host(commands={DOCKER_INFO: info()}, dirs={"/etc/cdi": ["nvidia.yaml"]}))
    assert items(report)["toolkit registered with Docker"].status == "ok"
    assert "/etc/cdi/nvidia.yaml" in items(report)["toolkit registered with Docker"].detail


def test_no_gpu_host_only_warns_unless_required() -> None:
    host = FakeHost(commands={DOCKER_INFO: info()})
    report = run_doctor(host)
    assert not report.problems
    assert items(report)["NVIDIA driver"].status == "warn"
    assert items(report)["NVIDIA Container Toolkit"].status == "warn"
    required = run_doctor(host, gpu_required=True)
    assert required.problems and items(required)["NVIDIA driver"].status == "fail"


def test_driver_from_proc_when_nvidia_smi_is_missing() -> None:
    proc = (DATA / "proc_version_460.txt").read_text()
    report = run_doctor(FakeHost(commands={DOCKER_INFO: info()}, files={"/proc/driver/nvidia/version": proc}))
    assert "460.32.03" in items(report)["NVIDIA driver"].detail


@pytest.mark.parametrize(
    ("cuda", "status"),
    [("13.0.0", "ok"), ("12.4.1", "ok"), ("13.1.0", "warn")],
)
def test_driver_against_the_specs_cuda(cuda: str, status: str) -> None:
    report = run_doctor(gpu_host(), cuda=cuda)
    assert items(report)[f"driver for CUDA {cuda}"].status == status


def test_driver_too_old_for_cuda() -> None:
    old = {
        SMI_QUERY: (0, (DATA / "query_csv_header.txt").read_text(), ""),
        "nvidia-smi": (0, (DATA / "smi_460_titan_rtx.txt").read_text(), ""),
    }
    report = run_doctor(gpu_host(commands=old), cuda="12.4.1")
    item = items(report)["driver for CUDA 12.4.1"]
    assert item.status == "fail" and "460.32.03" in item.detail and report.problems
    assert any("ubuntu-drivers" in c for c in item.fix)


@pytest.mark.parametrize(("gib", "status"), [(100, "ok"), (12, "warn"), (2, "fail")])
def test_disk_space(gib: float, status: str) -> None:
    report = run_doctor(FakeHost(commands={DOCKER_INFO: info()}, free_gib=gib))
    assert items(report)["disk space"].status == status


def test_report_as_data() -> None:
    report = run_doctor(FakeHost(programs=()))
    data = json.loads(report.to_json())
    assert data["problems"] is True
    assert {"name", "status", "detail", "fix"} <= set(data["items"][0])
    assert report.fixes()[0][0] == "docker CLI"
    assert not any("sudo" in item.detail for item in report.items)
