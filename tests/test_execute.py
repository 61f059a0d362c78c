"""Executors: a local process pool and a real Dask LocalCluster give the serial run's numbers."""

import json

import pytest

from eqvbench.sweeps.execute import Scheduler
from sweep_util import SWEEP, assert_one_line_error, invoke, measured, reference_run


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return reference_run(tmp_path_factory, "serial")


def test_scheduler_leaders_first_followers_after():
    keys = {0: "a", 1: "a", 2: "b", 3: None, 4: "b", 5: "a"}
    s = Scheduler.build([0, 1, 2, 3, 4, 5], keys, {})
    assert s.leaders() == {"a": 0, "b": 2}
    assert [s.pop(), s.pop(), s.pop(), s.pop()] == [0, 2, 3, None]
    s.finished(2, {"b": "cost-b"})
    assert s.pop() == 4 and s.costs_for(4) == {"b": "cost-b"}
    s.finished(0, {"a": "cost-a"})
    assert [s.pop(), s.pop(), s.pop()] == [1, 5, None] and s.idle
    # a cost already known (from the store) makes no leader
    s = Scheduler.build([1, 5], keys, {"a": "cost-a"})
    assert s.leaders() == {} and [s.pop(), s.pop()] == [1, 5]


def test_process_pool_gives_the_serial_numbers(write_spec, serial):
    r = invoke("run", write_spec(SWEEP), "--no-store", "--workers", 2, "--json")
    assert r.exit_code == 0, r.output
    assert "4 computed with 2 workers" in r.stderr
    pool = json.loads(r.stdout)
    assert measured(pool["points"]) == measured(serial["points"])
    # each structure's cost was searched once, by the first point that has it
    assert [p["cost_cached"] for p in pool["points"]] == [False, True, False, True]


@pytest.mark.slow
def test_pool_writes_the_store(write_spec, tmp_path, serial):
    db = tmp_path / "pool.eqvdb"
    r = invoke("run", write_spec(SWEEP), "--store", db, "--workers", 2, "--json")
    assert r.exit_code == 0, r.output
    assert measured(json.loads(invoke("export", db).stdout)["points"]) == measured(serial["points"])


@pytest.mark.slow
def test_pool_error_in_a_worker_is_one_line(write_spec):
    spec = write_spec(SWEEP.replace("max_repeats: 8", "max_repeats: 8, memory_limit: 16"))
    assert_one_line_error(invoke("run", spec, "--workers", 2), str(spec), "cost.memory_limit")


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    ) as c:
        yield c


