"""Time `eqvbench run` of each shipped config: wall and CPU seconds, fresh store and tree cache.

Each config runs as `eqvbench run NAME --store DIR/NAME.eqvdb` in its own process, with an
empty store and an empty tree cache (``EQVBENCH_CACHE_DIR``), as a user's first run of it; numba's
on-disk cache is left as it is (a first run in a new environment also compiles). CPU seconds are
the process's and its workers' (user + system), read from the kernel once a run has exited and,
while it runs, summed over its process tree (psutil), so that a run stopped at ``--timeout`` still
reports the CPU time it had used. A run past the timeout is stopped (SIGTERM, then SIGKILL) and
reported as ``> WALL``. The load average before and after is printed: on a shared machine wall
time follows the load, CPU time much less.

The figures stated in the configs' headers, `eqvbench configs` and docs/ come from this script.

Usage: python benchmarks/time_configs.py [NAME ...] [--timeout 300] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

CONFIGS = Path(__file__).resolve().parent.parent / "eqvbench" / "configs"


def _tree_cpu(proc: psutil.Process, seen: dict[int, float]) -> None:
    """Record the CPU seconds of `proc` and its descendants in `seen` (pid -> latest reading)."""
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        seen[p.pid] = max(seen.get(p.pid, 0.0), t.user + t.system)


def time_run(name: str, timeout: float, workers: int | None) -> tuple[float, float, bool, int]:
    """Wall seconds, CPU seconds, whether it finished, exit code of `eqvbench run NAME`."""
    with tempfile.TemporaryDirectory(prefix="time_configs_") as tmp:
        env = dict(os.environ, EQVBENCH_CACHE_DIR=str(Path(tmp) / "trees"))
        cmd = [sys.executable, "-m", "eqvbench", "run", name, "--store", str(Path(tmp) / f"{Path(name).stem}.eqvdb")]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        child = subprocess.Popen(
            cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        ps = psutil.Process(child.pid)
        seen: dict[int, float] = {}
        finished = True
        while child.poll() is None:
            _tree_cpu(ps, seen)
            if time.perf_counter() - t0 > timeout:
                finished = False
                os.killpg(child.pid, signal.SIGTERM)
                try:
                    child.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
                break
            time.sleep(0.5)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, max(reaped, sum(seen.values())), finished, child.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="configs to time (default: every shipped .yaml)")
    ap.add_argument("--timeout", type=float, default=300.0, help="stop a run after this many wall seconds")
    ap.add_argument("--workers", type=int, default=None, help="--workers for eqvbench run (default: its own)")
    args = ap.parse_args()
    names = args.names or sorted(p.name for p in CONFIGS.glob("*.yaml"))
    print(f"{os.cpu_count()} cores; timeout {args.timeout:.0f} s; load average {os.getloadavg()[0]:.2f}", flush=True)
    print(f"{'config':24s} {'wall s':>9s} {'CPU s':>9s}  {'load':>5s}  exit", flush=True)
    for name in names:
        wall, cpu, finished, rc = time_run(name, args.timeout, args.workers)
        mark = "" if finished else ">"
        status = str(rc) if finished else "stopped at the timeout"
        print(
            f"{name:24s} {mark + format(wall, '.1f'):>9s} {mark + format(cpu, '.1f'):>9s}  "
            f"{os.getloadavg()[0]:5.2f}  {status}",
            flush=True,
        )


if __name__ == "__main__":
    main()
