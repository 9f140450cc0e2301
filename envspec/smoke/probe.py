# ruff: noqa: UP031, UP024  (%-formatting and IOError on purpose: this must run on Python 3.6)
"""envspec's in-container probe: run smoke checks, print one JSON report on stdout.

This file is copied into images envspec does not control, so it is ONE stdlib-only script that
runs on Python 3.6+ (no f-strings, no walrus, no dataclasses, types only in comments). The same
file checks the machine it runs on ("here" mode), unchanged.

Usage:
    python3 probe.py CHECKS                 CHECKS: JSON text, a file path, @file, or - (stdin)
    python3 -m envspec.smoke.probe --here CHECKS
    python3 -m envspec.smoke.probe --here --preset gpu [--driver-min 580.65.06]

CHECKS is a list of checks, or {"gpu": "required|auto|off", "gpu_skip_reason": "...",
"checks": [...]}. A check is {"name": ..., "kind": ..., "gpu": bool, "timeout": s, "params": {}}.
The report is {"probe": "python", "python": "3.x.y", "gpu": policy, "results": [{"name",
"kind", "status": "pass|fail|skip", "detail", "duration", "gpu", "data"?}]}.
A driver_for_cuda check takes {"cuda", "thresholds"} (see driver_verdict; the host computes
them) or, from older hosts and --driver-min, {"min"}: the driver that fully supports the CUDA.
Exit status: 0 when nothing failed, 1 when a check failed, 2 when the input is unusable.
"""

import glob
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time

MYPY = False
if MYPY:  # for type checkers only: at run time the probe imports nothing beyond the stdlib
    from typing import Any  # noqa: F401

PROBE_VERSION = 1
GPU_KINDS = ("nvidia_smi", "driver_for_cuda", "torch_gpu", "cupy_gpu", "jax_gpu", "tensorflow_gpu")
GPU_QUERY = "index,name,uuid,driver_version,memory.total"


class Outcome(Exception):
    """Raised by a check to end with a status; returning a detail string means pass."""

    def __init__(self, status, detail, data=None):
        # type: (str, str, Any) -> None
        Exception.__init__(self, detail)
        self.status = status
        self.detail = detail
        self.data = data


class NoGpu(Exception):
    """The host (or container) has no usable GPU; the policy decides skip or fail."""


def fail(detail, data=None):
    # type: (str, Any) -> Outcome
    return Outcome("fail", detail, data)


def skip(detail):
    # type: (str) -> Outcome
    return Outcome("skip", detail)


# --------------------------------------------------------------------------- helpers
def run(argv, timeout=60.0, shell=False, env=None):
    # type: (Any, float, bool, Any) -> tuple[Any, ...]
    """Run a command; return (exit code, combined output). Missing program -> (127, message)."""
    try:
        proc = subprocess.Popen(
            argv,
            shell=shell,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # so a timeout kills the whole process group
        )
    except OSError as err:
        return 127, str(err)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        out, _ = proc.communicate()
        text = out.decode("utf-8", "replace")
        raise fail("timed out after %gs; output so far: %s" % (timeout, tail(text))) from None
    return proc.returncode, out.decode("utf-8", "replace")


def tail(text, limit=600):
    # type: (str, int) -> str
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def which(name):
    # type: (str) -> Any
    for folder in os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep):
        path = os.path.join(folder or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def version_tuple(text):
    # type: (str) -> tuple[Any, ...]
    return tuple(int(part) for part in re.findall(r"\d+", text))


def same_prefix(expected, actual):
    # type: (str, str) -> bool
    """'12.4' matches '12.4.1'; '12' matches '12.7'; '22.04' matches '22.04'."""
    want, got = version_tuple(expected), version_tuple(actual)
    return len(want) > 0 and got[: len(want)] == want


def read_text(path):
    # type: (str) -> Any
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def parse_os_release(text):
    # type: (str) -> dict[str, Any]
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def parse_gpu_csv(text):
    # type: (str) -> list[Any]
    """Rows of `nvidia-smi --query-gpu=index,name,uuid,driver_version,memory.total`."""
    gpus = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) < 5 or not cells[0].isdigit():
            continue
        gpus.append(
            {
                "index": int(cells[0]),
                "name": ", ".join(cells[1:-3]),
                "uuid": cells[-3],
                "driver_version": cells[-2],
                "memory_total": cells[-1],
            }
        )
    return gpus


