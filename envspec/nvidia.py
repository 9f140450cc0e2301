"""Facts about the host's NVIDIA driver and GPUs, parsed from `nvidia-smi` and /proc.

Stdlib only: the GPU test suite imports this on machines that have Python, pytest and a GPU
framework but none of envspec's dependencies.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

QUERY_FIELDS = "index,name,uuid,driver_version,memory.total"
QUERY_ARGV = ("nvidia-smi", f"--query-gpu={QUERY_FIELDS}", "--format=csv,noheader")
PROC_VERSION = "/proc/driver/nvidia/version"

Runner = Callable[[Sequence[str]], tuple[int, str]]


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    uuid: str | None = None
    driver_version: str | None = None
    memory_total_mib: int | None = None
    mig: bool = False  # the banner said MIG M. "Enabled"


@dataclass(frozen=True)
class MigDevice:
    gpu: int
    gi: int
    ci: int
    mig: int
    memory_total_mib: int | None = None


@dataclass(frozen=True)
class SmiInfo:
    """What one `nvidia-smi` output says; fields the format lacks are None."""

    driver_version: str | None
    cuda_version: str | None  # the newest CUDA this driver supports (banner only)
    gpus: tuple[Gpu, ...] = ()
    mig_devices: tuple[MigDevice, ...] = field(default=())


def _mib(text: str) -> int | None:
    match = re.search(r"(\d+)\s*MiB", text)
    return int(match.group(1)) if match else None


def parse_query_csv(text: str) -> SmiInfo:
    """Output of `nvidia-smi --query-gpu=<QUERY_FIELDS> --format=csv[,noheader]`."""
    gpus: list[Gpu] = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) < 5 or not cells[0].isdigit():
            continue  # header row, blank line or an error message
        gpus.append(
            Gpu(
                index=int(cells[0]),
                name=", ".join(cells[1:-3]),  # a name could contain a comma
                uuid=cells[-3],
                driver_version=cells[-2],
                memory_total_mib=_mib(cells[-1]),
            )
        )
    driver = gpus[0].driver_version if gpus else None
    return SmiInfo(driver_version=driver, cuda_version=None, gpus=tuple(gpus))


_BANNER_VERSIONS = re.compile(r"Driver Version:\s*(?P<driver>[\d.]+).*?CUDA Version:\s*(?P<cuda>[\d.]+|N/A)")
# GPU row, first line: "|   0  TITAN RTX           Off  | 00000000:18:00.0 Off |   N/A |"
_GPU_ROW = re.compile(r"^\|\s+(?P<index>\d+)\s+(?P<name>.+?)\s+(?:On|Off)\s*\|\s*[0-9A-Fa-f]+:")
_MEMORY = re.compile(r"(\d+)MiB\s*/\s*(\d+)MiB")
_MIG_ROW = re.compile(
    r"^\|\s+(?P<gpu>\d+)\s+(?P<gi>\d+)\s+(?P<ci>\d+)\s+(?P<mig>\d+)\s+\|\s*\d+MiB\s*/\s*(?P<mem>\d+)MiB"
)


def parse_banner(text: str) -> SmiInfo:
    """Plain `nvidia-smi`: driver and CUDA version from the header, one entry per GPU row."""
    versions = _BANNER_VERSIONS.search(text)
    gpus: list[Gpu] = []
    migs: list[MigDevice] = []
    lines = text.splitlines()
    in_mig_table = False
    for number, line in enumerate(lines):
        if "MIG devices:" in line:
            in_mig_table = True
        elif "Processes:" in line:
            in_mig_table = False
        row = _GPU_ROW.match(line)
        if row and not in_mig_table:
            following = " ".join(lines[number + 1 : number + 3])
            memory = _MEMORY.search(line) or _MEMORY.search(following)
            mig_enabled = bool(re.search(r"\bEnabled\b", line + " " + following))
            gpus.append(
                Gpu(
                    index=int(row.group("index")),
                    name=row.group("name").strip(),
                    driver_version=versions.group("driver") if versions else None,
                    memory_total_mib=int(memory.group(2)) if memory else None,
                    mig=mig_enabled,
                )
            )
            continue
        mig = _MIG_ROW.match(line) if in_mig_table else None
        if mig:
            migs.append(
                MigDevice(
                    gpu=int(mig.group("gpu")),
                    gi=int(mig.group("gi")),
                    ci=int(mig.group("ci")),
                    mig=int(mig.group("mig")),
                    memory_total_mib=int(mig.group("mem")),
                )
            )
    cuda = versions.group("cuda") if versions else None
    return SmiInfo(
        driver_version=versions.group("driver") if versions else None,
        cuda_version=None if cuda in (None, "N/A") else cuda,
        gpus=tuple(gpus),
        mig_devices=tuple(migs),
    )


def parse_proc_version(text: str) -> str | None:
    """Driver version from /proc/driver/nvidia/version (proprietary or open kernel module)."""
    match = re.search(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)", text)
    return match.group(1) if match else None


def _run(argv: Sequence[str]) -> tuple[int, str]:
    if shutil.which(argv[0]) is None:
        return 127, f"{argv[0]}: not found"
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return 126, str(err)
    return done.returncode, done.stdout + done.stderr


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


@dataclass(frozen=True)
class HostGpus:
    """The driver and GPUs of this machine; `problem` says why something is missing."""

    driver_version: str | None
    cuda_version: str | None
    gpus: tuple[Gpu, ...]
    source: str  # "nvidia-smi", "/proc/driver/nvidia/version" or "none"
    problem: str | None = None


def query_host(run: Runner = _run, read: Callable[[str], str | None] = _read) -> HostGpus:
    """Ask nvidia-smi (query, then banner for the CUDA version); fall back to /proc."""
    code, out = run(QUERY_ARGV)
    if code == 0:
        info = parse_query_csv(out)
        banner_code, banner = run(("nvidia-smi",))
        cuda = parse_banner(banner).cuda_version if banner_code == 0 else None
        if info.gpus:
            return HostGpus(info.driver_version, cuda, info.gpus, "nvidia-smi")
    problem = "nvidia-smi is not on PATH" if code == 127 else f"nvidia-smi exited {code}: {out.strip()}"
    proc = read(PROC_VERSION)
    driver = parse_proc_version(proc) if proc else None
    if driver:
        return HostGpus(driver, None, (), PROC_VERSION, problem)
    return HostGpus(None, None, (), "none", f"{problem}; {PROC_VERSION} is absent")
