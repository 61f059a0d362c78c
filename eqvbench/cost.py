"""Classical cost: cotengra hyper-optimised contraction of a tensor network.

Cost is counted on the network's structure only (index sizes). Every
multiply-add is counted, those of the structural pre-simplification included.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

# Sustained FLOP/s of the reference machines (FRAMEWORK.md, section 2).
REFERENCE_MACHINES: dict[str, float] = {
    "frontier": 1.1e18,  # HPL
    "a100": 1.95e13,  # one A100, FP32
    "h100": 6.7e13,  # one H100, FP32
}
FLOPS_PER_MULTIPLY_ADD = 8  # one complex multiply-add = 8 real floating-point operations
ITEMSIZE = {"complex64": 8, "complex128": 16}


class MemoryLimitError(ValueError):
    """The memory limit cannot hold one slice of the contraction."""


# Widest contraction eqvbench slices (log2 elements of its largest intermediate): past it the
# cost (at least 2^width multiply-adds) no longer fits in a float, and slicing it would take hours.
MAX_WIDTH_LOG2 = 900


def _default_methods() -> tuple[str, ...]:
    from eqvbench.spec import default_methods

    return tuple(default_methods())


def _width_log2(tree) -> float:
    """log2 of a tree's largest intermediate, exact for sizes far past a float's range."""
    return math.log2(tree.max_size())  # math.log2 takes Python ints of any size


@dataclass(frozen=True)
class CostSettings:
    """Search budget and limits for one cost computation."""

    max_repeats: int = 32
    max_time: float | None = None  # seconds; None: budget is max_repeats only (reproducible)
    search_max_tensors: int = 4000  # above (after simplification): no search, the in-order sweep
    cache_dir: str | None = None  # found trees are stored here, keyed by network and search settings
    methods: tuple[str, ...] = field(default_factory=lambda: _default_methods())
    optlib: str = "optuna"
    minimize: str = "flops"
    memory_limit: int | None = 16 * 2**30  # bytes; None: no limit, no slicing
    dtype: str = "complex64"
    simplify: str = "rank"
    seed: int = 0
    machines: dict[str, float] = field(default_factory=lambda: dict(REFERENCE_MACHINES))
    # None: serial trials (reproducible); an int: that many local processes (cost.processes);
    # a distributed.Client: the hyper-optimiser runs its trials on that cluster (eqvbench.execute
    # sets it for time-budgeted searches only, whose results depend on the machine anyway)
    parallel: Any = None

    @classmethod
    def from_section(cls, section: dict[str, Any], seed: int) -> CostSettings:
        return cls(
            max_repeats=section["max_repeats"],
            search_max_tensors=section["search_max_tensors"],
            cache_dir=default_cache_dir() if section["cache"] else None,
            max_time=section["max_time"],
            methods=tuple(section["methods"]),
            optlib=section["optlib"],
            minimize=section["minimize"],
            memory_limit=section["memory_limit"],
            dtype=section["dtype"],
            simplify=section["simplify"],
            seed=seed,
            machines={**REFERENCE_MACHINES, **section.get("machines", {})},
            parallel=section["processes"] if section.get("processes", 1) > 1 else None,
        )

    @property
    def target_size(self) -> int:
        """Largest intermediate tensor allowed, in elements."""
        if self.memory_limit is None:
            return math.inf
        return self.memory_limit // ITEMSIZE[self.dtype]

    def budget(self) -> dict[str, Any]:
        out = {
            "max_repeats": self.max_repeats,
            "search_max_tensors": self.search_max_tensors,
            "max_time_s": self.max_time,
            "methods": list(self.methods),
            "optlib": self.optlib,
            "minimize": self.minimize,
        }
        if isinstance(self.parallel, int):
            out["processes"] = self.parallel
        elif self.parallel is not None:
            out["parallel"] = "dask"
        return out


@dataclass(frozen=True)
class CostResult:
    """Cost of one contraction, summed over slices."""

    multiply_adds: float
    cost_flops: float
    cost_log10: float
    width_log2: float  # log2 of the largest intermediate (elements), per slice
    width_log2_unsliced: float
    n_slices: int
    sliced_inds: int
    n_tensors: int
    search_seconds: float
    budget: dict[str, Any]
    seconds_on: dict[str, float]
    cached: bool = False  # read from the tree cache (search_seconds is the original search's)

    def to_json(self) -> dict[str, Any]:
        return {
            "cached": self.cached,
            "multiply_adds": self.multiply_adds,
            "n_slices": self.n_slices,
            "sliced_inds": self.sliced_inds,
            "width_log2_unsliced": self.width_log2_unsliced,
            "n_tensors": self.n_tensors,
            "search_seconds": round(self.search_seconds, 3),
            "budget": self.budget,
        }


def network_structure(tn) -> tuple[list[tuple[str, ...]], tuple[str, ...], dict[str, int]]:
    """(inputs, output, size_dict) of a quimb TensorNetwork: its structure only."""
    from collections import Counter

    inputs = [tuple(t.inds) for t in tn]
    counts = Counter(ix for inds in inputs for ix in inds)
    # indices on one tensor only are open; an index on three or more is a hyper-index (contracted)
    output = tuple(ix for inds in inputs for ix in inds if counts[ix] == 1)
    return inputs, output, dict(tn.ind_sizes())


def _size(inds, size_dict) -> int:
    return math.prod(size_dict[i] for i in inds)


def structural_simplify(inputs, output, size_dict) -> tuple[list[tuple[str, ...]], float, int]:
    """Contract neighbouring tensors wherever the result is no larger than the larger of the two.

    Looks at index sizes only, never at values (so the cost cannot depend on
    lucky gate values). Absorbs single-qubit gates, boundary vectors and
    repeated gates on the same pair. Returns the reduced inputs, the
    multiply-adds these contractions take (counted in the cost), and how many
    contractions were made.
    """
    out = set(output)
    tensors = {i: tuple(inds) for i, inds in enumerate(inputs)}
    where: dict[str, set[int]] = {}
    for t, inds in tensors.items():
        for ix in inds:
            where.setdefault(ix, set()).add(t)
    madds, n_done, next_id = 0.0, 0, len(tensors)
    changed = True
    while changed:
        changed = False
        for a in sorted(tensors, key=lambda t: (_size(tensors[t], size_dict), t)):
            if a not in tensors:
                continue
            ia = tensors[a]
            best = None
            for b in sorted({b for ix in ia for b in where[ix]} - {a}):
                ib = tensors[b]
                union = list(dict.fromkeys(ia + ib))
                keep = tuple(ix for ix in union if ix in out or where[ix] - {a, b})
                if _size(keep, size_dict) <= max(_size(ia, size_dict), _size(ib, size_dict)):
                    cand = (_size(union, size_dict), b, keep)
                    best = cand if best is None or cand[:2] < best[:2] else best
            if best is None:
                continue
            cost, b, keep = best
            for t in (a, b):
                for ix in tensors.pop(t):
                    where[ix].discard(t)
            tensors[next_id] = keep
            for ix in keep:
                where[ix].add(next_id)
            next_id += 1
            madds += cost
            n_done += 1
            changed = True
    return list(tensors.values()), madds, n_done


def contraction_cost(inputs, output, size_dict, settings: CostSettings, progress=None) -> CostResult:
    """Hyper-optimise a contraction tree, slice it to the memory limit, and count its cost.

    With `settings.cache_dir` set, the tree found is stored there keyed by the
    network's structure and the search settings; a later call with the same key
    rebuilds the tree from the stored path, checks its cost, and returns at once
    (`cached=True`). `progress(message)`, if given, hears the best cost so far
    during the search.
    """
    key = _cache_key(inputs, output, size_dict, settings) if settings.cache_dir else None
    if key is not None:
        hit = _cache_load(key, inputs, output, size_dict, settings)
        if hit is not None:
            return hit
    result, tree, on_raw, pre_madds = _contraction_cost(inputs, output, size_dict, settings, progress)
    if key is not None and tree is not None:
        _cache_store(key, inputs, output, result, tree, on_raw, pre_madds, settings)
    return result


CACHE_VERSION = 1


def default_cache_dir() -> str:
    """$EQVBENCH_CACHE_DIR, else $XDG_CACHE_HOME/eqvbench/trees, else ~/.cache/eqvbench/trees."""
    import os

    if os.environ.get("EQVBENCH_CACHE_DIR"):
        return os.environ["EQVBENCH_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "eqvbench", "trees")


def _canonical(inputs, output) -> dict[str, str]:
    """Index names by order of first appearance: quimb names indices at random, the structure is what counts."""
    names: dict[str, str] = {}
    for ix in [ix for t in inputs for ix in t] + list(output):
        names.setdefault(ix, f"i{len(names)}")
    return names


def _cache_key(inputs, output, size_dict, settings: CostSettings) -> str:
    import hashlib
    import json

    from eqvbench import __version__

    c = _canonical(inputs, output)
    blob = json.dumps({
        "v": CACHE_VERSION, "eqvbench": __version__, "engine": _engine_fingerprint(), "inputs": [[c[ix] for ix in t] for t in inputs],
        "output": [c[ix] for ix in output], "sizes": sorted((c[ix], d) for ix, d in size_dict.items() if ix in c),
        "budget": settings.budget(), "seed": settings.seed,
        "memory_limit": settings.memory_limit, "dtype": settings.dtype, "simplify": settings.simplify,
    }, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _engine_fingerprint() -> str:
    """Hash of this module's source and cotengra's version: a change to the search invalidates old trees."""
    import hashlib

    import cotengra

    with open(__file__, "rb") as f:
        return hashlib.sha256(f.read() + cotengra.__version__.encode()).hexdigest()[:16]


def _cache_load(key, inputs, output, size_dict, settings: CostSettings) -> CostResult | None:
    """The stored result if its tree rebuilds to the same cost; None on a miss or a stale entry."""
    import json
    import os

    import cotengra as ctg

    path = os.path.join(settings.cache_dir, f"{key}.json")
    try:
        with open(path) as f:
            entry = json.load(f)
        tree_inputs, pre = inputs, 0.0
        if not entry["on_raw"] and settings.simplify == "rank":
            tree_inputs, pre, _ = structural_simplify(inputs, output, size_dict)
        if not math.isclose(pre, entry["pre_madds"], rel_tol=1e-9, abs_tol=1e-9):
            return None
        tree = ctg.ContractionTree.from_path(tree_inputs, output, size_dict, path=[tuple(p) for p in entry["path"]])
        actual = {v: k for k, v in _canonical(inputs, output).items()}
        for ix in entry["sliced_inds"]:
            tree.remove_ind_(actual[ix])
        madds = entry["pre_madds"] + float(tree.contraction_cost())
        res = entry["result"]
        if not math.isclose(madds, res["multiply_adds"], rel_tol=1e-9) or tree.multiplicity != res["n_slices"]:
            return None
        if math.log2(tree.max_size()) > res["width_log2"] + 1e-9:
            return None
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None  # a missing, unreadable or foreign file is a miss, never an error
    return CostResult(**{**res, "seconds_on": {m: res["cost_flops"] / r for m, r in settings.machines.items()},
                         "cached": True})


def _cache_store(key, inputs, output, result: CostResult, tree, on_raw: bool, pre_madds: float,
                 settings: CostSettings) -> None:
    import dataclasses
    import json
    import os
    from pathlib import Path

    from eqvbench.io import write_atomic

    canon = _canonical(inputs, output)
    try:
        os.makedirs(settings.cache_dir, exist_ok=True)
        res = {k: v for k, v in dataclasses.asdict(result).items() if k not in ("seconds_on", "cached")}
        entry = {"version": CACHE_VERSION, "result": res, "path": [list(p) for p in tree.get_path()],
                 "sliced_inds": [canon[ix] for ix in tree.sliced_inds], "on_raw": on_raw, "pre_madds": pre_madds}
        write_atomic(Path(settings.cache_dir) / f"{key}.json", json.dumps(entry))
    except OSError:
        pass  # an unwritable cache costs a search next time, nothing else


def _contraction_cost(inputs, output, size_dict, settings: CostSettings, progress=None):
    """(result, final tree or None, whether the tree is on the raw inputs, pre-simplification madds).

    The search optimises unsliced trees; the best one is then sliced and
    reconfigured (interleaved) until its largest intermediate fits. With
    `max_time=None` the budget is `max_repeats` trials, run serially from the
    seed, so the same spec gives the same tree; a time limit makes the number
    of trials, and so the result, depend on the machine's speed.
    """
    t0 = time.perf_counter()
    pre_madds = 0.0
    # simplification never builds a tensor larger than the largest input
    input_width = math.log2(max((_size(i, size_dict) for i in inputs), default=1))
    if input_width > math.log2(settings.target_size):  # slices are cut from stored input tensors
        raise MemoryLimitError(_limit_message(settings, input_width))
    raw_inputs = inputs
    if settings.simplify == "rank":
        inputs, pre_madds, _ = structural_simplify(inputs, output, size_dict)
    if len(inputs) <= 1:  # nothing left to search: the simplification did it all
        width = input_width
        return _result(pre_madds, width, width, 1, 0, len(inputs), time.perf_counter() - t0, settings, "none"), None, False, pre_madds

    raw = inputs if settings.simplify != "rank" else raw_inputs
    if len(inputs) > settings.search_max_tensors:
        # Trial trees of networks this large can take minutes each (greedy and kahypar alike):
        # cost the in-order sweep only, and say so in the budget.
        linear = _linear_tree(raw, output, size_dict)
        tree = _slice_to_fit(linear, settings)
        if tree.max_size() > settings.target_size:
            raise MemoryLimitError(_limit_message(settings, math.log2(tree.max_size())))
        return _result(float(tree.contraction_cost()), max(math.log2(tree.max_size()), input_width),
                       max(math.log2(linear.max_size()), input_width), int(tree.multiplicity),
                       len(tree.sliced_inds), len(inputs), time.perf_counter() - t0, settings,
                       search="linear (not searched: more tensors than search_max_tensors)"), tree, True, 0.0
    with _seeded_python_random(settings.seed), _serial_auto_parallel():
        tree, width_unsliced = _search(inputs, output, size_dict, settings, progress)
    search = "optimal" if len(inputs) <= OPTIMAL_MAX_TENSORS else "hyper"
    madds = pre_madds + float(tree.contraction_cost())
    on_raw = False
    if search == "hyper":
        # A baseline the search must beat: contract in the network's own order. For a circuit's
        # network built in time order this is a state-vector sweep, whose cost a small search
        # budget on a large network (thousands of tensors) can fail to reach.
        linear = _linear_tree(raw, output, size_dict)
        try:
            sliced = _slice_to_fit(linear, settings)  # compared as it would run: sliced to the same limit
        except MemoryLimitError:
            sliced = None  # the sweep is too wide to count: the searched tree stands
        if sliced is not None and float(sliced.contraction_cost()) < madds:
            width_unsliced = math.log2(linear.max_size())
            tree, search, pre_madds, on_raw = sliced, "linear", 0.0, True
            madds = float(tree.contraction_cost())
    if tree.max_size() > settings.target_size:
        raise MemoryLimitError(_limit_message(settings, math.log2(tree.max_size())))
    result = _result(
        madds,
        max(math.log2(tree.max_size()), input_width),
        max(width_unsliced, input_width),
        int(tree.multiplicity),
        len(tree.sliced_inds),
        len(inputs),
        time.perf_counter() - t0,
        settings,
        search=search,
    )
    return result, tree, on_raw, pre_madds


def _linear_tree(inputs, output, size_dict):
    """The tree that absorbs the tensors one by one in the given order."""
    import cotengra as ctg

    path = [(0, 1)] + [(0, k) for k in range(len(inputs) - 2, 0, -1)]
    return ctg.ContractionTree.from_path(inputs, output, size_dict, path=path)


@contextlib.contextmanager
def _seeded_python_random(seed: int):
    """cotengra and kahypar draw from Python's global `random`: seed it, then restore it."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


