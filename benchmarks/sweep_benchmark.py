"""How a sweep should use this machine's cores: one run at a time with every core, or one run per
core side by side. Times the same small grid both ways and writes reports/sweep_benchmark.md.

    python benchmarks/sweep_benchmark.py            # 4 runs, each way (a few minutes on 2 cores)

The faster layout is `digitlib.research.sweep.DEFAULT_WORKERS`.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digitlib import config  # noqa: E402
from digitlib.research import sweep  # noqa: E402

GRID = {
    "base": {"TRAIN_SIZE": 12000, "VALIDATION_SIZE": 2000, "EPOCHS": 2, "TENSORBOARD": False},
    "variants": {"default": {}, "narrow": {"CNN_WIDTH": 16}},
    "seeds": [0, 1],
}


def time_layout(workers: int, scratch: Path, attempt: int) -> float:
    """Wall seconds for the whole grid with `workers` runs at a time (each with cores / workers threads)."""
    name = f"layout-{workers}-try{attempt}"  # a fresh table and run folder each time: nothing is skipped
    path = scratch / f"{name}.yaml"
    path.write_text(yaml.safe_dump(GRID))
    started = time.perf_counter()
    sweep.sweep(path, workers=workers, table=scratch / f"{name}.csv", runs_dir=scratch / name)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(config.REPORTS_DIR / "sweep_benchmark.md"))
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as folder:
        scratch = Path(folder)
        # alternate, so a drift in the machine's speed does not favour one layout
        times: dict[int, list[float]] = {1: [], cores: []}
        for attempt, workers in enumerate((1, cores, cores, 1)):
            times[workers].append(time_layout(workers, scratch, attempt))
    runs = len(GRID["variants"]) * len(GRID["seeds"])
    lines = [
        "# Sweeps: one run at a time, or one per core",
        "",
        f"Measured by `python benchmarks/sweep_benchmark.py` on {platform.machine()}, {cores} CPU cores: "
        f"the same grid of {runs} runs ({GRID['base']['TRAIN_SIZE']} images, {GRID['base']['EPOCHS']} epochs each, "
        "every run in a fresh process), twice each way, alternating.",
        "",
        "| layout | wall time of the grid (s), each try | mean (s) |",
        "| --- | --- | ---: |",
    ]
    for workers, seconds in times.items():
        threads = max(1, cores // workers)
        shown = ", ".join(f"{s:.0f}" for s in seconds)
        lines.append(
            f"| {workers} run(s) at a time, {threads} thread(s) each | {shown} | {sum(seconds) / len(seconds):.0f} |"
        )
    faster = min(times, key=lambda w: sum(times[w]))
    lines += ["", f"Faster: {faster} run(s) at a time (`digitlib.research.sweep.DEFAULT_WORKERS`)."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