def driver_from_proc():
    # type: () -> Any
    text = read_text("/proc/driver/nvidia/version") or ""
    match = re.search(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)", text)
    return match.group(1) if match else None


def query_gpus(timeout):
    # type: (float) -> list[Any]
    """The GPUs nvidia-smi sees; NoGpu with the reason when there are none."""
    if which("nvidia-smi") is None:
        if glob.glob("/dev/nvidia[0-9]*"):
            raise NoGpu("/dev/nvidia* exists but nvidia-smi is not on PATH")
        raise NoGpu("no NVIDIA GPU visible: nvidia-smi is not on PATH and /dev/nvidia* is absent")
    code, out = run(["nvidia-smi", "--query-gpu=" + GPU_QUERY, "--format=csv,noheader"], timeout)
    if code != 0:
        raise NoGpu("nvidia-smi exited %d: %s" % (code, tail(out, 300)))
    gpus = parse_gpu_csv(out)
    if not gpus:
        raise NoGpu("nvidia-smi lists no GPU: %s" % tail(out, 300))
    return gpus


def interpreter_json(executable, code, timeout):
    # type: (str, str, float) -> dict[str, Any]
    """Run `code` with another interpreter; its last stdout line is JSON."""
    rc, out = run([executable, "-c", code], timeout)
    if rc == 127 and not os.path.exists(executable) and which(executable) is None:
        raise fail("interpreter %s not found" % executable)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise fail("%s exited %d without a result: %s" % (executable, rc, tail(out)))
    result = json.loads(lines[-1])  # type: dict[str, Any]
    return result


# --------------------------------------------------------------------------- checks
def check_os_release(params, timeout):
    # type: (dict[str, Any], float) -> str
    text = read_text("/etc/os-release") or read_text("/usr/lib/os-release")
    if text is None:
        raise fail("neither /etc/os-release nor /usr/lib/os-release exists")
    values = parse_os_release(text)
    got_id, got_version = values.get("ID", "?"), values.get("VERSION_ID", "?")
    want_id, want_version = params.get("id"), params.get("version_id")
    summary = "%s %s (%s)" % (got_id, got_version, values.get("PRETTY_NAME", ""))
    if want_id and got_id != want_id:
        raise fail("expected %s %s, found %s" % (want_id, want_version or "", summary))
    if want_version and not same_prefix(str(want_version), got_version):
        raise fail("expected %s %s, found %s" % (want_id or "", want_version, summary))
    return summary


def compiler_major(program, timeout):
    # type: (str, float) -> tuple[Any, ...]
    code, out = run([program, "-dumpfullversion", "-dumpversion"], timeout)
    if code == 127:
        raise fail("%s is not installed (not on PATH)" % program)
    match = re.search(r"(\d+)(?:\.\d+)*", out)
    if code != 0 or match is None:
        raise fail("%s -dumpversion exited %d: %s" % (program, code, tail(out)))
    return int(match.group(1)), match.group(0)


def check_compiler(params, timeout, default):
    # type: (dict[str, Any], float, str) -> str
    program = params.get("program") or default
    major, full = compiler_major(program, timeout)
    want = params.get("major")
    if want is not None and major != int(want):
        raise fail("%s is version %s, expected major %s" % (program, full, want))
    return "%s %s" % (program, full)


def check_nvcc(params, timeout):
    # type: (dict[str, Any], float) -> str
    program = which("nvcc") or "/usr/local/cuda/bin/nvcc"
    code, out = run([program, "--version"], timeout)
    if code == 127:
        raise fail("nvcc not found on PATH or in /usr/local/cuda/bin (devel images have it)")
    match = re.search(r"release (\d+\.\d+), V([\d.]+)", out)
    if code != 0 or match is None:
        raise fail("nvcc --version exited %d: %s" % (code, tail(out)))
    want = params.get("version")
    if want and not same_prefix(".".join(str(want).split(".")[:2]), match.group(2)):
        raise fail("nvcc is %s, expected CUDA %s" % (match.group(2), want))
    return "nvcc %s at %s" % (match.group(2), program)