@contextlib.contextmanager
def _serial_auto_parallel():
    """Keep cotengra's `parallel="auto"` serial during the search.

    kahypar trials build sub-paths with cotengra's random-greedy optimiser,
    whose "auto" default starts a process pool sized by the machine's cores
    (or OMP_NUM_THREADS) and splits its trials into one seeded batch per pool
    worker: the tree then depends on the machine, and the pool's processes
    keep an eqvbench worker process from exiting. cotengra keeps "auto" serial
    inside its own workers by this flag; set it for the search, then restore it.
    """
    import cotengra.parallel as par

    was = getattr(par, "_IS_WORKER", False)
    par._IS_WORKER = True
    try:
        yield
    finally:
        par._IS_WORKER = was


# Up to this many tensors (after simplification) the exhaustive dynamic-programming
# search is both faster than the hyper-optimiser and provably optimal.
OPTIMAL_MAX_TENSORS = 12
# Subtree reconfiguration is pure Python: past this many tensors it costs more than the search.
RECONF_MAX_TENSORS = 3000
# Share of a time budget (cost.max_time) kept for forest reconfiguration of the best tree.
FOREST_SHARE = 1 / 3
SLICE_RECONF_MAX_BITS = 40


def _search_reporting(opt, inputs, output, size_dict, progress):
    """opt.search, with the best cost so far passed to `progress` twice a second (from a thread)."""
    import threading

    if progress is None:
        return opt.search(inputs, output, size_dict)
    done = threading.Event()
    t0 = time.perf_counter()

    def report():
        while not done.wait(0.5):
            best = opt.best.get("flops", math.inf)  # multiply-adds of the best trial so far
            if math.isfinite(best) and best > 0:
                progress(f"cost search: {len(opt.scores)} trials, best 10^{math.log10(best):.2f} madds, "
                         f"{time.perf_counter() - t0:.0f} s")

    th = threading.Thread(target=report, daemon=True)
    th.start()
    try:
        return opt.search(inputs, output, size_dict)
    finally:
        done.set()
        th.join()


