"""Contraction cost: a hand-counted case, growth with depth, slicing to the memory limit."""

import math

import pytest

from eqvbench.classical.cost import (
    CostSettings,
    MemoryLimitError,
    REFERENCE_MACHINES,
    contraction_cost,
    network_structure,
    structural_simplify,
)
from eqvbench.families.rcs import FAMILY
from eqvbench.circuits.lattice import build_lattice

FAST = dict(max_repeats=16)


def network(rows, cols, cycles, pattern="ABCDCDAB", gate="syc", seed=0):
    lat = build_lattice({"kind": "grid", "rows": rows, "cols": cols})
    inst = FAMILY.build(lat, {"cycles": cycles, "pattern": pattern, "gate": gate, "instances": 1}, seed)
    return network_structure(FAMILY.cost_network(inst))


@pytest.mark.parametrize("pattern", ["ABCDCDAB", "EFGH"])
def test_2x2_two_cycles_by_hand(pattern):
    """<0000|C|0000> on 2x2, 2 cycles: two fSim gates, each on its own pair of qubits.

    fSim(pi/2, pi/6) splits (SWAP trick) into two 2x2x2 halves joined by a
    bond of size 2. Each qubit's line is a chain |0> - g - half - g - g - <0|
    (one of the two middle 1q gates sits after the other pair's gate). Per pair,
    absorbing leaves inwards: on each qubit |0>.g (4) + <0|.g (4) + .g (4)
    + vector.half (8) + vector.matrix (4) = 24 multiply-adds, 48 for both
    qubits, + 2 for the final bond, = 50. Two pairs: 100, + 1 to multiply the
    two scalars = 101 multiply-adds = 808 FLOP.
    """
    inputs, output, sizes = network(2, 2, 2, pattern)
    assert len(inputs) == 24  # 4 |0>, 4 <0|, 12 single-qubit gates, 2 x 2 gate halves
    res = contraction_cost(inputs, output, sizes, CostSettings(**FAST))
    assert res.multiply_adds == 101
    assert res.cost_flops == 808
    assert res.width_log2 == 3  # the 2x2x2 gate halves are the largest tensors
    for m, rate in REFERENCE_MACHINES.items():
        assert res.seconds_on[m] == pytest.approx(808 / rate)


def test_structural_simplify_ignores_values():
    # two networks with different random single-qubit gates have the same structure and cost
    a = network(3, 3, 6, seed=1)
    b = network(3, 3, 6, seed=2)
    ra = structural_simplify(*a)
    rb = structural_simplify(*b)
    assert ra[1] == rb[1] and ra[2] == rb[2] and len(ra[0]) == len(rb[0])


def test_cost_grows_with_cycles():
    costs = []
    for cycles in (2, 4, 8, 12):
        res = contraction_cost(*network(3, 4, cycles), CostSettings(**FAST))
        costs.append(res.cost_flops)
    assert all(a < b for a, b in zip(costs, costs[1:])), costs


@pytest.mark.slow
def test_slicing_keeps_width_under_limit():
    inputs, output, sizes = network(4, 4, 12)
    free = contraction_cost(inputs, output, sizes, CostSettings(**FAST))
    limit_elems = 2 ** (int(free.width_log2) - 3)
    sliced = contraction_cost(
        inputs, output, sizes, CostSettings(memory_limit=8 * limit_elems, dtype="complex64", **FAST)
    )
    assert sliced.width_log2 <= math.log2(limit_elems) < sliced.width_log2_unsliced
    assert sliced.sliced_inds >= 1
    assert sliced.n_slices == 2**sliced.sliced_inds  # every bond of this network has size 2


def test_memory_limit_that_cannot_hold_a_slice():
    inputs, output, sizes = network(3, 3, 4)
    # 16 bytes = 2 complex64 elements, below even one 2x2 gate matrix
    with pytest.raises(MemoryLimitError, match="cannot hold one slice"):
        contraction_cost(inputs, output, sizes, CostSettings(memory_limit=16, **FAST))


