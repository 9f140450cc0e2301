"""Start-up benchmark: `envspec render` on the largest example, against `python -c pass`.

Rendering is dominated by interpreter start-up and imports, so the figure that matters is
the ratio to a bare interpreter on the same machine, measured in the same run.
Run: .venv/bin/python benchmarks/bench_render.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def largest_example() -> Path:
    return max((REPO / "examples").glob("*/env.yaml"), key=lambda p: len(p.read_text()))


def median_seconds(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    spec = largest_example()
    baseline = median_seconds([sys.executable, "-c", "pass"], args.repeat)
    render = median_seconds([sys.executable, "-m", "envspec", "render", str(spec)], args.repeat)
    validate = median_seconds([sys.executable, "-m", "envspec", "validate", str(spec)], args.repeat)
    print(f"spec: {spec.relative_to(REPO)}  (median of {args.repeat} runs)")
    print(f"python -c pass     {baseline * 1000:8.1f} ms   1.00x")
    print(f"envspec render     {render * 1000:8.1f} ms   {render / baseline:5.2f}x")
    print(f"envspec validate   {validate * 1000:8.1f} ms   {validate / baseline:5.2f}x")


if __name__ == "__main__":
    main()
