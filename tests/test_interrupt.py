"""Killing a real `eqvbench run` mid-sweep loses at most the points in flight; a rerun completes it."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from sweep_util import invoke, measured, run_json

# 8 points of about 0.5 to 1.5 s each (2x4 grid, exact density matrix)
SLOW = """\
experiment: rcs
seed: 11
lattice: {kind: grid, rows: 2, cols: 4}
circuit: {cycles: [4, 8], instances: 2}
noise: {p2: [0.004, 0.008, 0.012, 0.016]}
simulation: {shots: 2000, method: density_matrix, max_qubits: 8}
cost: {max_repeats: 4}
"""
N_POINTS = 8


def finished_points(db) -> int:
    """Points committed so far, read the way any other reader would (read-only, while the run writes)."""
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # created but its tables not yet committed
        return 0


def children(pid: int) -> list[int]:
    """Child processes of `pid` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start_run(spec, db, workers):
    return subprocess.Popen(
        [sys.executable, "-m", "eqvbench", "run", str(spec), "--store", str(db), "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_points(proc, db, n, timeout=180.0) -> int:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        k = finished_points(db)
        if k >= n:
            return k
        if proc.poll() is not None:
            pytest.fail(f"run ended before {n} points were stored: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"fewer than {n} points stored after {timeout} s")


@pytest.mark.parametrize("workers", [2])
def test_sigkill_mid_sweep_then_rerun_completes(write_spec, tmp_path, workers):
    spec = write_spec(SLOW)
    db = tmp_path / "killed.eqvdb"
    proc = start_run(spec, db, workers)
    wait_for_points(proc, db, 2)
    assert proc.poll() is None, "the sweep finished before it could be killed"
    workers_pids = children(proc.pid)
    assert len(workers_pids) >= workers  # the pool's processes (and multiprocessing's resource tracker)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    # the workers die with the run (they would otherwise finish their points for nobody)
    t0 = time.monotonic()
    while any(alive(p) for p in workers_pids) and time.monotonic() - t0 < 20:
        time.sleep(0.1)
    assert not [p for p in workers_pids if alive(p)]
    saved = finished_points(db)
    assert 2 <= saved < N_POINTS

    # the store is readable and says what is missing
    shown = invoke("show", db)
    assert shown.exit_code == 0, shown.output
    assert f"{saved} of {N_POINTS} point(s) finished" in shown.stderr

    # a rerun reuses every stored point and computes the rest
    rerun = invoke("run", spec, "--store", db, "--json", "--workers", workers)
    assert rerun.exit_code == 0, rerun.output
    doc = json.loads(rerun.stdout)
    assert doc["store"]["reused"] == saved and doc["store"]["computed"] == N_POINTS - saved
    assert f"reusing {saved} of {N_POINTS}" in rerun.stderr
    assert finished_points(db) == N_POINTS

    # and the interrupted-then-resumed sweep (2 workers) has the numbers of an uninterrupted serial one,
    # the hyper-optimised cost searches of the 8-cycle points included
    direct = run_json(spec, "--no-store", "--workers", 1)
    assert measured(doc["points"]) == measured(direct["points"])
    assert {p["cost"]["budget"]["search"] for p in direct["points"]} == {"optimal", "hyper"}


@pytest.mark.parametrize("sig,workers", [(signal.SIGINT, 1), (signal.SIGTERM, 2)])
def test_sigint_mid_sweep_says_what_was_saved(write_spec, tmp_path, sig, workers):
    """Ctrl-C (and SIGTERM, as a batch scheduler sends at its time limit) stop the run cleanly."""
    spec = write_spec(SLOW)
    db = tmp_path / "ctrl_c.eqvdb"
    proc = start_run(spec, db, workers)
    wait_for_points(proc, db, 1)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    saved = finished_points(db)
    assert 1 <= saved < N_POINTS
    assert f"interrupted: {saved} of {N_POINTS} point(s) saved in {db}" in err
    rerun = invoke("run", spec, "--store", db, "--json", "--workers", workers)
    assert rerun.exit_code == 0, rerun.output
    assert json.loads(rerun.stdout)["store"]["reused"] == saved
    assert finished_points(db) == N_POINTS