def test_same_seed_same_tree():
    net = network(4, 4, 10)
    a = contraction_cost(*net, CostSettings(max_repeats=8, seed=3))
    b = contraction_cost(*net, CostSettings(max_repeats=8, seed=3))
    assert a.multiply_adds == b.multiply_adds and a.width_log2 == b.width_log2


def test_trials_in_two_processes_reach_the_serial_cost_and_say_so():
    """cost.processes = 2: cotengra's trials run in a local process pool (the tree then depends on
    timing). On a 3x4 grid at 8 cycles, 16 trials either way land within 2x of each other."""
    net = network(3, 4, 8)
    serial = contraction_cost(*net, CostSettings(max_repeats=16, seed=1))
    pooled = contraction_cost(*net, CostSettings(max_repeats=16, seed=1, parallel=2))
    assert pooled.budget["search"] == "hyper" and pooled.budget["processes"] == 2
    assert "processes" not in serial.budget
    assert 0.5 < pooled.multiply_adds / serial.multiply_adds < 2


def test_forest_reconfiguration_keeps_the_value_and_never_raises_the_cost():
    """The time-budgeted phase after the trials: the reconfigured tree contracts the same network to
    the same amplitude (1e-10) for no more multiply-adds than the best of the trees it started from."""
    import cotengra as ctg
    import numpy as np

    from cotengra.pathfinders.path_basic import optimize_greedy

    from eqvbench.classical.cost import Budget, _forest_until, _linear_tree, _SearchProcesses

    lat = build_lattice({"kind": "grid", "rows": 3, "cols": 3})
    inst = FAMILY.build(lat, {"cycles": 6, "pattern": "ABCDCDAB", "gate": "syc", "instances": 1}, 0)
    tn = FAMILY.cost_network(inst)
    inputs, output, sizes = network_structure(tn)
    start = ctg.ContractionTree.from_path(inputs, output, sizes, path=optimize_greedy(inputs, output, sizes))
    in_order = _linear_tree(inputs, output, sizes)
    with _SearchProcesses(1) as procs:
        tree = _forest_until([in_order, start], Budget(0.5), CostSettings(seed=3), procs)
    assert tree.contraction_cost() <= min(start.contraction_cost(), in_order.contraction_cost())
    ref = tn.contract(all, optimize=start.get_path(), output_inds=())
    got = tn.contract(all, optimize=tree.get_path(), output_inds=())
    assert np.isclose(got, ref, atol=1e-10)


def test_time_budgeted_search_reports_a_tree_no_worse_than_its_trials():
    """max_time: a third for trials, the rest for forest reconfiguration; the result is a valid
    hyper-optimised tree with the time budget recorded."""
    net = network(3, 4, 8)
    r = contraction_cost(*net, CostSettings(max_repeats=10**6, max_time=2.0, seed=1))
    ref = contraction_cost(*net, CostSettings(max_repeats=4, seed=1))
    assert r.budget["search"] == "hyper" and r.budget["max_time_s"] == 2.0
    assert r.multiply_adds <= 2 * ref.multiply_adds


def test_networks_over_search_max_tensors_get_the_in_order_sweep():
    """a - (a,b) - (b,c) - c absorbed in order: 2x2 + 2x2 + 2 = 10 multiply-adds, no search."""
    from eqvbench.classical.cost import CostSettings, contraction_cost

    inputs = [("a",), ("a", "b"), ("b", "c"), ("c",)]
    sizes = {"a": 2, "b": 2, "c": 2}
    r = contraction_cost(inputs, (), sizes, CostSettings(search_max_tensors=1, simplify="none", memory_limit=None))
    assert r.multiply_adds == 10
    assert r.budget["search"].startswith("linear") and r.n_slices == 1


