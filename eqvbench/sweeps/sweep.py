"""Running a sweep: the library behind `eqvbench run` and :func:`eqvbench.run`.

:func:`load` turns a spec given as a path, a YAML string or a dict into a
:class:`~eqvbench.spec.Spec`; :class:`Sweep` runs its points (reusing those a
result store holds, on the executor asked for: this process, a local process
pool or a Dask cluster) and collects them into :class:`~eqvbench.output.results.Results`,
whose `document` is the JSON document `eqvbench run --out` writes. Nothing
here prints: what happens is reported through an `on_event(kind, index,
message)` callback (:data:`EVENT_KINDS`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from eqvbench import interrupts
from eqvbench.errors import EqvbenchError, SpecError

NOTHING_SAVED = "nothing written"

# on_event(kind, index, message); index is -1 for events of the whole sweep
OnEvent = Callable[[str, int, str], None]
EVENT_KINDS = {
    "note": "something the user should know (a shipped example used, damaged store rows, points reused)",
    "planned": "the points to compute and the workers are decided (Sweep.pending, Sweep.n_workers)",
    "compiling": "the numba code the points run is compiled once before they start (first run only)",
    "running": "the pending points start running",
    "start": "point `index` started",
    "progress": "point `index` reached a stage (`message`: 'simulating ...', 'cost search ...')",
    "done": "point `index` finished (and, with a store, was committed): Sweep.points[index]",
}
EXECUTORS = ("local", "dask")


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM turned into it) during a sweep; `saved` says what the store kept."""

    def __init__(self, saved: str = NOTHING_SAVED):
        super().__init__(saved)
        self.saved = saved


# -- the spec --------------------------------------------------------------------------------


def shipped_configs_dir() -> Path:
    """The example specs shipped with eqvbench."""
    from importlib.resources import files

    return Path(str(files("eqvbench") / "configs"))


def find_spec_file(arg: str | os.PathLike) -> tuple[Path, bool]:
    """A spec file path as given, else the shipped example of that bare name; (path, shipped)."""
    text = os.fspath(arg)
    path = Path(text)
    if path.is_file():
        return path, False
    if path.name == text:  # bare name: look among the shipped examples
        for name in (text, f"{text}.yaml"):
            shipped = shipped_configs_dir() / name
            if shipped.is_file():
                return shipped, True
    if path.exists():
        raise SpecError(text, None, "is not a file")
    raise SpecError(text, None, "file not found (shipped examples: `eqvbench configs`)")


def _is_yaml_text(text: str) -> bool:
    """A spec string is YAML text (not a file name) when it spans lines or holds a mapping's ': '
    (or is a flow mapping `{...}`); anything else is looked up as a file."""
    s = text.strip()
    return "\n" in s or ": " in s or (s.startswith("{") and s.endswith("}"))


def load(spec: Any, on_event: OnEvent | None = None):
    """A validated, expanded :class:`~eqvbench.spec.Spec` from `spec`.

    Parameters
    ----------
    spec : Spec, str, os.PathLike or Mapping
        A loaded spec; a path (a bare name that is no file here, e.g. ``"rcs.yaml"``, names a
        shipped example); a YAML string (one with a line break or a ``key: value``); or the
        spec as a dict, as YAML would give it.
    on_event : callable, optional
        Told ("note", -1, text) when a shipped example is used.

    Raises
    ------
    SpecError
        One line naming the file (``<string>`` or ``<dict>`` for specs not read from a file) and
        the field.
    """
    import copy

    from eqvbench.output.checks import validate_checks
    from eqvbench.spec import Spec, load_spec, parse_spec, parse_yaml

    if isinstance(spec, Spec):
        loaded = spec
    elif isinstance(spec, Mapping):
        loaded = parse_spec(copy.deepcopy(dict(spec)), "<dict>")
    elif isinstance(spec, str) and _is_yaml_text(spec):
        loaded = parse_spec(parse_yaml(spec, "<string>"), "<string>")
    elif isinstance(spec, (str, os.PathLike)):
        path, shipped = find_spec_file(spec)
        if shipped and on_event is not None:
            on_event("note", -1, f"{os.fspath(spec)} is not a file here; using shipped example {path}")
        loaded = load_spec(path)
    else:
        raise SpecError(f"<{type(spec).__name__}>", None, "a spec is a file path, a YAML string or a dict")
    validate_checks(loaded)
    return loaded