def _search(inputs, output, size_dict, settings: CostSettings, progress=None):
    import cotengra as ctg

    if len(inputs) <= OPTIMAL_MAX_TENSORS:
        from cotengra.pathfinders.path_basic import optimize_optimal

        path = optimize_optimal(inputs, output, size_dict, minimize="flops")
        tree = ctg.ContractionTree.from_path(inputs, output, size_dict, path=path)
        return _slice_to_fit(tree, settings), math.log2(tree.max_size())

    deadline = time.perf_counter() + settings.max_time if settings.max_time is not None else None
    forest = deadline is not None and len(inputs) <= RECONF_MAX_TENSORS
    opt = ctg.HyperOptimizer(
        methods=list(settings.methods),
        max_repeats=settings.max_repeats,
        max_time=settings.max_time * (1 - FOREST_SHARE) if forest else settings.max_time,
        minimize=settings.minimize,
        optlib=settings.optlib,
        parallel=settings.parallel if settings.parallel is not None else False,
        reconf_opts=None,
        optlib_opts=_optlib_seed(settings.optlib, settings.seed),
        progbar=False,
    )
    tree = _search_reporting(opt, inputs, output, size_dict, progress)
    if len(inputs) <= RECONF_MAX_TENSORS:
        if progress:
            progress(f"cost: subtree reconfiguration of the best tree (10^{math.log10(tree.contraction_cost()):.2f} madds)")
        tree = tree.subtree_reconfigure(minimize=settings.minimize)
        if forest:
            tree = _forest_until(tree, deadline, settings, progress)
    return _slice_to_fit(tree, settings), math.log2(tree.max_size())


