"""Executors: a local process pool and a real Dask LocalCluster give the serial run's numbers."""

import json

import pytest

from eqvbench.execute import Scheduler
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


def test_pool_writes_the_store(write_spec, tmp_path, serial):
    db = tmp_path / "pool.eqvdb"
    r = invoke("run", write_spec(SWEEP), "--store", db, "--workers", 2, "--json")
    assert r.exit_code == 0, r.output
    assert measured(json.loads(invoke("export", db).stdout)["points"]) == measured(serial["points"])


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
    r = invoke("run", write_spec(SWEEP), "--store", db, "--executor", "dask", "--scheduler", cluster.scheduler_address,
               "--json")
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
    r = invoke("run", write_spec(TIMED_SEARCH), "--no-store", "--executor", "dask",
               "--scheduler", cluster.scheduler_address, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    a, b = doc["points"]
    assert a["cost"]["budget"]["search"] == "hyper" and a["cost"]["budget"]["parallel"] == "dask"
    assert (a["cost_cached"], b["cost_cached"]) == (False, True) and a["cost_flops"] == b["cost_flops"] > 0
    trial_tasks = set(cluster.scheduler.task_prefixes) - before - {"eqvbench-point"}
    assert trial_tasks, "no hyper-optimiser trial ran on the cluster"


def test_unreachable_scheduler_is_one_line(write_spec, tmp_path, monkeypatch):
    import eqvbench.execute

    monkeypatch.setattr(eqvbench.execute, "DASK_CONNECT_TIMEOUT_S", 2)  # nothing listens there: no need to wait 10 s
    db = tmp_path / "s.eqvdb"
    r = invoke("run", write_spec(SWEEP), "--store", db, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert_one_line_error(r, "--scheduler tcp://127.0.0.1:9", "cannot reach the Dask scheduler")
    assert not db.exists()


@pytest.mark.parametrize("args,words", [
    (["--workers", 0], "--workers 0"),
    (["--executor", "slurm"], "--executor slurm"),
    (["--executor", "dask"], "needs --scheduler"),
    (["--scheduler", "tcp://127.0.0.1:8786"], "--executor dask only"),
    (["--executor", "dask", "--scheduler", "tcp://127.0.0.1:8786", "--workers", 2], "--workers applies"),
])
def test_bad_executor_options(write_spec, tmp_path, args, words):
    r = invoke("run", write_spec(SWEEP), *args)
    assert_one_line_error(r, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_dask_not_installed_says_what_to_install(write_spec, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    r = invoke("run", write_spec(SWEEP), "--executor", "dask", "--scheduler", "tcp://127.0.0.1:8786")
    assert_one_line_error(r, "pip install 'eqvbench[dask]'")