def test_no_memory_limit_means_no_slicing():
    from eqvbench.classical.cost import CostSettings, contraction_cost

    # a 6x6 grid of tensors with bond dimension 2: intermediates of 2^6 or more, inputs of at most 2^4
    def bond(a, b):
        return "-".join(sorted([f"{a[0]}.{a[1]}", f"{b[0]}.{b[1]}"]))

    inputs = []
    for i in range(6):
        for j in range(6):
            nb = [
                (i + di, j + dj) for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)) if 0 <= i + di < 6 and 0 <= j + dj < 6
            ]
            inputs.append(tuple(bond((i, j), n) for n in nb))
    sizes = {ix: 2 for t in inputs for ix in t}
    tight = contraction_cost(inputs, (), sizes, CostSettings(max_repeats=4, memory_limit=8 * 2**4))
    free = contraction_cost(inputs, (), sizes, CostSettings(max_repeats=4, memory_limit=None))
    assert free.n_slices == 1 and free.sliced_inds == 0
    assert free.width_log2 > 4
    assert tight.n_slices > 1 and tight.width_log2 <= 4
    # The in-order baseline is compared as it would run, sliced to the same limit (slicing
    # repeats work, so the sliced sweep costs more than the unsliced one). Which of the two wins
    # depends on the search (kahypar and optuna builds differ between machines), so the test holds
    # the rule, not the winner: the reported cost is never above the sliced sweep, and when the
    # sweep wins its sliced cost is reported, never its cheaper unsliced one.
    from eqvbench.classical.cost import _linear_tree, _slice_linear

    settings = CostSettings(max_repeats=4, memory_limit=8 * 2**4)
    linear = _linear_tree(inputs, (), sizes)
    swept = float(_slice_linear(linear, settings).contraction_cost())
    # the baseline is seeded: the same sweep sliced again costs the same (unseeded it ranged 6.0e4-2.1e5)
    assert float(_slice_linear(_linear_tree(inputs, (), sizes), settings).contraction_cost()) == swept
    assert float(linear.contraction_cost()) < swept
    assert tight.budget["search"] in ("hyper", "linear")
    assert tight.multiply_adds <= swept
    if tight.budget["search"] == "linear":
        assert tight.multiply_adds == swept


def test_tree_cache_returns_the_same_cost_and_says_cached(tmp_path):
    import json

    from eqvbench.classical.cost import CostSettings, contraction_cost

    inputs = [(f"r{i}", f"r{(i + 1) % 16}", f"c{i}") for i in range(16)] + [
        (f"c{i}", f"c{(i + 5) % 16}") for i in range(16)
    ]
    sizes = {ix: 2 for t in inputs for ix in t}
    settings = CostSettings(max_repeats=4, cache_dir=str(tmp_path), memory_limit=8 * 2**5)
    first = contraction_cost(inputs, (), sizes, settings)
    files = list(tmp_path.glob("*.json"))
    assert not first.cached and len(files) == 1
    again = contraction_cost(inputs, (), sizes, settings)
    assert again.cached
    assert (again.multiply_adds, again.width_log2, again.n_slices) == (
        first.multiply_adds,
        first.width_log2,
        first.n_slices,
    )
    # another budget is another key
    other = contraction_cost(
        inputs, (), sizes, CostSettings(max_repeats=5, cache_dir=str(tmp_path), memory_limit=8 * 2**5)
    )
    assert not other.cached and len(list(tmp_path.glob("*.json"))) == 2
    # a corrupt or stale entry is a miss, never an error
    files[0].write_text("{not json")
    assert not contraction_cost(inputs, (), sizes, settings).cached
    entry = json.loads(files[0].read_text())
    entry["result"]["multiply_adds"] *= 2
    files[0].write_text(json.dumps(entry))
    redo = contraction_cost(inputs, (), sizes, settings)
    assert not redo.cached and redo.multiply_adds == first.multiply_adds