def cudart_versions(timeout):
    # type: (float) -> list[Any]
    found = []
    code, out = run(["ldconfig", "-p"], timeout)
    if code == 0:
        for match in re.finditer(r"libcudart\.so\.([\d.]+)\s.*=>\s*(\S+)", out):
            found.append((match.group(1), match.group(2)))
    patterns = (
        "/usr/local/cuda*/lib64/libcudart.so.*",
        "/usr/local/cuda*/targets/*/lib/libcudart.so.*",
    )
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            real = os.path.realpath(path)
            versioned = re.search(r"libcudart\.so\.([\d.]+)$", real)
            if versioned:
                found.append((versioned.group(1), real))
    return found


def check_cuda_runtime(params, timeout):
    # type: (dict[str, Any], float) -> str
    want = str(params.get("version") or "")
    env_version = os.environ.get("CUDA_VERSION", "")
    libs = cudart_versions(timeout)
    if not libs and not env_version:
        raise fail("no libcudart in `ldconfig -p` or /usr/local/cuda*, and CUDA_VERSION is unset")
    found = ", ".join(sorted(set("libcudart.so.%s" % v for v, _ in libs))) or "no libcudart found"
    detail = "CUDA_VERSION=%s; %s" % (env_version or "(unset)", found)
    if not want:
        return detail
    want_mm = ".".join(want.split(".")[:2])
    if env_version and not same_prefix(want_mm, env_version):
        raise fail("expected CUDA %s; %s" % (want, detail))
    # libcudart.so.12 names only the major; libcudart.so.12.4.127 names major.minor.
    majors_ok = [v for v, _ in libs if same_prefix(v, want_mm) or same_prefix(want_mm, v)]
    if libs and not majors_ok:
        raise fail("expected CUDA %s; %s" % (want, detail))
    return detail


def check_python(params, timeout):
    # type: (dict[str, Any], float) -> str
    executable = params.get("executable") or sys.executable
    code = "import sys, json; print(json.dumps({'v': '%d.%d.%d' % sys.version_info[:3]}))"
    version = interpreter_json(executable, code, timeout)["v"]
    want = params.get("version")
    if want and not same_prefix(str(want), version):
        raise fail("%s is Python %s, expected %s" % (executable, version, want))
    return "%s is Python %s" % (executable, version)


IMPORT_SNIPPET = r"""
import json, sys, traceback
name = sys.argv[1] if len(sys.argv) > 1 else %r
try:
    mod = __import__(name)
    for part in name.split('.')[1:]:
        mod = getattr(mod, part)
    top = sys.modules.get(name)
    print(json.dumps({'ok': True, 'version': str(getattr(top, '__version__', '') or ''),
                      'file': str(getattr(top, '__file__', '') or '')}))
except BaseException as err:
    missing = type(err).__name__ == 'ModuleNotFoundError' and getattr(err, 'name', None) == name
    print(json.dumps({'ok': False, 'missing': missing,
                      'error': '%%s: %%s' %% (type(err).__name__, err)}))
"""


def installed_version(executable, dist, timeout):
    # type: (str, str, float) -> Any
    """The version pip (or conda) reports for a distribution, or None."""
    code, out = run([executable, "-m", "pip", "show", dist], timeout)
    match = re.search(r"^Version:\s*(\S+)", out, re.M)
    if code == 0 and match:
        return "pip: %s %s" % (dist, match.group(1))
    conda = which("conda") or (os.path.join(os.path.dirname(executable), "conda"))
    if conda and os.path.exists(conda):
        code, out = run([conda, "list", "--json", "^%s$" % re.escape(dist)], timeout)
        try:
            rows = json.loads(out) if code == 0 else []
        except ValueError:
            rows = []
        for row in rows:
            if row.get("name", "").lower() == dist.lower():
                return "conda: %s %s" % (dist, row.get("version", "?"))
    return None


def check_imports(params, timeout):
    # type: (dict[str, Any], float) -> str
    executable = params.get("executable") or sys.executable
    details, failures = [], []
    for entry in params.get("modules", []):
        dist, module = entry.get("dist") or entry.get("module"), entry.get("module")
        if module:
            result = interpreter_json(executable, IMPORT_SNIPPET % module, timeout)
            if result.get("ok"):
                details.append("%s %s" % (module, result.get("version") or "(no __version__)"))
                continue
            if not result.get("missing"):
                failures.append("import %s: %s" % (module, result.get("error")))
                continue
        found = installed_version(executable, dist, timeout)
        if found and module:
            details.append("%s (import name %s not found; installed per %s)" % (dist, module, found))
        elif found:
            details.append(found)
        elif module:
            failures.append("%s: no module %s and not installed per pip/conda" % (dist, module))
        else:
            failures.append("%s: not installed per pip/conda" % dist)
    if failures:
        raise fail("; ".join(failures + details))
    return "; ".join(details) or "nothing to import"


