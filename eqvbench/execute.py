"""Running the points of a sweep: in this process, in a local process pool, or on a Dask cluster.

Every executor gives the same numbers. A point's seeds derive from the spec,
never from the order or the place it runs; the one thing points share is the
contraction cost of points with equal structure (`pipeline.cost_cache_key`).
That cost is searched once, by the first point of the sweep that needs it
(its *leader*, `cost_cached: false`); the points that share it wait for the
leader and then run anywhere with the leader's cost handed to them
(`cost_cached: true`), exactly as in a serial run. Costs already in the store
count as computed, so a resumed run reports what an uninterrupted one does.

Workers get the spec as its resolved JSON and rebuild the sweep themselves
(cached per process); a point comes back as its JSON, plus any cost it
computed. The caller commits each point as it arrives.
"""

from __future__ import annotations

import heapq
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eqvbench.errors import EqvbenchError

# on_done(index, point_json, new_costs)
OnDone = Callable[[int, dict[str, Any], dict[str, Any]], None]
# on_event(kind, index, message): kind is "start", "progress" or "done"
OnEvent = Callable[[str, int, str], None]

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
DASK_CONNECT_TIMEOUT_S = 10


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


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
        return {self.keys[i]: i for i in sorted(self.ready) if self.keys[i] is not None and self.keys[i] not in self.cache}

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


def spec_payload(spec) -> tuple[str, str]:
    """What a worker needs to rebuild the sweep: the spec file name and the resolved spec."""
    return spec.file, json.dumps(spec.resolved(), sort_keys=True)


def _worker_plans(payload: tuple[str, str]):
    hit = _WORKER_SPECS.get(payload[1])
    if hit is None:
        from eqvbench.pipeline import plan
        from eqvbench.spec import parse_spec

        spec = parse_spec(json.loads(payload[1]), payload[0])
        hit = (spec, plan(spec))
        _WORKER_SPECS.clear()
        _WORKER_SPECS[payload[1]] = hit
    return hit


def run_in_worker(payload: tuple[str, str], index: int, costs: dict[str, Any], leader: bool = False):
    """Run one point in a worker; returns (index, point JSON, costs it computed).

    Points run one at a time per process (cost searches seed Python's global
    `random`, so two at once in threads of one process would disturb each other).
    """
    with _WORKER_LOCK:
        spec, plans = _worker_plans(payload)
        cache = dict(costs)
        point, new = _point_json(spec, plans[index], cache)
    return index, (_mark_leader(point) if leader else point), new


def _init_pool_worker() -> None:
    import signal

    # the parent handles Ctrl-C and stops the workers; numerical libraries get one thread per worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in THREAD_ENV:
        os.environ[var] = "1"
    try:  # Linux: die with the parent (a SIGKILLed run leaves no workers computing)
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except Exception:
        pass


# -- local process pool ---------------------------------------------------------------------


def run_pool(spec, plans, sched: Scheduler, workers: int, on_done: OnDone, on_event: OnEvent) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    payload = spec_payload(spec)
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_pool_worker
    )
    running: dict[Any, int] = {}
    ok = False
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
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: running[f]):
                del running[fut]
                i, point, new = fut.result()
                sched.finished(i, new)
                on_done(i, point, new)
        ok = True
    finally:
        if ok:
            pool.shutdown(wait=True)
        else:
            _kill_pool(pool)


def _kill_pool(pool) -> None:
    """Stop at once: cancel what has not started, kill what runs (its points are lost, not wrong)."""
    pool.shutdown(wait=False, cancel_futures=True)
    kill = getattr(pool, "kill_workers", None)  # Python >= 3.14
    if kill is not None:
        kill()
        return
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            proc.kill()
        except Exception:
            pass


# -- dask --------------------------------------------------------------------------------------


def connect_dask(address: str):
    """A distributed.Client for `address`, or one clear error."""
    try:
        from distributed import Client
    except ImportError:
        raise EqvbenchError("--executor dask needs dask.distributed: pip install 'eqvbench[dask]'") from None
    try:
        return Client(address, timeout=DASK_CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as e:
        reason = str(e).splitlines()[0] if str(e) else e.__class__.__name__
        raise EqvbenchError(
            f"--scheduler {address}: cannot reach the Dask scheduler within {DASK_CONNECT_TIMEOUT_S} s ({reason[:160]})"
        ) from None
    except ValueError as e:
        raise EqvbenchError(f"--scheduler {address}: not a Dask scheduler address ({e})") from None


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
        fut = client.submit(run_in_worker, payload, i, sched.costs_for(i), leader, pure=False,
                            key=f"eqvbench-point-{i}-{token}")
        if leader:
            leading[fut.key] = k
        futures.append(fut)
        running[fut.key] = i
        ac.add(fut)
        on_event("start", i, "")

    try:
        while (i := sched.pop()) is not None:
            submit(i)
        for fut in ac:
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

    from eqvbench.cost import CostSettings, MemoryLimitError, contraction_cost, network_structure
    from eqvbench.errors import SpecError
    from eqvbench.families import get_family
    from eqvbench.pipeline import derive_seed

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
        settings = CostSettings.from_section(values["cost"], seed=derive_seed(seed, "cost", pp.structure))
        inputs, output, sizes = network_structure(family.cost_network(first))
        try:
            cost = contraction_cost(inputs, output, sizes, dataclasses.replace(settings, parallel=client))
        except MemoryLimitError as e:
            raise SpecError(spec.file, "cost.memory_limit", str(e)) from None
        sched.cache[key] = cost
        sched.precomputed.add(key)
        for j in sched.waiting.pop(key, []):  # the points sharing it need not wait for the leader
            heapq.heappush(sched.ready, j)