def test_second_run_reuses_the_stored_tree(tmp_path):
    import json

    from typer.testing import CliRunner

    from eqvbench.cli import app

    spec = tmp_path / "r.yaml"
    spec.write_text(
        "experiment: rcs\nlattice: {kind: grid, rows: 3, cols: 3}\ncircuit: {cycles: 12, instances: 1}\n"
        "simulation: {simulate: never}\ncost: {max_repeats: 4}\n"
    )
    runs = []
    for _ in range(2):  # no result store: the point itself must be recomputed, its tree read from the cache
        r = CliRunner().invoke(app, ["run", str(spec), "--json", "--no-store"])
        assert r.exit_code == 0, r.output
        runs.append(json.loads(r.stdout)["points"][0])
    assert runs[0]["cost"]["budget"]["search"] == "hyper"
    assert (runs[0]["cost"]["cached"], runs[1]["cost"]["cached"]) == (False, True)
    assert runs[1]["cost_flops"] == runs[0]["cost_flops"]


def test_tree_cache_entry_cannot_change_the_numbers_or_hang(tmp_path):
    """What a cache entry records is computed again from its tree; only regular files of bounded
    size are read (a FIFO would block, a link to /dev/zero would never end)."""
    import json
    import os
    import stat
    import threading

    from eqvbench.classical.cost import CostSettings, contraction_cost

    inputs = [(f"r{i}", f"r{(i + 1) % 16}", f"c{i}") for i in range(16)] + [
        (f"c{i}", f"c{(i + 5) % 16}") for i in range(16)
    ]
    sizes = {ix: 2 for t in inputs for ix in t}
    settings = CostSettings(max_repeats=4, cache_dir=str(tmp_path), memory_limit=8 * 2**5)
    first = contraction_cost(inputs, (), sizes, settings)
    (path,) = tmp_path.glob("*.json")
    good = path.read_text()
    assert contraction_cost(inputs, (), sizes, settings).cached
    poisons = {
        "cost_flops": lambda r: r.update(cost_flops=r["cost_flops"] * 1e6, cost_log10=r["cost_log10"] + 6),
        "width_log2": lambda r: r.update(width_log2=1.0),
        "budget": lambda r: r["budget"].update(max_repeats=10**6),
        "n_tensors": lambda r: r.update(n_tensors=3),
        "search_seconds": lambda r: r.update(search_seconds=-5.0),
        "width_log2_unsliced": lambda r: r.update(width_log2_unsliced=500.0),
    }
    for name, poison in poisons.items():
        entry = json.loads(good)
        poison(entry["result"])
        path.write_text(json.dumps(entry))
        got = contraction_cost(inputs, (), sizes, settings)  # a miss: searched again, the entry rewritten
        assert not got.cached, name
        assert (got.cost_flops, got.width_log2, got.budget, got.n_tensors) == (
            first.cost_flops,
            first.width_log2,
            first.budget,
            first.n_tensors,
        ), name

    def load_without_hanging():
        got = []
        th = threading.Thread(target=lambda: got.append(contraction_cost(inputs, (), sizes, settings)), daemon=True)
        th.start()
        th.join(120)
        assert not th.is_alive() and len(got) == 1
        return got[0]

    path.unlink()
    os.mkfifo(path)
    assert not load_without_hanging().cached
    # links: to a node that reading never ends or blocks on (a FIFO here stands for /dev/zero,
    # which a test must not risk) and to a user's file: read as misses, and the entry written
    # then replaces the link itself, never the node or file it points to
    node, victim = tmp_path.parent / f"{tmp_path.name}-node", tmp_path.parent / f"{tmp_path.name}-victim"
    os.mkfifo(node)
    victim.write_text("a user's file\n")
    for target in (node, victim):
        path.unlink()
        path.symlink_to(target)
        assert not load_without_hanging().cached
        assert not path.is_symlink() and json.loads(path.read_text())["result"]["cost_flops"] == first.cost_flops
    assert stat.S_ISFIFO(os.stat(node).st_mode) and victim.read_text() == "a user's file\n"
    path.unlink()
    path.write_text(good[:-1] + " " * (64 * 2**20) + "}")  # over the size limit
    assert not load_without_hanging().cached