def check_user(params, timeout):
    # type: (dict[str, Any], float) -> str
    uid = os.getuid()
    want = params.get("uid")
    if want is not None and uid != int(want):
        raise fail("running as uid %d, expected %s" % (uid, want))
    return "uid %d gid %d" % (uid, os.getgid())


def check_workdir(params, timeout):
    # type: (dict[str, Any], float) -> str
    cwd = os.getcwd()
    want = params.get("path")
    if want and os.path.normpath(cwd) != os.path.normpath(want):
        raise fail("working directory is %s, expected %s" % (cwd, want))
    if not os.access(cwd, os.W_OK):
        return "%s (not writable by uid %d)" % (cwd, os.getuid())
    return cwd


def check_env(params, timeout):
    # type: (dict[str, Any], float) -> str
    wrong, good = [], []
    for key, value in sorted(params.get("vars", {}).items()):
        actual = os.environ.get(key)
        if actual != value:
            wrong.append("%s=%r (expected %r)" % (key, actual, value))
        else:
            good.append(key)
    if wrong:
        raise fail("; ".join(wrong))
    return "set: " + (", ".join(good) or "nothing to check")


def check_nvidia_smi(params, timeout):
    # type: (dict[str, Any], float) -> str
    gpus = query_gpus(timeout)
    names = ["%d: %s (%s, %s)" % (g["index"], g["name"], g["uuid"], g["memory_total"]) for g in gpus]
    detail = "driver %s; %s" % (gpus[0]["driver_version"], "; ".join(names))
    raise Outcome("pass", detail, {"gpus": gpus})


# The driver-vs-CUDA verdict, NVIDIA's four cases: full support (Table 3 minimum), minor-version
# compatibility (same major, older driver), forward compatibility (cuda-compat package, data-center
# GPU, a branch NVIDIA's images accept) and unsupported; "unknown" when no minimum is known. This
# is the ONE implementation: envspec/driver_compat.py (doctor) calls it on the host, and inside an
# image it runs on the thresholds the host computed from its catalog, so both quote one number.
def version_at_least(version, minimum):
    # type: (str, str) -> bool
    return version_tuple(version) >= version_tuple(minimum)


def driver_minimum(thresholds):
    # type: (dict[str, Any]) -> Any
    """The lowest driver that runs the CUDA without the compat package, or None if unknown."""
    floors = [v for v in (thresholds.get("full"), thresholds.get("minor")) if v]
    return min(floors, key=version_tuple) if floors else None


def is_datacenter_gpu(name, rules):
    # type: (Any, dict[str, Any]) -> Any
    """True or False by the rules' regexes ("not" wins); None when the name or rules are missing."""
    if not name or not rules.get("match"):
        return None
    if any(re.search(pattern, name) for pattern in rules.get("not") or []):
        return False
    return any(re.search(pattern, name) for pattern in rules.get("match") or [])


def _forward_note(thresholds, branch, datacenter, gpu_name):
    # type: (dict[str, Any], int, Any, Any) -> str
    branches = thresholds.get("forward_branches")
    minor = ".".join(str(thresholds.get("cuda") or "?").split(".")[:2])
    if branches is None:
        return "no forward-compatibility data for CUDA %s" % minor
    if branch not in branches:
        known = ", ".join("R%d" % b for b in branches)
        return "R%d is not a forward-compatible branch for CUDA %s (%s)" % (branch, minor, known)
    if datacenter is None:
        return "forward compatibility from R%d needs a data-center GPU (GPU model unknown)" % branch
    return "forward compatibility from R%d needs a data-center GPU, not %s" % (branch, gpu_name)