def _forest_until(tree, deadline: float, settings: CostSettings, progress=None):
    """Forest subtree reconfiguration of the best tree (cotengra's `subtree_reconfigure_forest`,
    seeded, in the search's local processes) in rounds until the time budget is spent; each
    round starts from the best tree so far and never returns a worse one.
    """
    step = 0
    while True:
        t = time.perf_counter()
        if t >= deadline:
            return tree
        tree = tree.subtree_reconfigure_forest(
            num_trees=8, num_restarts=2, minimize=settings.minimize, seed=settings.seed + step,
            parallel=settings.parallel if isinstance(settings.parallel, int) else False)
        step += 1
        took = time.perf_counter() - t
        if progress:
            progress(f"cost: forest reconfiguration round {step}, 10^{math.log10(tree.contraction_cost()):.2f} madds")
        if time.perf_counter() + took > deadline:  # another round would overrun the budget
            return tree


def _slice_to_fit(tree, settings: CostSettings):
    """Slice and reconfigure (interleaved, coarse steps keep it to seconds) until the tree fits.

    Trees that need more than SLICE_RECONF_MAX_BITS of slicing (a sign that the
    search found no good tree) are sliced without reconfiguration, which is
    fast but leaves a looser upper bound.
    """
    width = _width_log2(tree)
    if width > MAX_WIDTH_LOG2:
        raise MemoryLimitError(
            f"the best contraction tree found has a largest tensor of 2^{width:.0f} elements, past the "
            f"2^{MAX_WIDTH_LOG2} eqvbench can slice and count (its cost would exceed 10^{MAX_WIDTH_LOG2 * 0.301:.0f} "
            "FLOP): take a smaller lattice or fewer cycles")
    if tree.max_size() <= settings.target_size:
        return tree
    if width - math.log2(settings.target_size) > SLICE_RECONF_MAX_BITS or tree.N > RECONF_MAX_TENSORS:
        return tree.slice(target_size=settings.target_size)
    return tree.slice_and_reconfigure(
        settings.target_size, step_size=4, minimize=settings.minimize, reconf_opts={"subtree_size": 6}
    )


