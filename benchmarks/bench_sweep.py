"""Sweep benchmark: a 200-point sweep with 1 and 2 worker processes, then a rerun that reuses the store.

The sweep: RCS on a 2x3 grid, exact density matrix, 30 circuit instances per
point, 5 depths x 5 two-qubit error rates x 4 readout errors x 2 single-qubit
error rates = 200 points (5 cost structures, each searched once). Every run is
the `eqvbench` command in its own process, timed from start to exit (so
process start-up, imports and the pool's start-up count). Before timing, a
small run fills numba's on-disk cache so that no timed run compiles.

Prints the wall times, the CPU time of each run (its process and workers)
and CPU/wall (how many cores it kept busy), the speed-up of 2 workers over
1, the rerun time, the machine's load average before and after (the machine
may be shared: on a busy machine CPU/wall of the parallel run stays below
the worker count), and
checks that the 1-worker and 2-worker runs and the rerun agree point for
point.

Usage: python benchmarks/bench_sweep.py [--workers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """\
# 200-point benchmark sweep (benchmarks/bench_sweep.py)
experiment: rcs
seed: 200
lattice: {kind: grid, rows: 2, cols: 3}
circuit: {cycles: [4, 8, 12, 16, 20], instances: 30}
noise:
  p1: [0.001, 0.002]
  p2: [0.002, 0.004, 0.006, 0.008, 0.01]
  readout: [0.01, 0.02, 0.03, 0.04]
simulation: {shots: 4000, method: density_matrix, max_qubits: 6}
cost: {max_repeats: 8}
"""
N_POINTS = 200


def eqvbench(*args: str, cwd: Path) -> tuple[float, float, dict, str]:
    """Run `python -m eqvbench run ... --json`; (wall seconds, CPU seconds, JSON document, stderr).

    CPU seconds: user + system time of the process and its pool workers (children it waited for)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "eqvbench", "run", *args, "--json"], cwd=cwd, capture_output=True, text=True
    )
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"eqvbench run {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return wall, cpu, json.loads(proc.stdout), proc.stderr


def measured(points: list[dict]) -> list[dict]:
    from eqvbench.pipeline import comparable

    return comparable(points)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="workers of the parallel run (default 2)")
    ap.add_argument("--keep", type=Path, help="directory to keep the spec and the store in")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="eqv-bench-sweep-"))
    work.mkdir(parents=True, exist_ok=True)
    spec = work / "sweep200.yaml"
    spec.write_text(SPEC)
    warm = work / "warm.yaml"
    warm.write_text(SPEC.replace("cycles: [4, 8, 12, 16, 20]", "cycles: 4").replace("p1: [0.001, 0.002]", "p1: 0.001"))
    store = work / "sweep200.eqvdb"
    for p in (store, Path(str(store) + "-journal")):
        if p.exists():
            p.unlink()

    print(f"machine: {os.cpu_count()} cores; load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    eqvbench(str(warm), "--no-store", "--workers", "1", cwd=work)

    t1, c1, doc1, _ = eqvbench(str(spec), "--no-store", "--workers", "1", cwd=work)
    tn, cn, docn, _ = eqvbench(str(spec), "--store", str(store), "--workers", str(args.workers), cwd=work)
    tr, cr, docr, err = eqvbench(str(spec), "--store", str(store), cwd=work)

    assert len(doc1["points"]) == N_POINTS
    same = measured(doc1["points"]) == measured(docn["points"]) == measured(docr["points"])
    reused = docr["store"]["reused"]
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(f"{'run':34s} {'wall s':>8s} {'CPU s':>8s} {'CPU/wall':>9s}")
    for name, wall, cpu in (
        (f"{N_POINTS} points, --workers 1", t1, c1),
        (f"{N_POINTS} points, --workers {args.workers}", tn, cn),
        ("rerun, store holds every point", tr, cr),
    ):
        print(f"{name:34s} {wall:8.1f} {cpu:8.1f} {cpu / wall:9.2f}")
    print()
    print(f"speed-up of {args.workers} workers over 1: {t1 / tn:.2f}x")
    print(f"rerun: reused {reused} of {N_POINTS} points in {tr:.1f} s ({docr['store']['computed']} computed)")
    print(f"points identical (timings aside) across the three runs: {same}")
    if not same or reused != N_POINTS:
        sys.exit("FAILED: the runs disagree or the rerun recomputed points")


if __name__ == "__main__":
    main()