def driver_verdict(thresholds, driver, gpu_name=None):
    # type: (dict[str, Any], str, Any) -> dict[str, Any]
    """{kind, cuda, driver, minimum, full, datacenter, detail} for `driver` running the CUDA."""
    cuda = "CUDA %s" % thresholds["cuda"] if thresholds.get("cuda") else "the image's CUDA"
    full, minor = thresholds.get("full"), thresholds.get("minor")
    limits = thresholds.get("limits") or {}
    minimum = driver_minimum(thresholds)
    datacenter = is_datacenter_gpu(gpu_name, thresholds.get("datacenter") or {})
    branch = (version_tuple(driver) or (0,))[0]
    if minimum is None:
        kind, detail = "unknown", "no driver minimum is known for %s (driver %s)" % (cuda, driver)
    elif full and version_at_least(driver, full):
        kind, detail = "full", "driver %s fully supports %s (>= %s)" % (driver, cuda, full)
    elif minor and version_at_least(driver, minor):
        kind = "minor-compat"
        detail = "driver %s runs %s under minor-version compatibility (>= %s; full support " \
            "from %s): %s" % (driver, cuda, minor, full or "an unknown driver", limits.get(kind, "limited"))
    elif datacenter and branch in (thresholds.get("forward_branches") or []):
        kind = "forward-compat"
        detail = "driver %s is older than %s, the minimum for %s, but R%d on %s has forward " \
            "compatibility: %s" % (driver, minimum, cuda, branch, gpu_name, limits.get(kind, "limited"))
    else:
        kind = "unsupported"
        detail = "driver %s is older than %s, the minimum for %s; %s" % (
            driver, minimum, cuda, _forward_note(thresholds, branch, datacenter, gpu_name))
    return {"kind": kind, "cuda": thresholds.get("cuda"), "driver": driver, "minimum": minimum, "full": full,
            "datacenter": datacenter, "detail": detail}


def check_driver_for_cuda(params, timeout):
    # type: (dict[str, Any], float) -> str
    gpu_name = None
    try:
        gpu = query_gpus(timeout)[0]
        driver, gpu_name = gpu["driver_version"], gpu["name"]
    except NoGpu:
        driver = driver_from_proc()
        if driver is None:
            raise
    # Without thresholds (an older host, or `--driver-min`): `min` is taken as full support.
    thresholds = params.get("thresholds") or {"cuda": params.get("cuda"), "full": params.get("min")}
    verdict = driver_verdict(thresholds, driver, gpu_name)
    status = "fail" if verdict["kind"] == "unsupported" else "pass"
    raise Outcome(status, verdict["detail"], {"verdict": verdict})