def _optlib_seed(optlib: str, seed: int) -> dict[str, Any]:
    """Seed the hyper-optimiser's own sampler (each optlib names it differently)."""
    if optlib == "optuna":
        return {"sampler_opts": {"seed": seed}}
    return {"seed": seed}


def _limit_message(settings: CostSettings, width: float) -> str:
    return (
        f"{settings.memory_limit} bytes ({settings.target_size} {settings.dtype} elements) "
        f"cannot hold one slice: the largest tensor of the smallest slice found has 2^{width:.1f} elements"
    )


def _result(madds, width, width_unsliced, n_slices, n_sliced, n_tensors, seconds, settings, search) -> CostResult:
    """`search`: 'hyper' (cotengra hyper-optimiser, an upper bound), 'optimal' (exhaustive), 'none',
    'linear' (the in-order sweep beat the search), 'linear (not searched: ...)'."""
    flops = FLOPS_PER_MULTIPLY_ADD * madds
    budget = {"search": search, **settings.budget()} if search == "hyper" or search.startswith("linear") else {"search": search}
    return CostResult(
        multiply_adds=madds,
        cost_flops=flops,
        cost_log10=math.log10(flops) if flops > 0 else 0.0,
        width_log2=width,
        width_log2_unsliced=width_unsliced,
        n_slices=n_slices,
        sliced_inds=n_sliced,
        n_tensors=n_tensors,
        search_seconds=seconds,
        budget=budget,
        seconds_on={m: flops / rate for m, rate in settings.machines.items()},
    )
