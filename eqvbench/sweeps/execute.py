"""Running the points of a sweep: in this process, in a local process pool, or on a Dask cluster.

Every executor gives the same numbers. A point's seeds derive from the spec,
never from the order or the place it runs; the one thing points share is the
contraction cost of points with equal structure (`pipeline.cost_cache_key`).
That cost is searched once, by the first point of the sweep that needs it
(its *leader*, `cost_cached: false`); the points that share it wait for the
leader and then run anywhere with the leader's cost handed to them
(`cost_cached: true`), exactly as in a serial run. Costs already in the store
count as computed, so a resumed run reports what an uninterrupted one does.

Workers get the spec as the fields its author set (not the resolved spec,
whose filled-in defaults can contradict rules such as "butterfly or
butterfly_distance, not both") and rebuild the sweep themselves (cached per
process), checking that they resolved it as the caller did; a point comes back
as its JSON, plus any cost it computed. The caller commits each point as it
arrives.

Local pool workers, and the processes of their cost searches, die with the
run however it ends (Ctrl-C, SIGTERM, SIGKILL): see `eqvbench.sweeps.procs`.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eqvbench import interrupts
from eqvbench.errors import EqvbenchError

# on_done(index, point_json, new_costs)
OnDone = Callable[[int, dict[str, Any], dict[str, Any]], None]
# on_event(kind, index, message): kind is "start", "progress" or "done"
OnEvent = Callable[[str, int, str], None]

DASK_CONNECT_TIMEOUT_S = 10


class WorkerLost(EqvbenchError):
    """A pool worker process died (killed, or out of memory) while it ran points."""

    exit_code = 3


# Wall time a local pool costs before its first point runs: spawning the workers, importing
# eqvbench and rebuilding the sweep in each (measured about 2-4 s on a 2-core machine).
POOL_START_S = 3.0


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def choose_workers(plans, pending: list[int], cost_keys: dict[int, str | None], known_costs) -> int:
    """The default of --workers: the cores, or one when the pool would not pay for its start-up.

    With k workers a sweep of estimated work W (`eqvbench.sweeps.estimate`, the
    estimates `validate` prints; each cost search counted once) takes about
    POOL_START_S + W/k instead of W; the pool is used when W (1 - 1/k) >
    POOL_START_S. Summing stops as soon as that holds.
    """
    k = min(available_cores(), len(pending))
    if k <= 1:
        return 1
    need = POOL_START_S * k / (k - 1)
    total = 0.0
    searched: set[str] = set(known_costs)
    for i in pending:
        total += _estimate_seconds(plans[i], cost_keys[i] is not None and cost_keys[i] not in searched)
        searched.add(cost_keys[i])
        if total > need:
            return k
    return 1


def _estimate_seconds(pp, with_cost: bool) -> float:
    from eqvbench.sweeps.estimate import estimate_point
    from eqvbench.families import get_family
    from eqvbench.pipeline import derive_seed

    values = pp.point.values
    family = get_family(values["experiment"])
    inst = family.build(pp.lattice, values["circuit"], derive_seed(values["seed"], "instance", pp.structure, 0))
    est = estimate_point(pp, inst, family.n_instances(values["circuit"]))
    return est.sim_seconds + (est.cost_seconds if with_cost else 0.0)


def kernels_needed(plans, pending: list[int]) -> list[str]:
    """The sets of numba code (`eqvbench.simulation.kernels.KERNEL_SETS`) some pending point runs:
    'trajectories' (trajectories, and the state-vector values of the observable families),
    'networks' (quimb's functions, for every tensor network a point costs or contracts),
    'pauli' (Pauli propagation, the observable families' region reference)."""
    from eqvbench.simulation.simulate import resolve_method

    out: set[str] = set()
    for i in pending:
        pp = plans[i]
        values = pp.point.values
        experiment, circuit = values["experiment"], values["circuit"]
        observable = experiment in ("otoc", "floquet_ising") or (
            experiment == "circuit" and circuit.get("observable") is not None
        )
        if observable or (
            pp.simulate and resolve_method(values["simulation"]["method"], pp.n_qubits) != "density_matrix"
        ):
            out.add("trajectories")
        if observable or values["cost"]["enabled"]:
            out.add("networks")
        region = circuit.get("region") or {}
        if experiment != "otoc" and region.get("enabled") and region.get("pauli_propagation"):
            out.add("pauli")
    return [k for k in ("trajectories", "networks", "pauli") if k in out]


@dataclass
class Scheduler:
    """Which pending points may start: cost leaders at once, their followers once the cost is known."""

    keys: dict[int, str | None]  # point index -> cost key (None: cost disabled)
    cache: dict[str, Any]  # cost key -> CostResult
    ready: list[int] = field(default_factory=list)  # heap of indices
    waiting: dict[str, list[int]] = field(default_factory=dict)
    precomputed: set[str] = field(default_factory=set)  # searched by the caller for their leader

    @classmethod
    def build(cls, pending: list[int], keys: dict[int, str | None], cache: dict[str, Any]) -> Scheduler:
        s = cls(keys=keys, cache=cache)
        leaders: set[str] = set()
        for i in sorted(pending):
            k = keys[i]
            if k is None or k in cache or k not in leaders:
                if k is not None and k not in cache:
                    leaders.add(k)
                s.ready.append(i)
            else:
                s.waiting.setdefault(k, []).append(i)
        heapq.heapify(s.ready)
        return s

    def leaders(self) -> dict[str, int]:
        """Cost key -> the pending point that will search it."""
        return {
            self.keys[i]: i for i in sorted(self.ready) if self.keys[i] is not None and self.keys[i] not in self.cache
        }

    def pop(self) -> int | None:
        return heapq.heappop(self.ready) if self.ready else None

    def costs_for(self, i: int) -> dict[str, Any]:
        k = self.keys[i]
        return {k: self.cache[k]} if k is not None and k in self.cache else {}

    def finished(self, i: int, new_costs: dict[str, Any]) -> None:
        self.cache.update(new_costs)
        for k in new_costs:
            for j in self.waiting.pop(k, []):
                heapq.heappush(self.ready, j)
        # a leader that failed to produce its cost would leave followers waiting: run them instead
        k = self.keys[i]
        if k is not None and k not in self.cache and k in self.waiting:
            for j in self.waiting.pop(k):
                heapq.heappush(self.ready, j)

    @property
    def idle(self) -> bool:
        return not self.ready and not self.waiting


def _point_json(spec, pp, cache: dict[str, Any], say=None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one point with one BLAS thread, wherever it runs: a multithreaded BLAS sums in another
    order and changes the last bits of the density-matrix results, so the serial run, a pool worker
    and a Dask worker would not agree bit for bit. Parallelism comes from running points side by side."""
    from threadpoolctl import threadpool_limits

    from eqvbench.pipeline import machines_of, run_point

    before = set(cache)
    with threadpool_limits(limits=1, user_api="blas"):
        result = run_point(spec, pp, cache, say)
    new = {k: v for k, v in cache.items() if k not in before}
    return result.to_json(machines_of(spec)), new


def _mark_leader(point: dict[str, Any]) -> dict[str, Any]:
    """The leader of a cost searched for it by the caller (dask: on the cluster) did not reuse it."""
    if "cost_cached" in point:
        point["cost_cached"] = False
    return point


# -- serial ------------------------------------------------------------------------


def run_serial(spec, plans, sched: Scheduler, on_done: OnDone, on_event: OnEvent) -> None:
    while True:
        i = sched.pop()
        if i is None:
            break
        on_event("start", i, "")
        cache = dict(sched.costs_for(i))
        point, new = _point_json(spec, plans[i], cache, lambda msg, i=i: on_event("progress", i, msg))
        sched.finished(i, new)
        on_done(i, point, new)


# -- worker side (process pool and dask) ----------------------------------------------

_WORKER_SPECS: dict[str, tuple[Any, list]] = {}
_WORKER_LOCK = threading.Lock()


def _digest(spec) -> str:
    """Of the resolved spec and the points' swept values."""
    blob = json.dumps([spec.resolved(), [p.params for p in spec.points]], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def spec_payload(spec) -> tuple[str, str, str]:
    """What a worker needs to rebuild the sweep: the spec file name, the fields the spec's author
    set (JSON) and a digest of the resolved sweep, which the worker's must match."""
    if not any("case" in p.params for p in spec.points):
        written = spec.models[0].model_dump(mode="json", exclude_unset=True)
    else:  # a spec with `cases` (one or more), case by case
        written = {
            "experiment": spec.experiment,
            "cases": [m.model_dump(mode="json", exclude_unset=True) for m in spec.models],
        }
    return spec.file, json.dumps(written, sort_keys=True), _digest(spec)


def _worker_plans(payload: tuple[str, str, str]):
    hit = _WORKER_SPECS.get(payload[2])
    if hit is None:
        from eqvbench.pipeline import plan
        from eqvbench.spec import parse_spec

        spec = parse_spec(json.loads(payload[1]), payload[0])
        if _digest(spec) != payload[2]:
            raise EqvbenchError(
                f"{payload[0]}: a worker resolved the spec differently from this process "
                "(is the same eqvbench version installed on every worker?)"
            )
        hit = (spec, plan(spec))
        _WORKER_SPECS.clear()
        _WORKER_SPECS[payload[2]] = hit
    return hit


_PROGRESS = None  # pool workers: queue of (point index, message) to the run


def run_in_worker(payload: tuple[str, str, str], index: int, costs: dict[str, Any], leader: bool = False):
    """Run one point in a worker; returns (index, point JSON, costs it computed).

    Points run one at a time per process (cost searches seed Python's global
    `random`, so two at once in threads of one process would disturb each other).
    """
    say = None
    if _PROGRESS is not None:

        def say(msg: str, q=_PROGRESS) -> None:
            q.put((index, msg))

    with _WORKER_LOCK:
        spec, plans = _worker_plans(payload)
        cache = dict(costs)
        point, new = _point_json(spec, plans[index], cache, say)
    return index, (_mark_leader(point) if leader else point), new


def _init_pool_worker(parent_pid: int, progress) -> None:
    global _PROGRESS
    from eqvbench.sweeps.procs import bind_to_parent

    bind_to_parent(parent_pid)
    _PROGRESS = progress


# -- local process pool ---------------------------------------------------------------------


def run_pool(spec, plans, sched: Scheduler, workers: int, on_done: OnDone, on_event: OnEvent) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool
    from queue import Empty

    from eqvbench.sweeps.procs import kill_executor, quiet_resource_tracker

    payload = spec_payload(spec)
    quiet_resource_tracker()
    ctx = multiprocessing.get_context("spawn")
    progress = ctx.Queue()
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_pool_worker, initargs=(os.getpid(), progress)
    )
    running: dict[Any, int] = {}
    procs: dict[int, Any] = {}
    ok = False

    def drain() -> None:
        while True:
            try:
                i, msg = progress.get_nowait()
            except Empty:
                return
            if any(i == j for j in running.values()):
                on_event("progress", i, msg)

    try:
        while True:
            while len(running) < workers:
                i = sched.pop()
                if i is None:
                    break
                running[pool.submit(run_in_worker, payload, i, sched.costs_for(i))] = i
                on_event("start", i, "")
            if not running:
                break
            procs.update(getattr(pool, "_processes", None) or {})
            done, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
            drain()
            interrupts.check()
            for fut in sorted(done, key=lambda f: running[f]):
                try:
                    i, point, new = fut.result()
                except BrokenProcessPool:
                    raise _lost(sorted(running.values()), procs) from None
                del running[fut]
                sched.finished(i, new)
                on_done(i, point, new)
        ok = True
    finally:
        if ok:
            pool.shutdown(wait=True)
        else:
            kill_executor(pool)
        progress.close()
        progress.cancel_join_thread()


def _lost(indices: list[int], procs: dict[int, Any]) -> WorkerLost:
    import signal

    import time

    how = "ended abruptly"
    t0 = time.monotonic()  # the pool sees a death (its pipe closes) slightly before its exit code exists
    while not any(p.exitcode for p in procs.values()) and time.monotonic() - t0 < 1.0:
        for p in procs.values():
            p.join(timeout=0.02)
    # the executor terminates (SIGTERM) the other workers once one has died: name the first death
    codes = sorted((p.exitcode for p in procs.values() if p.exitcode), key=lambda c: c == -signal.SIGTERM)
    for code in codes:
        if code is not None and code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
            break
        if code:
            how = f"exited with code {code}"
            break
    which = ", ".join(str(i + 1) for i in indices)
    return WorkerLost(f"a worker process {how} (out of memory?) while running point(s) {which} of the sweep")


# -- dask --------------------------------------------------------------------------------------


def connect_dask(address: str):
    """A distributed.Client for `address`, or one clear error."""
    try:
        from distributed import Client
    except ImportError:
        raise EqvbenchError("--executor dask needs dask.distributed: pip install 'eqvbench[dask]'") from None
    import time

    t0 = time.monotonic()
    reach_scheduler(address)  # nothing listening: said now, with no Client left to linger
    try:
        left = max(1.0, DASK_CONNECT_TIMEOUT_S - (time.monotonic() - t0))
        return Client(address, timeout=left, set_as_default=False)
    except (OSError, TimeoutError) as e:
        reason = str(e).splitlines()[0] if str(e) else e.__class__.__name__
        raise EqvbenchError(
            f"--scheduler {address}: cannot reach the Dask scheduler within {DASK_CONNECT_TIMEOUT_S} s ({reason[:160]})"
        ) from None
    except ValueError as e:
        raise EqvbenchError(f"--scheduler {address}: not a Dask scheduler address ({e})") from None


def reach_scheduler(address: str, timeout: float | None = None) -> None:
    """A TCP connection to the scheduler's host and port (tcp://, tls://, ws://, wss://), closed at
    once; one-line EqvbenchError within `timeout` (DASK_CONNECT_TIMEOUT_S) when nothing listens there."""
    import socket

    try:
        import distributed  # noqa: F401 (absent: connect_dask says how to install it)
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError:
        return
    timeout = DASK_CONNECT_TIMEOUT_S if timeout is None else timeout
    try:
        scheme, loc = parse_address(address)
        if scheme not in ("tcp", "tls", "ws", "wss"):
            return
        host, port = parse_host_port(loc, 8786)
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except ValueError:
        return  # check_scheduler_address names what is wrong with it
    except OSError as e:
        reason = e.strerror or str(e) or e.__class__.__name__
        raise EqvbenchError(f"--scheduler {address}: cannot reach the Dask scheduler ({reason[:160]})") from None


def run_dask(spec, plans, sched: Scheduler, client, on_done: OnDone, on_event: OnEvent) -> None:
    """Points as tasks on the cluster. Cost searches with a wall-clock budget (`cost.max_time`),
    the large ones, are first run here with cotengra's hyper-optimiser spreading its trials
    over the same cluster; their points then get the cost like any follower."""
    from distributed import as_completed

    _search_costs_on_cluster(spec, plans, sched, client, on_event)
    payload = spec_payload(spec)
    token = os.urandom(4).hex()
    futures = []
    running: dict[str, int] = {}
    leading: dict[str, str] = {}  # future key -> cost key searched for that point
    ac = as_completed(loop=client.loop)

    def submit(i: int) -> None:
        k = sched.keys[i]
        leader = k is not None and k in sched.precomputed
        if leader:
            sched.precomputed.discard(k)
        fut = client.submit(
            run_in_worker, payload, i, sched.costs_for(i), leader, pure=False, key=f"eqvbench-point-{i}-{token}"
        )
        if leader:
            leading[fut.key] = k
        futures.append(fut)
        running[fut.key] = i
        ac.add(fut)
        on_event("start", i, "")

    try:
        while (i := sched.pop()) is not None:
            submit(i)
        while running:
            batch = ac.next_batch(block=False)
            if not batch:  # wait a little at a time: a Ctrl-C noted meanwhile is acted on here (eqvbench.interrupts)
                interrupts.check()
                threading.Event().wait(0.1)
                continue
            for fut in batch:
                i, point, new = fut.result()
                del running[fut.key]
                if fut.key in leading:  # the cost searched on the cluster is stored with its leader
                    k = leading.pop(fut.key)
                    new = {k: sched.cache[k], **new}
                sched.finished(i, new)
                on_done(i, point, new)
                while (j := sched.pop()) is not None:
                    submit(j)
    finally:
        for fut in futures:
            if not fut.done():
                fut.cancel()


def _search_costs_on_cluster(spec, plans, sched: Scheduler, client, on_event: OnEvent) -> None:
    import dataclasses

    from eqvbench.classical.cost import MemoryLimitError, contraction_cost, network_structure
    from eqvbench.errors import SpecError
    from eqvbench.families import get_family
    from eqvbench.pipeline import derive_seed, point_settings

    for key, i in sched.leaders().items():
        pp = plans[i]
        values = pp.point.values
        family = get_family(values["experiment"])
        if values["cost"]["max_time"] is None:
            continue  # trial budget: searched serially inside the point's task, reproducibly
        seed = values["seed"]
        on_event("progress", i, "cost search on the cluster")
        # as in pipeline.run_point: the first instance's network, seeded from the structure
        first = family.build(pp.lattice, values["circuit"], derive_seed(seed, "instance", pp.structure, 0))
        settings = point_settings(pp).cost
        inputs, output, sizes = network_structure(family.cost_network(first))
        try:
            cost = contraction_cost(inputs, output, sizes, dataclasses.replace(settings, parallel=client))
        except MemoryLimitError as e:
            raise SpecError(spec.file, "cost.memory_limit", str(e)) from None
        sched.cache[key] = cost
        sched.precomputed.add(key)
        for j in sched.waiting.pop(key, []):  # the points sharing it need not wait for the leader
            heapq.heappush(sched.ready, j)