# Each snippet prints one JSON line: {"missing": true} when the framework is not installed,
# {"gpu": false, "why": ...} without a device, else {"gpu": true, "err": max relative
# difference between the GPU and CPU results of a 64x64 matmul, ...}.
FRAMEWORK_SNIPPETS = {
    "torch_gpu": r"""
import json
try:
    import torch
except ImportError as e:
    print(json.dumps({'missing': True, 'why': str(e)})); raise SystemExit
info = {'version': torch.__version__, 'cuda': str(torch.version.cuda)}
if not torch.cuda.is_available():
    info.update(gpu=False, why='torch.cuda.is_available() is False (torch %s, built for CUDA %s)'
                % (torch.__version__, torch.version.cuda))
    print(json.dumps(info)); raise SystemExit
g = torch.Generator().manual_seed(0)
a = torch.rand(64, 64, generator=g, dtype=torch.float64)
b = torch.rand(64, 64, generator=g, dtype=torch.float64)
want = a @ b
got = (a.cuda() @ b.cuda()).cpu()
torch.cuda.synchronize()
info.update(gpu=True, devices=torch.cuda.device_count(), device=torch.cuda.get_device_name(0),
            err=float((got - want).abs().max() / want.abs().max()))
print(json.dumps(info))
""",
    "cupy_gpu": r"""
import json
try:
    import cupy, numpy
except ImportError as e:
    print(json.dumps({'missing': True, 'why': str(e)})); raise SystemExit
info = {'version': cupy.__version__}
try:
    n = cupy.cuda.runtime.getDeviceCount()
except Exception as e:
    n, info['why'] = 0, 'cupy sees no device: %s' % e
if not n:
    info.update(gpu=False, why=info.get('why', 'cupy sees no device'))
    print(json.dumps(info)); raise SystemExit
rng = numpy.random.RandomState(0)
a, b = rng.rand(64, 64), rng.rand(64, 64)
got = cupy.asnumpy(cupy.asarray(a) @ cupy.asarray(b))
want = a @ b
info.update(gpu=True, devices=n, err=float(abs(got - want).max() / abs(want).max()))
print(json.dumps(info))
""",
    "jax_gpu": r"""
import json
try:
    import jax, numpy
except ImportError as e:
    print(json.dumps({'missing': True, 'why': str(e)})); raise SystemExit
info = {'version': jax.__version__}
try:
    devs = jax.devices('gpu')
except RuntimeError as e:
    devs, info['why'] = [], 'jax sees no GPU: %s' % e
if not devs:
    info.update(gpu=False, why=info.get('why', 'jax sees no GPU'))
    print(json.dumps(info)); raise SystemExit
rng = numpy.random.RandomState(0)
a, b = rng.rand(64, 64).astype('float32'), rng.rand(64, 64).astype('float32')
# HIGHEST: without it XLA may multiply float32 in TF32 on Ampere and newer
got = numpy.asarray(jax.numpy.matmul(jax.device_put(a, devs[0]), jax.device_put(b, devs[0]),
                                     precision=jax.lax.Precision.HIGHEST))
want = a @ b
info.update(gpu=True, devices=len(devs), device=str(devs[0]),
            err=float(abs(got - want).max() / abs(want).max()))
print(json.dumps(info))
""",
    "tensorflow_gpu": r"""
import json
try:
    import tensorflow as tf, numpy
except ImportError as e:
    print(json.dumps({'missing': True, 'why': str(e)})); raise SystemExit
info = {'version': tf.__version__}
devs = tf.config.list_physical_devices('GPU')
if not devs:
    info.update(gpu=False, why='tensorflow lists no GPU device')
    print(json.dumps(info)); raise SystemExit
rng = numpy.random.RandomState(0)
a, b = rng.rand(64, 64).astype('float32'), rng.rand(64, 64).astype('float32')
tf.config.experimental.enable_tensor_float_32_execution(False)  # full float32 on Ampere+
with tf.device('/GPU:0'):
    got = tf.matmul(a, b).numpy()
want = a @ b
info.update(gpu=True, devices=len(devs), err=float(abs(got - want).max() / abs(want).max()))
print(json.dumps(info))
""",
}


def check_framework(kind, params, timeout):
    # type: (str, dict[str, Any], float) -> str
    executable = params.get("executable") or sys.executable
    result = interpreter_json(executable, FRAMEWORK_SNIPPETS[kind], timeout)
    label = kind[: -len("_gpu")]
    if result.get("missing"):
        raise skip("%s is not importable with %s: %s" % (label, executable, result.get("why")))
    if not result.get("gpu"):
        raise NoGpu(result.get("why") or "%s sees no GPU" % label)
    tolerance = float(params.get("tolerance", 1e-4))  # relative; float32 is ~1e-7
    detail = "%s %s on %s (%s device(s)); 64x64 matmul, max relative |GPU-CPU| = %.3g" % (
        label,
        result.get("version"),
        result.get("device", "GPU"),
        result.get("devices"),
        float(result.get("err", float("nan"))),
    )
    if not result.get("err", 1e9) <= tolerance:
        raise fail(detail + " > tolerance %g" % tolerance, result)
    raise Outcome("pass", detail, result)


def check_command(params, timeout):
    # type: (dict[str, Any], float) -> str
    command = params["command"]
    code, out = run(command, timeout, shell=True)
    expect_exit = int(params.get("expect_exit", 0))
    if code != expect_exit:
        raise fail("exit %d, expected %d; output: %s" % (code, expect_exit, tail(out)))
    pattern = params.get("expect_output")
    if pattern and re.search(pattern, out, re.M) is None:
        raise fail("output does not match /%s/: %s" % (pattern, tail(out)))
    return "exit %d%s; output: %s" % (
        code,
        " and output matches" if pattern else "",
        tail(out, 200),
    )


def dispatch(kind, params, timeout):
    # type: (str, dict[str, Any], float) -> str
    simple = {
        "os_release": check_os_release,
        "nvcc": check_nvcc,
        "cuda_runtime": check_cuda_runtime,
        "python": check_python,
        "imports": check_imports,
        "user": check_user,
        "workdir": check_workdir,
        "env": check_env,
        "nvidia_smi": check_nvidia_smi,
        "driver_for_cuda": check_driver_for_cuda,
        "command": check_command,
    }
    if kind in simple:
        return simple[kind](params, timeout)
    if kind == "gcc":
        return check_compiler(params, timeout, "gcc")
    if kind == "gxx":
        return check_compiler(params, timeout, "g++")
    if kind in FRAMEWORK_SNIPPETS:
        return check_framework(kind, params, timeout)
    raise fail("unknown check kind %r (probe version %d)" % (kind, PROBE_VERSION))