class StoppedClock:
    """The budget's clock: stands still until `expire()`, then reads far past any deadline.
    Counts its readings, so a test can say how many budget checks came after the deadline."""

    def __init__(self, expire_after_reads=None):
        self.reads = 0
        self.reads_after = 0
        self.expired = False
        self.expire_after_reads = expire_after_reads

    def expire(self):
        self.expired = True

    def __call__(self):
        self.reads += 1
        if self.expire_after_reads is not None and self.reads > self.expire_after_reads:
            self.expire()
        self.reads_after += self.expired
        return 1e9 if self.expired else 0.0


@pytest.mark.parametrize("processes", [1, 2])
def test_time_budget_ends_the_search_at_the_deadline(monkeypatch, processes):
    """cost.max_time, checked by counting, not timing: once the budget's clock passes the
    deadline no trial or reconfiguration starts, nor a process; with processes, the trials in
    flight are abandoned (never waited for) and the search's processes are gone when it returns."""
    import psutil

    import eqvbench.classical.cost as cost

    clock = StoppedClock()
    monkeypatch.setattr(cost, "_clock", clock)
    started_late, finished = [], [0]
    restarted_late = record_restarts(monkeypatch, clock)

    class Recorded:
        def __init__(self, fut):
            self._fut = fut

        def done(self):
            return self._fut.done()

        def cancel(self):
            return self._fut.cancel()

        def result(self):
            r = self._fut.result()
            finished[0] += 1
            if finished[0] == 3:  # three trials in: the deadline passes
                clock.expire()
            return r

    class Recording(cost._BudgetedExecutor):
        def submit(self, fn, *args, **kwargs):
            fut = super().submit(fn, *args, **kwargs)  # refuses (raises) once the budget is spent
            started_late.append(clock.expired)
            return Recorded(fut)

    monkeypatch.setattr(cost, "_BudgetedExecutor", Recording)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    r = contraction_cost(*network(3, 4, 8), CostSettings(max_repeats=10**6, max_time=60.0, seed=1, parallel=processes))
    assert r.budget["search"] == "hyper" and r.budget["max_time_s"] == 60.0
    assert started_late and not any(started_late), "work started after the deadline"
    assert finished[0] == 3  # nothing was waited for after the deadline
    if processes == 1:
        assert len(started_late) == 3  # in one process each trial is finished before the next starts
    else:
        assert len(started_late) > 3  # trials were in flight at the deadline, and were abandoned
    assert clock.reads_after <= 6, clock.reads_after  # the phases each asked once and stopped
    assert not any(restarted_late), "the search's processes were started again after the deadline"
    left = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and "resource_tracker" not in " ".join(p.cmdline())
    ]
    assert not left, left


def record_restarts(monkeypatch, clock) -> list:
    """Whether the clock had passed the deadline at each (re)start of a search's processes."""
    import eqvbench.classical.cost as cost

    restarted_late, restart = [], cost._SearchProcesses.restart

    def recorded(self):
        restarted_late.append(clock.expired)
        return restart(self)

    monkeypatch.setattr(cost._SearchProcesses, "restart", recorded)
    return restarted_late


def never_returns(*args, **kwargs):
    """Work that never finishes, run in a search's process in place of a reconfiguration step."""
    import threading

    threading.Event().wait()