def default_store(spec) -> Path | None:
    """`<spec stem>.eqvdb` in the current directory for a spec read from a file (None otherwise)."""
    from eqvbench.sweeps.store import default_store_path

    return None if spec.file.startswith("<") else default_store_path(spec.file)


# -- options ---------------------------------------------------------------------------------


def check_options(executor: str, workers: int | None, scheduler: str | None) -> None:
    """Refuse executor settings that do not go together (EqvbenchError, one line)."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise EqvbenchError(f"workers={workers!r}: must be an integer of at least 1")
    if executor not in EXECUTORS:
        raise EqvbenchError(f"executor={executor!r}: must be 'local' or 'dask'")
    if executor == "dask" and not scheduler:
        raise EqvbenchError("executor='dask' needs scheduler= the Dask scheduler's address, e.g. tcp://host:8786")
    if executor == "dask" and workers is not None:
        raise EqvbenchError("workers= applies to executor='local'; the Dask cluster has its own workers")
    if scheduler and executor != "dask":
        raise EqvbenchError("scheduler= is used with executor='dask' only")
    if scheduler:
        check_scheduler_address(scheduler, f"scheduler={scheduler!r}")


def check_scheduler_address(address: str, where: str | None = None) -> None:
    """Refuse a malformed scheduler address before a Client is made: a Client that fails to parse
    its address lingers and blocks the exit for 20 s."""
    try:
        from distributed.comm import registry
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError:
        return  # connect_dask says how to install dask.distributed

    try:
        scheme, loc = parse_address(address)
        if scheme not in registry.backends:  # a Client would fail on it, then linger 20 s in its __del__
            known = ", ".join(f"{b}://" for b in registry.backends if b != "inproc")
            raise ValueError(f"unknown scheme {scheme}://; Dask's are {known}")
        if scheme in ("tcp", "tls", "ws", "wss"):
            parse_host_port(loc)
    except ValueError as e:
        raise EqvbenchError(f"{where or f'--scheduler {address}'}: not a Dask scheduler address ({e})") from None


# -- the sweep -------------------------------------------------------------------------------


class Sweep:
    """One run of a spec's points.

    Parameters
    ----------
    spec : Spec
        A loaded spec (:func:`load`).
    store : path, optional
        Result store (SQLite): points found there are reused, computed ones committed as they
        finish. None: no store.
    executor : {'local', 'dask'}
        'local': this process or a process pool of `workers`; 'dask': the cluster at `scheduler`.
    workers : int, optional
        Local worker processes; default: the cores, or 1 when the sweep would not pay for a pool.
    scheduler : str, optional
        Dask scheduler address (executor 'dask').
    on_event : callable, optional
        ``on_event(kind, index, message)``, kinds in :data:`EVENT_KINDS`; it may read this
        object's attributes (`plans`, `pending`, `n_workers`, `points`, ...).

    Attributes
    ----------
    saved : str
        What an interruption leaves: 'nothing written' or 'k of n point(s) saved in STORE; ...'.
    """

    def __init__(
        self,
        spec,
        *,
        store: str | os.PathLike | None = None,
        executor: str = "local",
        workers: int | None = None,
        scheduler: str | None = None,
        on_event: OnEvent | None = None,
    ):
        check_options(executor, workers, scheduler)
        self.spec = spec
        self.store_path = None if store is None else Path(store)
        self.executor = executor
        self.workers = workers
        self.scheduler = scheduler
        told: OnEvent = on_event or (lambda kind, index, message: None)

        def emit(kind: str, index: int, message: str) -> None:
            told(kind, index, message)
            interrupts.check()  # every event is a safe point for a Ctrl-C noted meanwhile

        self._emit: OnEvent = emit
        self.saved = NOTHING_SAVED
        self.plans: list = []
        self.points: list[dict[str, Any] | None] = []
        self.pending: list[int] = []
        self.n_reused = 0
        self.n_done = 0
        self.n_workers = 1

    @property
    def parallel(self) -> bool:
        """Whether points run side by side (a pool of several workers, or a Dask cluster)."""
        return self.executor == "dask" or (self.n_workers > 1 and len(self.pending) > 1)

    @property
    def how(self) -> str:
        """Where the points ran, in words: 'in this process', 'with 4 workers', 'on the Dask cluster at ...'."""
        if self.executor == "dask":
            return f"on the Dask cluster at {self.scheduler}"
        return f"with {self.n_workers} workers" if self.parallel else "in this process"

    def run(self):
        """Run the sweep; returns :class:`~eqvbench.output.results.Results`.

        Raises SweepInterrupted (a KeyboardInterrupt) on Ctrl-C, and WorkerLost when a pool
        worker dies; both say what the store kept.
        """
        from eqvbench.sweeps.execute import WorkerLost

        try:
            with interrupts.deferred():  # the signal is noted, and raised at a safe point (eqvbench.interrupts)
                return self._run()
        except WorkerLost as e:
            if self.saved != NOTHING_SAVED:
                raise WorkerLost(f"{e}; {self.saved}") from None
            raise
        except SweepInterrupted:
            raise
        except KeyboardInterrupt:
            raise SweepInterrupted(self.saved) from None

    def _run(self):
        from eqvbench.sweeps.estimate import check_memory
        from eqvbench.sweeps.execute import Scheduler, choose_workers, connect_dask, run_dask, run_pool, run_serial
        from eqvbench.pipeline import cost_cache_key, plan, to_document
        from eqvbench.sweeps.provenance import code_identity, point_identity
        from eqvbench.output.results import Results
        from eqvbench.sweeps.store import Store, point_key

        spec, emit = self.spec, self._emit
        self.saved = NOTHING_SAVED
        plans = self.plans = plan(spec)
        local = self.executor == "local"
        fit_workers = check_memory(spec, plans, self.workers or (os.cpu_count() or 1)) if local else None
        store = None if self.store_path is None else Store(self.store_path)
        client = connect_dask(self.scheduler) if not local else None
        t_start = time.perf_counter()
        try:
            identity = code_identity()
            keys = [point_key(pp.point.values, point_identity(pp.point.values)) for pp in plans]
            header = to_document(spec, [])
            header.pop("points")
            points: list[dict | None] = [None] * len(plans)
            self.points = points
            cost_keys = {
                i: (cost_cache_key(pp) if pp.point.values["cost"]["enabled"] else None) for i, pp in enumerate(plans)
            }
            cache = {} if store is None else self._reuse(store, keys, cost_keys, identity, header)
            pending = self.pending = [i for i, p in enumerate(points) if p is None]
            n_reused = self.n_reused = len(plans) - len(pending)
            if n_reused:
                emit("note", -1, f"reusing {n_reused} of {len(plans)} point(s) finished earlier in {store.path}")
            sched = Scheduler.build(pending, cost_keys, cache)
            n_workers = (
                1
                if not local
                else min(self.workers or choose_workers(plans, pending, cost_keys, cache), max(1, len(pending)))
            )
            if fit_workers is not None:  # no more points side by side than this machine's memory holds
                n_workers = min(n_workers, fit_workers)
            self.n_workers = n_workers
            emit("planned", -1, "")

            def on_done(i: int, point: dict, new_costs: dict) -> None:
                points[i] = point
                if store is not None:
                    store.commit_point(keys[i], point["experiment"], point, new_costs)
                    self.saved = (
                        f"{n_reused + self.n_done + 1} of {len(plans)} point(s) saved in {store.path}; "
                        "run again to finish the sweep"
                    )
                self.n_done += 1
                emit("done", i, "")

            if local and pending:
                _compile_kernels(plans, pending, emit)
            emit("running", -1, "")
            if client is not None:
                run_dask(spec, plans, sched, client, on_done, emit)
            elif n_workers > 1 and len(pending) > 1:
                run_pool(spec, plans, sched, n_workers, on_done, emit)
            else:
                run_serial(spec, plans, sched, on_done, emit)
            if store is not None:
                store.finish_run(n_reused)
        finally:
            if store is not None:
                store.close()
            if client is not None:
                client.close()
        return Results(
            _document(spec, header, points, store, n_reused, len(pending), t_start),
            spec=spec,
            n_reused=n_reused,
            n_computed=len(pending),
            how=self.how,
            store=None if store is None else store.path,
            saved=self.saved,
        )

    def _reuse(self, store, keys: list[str], cost_keys: dict, identity, header: dict[str, Any]) -> dict:
        """Fill `points` with those `store` finished earlier (`keys`: the points' store keys), start the
        run in it, and return the cost searches it holds for `cost_keys`."""
        from eqvbench.sweeps.store import reuse_point

        plans, points = self.plans, self.points
        stored = store.finished(keys)
        for i, k in enumerate(keys):
            if k in stored:
                points[i] = reuse_point(stored[k], plans[i].point.values, plans[i].point.params)
        cache = store.costs(sorted({k for k in cost_keys.values() if k is not None}), identity)
        store.begin_run(identity, self.spec.file, header, [(k, pp.point.params) for k, pp in zip(keys, plans)])
        if store.damaged:
            self._emit("note", -1, f"{store.path}: {store.damaged} stored row(s) damaged: computing them again")
        return cache


def _compile_kernels(plans: list, pending: list[int], emit: OnEvent) -> None:
    """Compile the numba kernels the pending points run and the disk cache lacks, once here, so that every
    worker loads them from disk."""
    from eqvbench.sweeps.execute import kernels_needed

    needed = kernels_needed(plans, pending)
    if needed:
        from eqvbench.simulation import kernels

        todo = kernels.missing(needed)
        if todo:
            emit("compiling", -1, "compiling kernels (first run only)")
            kernels.warm_up_sets(todo)


def _document(
    spec, header: dict[str, Any], points: list, store, n_reused: int, n_computed: int, t_start: float
) -> dict[str, Any]:
    """The sweep's JSON document: `header` and the points, the fits across them, the wall time since
    `t_start`, the store's run and the spec's checks."""
    from eqvbench.output.checks import evaluate
    from eqvbench.pipeline import summarize

    doc = {**header, "points": points}
    fit = summarize(spec.experiments, points)  # fits across points: only now are they all known
    doc.pop("summary", None)
    if fit is not None:
        doc["summary"] = fit
    doc["wall_seconds"] = round(time.perf_counter() - t_start, 3)
    if store is not None:
        doc["store"] = {"path": str(store.path), "run": store.run_id, "reused": n_reused, "computed": n_computed}
    checks = spec.model.checks
    check_rows = evaluate(checks, points) if checks else []
    if checks:
        doc["checks"] = check_rows
        doc["checks_passed"] = all(r["passed"] for r in check_rows)
    return doc


def run_sweep(
    spec: Any,
    *,
    store: str | os.PathLike | None = None,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    on_event: OnEvent | None = None,
):
    """Load `spec` (:func:`load`) and run its sweep (:class:`Sweep`); returns Results."""
    options = dict(executor=executor, workers=workers, scheduler=scheduler)
    check_options(**options)
    return Sweep(load(spec, on_event), store=store, on_event=on_event, **options).run()
