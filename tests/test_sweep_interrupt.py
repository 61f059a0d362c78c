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

# every test here starts real runs and kills them: 15 to 45 s each on 2 cores
pytestmark = pytest.mark.slow

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


def start_run(spec, db, workers, *args, mark=None, new_session=False):
    """`eqvbench run` in a child process; `mark` goes into its environment, which every process it
    starts inherits (see `run_processes`)."""
    env = {**os.environ, "EQVBENCH_TEST_RUN": mark} if mark else None
    store = ["--store", str(db)] if db is not None else ["--no-store"]
    return subprocess.Popen(
        [sys.executable, "-m", "eqvbench", "run", str(spec), *store, "--workers", str(workers), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=new_session,
    )


def run_processes(mark: str) -> list:
    """Live processes started by the run marked `mark`, wherever they were reparented."""
    import psutil

    out = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("EQVBENCH_TEST_RUN") == mark and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            pass
    return out


def wait_until_gone(mark: str, timeout: float = 10.0) -> list:
    t0 = time.monotonic()
    while (left := run_processes(mark)) and time.monotonic() - t0 < timeout:
        time.sleep(0.2)
    return [(p.pid, " ".join(p.cmdline())[:120]) for p in left if p.is_running()]


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


# 2 points with their own cost search each, in 2 processes each, for up to 40 s
SEARCHING = """\
experiment: rcs
seed: 13
lattice: {kind: grid, rows: 3, cols: 4}
circuit: {cycles: [10, 12], instances: 1}
noise: {p2: 0.005}
simulation: {simulate: never}
cost: {max_repeats: 100000, max_time: 40, processes: 2}
"""


def wait_for_searches(proc, mark, timeout=180.0) -> None:
    """Until both workers run a search in its own processes (the run, its resource tracker,
    2 workers and at least 3 search processes)."""
    t0 = time.monotonic()
    while len(run_processes(mark)) < 7:
        if proc.poll() is not None:
            pytest.fail(f"run ended before its searches started: {proc.stderr.read()}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            pytest.fail("the searches' processes did not start")
        time.sleep(0.2)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_process_of_a_run_survives_its_end(write_spec, sig):
    """Ctrl-C (sent to the whole process group, as a terminal does), SIGTERM and SIGKILL of a run
    whose pool workers each run a cost search in processes of its own: nothing of the run is
    left a few seconds later, and Ctrl-C and SIGTERM end it cleanly."""
    import uuid

    mark = uuid.uuid4().hex
    proc = start_run(write_spec(SEARCHING), None, 2, mark=mark, new_session=True)
    wait_for_searches(proc, mark)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130, err
        # one line: no traceback, nor the resource tracker's warning about the killed processes' semaphores
        lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("[")]
        assert lines == ["interrupted: nothing written"], err
    assert wait_until_gone(mark) == []


# 4 points, 2 structures: each leader searches in 2 processes of its own
PROCESSES_SWEEP = """\
experiment: rcs
seed: 7
lattice: {kind: grid, rows: 3, cols: 4}
circuit: {cycles: [6, 8], instances: 1}
noise: {p2: [0.005, 0.01]}
simulation: {simulate: never}
cost: {max_repeats: 6, processes: 2}
"""


# the same with a time budget: trials, then reconfiguration in processes restarted for it, then forest rounds
PROCESSES_TIMED_SWEEP = PROCESSES_SWEEP.replace("max_repeats: 6,", "max_repeats: 100000, max_time: 3,")


@pytest.mark.parametrize("timed", [False, True])
def test_sweep_with_search_processes_on_the_pool_finishes(write_spec, tmp_path, timed):
    """cost.processes: 2 on a 2-worker pool, with a trial budget or a time budget: the run ends,
    prints its table, writes --out, and leaves no process behind (each pool worker used to keep
    cotengra's pool and never exit)."""
    import uuid

    mark = uuid.uuid4().hex
    out = tmp_path / "out.json"
    proc = start_run(write_spec(PROCESSES_TIMED_SWEEP if timed else PROCESSES_SWEEP), None, 2, "--out", out, mark=mark)
    try:
        stdout, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the sweep did not end")
    assert proc.returncode == 0, err
    assert "cycles" in stdout and "4 computed with 2 workers" in err
    doc = json.loads(out.read_text())
    leaders = [p["cost"] for p in doc["points"] if not p["cost_cached"]]
    assert len(leaders) == 2 and all(c["budget"].get("processes") == 2 for c in leaders)
    if timed:  # what a time-budgeted search finds depends on the machine's speed
        assert all(c["budget"]["max_time_s"] == 3 for c in leaders)
    else:
        assert {c["budget"]["search"] for c in leaders} == {"hyper"}
    assert wait_until_gone(mark) == []


def test_killed_worker_is_one_line(write_spec, tmp_path):
    """A pool worker killed from outside (the OOM killer, say): one error line naming what
    happened and what was saved, exit code 3, and nothing of the run left."""
    import uuid

    import psutil

    mark = uuid.uuid4().hex
    db = tmp_path / "lost.eqvdb"
    proc = start_run(write_spec(SLOW), db, 2, mark=mark)
    wait_for_points(proc, db, 1)
    workers = [
        p for p in psutil.Process(proc.pid).children() if "resource_tracker import main" not in " ".join(p.cmdline())
    ]
    assert len(workers) == 2
    workers[0].kill()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("[")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: a worker process was killed by SIGKILL") and f"saved in {db}" in lines[0], lines
    assert wait_until_gone(mark) == []


def test_ctrl_c_during_a_long_cost_search_stops_within_seconds(write_spec):
    """One point whose cost search has a minute: stderr piped says the search is running (its trials
    and best cost) while it runs, and Ctrl-C ends the run with its one line within seconds."""
    spec = write_spec(
        SEARCHING.replace("cycles: [10, 12]", "cycles: 12").replace("max_time: 40, processes: 2", "max_time: 60")
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "eqvbench", "run", str(spec), "--no-store", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
    )
    seen, t0 = [], time.monotonic()
    while not any("cost search:" in ln for ln in seen):
        line = proc.stderr.readline()
        if (not line and proc.poll() is not None) or time.monotonic() - t0 > 120:
            proc.kill()
            pytest.fail(f"no cost-search progress on stderr: {''.join(seen)}")
        seen.append(line)
    t_int = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    took = time.monotonic() - t_int
    assert proc.returncode == 130, err
    assert took < 10, took
    assert [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("[")] == ["interrupted: nothing written"]
