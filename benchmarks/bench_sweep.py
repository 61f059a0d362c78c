"""Sweep benchmark: a 200-point sweep with 1 and 2 worker processes, then a rerun that reuses the store.

The sweep: RCS on a 2x3 grid, exact density matrix, 30 circuit instances per
point, 5 depths x 5 two-qubit error rates x 4 readout errors x 2 single-qubit
error rates = 200 points (5 cost structures, each searched once). Every run is
the `eqvbench` command in its own process, timed from start to exit (so
process start-up, imports and the pool's start-up count). Before timing, a
small run fills numba's on-disk cache so that no timed run compiles.

Prints the wall times, the speed-up of 2 workers over 1, the rerun time, the
machine's load average before and after (the machine may be shared), and
checks that the 1-worker and 2-worker runs and the rerun agree point for
point.

Usage: python benchmarks/bench_sweep.py [--workers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
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


def eqvbench(*args: str, cwd: Path) -> tuple[float, dict, str]:
    """Run `python -m eqvbench run ... --json`; (wall seconds, JSON document, stderr)."""
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "eqvbench", "run", *args, "--json"], cwd=cwd, capture_output=True, text=True
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"eqvbench run {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return wall, json.loads(proc.stdout), proc.stderr


def measured(points: list[dict]) -> list[dict]:
    out = []
    for p in points:
        p = json.loads(json.dumps(p))
        p.pop("timings_s", None)
        if p.get("cost"):
            p["cost"].pop("search_seconds", None)
        out.append(p)
    return out


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

    t1, doc1, _ = eqvbench(str(spec), "--no-store", "--workers", "1", cwd=work)
    tn, docn, _ = eqvbench(str(spec), "--store", str(store), "--workers", str(args.workers), cwd=work)
    tr, docr, err = eqvbench(str(spec), "--store", str(store), cwd=work)

    assert len(doc1["points"]) == N_POINTS
    same = measured(doc1["points"]) == measured(docn["points"]) == measured(docr["points"])
    reused = docr["store"]["reused"]
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(f"{'run':34s} {'wall s':>8s}")
    print(f"{f'{N_POINTS} points, --workers 1':34s} {t1:8.1f}")
    print(f"{f'{N_POINTS} points, --workers {args.workers}':34s} {tn:8.1f}")
    print(f"{'rerun, store holds every point':34s} {tr:8.1f}")
    print()
    print(f"speed-up of {args.workers} workers over 1: {t1 / tn:.2f}x")
    print(f"rerun: reused {reused} of {N_POINTS} points in {tr:.1f} s ({docr['store']['computed']} computed)")
    print(f"points identical (timings aside) across the three runs: {same}")
    if not same or reused != N_POINTS:
        sys.exit("FAILED: the runs disagree or the rerun recomputed points")


if __name__ == "__main__":
    main()
