"""`envspec doctor`: is this host ready to build and run GPU containers? Results as data.

Every probe of the host goes through `Host`, so tests inject recorded outputs. Each problem
carries the exact commands that fix it on this distribution; envspec never runs sudo itself.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from envspec import nvidia
from envspec.engine import DEFAULT_SOCKET_PATH
from envspec.host_fixes import (
    REGISTER_TOOLKIT,
    docker_install_fix,
    driver_fix,
    parse_os_release,
    toolkit_fix_commands,
)

if TYPE_CHECKING:
    from rich.table import Table

Status = Literal["ok", "warn", "fail"]
GIB = 1024**3
DISK_FAIL_GIB, DISK_WARN_GIB = 5, 20  # a CUDA devel image with a framework is 10-20 GiB
CDI_DIRS = ("/etc/cdi", "/var/run/cdi")
TOOLKIT_PROGRAMS = ("nvidia-ctk", "nvidia-container-runtime", "nvidia-container-toolkit")
SOCKET = DEFAULT_SOCKET_PATH  # one definition, in the engine room


@dataclass(frozen=True)
class DoctorItem:
    name: str
    status: Status
    detail: str
    fix: tuple[str, ...] = ()


@dataclass(frozen=True)
class DoctorReport:
    items: tuple[DoctorItem, ...]

    @property
    def problems(self) -> bool:
        return any(item.status == "fail" for item in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {"problems": self.problems, "items": [asdict(item) for item in self.items]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def rich_table(self) -> Table:
        from rich.markup import escape
        from rich.table import Table

        marks = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]"}
        table = Table(title="envspec doctor", title_justify="left")
        table.add_column("check", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("detail", overflow="fold")
        for item in self.items:
            text = escape(item.detail) + ("  [dim](fix below)[/]" if item.fix else "")
            table.add_row(item.name, marks[item.status], text)
        return table

    def fixes(self) -> list[tuple[str, tuple[str, ...]]]:
        """(check name, commands) for every item that is not ok, in order, without repeats."""
        seen: set[tuple[str, ...]] = set()
        result = []
        for item in self.items:
            if item.status != "ok" and item.fix and item.fix not in seen:
                seen.add(item.fix)
                result.append((item.name, item.fix))
        return result


class Host:
    """The real machine. Tests subclass it with recorded answers."""

    def which(self, program: str) -> str | None:
        return shutil.which(program)

    def run(self, argv: Sequence[str]) -> tuple[int, str, str]:
        if self.which(argv[0]) is None:
            return 127, "", f"{argv[0]}: not found"
        try:
            done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            return 126, "", str(err)
        return done.returncode, done.stdout, done.stderr

    def read(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return None

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except OSError:
            return []

    def free_bytes(self, path: str) -> int | None:
        while path and not os.path.exists(path):
            path = os.path.dirname(path.rstrip("/")) or "/"
        try:
            return shutil.disk_usage(path).free
        except OSError:
            return None

    def user(self) -> tuple[int, str, list[int]]:
        """uid, user name, and the groups this session has (not those in /etc/group)."""
        uid = os.getuid()
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        return uid, name, os.getgroups()

    def group_members(self, group: str) -> tuple[int, list[str]] | None:
        try:
            entry = grp.getgrnam(group)
        except KeyError:
            return None
        return entry.gr_gid, list(entry.gr_mem)


# --------------------------------------------------------------------------- the checks
@dataclass
class _Context:
    host: Host
    os_release: dict[str, str]
    gpu_required: bool
    cuda: str | None
    info: dict[str, Any] | None = None  # `docker info` as JSON, when the daemon answered
    info_error: str = ""
    gpus: nvidia.HostGpus | None = None
    items: list[DoctorItem] = field(default_factory=list)

    def add(self, name: str, status: Status, detail: str, fix: Sequence[str] = ()) -> None:
        self.items.append(DoctorItem(name, status, detail, tuple(fix)))


def _check_cli(ctx: _Context) -> bool:
    path = ctx.host.which("docker")
    if path is None:
        ctx.add("docker CLI", "fail", "`docker` is not on PATH", docker_install_fix(ctx.os_release))
        return False
    _, out, _ = ctx.host.run(["docker", "--version"])
    ctx.add("docker CLI", "ok", f"{path}: {out.strip() or 'version unknown'}")
    return True


def _check_daemon(ctx: _Context) -> None:
    code, out, err = ctx.host.run(["docker", "info", "--format", "{{json .}}"])
    info: dict[str, Any] | None = None
    try:
        parsed = json.loads(out) if out.strip() else None
        info = parsed if isinstance(parsed, dict) else None
    except ValueError:
        info = None
    server_errors = " ".join((info or {}).get("ServerErrors") or [])
    text = f"{err} {server_errors}".strip()
    if code == 0 and info and not server_errors and info.get("ServerVersion"):
        ctx.info = info
        ctx.add(
            "docker daemon",
            "ok",
            f"Docker Engine {info.get('ServerVersion')}, "
            f"storage {info.get('Driver', '?')}, root {info.get('DockerRootDir', '?')}",
        )
        return
    ctx.info_error = text or f"`docker info` exited {code}"
    if "permission denied" in text.lower():
        ctx.add("docker daemon", "warn", "running, but this user may not talk to it (see below)")
        return
    ctx.add(
        "docker daemon",
        "fail",
        f"not reachable: {ctx.info_error[:300]}",
        (
            "sudo systemctl enable --now docker",
            "# without systemd: sudo dockerd >/var/log/dockerd.log 2>&1 &",
        ),
    )


def _check_socket(ctx: _Context) -> None:
    uid, name, session_groups = ctx.host.user()
    if ctx.info is not None:
        ctx.add("docker socket", "ok", f"user {name} can use the Docker engine")
        return
    if "permission denied" not in ctx.info_error.lower():
        ctx.add("docker socket", "warn", "not checked: the daemon did not answer")
        return
    docker_group = ctx.host.group_members("docker")
    if docker_group and name in docker_group[1] and docker_group[0] not in session_groups:
        ctx.add(
            "docker socket",
            "fail",
            f"{name} is in the docker group, but this login session predates that",
            ("# log out and back in (or start a shell with the group):", "newgrp docker"),
        )
        return
    ctx.add(
        "docker socket",
        "fail",
        f"user {name} (uid {uid}) may not use {SOCKET}",
        (
            "sudo usermod -aG docker $USER",
            "# then log out and back in (or `newgrp docker`) for the group to apply;",
            "# note: the docker group grants root-equivalent access to this host",
        ),
    )


def _check_driver(ctx: _Context) -> None:
    gpus = nvidia.query_host(run=lambda argv: _combined(ctx.host.run(argv)), read=ctx.host.read)
    ctx.gpus = gpus
    if gpus.driver_version is None:
        status: Status = "fail" if ctx.gpu_required else "warn"
        ctx.add(
            "NVIDIA driver",
            status,
            f"none found ({gpus.problem}); images build, GPU checks will be skipped",
            driver_fix(ctx.os_release),
        )
        return
    names = ", ".join(f"{g.index}: {g.name}" for g in gpus.gpus) or "GPUs not listed"
    cuda = f", supports CUDA <= {gpus.cuda_version}" if gpus.cuda_version else ""
    ctx.add("NVIDIA driver", "ok", f"driver {gpus.driver_version}{cuda}; {names}")


def _combined(result: tuple[int, str, str]) -> tuple[int, str]:
    return result[0], result[1] + result[2]


def _check_toolkit(ctx: _Context) -> None:
    has_driver = ctx.gpus is not None and ctx.gpus.driver_version is not None
    missing: Status = "fail" if (has_driver or ctx.gpu_required) else "warn"
    found = [p for p in TOOLKIT_PROGRAMS if ctx.host.which(p)]
    if not found:
        ctx.add(
            "NVIDIA Container Toolkit",
            missing,
            "not installed (no nvidia-ctk / nvidia-container-runtime on PATH)",
            toolkit_fix_commands(ctx.os_release),
        )
    else:
        ctx.add("NVIDIA Container Toolkit", "ok", "installed: " + ", ".join(found))
    runtimes = sorted(((ctx.info or {}).get("Runtimes") or {}).keys())
    cdi = [f"{d}/{n}" for d in CDI_DIRS for n in ctx.host.listdir(d) if "nvidia" in n]
    hook = ctx.host.which("nvidia-container-runtime-hook")
    if "nvidia" in runtimes or cdi or hook:
        how = (
            "runtime `nvidia` in docker info"
            if "nvidia" in runtimes
            else f"CDI spec {cdi[0]}"
            if cdi
            else f"prestart hook {hook}"
        )
        ctx.add("toolkit registered with Docker", "ok", how)
        return
    if ctx.info is None:
        detail = "not checked: `docker info` did not answer"
        ctx.add("toolkit registered with Docker", "warn", detail)
        return
    fix = REGISTER_TOOLKIT if found else toolkit_fix_commands(ctx.os_release)
    ctx.add(
        "toolkit registered with Docker",
        missing,
        f"Docker runtimes: {', '.join(runtimes) or 'none'}; no nvidia runtime, no CDI spec "
        f"in {' or '.join(CDI_DIRS)}: `--gpus` fails with "
        '`could not select device driver "" with capabilities: [[gpu]]`',
        fix,
    )


# How the doctor rates each driver verdict (envspec.driver_compat): limits and needs are warnings.
VERDICT_STATUS: dict[str, Status] = {
    "full": "ok",
    "minor-compat": "warn",
    "forward-compat": "warn",
    "unknown": "warn",
    "unsupported": "fail",
}


def _check_cuda(ctx: _Context) -> None:
    if ctx.cuda is None:
        return
    from envspec import driver_compat

    name = f"driver for CUDA {ctx.cuda}"
    driver = ctx.gpus.driver_version if ctx.gpus else None
    if driver is None:
        floor = driver_compat.driver_minimum(driver_compat.driver_thresholds(ctx.cuda))
        status: Status = "fail" if ctx.gpu_required else "warn"
        ctx.add(name, status, f"no driver to check; CUDA {ctx.cuda} needs >= {floor or 'unknown'}")
        return
    gpus = ctx.gpus.gpus if ctx.gpus else ()
    verdict = driver_compat.driver_verdict(ctx.cuda, driver, gpus[0].name if gpus else None)
    upgrade_to = verdict.full or verdict.minimum
    fix = driver_fix(ctx.os_release, upgrade_to) if verdict.kind != "full" and upgrade_to else ()
    if verdict.kind == "forward-compat":
        package = "cuda-compat-" + "-".join(ctx.cuda.split(".")[:2])
        fix = (f"# or keep this driver: the image needs the {package} package "
               "(nvidia/cuda images have it)", *fix)
    ctx.add(name, VERDICT_STATUS[verdict.kind], verdict.detail, fix)


def _check_disk(ctx: _Context) -> None:
    root = str((ctx.info or {}).get("DockerRootDir") or "/var/lib/docker")
    free = ctx.host.free_bytes(root)
    if free is None:
        ctx.add("disk space", "warn", f"cannot tell the free space under {root}")
        return
    gib = free / GIB
    fix = ("docker system df", "docker builder prune", "docker image prune")
    detail = f"{gib:.1f} GiB free under {root}"
    if gib < DISK_FAIL_GIB:
        ctx.add("disk space", "fail", detail + f" (< {DISK_FAIL_GIB} GiB)", fix)
    elif gib < DISK_WARN_GIB:
        ctx.add("disk space", "warn", detail + f" (CUDA images need {DISK_WARN_GIB}+ GiB)", fix)
    else:
        ctx.add("disk space", "ok", detail)


def run_doctor(
    host: Host | None = None, *, cuda: str | None = None, gpu_required: bool = False
) -> DoctorReport:
    """Check the host; `cuda` (the spec's full CUDA version) adds the driver-vs-CUDA check."""
    host = host or Host()
    ctx = _Context(host, parse_os_release(host.read("/etc/os-release")), gpu_required, cuda)
    if _check_cli(ctx):
        _check_daemon(ctx)
        _check_socket(ctx)
    _check_driver(ctx)
    _check_toolkit(ctx)
    _check_cuda(ctx)
    _check_disk(ctx)
    return DoctorReport(tuple(ctx.items))