def test_dask_cluster_gives_the_serial_numbers(write_spec, tmp_path, serial, cluster):
    db = tmp_path / "dask.eqvdb"
    r = invoke(
        "run",
        write_spec(SWEEP),
        "--store",
        db,
        "--executor",
        "dask",
        "--scheduler",
        cluster.scheduler_address,
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert "on the Dask cluster" in r.stderr
    doc = json.loads(r.stdout)
    assert measured(doc["points"]) == measured(serial["points"])
    assert [p["cost_cached"] for p in doc["points"]] == [False, True, False, True]
    assert measured(json.loads(invoke("export", db).stdout)["points"]) == measured(serial["points"])


TIMED_SEARCH = """\
experiment: rcs
seed: 3
lattice: {kind: grid, rows: 3, cols: 3}
circuit: {cycles: 10, instances: 1}
noise: {p2: [0.005, 0.01]}
simulation: {simulate: never}
cost: {max_repeats: 12, max_time: 1.5}
"""


def test_dask_runs_timed_cost_searches_on_the_cluster(write_spec, cluster):
    """A search with a wall-clock budget spreads cotengra's trials over the cluster."""
    before = set(cluster.scheduler.task_prefixes)
    r = invoke(
        "run",
        write_spec(TIMED_SEARCH),
        "--no-store",
        "--executor",
        "dask",
        "--scheduler",
        cluster.scheduler_address,
        "--json",
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    a, b = doc["points"]
    assert a["cost"]["budget"]["search"] == "hyper" and a["cost"]["budget"]["parallel"] == "dask"
    assert (a["cost_cached"], b["cost_cached"]) == (False, True) and a["cost_flops"] == b["cost_flops"] > 0
    trial_tasks = set(cluster.scheduler.task_prefixes) - before - {"eqvbench-point"}
    assert trial_tasks, "no hyper-optimiser trial ran on the cluster"


def test_unreachable_scheduler_is_one_line(write_spec, tmp_path, monkeypatch):
    import eqvbench.sweeps.execute

    monkeypatch.setattr(
        eqvbench.sweeps.execute, "DASK_CONNECT_TIMEOUT_S", 2
    )  # nothing listens there: no need to wait 10 s
    db = tmp_path / "s.eqvdb"
    r = invoke("run", write_spec(SWEEP), "--store", db, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert_one_line_error(r, "--scheduler tcp://127.0.0.1:9", "cannot reach the Dask scheduler")
    assert not db.exists()


@pytest.mark.parametrize(
    "args,words",
    [
        (["--workers", 0], "--workers 0"),
        (["--executor", "slurm"], "--executor slurm"),
        (["--executor", "dask"], "needs --scheduler"),
        (["--scheduler", "tcp://127.0.0.1:8786"], "--executor dask only"),
        (["--executor", "dask", "--scheduler", "tcp://127.0.0.1:8786", "--workers", 2], "--workers applies"),
    ],
)
def test_bad_executor_options(write_spec, tmp_path, args, words):
    r = invoke("run", write_spec(SWEEP), *args)
    assert_one_line_error(r, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_dask_not_installed_says_what_to_install(write_spec, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    r = invoke("run", write_spec(SWEEP), "--executor", "dask", "--scheduler", "tcp://127.0.0.1:8786")
    assert_one_line_error(r, "pip install 'eqvbench[dask]'")


# small sweeps of every family whose specs leave fields with defaults unset (OTOC: named
# butterfly qubits, with butterfly_distance left to its default; cases merged from a base)
FAMILY_SPECS = {
    "rcs": SWEEP,
    "otoc": """\
experiment: otoc
seed: 3
lattice: {kind: grid, rows: 2, cols: 3}
circuit: {cycles: [2, 3], butterfly: '1,2', measurement_qubit: '0,0', instances: 1}
noise: {p2: 0.005}
simulation: {target_err: 0.05, shots: 200}
cost: {max_repeats: 2}
""",
    "floquet_ising": """\
experiment: floquet_ising
seed: 4
noise: {p2: 0.01}
simulation: {target_err: 0.05, shots: 200}
cost: {max_repeats: 2}
cases:
  - lattice: {kind: line, n: 5}
    circuit: {theta_h: [pi/8, pi/4], steps: 2, observable: Z2}
""",
    # the shipped QASM example, copied beside the spec: its path is relative to the spec
    "circuit": """\
experiment: circuit
seed: 6
circuit: {file: example.qasm, observable: [null, Z2]}
noise: {p2: 0.01}
simulation: {target_err: 0.05, shots: 200}
cost: {max_repeats: 2}
""",
}


def _family_spec(write_spec, name):
    path = write_spec(FAMILY_SPECS[name])
    if name == "circuit":
        import shutil

        from eqvbench.cli import shipped_configs_dir

        shutil.copy(shipped_configs_dir() / "circuit_example.qasm", path.parent / "example.qasm")
    return path


@pytest.mark.parametrize("name", sorted(FAMILY_SPECS))
def test_workers_rebuild_the_spec_as_written(write_spec, name):
    """What a worker gets (the fields the author set) rebuilds the caller's resolved spec; the
    resolved spec itself does not for OTOC with named butterfly qubits (its filled-in default
    butterfly_distance contradicts them)."""
    from eqvbench.sweeps.execute import _WORKER_SPECS, _worker_plans, spec_payload
    from eqvbench.spec import load_spec

    spec = load_spec(_family_spec(write_spec, name))
    _WORKER_SPECS.clear()
    rebuilt, plans = _worker_plans(spec_payload(spec))
    assert rebuilt.resolved() == spec.resolved() and [p.params for p in rebuilt.points] == [
        p.params for p in spec.points
    ]


def test_every_shipped_config_rebuilds_in_a_worker():
    from eqvbench.cli import shipped_configs_dir
    from eqvbench.sweeps.execute import _WORKER_SPECS, _worker_plans, spec_payload
    from eqvbench.spec import load_spec

    for path in sorted(shipped_configs_dir().glob("*.yaml")):
        spec = load_spec(path)
        _WORKER_SPECS.clear()
        rebuilt = _worker_plans(spec_payload(spec))[0]
        assert rebuilt.resolved() == spec.resolved(), path.name
        assert [p.params for p in rebuilt.points] == [p.params for p in spec.points], path.name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAMILY_SPECS))
def test_every_family_on_the_pool_and_on_dask(write_spec, name, cluster):
    spec = _family_spec(write_spec, name)
    serial = json.loads(invoke("run", spec, "--no-store", "--workers", 1, "--json").stdout)
    pool = invoke("run", spec, "--no-store", "--workers", 2, "--json")
    assert pool.exit_code == 0, pool.output
    assert "computed with 2 workers" in pool.stderr
    dask = invoke("run", spec, "--no-store", "--executor", "dask", "--scheduler", cluster.scheduler_address, "--json")
    assert dask.exit_code == 0, dask.output
    for r in (pool, dask):
        assert measured(json.loads(r.stdout)["points"]) == measured(serial["points"])


@pytest.mark.slow
def test_pool_workers_report_their_stage(write_spec):
    """Pool workers send their stage (simulating, cost search, ...) back to the run's progress."""
    from eqvbench.sweeps.execute import Scheduler, run_pool
    from eqvbench.pipeline import cost_cache_key, plan
    from eqvbench.spec import load_spec

    spec = load_spec(write_spec(SWEEP))
    plans = plan(spec)
    keys = {i: cost_cache_key(pp) for i, pp in enumerate(plans)}
    events, done = [], []
    run_pool(
        spec,
        plans,
        Scheduler.build(list(range(len(plans))), keys, {}),
        2,
        lambda i, point, new: done.append(i),
        lambda kind, i, msg: events.append((kind, i, msg)),
    )
    assert sorted(done) == [0, 1, 2, 3]
    stages = {msg.split(" ")[0] for kind, _, msg in events if kind == "progress"}
    assert {"simulating", "cost"} <= stages, stages
    searches = {msg for kind, _, msg in events if kind == "progress" and msg.startswith("cost search (")}
    assert searches == {"cost search (budget 8 trials)"}, searches  # no time limit set: none named ('/ None s')


def test_progress_lines_give_the_time_left(write_spec):
    r = invoke("run", write_spec(SWEEP), "--no-store", "--workers", 1)
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("[") and not ln.startswith("[running]")]
    assert len(lines) == 4 and all("left" in ln for ln in lines[:3]) and "left" not in lines[3], lines


def test_progress_lines_are_never_wrapped(write_spec):
    """In a log (not a terminal) each finished point is one line however long its label: a line
    cut at 80 columns is two lines to a reader or a filter (one-line errors after a kill)."""
    r = invoke(
        "run",
        write_spec(
            "experiment: rcs\nseed: 5\nlattice: {kind: grid, rows: 2, cols: 2}\ncircuit: {cycles: 2, instances: 1}\n"
            "noise: {p2: [0.005, 0.01], p1: [0.0011, 0.0021], readout: [0.011, 0.021], idle: [0.00011, 0.00021]}\n"
            "simulation: {shots: 100}\ncost: {max_repeats: 2}\n"
        ),
        "--no-store",
        "--workers",
        1,
    )
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    progress = [ln for ln in lines if ln.startswith("[") and not ln.startswith("[running]")]
    assert len(progress) == 16 and max(map(len, progress)) > 80
    assert all(ln.endswith(" left") for ln in progress[:15]), progress
    others = [ln for ln in lines if not ln.startswith("[")]
    assert all(ln.startswith(("compiling kernels", "16 point(s) in ")) for ln in others), lines


def test_default_workers_follow_the_work(write_spec, monkeypatch):
    """Without --workers, a sweep whose estimated work would not pay for starting a pool runs in
    this process; one with enough work gets one worker per core."""
    import eqvbench.sweeps.execute as ex
    from eqvbench.pipeline import plan
    from eqvbench.spec import load_spec

    monkeypatch.setattr(ex, "available_cores", lambda: 4)
    small = plan(load_spec(write_spec(SWEEP)))
    keys = {i: None for i in range(len(small))}
    assert ex.choose_workers(small, list(range(len(small))), keys, {}) == 1
    r = invoke("run", write_spec(SWEEP), "--no-store")
    assert r.exit_code == 0 and "computed in this process" in r.stderr, r.output
    # 16 points of a 9-qubit density matrix with 20 instances: tens of seconds by the estimate
    big = plan(
        load_spec(
            write_spec(
                SWEEP.replace("rows: 2, cols: 3", "rows: 3, cols: 3")
                .replace("instances: 2", "instances: 20")
                .replace("p2: [0.005, 0.01]", "p2: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008]"),
                "big.yaml",
            )
        )
    )
    assert ex.choose_workers(big, list(range(len(big))), {i: None for i in range(len(big))}, {}) == 4
    assert ex.choose_workers(big, [0], {0: None}, {}) == 1  # one point: nothing to share


def test_sweep_with_search_processes_on_dask_finishes(write_spec, tmp_path, cluster):
    """cost.processes: 2 inside Dask workers (daemonic processes): each search starts and then
    kills its own processes; the run prints its table, writes --out, and leaves none behind."""
    import psutil

    from test_sweep_interrupt import PROCESSES_SWEEP

    def descendants():
        return {
            p.pid
            for p in psutil.Process().children(recursive=True)
            if "resource_tracker import main" not in " ".join(p.cmdline())
        }

    before = descendants()
    out = tmp_path / "out.json"
    r = invoke(
        "run",
        write_spec(PROCESSES_SWEEP),
        "--no-store",
        "--executor",
        "dask",
        "--scheduler",
        cluster.scheduler_address,
        "--out",
        out,
    )
    assert r.exit_code == 0, r.output
    assert "cycles" in r.stdout
    leaders = [p["cost"] for p in json.loads(out.read_text())["points"] if not p["cost_cached"]]
    assert len(leaders) == 2 and all(c["budget"].get("processes") == 2 for c in leaders)
    assert descendants() <= before


# trajectories with a cost search (eqvbench's kernels, quimb's), a Floquet point with its region's
# Pauli-propagation reference (eqvbench's Pauli kernels)
COMPILING = """\
experiment: rcs
seed: 2
lattice: {kind: grid, rows: 2, cols: 2}
circuit: {cycles: [2, 3], instances: 1}
noise: {p2: 0.01}
simulation: {method: trajectories, target_err: 0.1, shots: 100}
cost: {max_repeats: 2, cache: false}
cases:
  - {}
  - {experiment: floquet_ising, lattice: {kind: line, n: 4}, circuit: {steps: 2, observable: Z1}}
"""


def test_kernels_needed_follow_the_points(write_spec):
    from eqvbench.sweeps.execute import kernels_needed
    from eqvbench.pipeline import plan
    from eqvbench.spec import load_spec

    def needed(text):
        plans = plan(load_spec(write_spec(text)))
        return kernels_needed(plans, list(range(len(plans))))

    assert needed(COMPILING) == ["trajectories", "networks", "pauli"]
    dm = SWEEP.replace("simulation: {", "simulation: {method: density_matrix, max_qubits: 8, ")
    assert needed(dm) == ["networks"]
    assert needed(dm.replace("cost: {", "cost: {enabled: false, ")) == []
    assert needed(FAMILY_SPECS["otoc"]) == ["trajectories", "networks"]


@pytest.mark.slow  # compiles the kernels from scratch, twice (tens of seconds of CPU each)
def test_kernels_compile_once_before_the_workers_start(write_spec, tmp_path):
    """A first run (empty numba cache) compiles the numba code its points run (eqvbench's kernels,
    quimb's functions, Pauli propagation) once, in the run's process, and says so: no compiled
    function is saved twice (each worker compiled quimb's before). What the run compiled is what
    the warm-up compiles on its own, and after that warm-up a run compiles nothing."""
    import os
    import subprocess
    import sys

    spec = write_spec(COMPILING)

    def saved(out):  # numba's NUMBA_DEBUG_CACHE lines: one per compiled function saved to the cache
        return [ln.rsplit("/", 1)[-1] for ln in out.splitlines() if ln.startswith("[cache] data saved to")]

    def run(cache):
        env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / cache), "NUMBA_DEBUG_CACHE": "1"}
        r = subprocess.run(
            [sys.executable, "-m", "eqvbench", "run", str(spec), "--no-store", "--workers", "2"],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        assert r.returncode == 0, r.stderr
        return r

    first = run("a")
    said = [ln for ln in first.stderr.splitlines() if not ln.startswith("[running]")]  # the 5 s progress repeats
    assert sum("compiling kernels (first run only)" in ln for ln in said) == 1, first.stderr
    assert "computed with 2 workers" in first.stderr
    files = saved(first.stdout)
    assert len(files) == len(set(files)), sorted(files)
    assert any("svd_truncated_numba" in f for f in files) and any("_run_block" in f for f in files), files

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "b"), "NUMBA_DEBUG_CACHE": "1"}
    warm = subprocess.run(
        [sys.executable, "-c", "from eqvbench.simulation import kernels; kernels.warm_up_sets(kernels.KERNEL_SETS)"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert warm.returncode == 0, warm.stderr
    assert sorted(saved(warm.stdout)) == sorted(files)
    again = run("b")
    assert "compiling kernels" not in again.stderr and saved(again.stdout) == []


def _closed_port() -> int:
    import socket

    with socket.socket() as s:  # a port just freed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address", ["foo://127.0.0.1:8786", "closed"])
def test_bad_scheduler_is_one_line_within_the_documented_time(write_spec, tmp_path, address):
    """An unknown scheme or a closed port, in a real process (a Client left behind prints its
    `__del__` traceback at exit, 20 s later): one line, exit 2, well within the documented 10 s."""
    import subprocess
    import sys
    import time

    if address == "closed":
        address = f"tcp://127.0.0.1:{_closed_port()}"
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "eqvbench", "run", str(write_spec(SWEEP)), "--no-store", "--executor", "dask"]
        + ["--scheduler", address],
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - t0
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: --scheduler {address}: "), r.stderr
    assert took < 10, took