def test_time_budget_abandons_the_reconfiguration_in_flight(monkeypatch):
    """cost.max_time with processes, counted, not timed: the deadline passes while the search waits
    for a forest round's trees (`_reconfigure_tree`), here work that never finishes. The search returns the tree it had,
    starts no work and no process after the deadline, asks the budget a bounded number of
    times, and kills its processes, the stuck one included."""
    import threading

    import psutil

    import eqvbench.classical.cost as cost

    phase = "_reconfigure_tree"
    clock = StoppedClock()
    monkeypatch.setattr(cost, "_clock", clock)
    submitted = []
    restarted_late = record_restarts(monkeypatch, clock)

    class Stuck:
        """The never-finishing work's future: the deadline passes once the search waits for it."""

        def __init__(self, fut):
            self._fut = fut

        def done(self):
            return self._fut.done()

        def cancel(self):
            return self._fut.cancel()

        def result(self):
            clock.expire()
            return self._fut.result()

    class Recording(cost._BudgetedExecutor):
        def submit(self, fn, *args, **kwargs):
            name = getattr(fn, "__name__", "")
            fut = super().submit(never_returns if name == phase else fn, *args, **kwargs)
            submitted.append((name, clock.expired))
            return Stuck(fut) if name == phase else fut

    monkeypatch.setattr(cost, "_BudgetedExecutor", Recording)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    got = []
    # 4 trials end the trial phase (the clock stands still until the stuck work is waited for)
    settings = CostSettings(max_repeats=4, max_time=60.0, seed=1, parallel=2)
    th = threading.Thread(target=lambda: got.append(contraction_cost(*network(3, 4, 8), settings)), daemon=True)
    th.start()
    th.join(300)  # a search that waited for the stuck work would never return
    if th.is_alive():  # kill the stuck processes, or Python's exit would wait for them forever
        for p in psutil.Process().children(recursive=True):
            if p.pid not in before:
                p.kill()
        pytest.fail("the search waited for work past its deadline")
    assert len(got) == 1
    r = got[0]
    assert r.budget["search"] == "hyper" and r.budget["max_time_s"] == 60.0
    names = [name for name, _ in submitted]
    assert phase in names and clock.expired
    assert not any(late for _, late in submitted), "work started after the deadline"
    assert names.count("_reconfigure_tree") == 8  # one round of 8 trees, abandoned; no second one
    assert not any(restarted_late), "the search's processes were started again after the deadline"
    assert clock.reads_after <= 3, clock.reads_after  # the wait noticed, the forest (if not begun) asked once
    left = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and "resource_tracker import main" not in " ".join(p.cmdline())
    ]
    assert not left, left


def test_time_budget_with_no_finished_trial_costs_the_in_order_sweep(monkeypatch):
    """A budget spent before any trial finished (processes still starting) gives the in-order
    sweep, labelled as such, rather than waiting for a trial."""
    import eqvbench.classical.cost as cost

    clock = StoppedClock(expire_after_reads=1)  # the budget's start is the last reading before its deadline
    monkeypatch.setattr(cost, "_clock", clock)
    r = contraction_cost(*network(3, 4, 8), CostSettings(max_repeats=10**6, max_time=5.0, seed=1, parallel=2))
    assert r.budget["search"] == "linear (no search trial finished within max_time)"
    assert r.multiply_adds > 0 and r.n_slices == 1


def test_killing_the_search_processes_does_not_wait_for_work_unsent_to_them():
    """A deadline that kills the search's processes while work (trees of a big network, megabytes
    each) still waits in the pipe to them: the queue's feeder thread, blocked writing to processes
    that no longer read, must not be joined when this process exits, or the exit hangs. That
    happened (Sycamore, a forest round cut by the deadline) when the executor's manager thread
    stopped before it saw the processes die; the race is not reproducible on demand, so this
    checks the state that prevents it, and that the killed executor's processes are gone."""
    import time

    from eqvbench.classical.cost import _SearchProcesses

    with _SearchProcesses(2) as procs:
        pool = procs.pool
        workers, queue = list(pool._processes.values()), pool._call_queue
        for _ in range(2):
            pool.submit(time.sleep, 600)  # both processes busy
        for _ in range(4):
            pool.submit(len, bytes(8 * 2**20))  # queued: more than a pipe holds
    assert queue._joincancelled
    import psutil

    def gone(pid):  # killed; reaped or not (whoever reaps it, is_alive() cannot tell once another did)
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    deadline = time.monotonic() + 10
    while not all(gone(w.pid) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(gone(w.pid) for w in workers)
