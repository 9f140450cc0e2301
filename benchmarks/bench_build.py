"""Build benchmark: envspec against two hand-written Dockerfiles for the same environment.

The environment: apt packages (git, curl), gcc 11 as the default, Python with numpy and requests
in a venv, a non-root user, the project's code, and a 1 GB data folder next to the spec that
the image does not need. The baselines:

  naive  — the blog's style: one apt-get per RUN, recommends installed, no cleanup, code copied
           before the pip install, the whole folder sent as the build context;
  expert — one apt layer with --no-install-recommends and cleanup, pip --no-cache-dir,
           dependencies before code, a .dockerignore that keeps the data out.

Measured in one run, on one engine: cold build (no cache), image size, rebuild after adding one
pip package, rebuild with nothing changed, and bytes of build context. Prints ratios against
the expert baseline, with the baselines' own figures.

Needs a Docker engine and the base image `envspec-test/debian:bookworm` (see .ci/run).
Run: .venv/bin/python benchmarks/bench_build.py [--base IMAGE] [--data-gb 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
REPO = Path(__file__).resolve().parent.parent
ENVSPEC = [sys.executable, "-m", "envspec"]

CA_PREAMBLE = """\
COPY ca.crt /usr/local/share/ca-certificates/bench-ca.crt
RUN mkdir -p /etc/ssl/certs \\
 && cat /usr/local/share/ca-certificates/bench-ca.crt >> /etc/ssl/certs/ca-certificates.crt
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt
"""

NAIVE = """\
FROM {base}
{ca}
RUN apt-get update
RUN apt-get install -y git curl gcc-11 g++-11 python3 python3-venv python3-pip
RUN ln -sf /usr/bin/gcc-11 /usr/local/bin/gcc && ln -sf /usr/bin/g++-11 /usr/local/bin/g++
COPY . /workspace
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install {pip}
RUN useradd -m dev && chown -R dev /workspace /opt/venv
USER dev
WORKDIR /workspace
ENV PATH=/opt/venv/bin:$PATH
"""

EXPERT = """\
FROM {base}
{ca}
RUN apt-get update \\
 && apt-get install -y --no-install-recommends git curl gcc-11 g++-11 python3 python3-venv ca-certificates \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN ln -sf /usr/bin/gcc-11 /usr/local/bin/gcc && ln -sf /usr/bin/g++-11 /usr/local/bin/g++
RUN useradd --no-log-init -m -u 1000 dev && mkdir -p /opt/venv /workspace && chown dev /opt/venv /workspace
USER dev
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir {pip}
COPY --chown=dev app /workspace/app
WORKDIR /workspace
"""

SPEC = """\
name: bench-envspec
base:
  os: debian12
  image: {base}
apt:
  packages: [git, curl]
compilers:
  gcc: 11
python:
  pip:
    packages: [{pip}]
build:
  ca_certificates: [ca.crt]
copy:
  - {{src: app, dest: /workspace/app}}
