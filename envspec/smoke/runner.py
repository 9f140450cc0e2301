"""Run the probe inside an image (docker-py) or here (a subprocess), and collect its report."""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from envspec.engine import DockerEngineError, Engine, EngineTimeoutError, ImageNotFoundError
from envspec.errors import DockerUnavailableError, SmokeFailedError
from envspec.gpus import GpuRequest, NvidiaRuntimeMissingError, parse_gpus
from envspec.smoke.checks import Check, Expectations, derive_checks, probe_document, to_sh_lines
from envspec.smoke.report import SmokeReport, report_from_probe

HERE = Path(__file__).resolve().parent
PROBE_PY = HERE / "probe.py"
PROBE_SH = HERE / "probe.sh"
PROBE_DIR = "/.envspec-probe"  # "/" exists in every image; /tmp may not
_PYTHONS = ("python3", "/usr/bin/python3", "/usr/local/bin/python3", "/opt/conda/bin/python")


def _launcher(preferred: str | None) -> str:
    """sh script: run probe.py with the first Python >= 3.6 found, else probe.sh."""
    candidates = " ".join(shlex.quote(p) for p in ((preferred,) if preferred else ()) + _PYTHONS)
    return (
        f"d={PROBE_DIR}\n"
        f"for p in {candidates}; do\n"
        '  if command -v "$p" >/dev/null 2>&1 && "$p" -c '
        "'import sys; sys.exit(sys.version_info < (3, 6))' >/dev/null 2>&1; then\n"
        '    exec "$p" "$d/probe.py" "$d/checks.json"\n'
        "  fi\n"
        "done\n"
        'exec /bin/sh "$d/probe.sh" "$d/checks.txt"\n'
    )


def _probe_archive(doc: dict[str, Any], sh_lines: str) -> bytes:
    """A tar of the probe files, readable by any user (the image's user runs them)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folder = tarfile.TarInfo(PROBE_DIR.lstrip("/"))
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, 0
        tar.addfile(folder)
        members = {
            "probe.py": (PROBE_PY.read_bytes(), 0o644),
            "probe.sh": (PROBE_SH.read_bytes(), 0o755),
            "checks.json": (json.dumps(doc).encode(), 0o644),
            "checks.txt": (sh_lines.encode(), 0o644),
        }
        for name, (data, mode) in members.items():
            info = tarfile.TarInfo(f"{PROBE_DIR.lstrip('/')}/{name}")
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _parse_output(stdout: str, stderr: str, code: int, where: str) -> dict[str, Any]:
    try:
        raw = json.loads(stdout)
    except ValueError:
        raw = None
    if not isinstance(raw, dict) or not isinstance(raw.get("results"), list):
        tail = (stderr or stdout).strip()[-800:]
        raise SmokeFailedError(
            f"the smoke probe in {where} exited {code} without a JSON report: " + (tail or "(no output)"),
            hint="does the image have /bin/sh? `envspec shell SPEC` lets you look around",
        )
    return raw


def _total_timeout(checks: list[Check]) -> float:
    return 60.0 + sum(float(c.get("timeout", 60)) for c in checks)


def _run_container(
    engine: Engine,
    image: str,
    script: str,
    archive: bytes,
    request: GpuRequest | None,
    timeout: float,
) -> tuple[int, str, str]:
    try:
        container = engine.create_container(
            image,
            entrypoint=["/bin/sh"],
            command=["-c", script],
            gpus=request.device_request_kwargs() if request else None,
            labels={"envspec.role": "smoke"},
        )
    except ImageNotFoundError as err:
        raise SmokeFailedError(
            f"image {image} does not exist", hint="build it first: envspec build SPEC"
        ) from err
    try:
        engine.put_archive(container, "/", archive)
        try:
            engine.start(container)
        except DockerEngineError as err:  # a missing NVIDIA runtime is typed and passes through
            raise DockerUnavailableError(
                f"could not start the smoke container: {err.message}"
            ) from err
        try:
            code = engine.wait(container, timeout=timeout)
        except EngineTimeoutError as err:
            raise SmokeFailedError(f"the smoke probe did not finish within {timeout:.0f}s") from err
        out = engine.logs(container, stdout=True, stderr=False).decode("utf-8", "replace")
        err_text = engine.logs(container, stdout=False, stderr=True).decode("utf-8", "replace")
        return code, out, err_text
    finally:
        engine.remove_container(container)


def _resolve_request(exp: Expectations, gpus: object) -> tuple[GpuRequest | None, str | None]:
    """The device request, and why GPU checks must skip when there is none."""
    if exp.gpu == "off":
        return None, None
    request = parse_gpus("all" if gpus is None else gpus)
    return request, None if request else "no GPUs were requested (--gpus none)"


def run_smoke(engine: Engine, image: str, exp: Expectations, *, gpus: object = None) -> SmokeReport:
    """Run every derived check inside `image` as its own user; the container is always removed.

    `gpus` is any form `envspec.gpus.parse_gpus` accepts; None means all GPUs unless smoke.gpu
    is off. Under `gpu: auto` a host without the NVIDIA runtime gets a second run without GPUs
    in which the GPU checks are skipped with the reason.
    """
    checks = derive_checks(exp)
    request, reason = _resolve_request(exp, gpus)
    notes: list[str] = []
    try:
        return _smoke_once(engine, image, exp, checks, request, reason, notes)
    except NvidiaRuntimeMissingError as err:
        if exp.gpu != "auto":
            raise
        reason = f"{err.message} (smoke.gpu: auto, so GPU checks are skipped)"
        notes.append(f"GPU request failed: {err.message}; ran again without GPUs")
        return _smoke_once(engine, image, exp, checks, None, reason, notes)


def _smoke_once(
    engine: Engine,
    image: str,
    exp: Expectations,
    checks: list[Check],
    request: GpuRequest | None,
    reason: str | None,
    notes: list[str],
) -> SmokeReport:
    doc = probe_document(checks, exp.gpu, reason)
    archive = _probe_archive(doc, to_sh_lines(checks, exp.gpu, reason))
    timeout = _total_timeout(checks)
    code, out, err = _run_container(
        engine, image, _launcher(exp.python_executable), archive, request, timeout
    )
    raw = _parse_output(out, err, code, f"image {image}")
    if raw.get("probe") == "sh":
        notes.append("no Python 3 in the image: ran the sh probe (Python checks cannot run)")
    return report_from_probe(raw, target=image, gpus=request.describe() if request else None, notes=notes)


def run_here(exp: Expectations, *, python: str | None = None) -> SmokeReport:
    """Run the same probe on this machine, with this interpreter (or `python`)."""
    checks = derive_checks(exp)
    doc = probe_document(checks, exp.gpu)
    done = subprocess.run(
        [python or sys.executable, str(PROBE_PY), "--here", "-"],
        input=json.dumps(doc),
        capture_output=True,
        text=True,
        timeout=_total_timeout(checks),
        check=False,
    )
    raw = _parse_output(done.stdout, done.stderr, done.returncode, "this environment")
    return report_from_probe(raw, target="here")