def run_check(check, policy, gpu_skip_reason):
    # type: (dict[str, Any], str, Any) -> dict[str, Any]
    kind = check.get("kind", "?")
    is_gpu = bool(check.get("gpu", kind in GPU_KINDS))
    result = {"name": check.get("name") or kind, "kind": kind, "gpu": is_gpu}
    started = time.time()
    try:
        if is_gpu and policy == "off":
            raise skip("GPU checks are off (smoke.gpu: off)")
        if is_gpu and gpu_skip_reason:
            raise NoGpu(gpu_skip_reason)
        status, detail, data = (
            "pass",
            dispatch(kind, check.get("params") or {}, float(check.get("timeout") or 60)),
            None,
        )
    except Outcome as out:
        status, detail, data = out.status, out.detail, out.data
    except NoGpu as err:
        if policy == "required":
            status, detail = "fail", "no GPU, and smoke.gpu is required: %s" % err
        else:
            status, detail = "skip", "no GPU: %s" % err
        data = None
    except Exception as err:  # a bug in a check must not lose the other results
        status, detail, data = "fail", "probe error: %s: %s" % (type(err).__name__, err), None
    result.update(status=status, detail=detail, duration=round(time.time() - started, 3))
    if data is not None:
        result["data"] = data
    return result


# --------------------------------------------------------------------------- entry point
def gpu_preset(driver_min, executable):
    # type: (Any, str) -> list[Any]
    checks = [
        {"name": "python", "kind": "python", "params": {"executable": executable}},
        {"name": "nvidia-smi", "kind": "nvidia_smi"},
        {"name": "driver", "kind": "driver_for_cuda", "params": {"min": driver_min}},
        {"name": "cuda-runtime", "kind": "cuda_runtime"},
    ]
    for kind in ("torch_gpu", "cupy_gpu", "jax_gpu", "tensorflow_gpu"):
        checks.append(
            {
                "name": kind.replace("_", "-"),
                "kind": kind,
                "timeout": 300,
                "params": {"executable": executable},
            }
        )
    return checks


def load_document(arg):
    # type: (str) -> dict[str, Any]
    if arg == "-":
        text = sys.stdin.read()
    elif arg.startswith("@") or (not arg.lstrip().startswith(("[", "{")) and os.path.isfile(arg)):
        with open(arg.lstrip("@")) as handle:
            text = handle.read()
    else:
        text = arg
    doc = json.loads(text)
    if isinstance(doc, list):
        doc = {"checks": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("checks"), list):
        raise ValueError('expected a JSON list of checks or {"checks": [...]}')
    return doc


def probe(doc, here=False):
    # type: (dict[str, Any], bool) -> dict[str, Any]
    policy = doc.get("gpu", "auto")
    if policy not in ("required", "auto", "off"):
        raise ValueError("gpu policy must be required, auto or off, not %r" % (policy,))
    reason = doc.get("gpu_skip_reason")
    results = [run_check(check, policy, reason) for check in doc["checks"]]
    return {
        "probe": "python",
        "probe_version": PROBE_VERSION,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "executable": sys.executable,
        "machine": platform.machine(),
        "here": here,
        "gpu": policy,
        "results": results,
    }


def main(argv):
    # type: (list[Any]) -> int
    args = list(argv)
    here = "--here" in args
    args = [a for a in args if a != "--here"]
    try:
        if args[:2] == ["--preset", "gpu"]:
            driver_min = args[3] if args[2:3] == ["--driver-min"] and len(args) > 3 else None
            doc = {"gpu": "required", "checks": gpu_preset(driver_min, sys.executable)}
        elif len(args) == 1:
            doc = load_document(args[0])
        else:
            sys.stderr.write(__doc__ or "")
            return 2
        report = probe(doc, here)
    except (ValueError, IOError, OSError) as err:
        sys.stderr.write("probe: unusable input: %s\n" % err)
        return 2
    sys.stdout.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 1 if any(r["status"] == "fail" for r in report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