"""


@dataclass
class Figures:
    cold_s: float
    size_mb: float
    pip_rebuild_s: float
    noop_s: float
    context_bytes: int


def sh(*cmd: str, cwd: Path | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False,
                            env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def timed(*cmd: str, cwd: Path | None = None) -> tuple[float, str]:
    start = time.monotonic()
    out = sh(*cmd, cwd=cwd)
    return time.monotonic() - start, out


def image_size_mb(image: str) -> float:
    return int(sh("docker", "image", "inspect", "-f", "{{.Size}}", image)) / 1e6


def context_bytes_docker_cli(folder: Path) -> int:
    """What `docker build folder` sends: every file not excluded by .dockerignore."""
    ignored = set()
    ignore_file = folder / ".dockerignore"
    if ignore_file.exists():
        ignored = {line.strip() for line in ignore_file.read_text().splitlines() if line.strip()}
    return sum(p.stat().st_size for p in folder.rglob("*")
               if p.is_file() and p.relative_to(folder).parts[0] not in ignored)


def make_project(root: Path, data_gb: float) -> None:
    (root / "app").mkdir(parents=True)
    (root / "app" / "main.py").write_text("import numpy, requests\nprint('ok')\n")
    shutil.copy(HOST_CA, root / "ca.crt")
    data = root / "data"
    data.mkdir()
    with (data / "dataset.bin").open("wb") as handle:  # real bytes: tar reads every one
        chunk = os.urandom(1 << 20)
        for _ in range(int(data_gb * 1024)):
            handle.write(chunk)


def bench_dockerfile(name: str, template: str, root: Path, base: str, ignore: str | None) -> Figures:
    project = root / name
    shutil.copytree(root / "project", project)
    if ignore is not None:
        (project / ".dockerignore").write_text(ignore)
    tag = f"bench/{name}:latest"

    def write(pip: str) -> None:
        (project / "Dockerfile").write_text(template.format(base=base, ca=CA_PREAMBLE, pip=pip))

    write("numpy requests")
    cold, _ = timed("docker", "build", "--no-cache", "-q", "-t", tag, ".", cwd=project)
    size = image_size_mb(tag)
    noop, _ = timed("docker", "build", "-q", "-t", tag, ".", cwd=project)
    write("numpy requests six")
    rebuild, _ = timed("docker", "build", "-q", "-t", tag, ".", cwd=project)
    sh("docker", "rmi", "-f", tag)
    return Figures(cold, size, rebuild, noop, context_bytes_docker_cli(project))


def bench_envspec(root: Path, base: str) -> Figures:
    project = root / "envspec"
    shutil.copytree(root / "project", project)
    spec = project / "env.yaml"
    spec.write_text(SPEC.format(base=base, pip="numpy, requests"))
    build = [*ENVSPEC, "build", str(spec), "--progress", "plain"]
    cold, out = timed(*build, "--no-cache")
    tag = out.strip().split()[0]
    size = image_size_mb(tag)
    noop, _ = timed(*build)
    spec.write_text(SPEC.format(base=base, pip="numpy, requests, six"))
    rebuild, out2 = timed(*build)
    context = envspec_context_bytes(spec, project)
    sh("docker", "rmi", "-f", tag, out2.strip().split()[0])
    return Figures(cold, size, rebuild, noop, context)


def envspec_context_bytes(spec: Path, project: Path) -> int:
    out = project / "rendered"
    sh(*ENVSPEC, "render", str(spec), "-o", str(out))
    (out / ".envspec-manifest.json").unlink()
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="envspec-test/debian:bookworm")
    parser.add_argument("--data-gb", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="envspec-bench-") as tmp:
        root = Path(tmp)
        make_project(root / "project", args.data_gb)
        expert = bench_dockerfile("expert", EXPERT, root, args.base, "data\n")
        naive = bench_dockerfile("naive", NAIVE, root, args.base, None)
        ours = bench_envspec(root, args.base)
    report(expert, naive, ours)


def report(expert: Figures, naive: Figures, ours: Figures) -> None:
    rows = [
        ("cold build", "cold_s", "s"),
        ("image size", "size_mb", "MB"),
        ("rebuild after pip-only edit", "pip_rebuild_s", "s"),
        ("rebuild, nothing changed", "noop_s", "s"),
        ("build context sent", "context_bytes", "B"),
    ]
    print(f"{'measure':30} {'expert':>12} {'naive':>12} {'envspec':>12} "
          f"{'envspec/expert':>15} {'naive/expert':>13}")
    for label, field, unit in rows:
        e, n, o = (getattr(f, field) for f in (expert, naive, ours))
        print(f"{label:30} {e:>10.2f}{unit:>2} {n:>10.2f}{unit:>2} {o:>10.2f}{unit:>2} "
              f"{o / e if e else float('nan'):>15.2f} {n / e if e else float('nan'):>13.2f}")


if __name__ == "__main__":
    main()
