"""nvidia-smi and /proc parsers against recorded outputs (tests/unit/data/nvidia/)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from envspec import nvidia
from envspec.smoke import probe

DATA = Path(__file__).parent / "data" / "nvidia"


def sample(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_blog_banner_460() -> None:
    info = nvidia.parse_banner(sample("smi_460_titan_rtx.txt"))
    assert info.driver_version == "460.32.03"
    assert info.cuda_version == "11.2"
    assert [(g.index, g.name, g.memory_total_mib) for g in info.gpus] == [(0, "TITAN RTX", 24220)]
    assert not info.gpus[0].mig


def test_modern_banner_580_two_gpus() -> None:
    info = nvidia.parse_banner(sample("smi_580_h200x2.txt"))
    assert info.driver_version == "580.65.06"
    assert info.cuda_version == "13.0"
    assert [g.name for g in info.gpus] == ["NVIDIA H200", "NVIDIA H200"]
    assert [g.index for g in info.gpus] == [0, 1]
    assert info.gpus[1].memory_total_mib == 143771
    assert info.mig_devices == ()


def test_mig_banner() -> None:
    info = nvidia.parse_banner(sample("smi_535_a100_mig.txt"))
    assert info.driver_version == "535.104.05"
    assert info.cuda_version == "12.2"
    assert len(info.gpus) == 1
    assert info.gpus[0].name == "NVIDIA A100-SXM4-40GB"
    assert info.gpus[0].mig
    assert [(m.gpu, m.gi, m.ci, m.mig, m.memory_total_mib) for m in info.mig_devices] == [
        (0, 1, 0, 0, 19968),
        (0, 2, 0, 1, 9856),
    ]


def test_query_csv_without_and_with_header() -> None:
    info = nvidia.parse_query_csv(sample("query_csv_noheader.txt"))
    assert info.driver_version == "580.65.06"
    assert [g.uuid for g in info.gpus] == [
        "GPU-3a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
        "GPU-9f8e7d6c-5b4a-3c2d-1e0f-a9b8c7d6e5f4",
    ]
    assert info.gpus[0].memory_total_mib == 143771
    header = nvidia.parse_query_csv(sample("query_csv_header.txt"))
    assert [(g.index, g.name, g.driver_version) for g in header.gpus] == [(0, "TITAN RTX", "460.32.03")]


def test_query_csv_name_with_comma_and_garbage() -> None:
    text = "NVIDIA-SMI has failed\n0, Odd, Name, GPU-1, 550.54.15, 1024 MiB\n"
    info = nvidia.parse_query_csv(text)
    assert [(g.name, g.uuid) for g in info.gpus] == [("Odd, Name", "GPU-1")]
    assert nvidia.parse_query_csv("").gpus == ()


def test_proc_version_both_kernel_modules() -> None:
    assert nvidia.parse_proc_version(sample("proc_version_460.txt")) == "460.32.03"
    assert nvidia.parse_proc_version(sample("proc_version_580_open.txt")) == "580.65.06"
    assert nvidia.parse_proc_version("nothing here") is None


def test_version_compare() -> None:
    # driver versions are compared by the probe's verdict (the doctor calls the same function)
    assert probe.version_at_least("580.65.06", "580.65.6")
    assert probe.version_at_least("550.100", "550.54.15")
    assert not probe.version_at_least("470.82.01", "525.60.13")


def _runner(answers: dict[str, tuple[int, str]]):  # type: ignore[no-untyped-def]
    def run(argv: Sequence[str]) -> tuple[int, str]:
        return answers.get(" ".join(argv), (127, f"{argv[0]}: not found"))

    return run


def test_query_host_uses_query_then_banner() -> None:
    run = _runner(
        {
            " ".join(nvidia.QUERY_ARGV): (0, sample("query_csv_noheader.txt")),
            "nvidia-smi": (0, sample("smi_580_h200x2.txt")),
        }
    )
    host = nvidia.query_host(run=run, read=lambda path: None)
    assert (host.driver_version, host.cuda_version, host.source) == (
        "580.65.06",
        "13.0",
        "nvidia-smi",
    )
    assert len(host.gpus) == 2


def test_query_host_falls_back_to_proc_then_none() -> None:
    proc = sample("proc_version_580_open.txt")
    host = nvidia.query_host(run=_runner({}), read=lambda path: proc)
    assert (host.driver_version, host.source) == ("580.65.06", nvidia.PROC_VERSION)
    assert host.problem == "nvidia-smi is not on PATH"
    none = nvidia.query_host(run=_runner({}), read=lambda path: None)
    assert none.driver_version is None and none.source == "none"
    assert none.problem is not None and "absent" in none.problem
