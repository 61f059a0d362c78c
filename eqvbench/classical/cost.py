"""Classical cost: cotengra hyper-optimised contraction of a tensor network.

Cost is counted on the network's structure only (index sizes). Every
multiply-add is counted, those of the structural pre-simplification included.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from eqvbench import interrupts

# Sustained FLOP/s of the reference machines (Frontier: HPL; A100, H100: dense FP32).
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
    # a distributed.Client: the hyper-optimiser runs its trials on that cluster (eqvbench.sweeps.execute
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


def structural_simplify(
    inputs, output, size_dict, merges: list | None = None
) -> tuple[list[tuple[str, ...]], float, int]:
    """Contract neighbouring tensors wherever the result is no larger than the larger of the two.

    Looks at index sizes only, never at values (so the cost cannot depend on
    lucky gate values). Absorbs single-qubit gates, boundary vectors and
    repeated gates on the same pair. Returns the reduced inputs, the
    multiply-adds these contractions take (counted in the cost), and how many
    contractions were made. `merges`, if given, receives each contraction as
    (id a, id b, new id, its indices) (inputs are ids 0..n-1, new tensors count on
    from n) and then the reduced tensors' ids in order, as ("order", ids): what
    :func:`contract_values` replays on the tensors' values.
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
            if merges is not None:
                merges.append((a, b, next_id, keep))
            next_id += 1
            madds += cost
            n_done += 1
            changed = True
    if merges is not None:
        merges.append(("order", list(tensors)))
    return list(tensors.values()), madds, n_done


def contraction_cost(inputs, output, size_dict, settings: CostSettings, progress=None) -> CostResult:
    """Hyper-optimise a contraction tree, slice it to the memory limit, and count its cost.

    With `settings.cache_dir` set, the tree found is stored there keyed by the
    network's structure and the search settings; a later call with the same key
    rebuilds the tree from the stored path, checks its cost, and returns at once
    (`cached=True`). `progress(message)`, if given, hears the best cost so far
    during the search.
    """
    return searched_tree(inputs, output, size_dict, settings, progress)[0]


def searched_tree(inputs, output, size_dict, settings: CostSettings, progress=None):
    """(result, tree, on_raw) of :func:`contraction_cost`: the tree (None where simplification did
    it all) is over the raw inputs where `on_raw`, else over the structurally simplified ones."""
    key = _cache_key(inputs, output, size_dict, settings) if settings.cache_dir else None
    if key is not None:
        hit = _cache_load_tree(key, inputs, output, size_dict, settings)
        if hit is not None:
            return hit
    result, tree, on_raw, pre_madds = _contraction_cost(inputs, output, size_dict, settings, progress)
    if key is not None and tree is not None:
        _cache_store(key, inputs, output, result, tree, on_raw, pre_madds, settings)
    return result, tree, on_raw


def contract_values(tn, tree, on_raw: bool, settings: CostSettings) -> complex:
    """Contract the closed quimb network `tn` (complex128) along a tree of :func:`searched_tree`
    for its structure: the structural simplification replayed on the values, then the tree,
    slice by slice."""
    import numpy as np

    inputs, output, sizes = network_structure(tn)
    arrays = [np.asarray(t.data, dtype=complex) for t in tn]
    if tree is None or not on_raw:
        merges: list = []
        if settings.simplify == "rank":
            structural_simplify(inputs, output, sizes, merges)
        held = {i: (inds, a) for i, (inds, a) in enumerate(zip(inputs, arrays))}
        order = list(held)
        for m in merges:
            if m[0] == "order":
                order = m[1]
                continue
            a, b, new, keep = m
            held[new] = (keep, _pair(held.pop(a), held.pop(b), keep))
        inputs = [held[i][0] for i in order]
        arrays = [held[i][1] for i in order]
    if tree is None:  # simplification left one tensor: the scalar itself
        return complex(arrays[0].sum())
    sliced = list(tree.sliced_inds)
    total = 0j
    for values in itertools.product(*(range(sizes[ix]) for ix in sliced)):
        fix = dict(zip(sliced, values))
        parts = [
            (tuple(ix for ix in inds if ix not in fix), a[tuple(fix.get(ix, slice(None)) for ix in inds)])
            for inds, a in zip(inputs, arrays)
        ]
        total += _run_path(parts, tree.get_path())
    return complex(total)


def _pair(x, y, keep):
    """Contract two (indices, array) tensors to the indices `keep` (hyper-indices kept where listed)."""
    import cotengra as ctg

    (ia, xa), (ib, xb) = x, y
    letters = dict(zip(dict.fromkeys(ia + ib), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
    eq = f"{''.join(letters[i] for i in ia)},{''.join(letters[i] for i in ib)}->{''.join(letters[i] for i in keep)}"
    return ctg.einsum(eq, xa, xb)


def _run_path(parts: list, path) -> complex:
    """Contract (indices, array) tensors, closed, along a linear (opt_einsum-style) pairwise path."""
    from collections import Counter

    counts = Counter(ix for inds, _ in parts for ix in inds)
    for i, j in path:
        x, y = parts.pop(max(i, j)), parts.pop(min(i, j))
        for ix in x[0] + y[0]:
            counts[ix] -= 1
        keep = tuple(ix for ix in dict.fromkeys(x[0] + y[0]) if counts[ix] > 0)
        for ix in keep:
            counts[ix] += 1
        parts.append((keep, _pair(x, y, keep)))
    return math.prod(complex(a.sum()) for _, a in parts)


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
    blob = json.dumps(
        {
            "v": CACHE_VERSION,
            "eqvbench": __version__,
            "engine": _engine_fingerprint(),
            "inputs": [[c[ix] for ix in t] for t in inputs],
            "output": [c[ix] for ix in output],
            "sizes": sorted((c[ix], d) for ix, d in size_dict.items() if ix in c),
            "budget": settings.budget(),
            "seed": settings.seed,
            "memory_limit": settings.memory_limit,
            "dtype": settings.dtype,
            "simplify": settings.simplify,
        },
        sort_keys=True,
        default=str,
    ).encode()
    return hashlib.sha256(blob).hexdigest()


@functools.cache
def _engine_fingerprint() -> str:
    """Hash of this module's source and the search libraries' versions: a change to the search
    invalidates old trees (the network itself is in the cache key)."""
    import hashlib

    from eqvbench.sweeps.provenance import library_versions

    libs = library_versions()
    with open(__file__, "rb") as f:
        blob = f.read() + repr([libs[k] for k in ("cotengra", "kahypar", "optuna")]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# a tree-cache entry holds a contraction path: about 20 bytes a tensor; larger files are not ours
CACHE_MAX_BYTES = 64 * 2**20
_SEARCHES = ("optimal", "hyper", "linear", "linear (not searched: more tensors than search_max_tensors)")


def _cache_load(key, inputs, output, size_dict, settings: CostSettings) -> CostResult | None:
    """The result of the stored tree (:func:`_cache_load_tree`), or None."""
    hit = _cache_load_tree(key, inputs, output, size_dict, settings)
    return None if hit is None else hit[0]


def _cache_load_tree(key, inputs, output, size_dict, settings: CostSettings):
    """(result, tree, on_raw) of the stored tree, with every number computed again from the tree itself;
    None on a miss, a stale entry, or one whose recorded numbers the tree does not reproduce.

    Only a regular file of at most CACHE_MAX_BYTES is read (not a FIFO, device or symbolic link).
    The one figure taken from the file, the original search's duration, and the unsliced width
    (a property of the searched tree before slicing, which the entry does not hold) are checked
    to be plausible.
    """
    import json
    import os

    import cotengra as ctg

    from eqvbench.io import read_regular

    path = os.path.join(settings.cache_dir, f"{key}.json")
    try:
        entry = json.loads(
            read_regular(path, CACHE_MAX_BYTES, follow_symlinks=False),
            parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)),
        )
        res = entry["result"]
        if (
            entry.get("version") != CACHE_VERSION
            or not isinstance(res, dict)
            or res.get("budget", {}).get("search") not in _SEARCHES
            or not isinstance(entry["on_raw"], bool)
        ):
            return None
        input_width = math.log2(max((_size(i, size_dict) for i in inputs), default=1))
        tree_inputs, pre, n_tensors = inputs, 0.0, len(inputs)
        if settings.simplify == "rank":
            simple, simple_madds, _ = structural_simplify(inputs, output, size_dict)
            n_tensors = len(simple)
            if not entry["on_raw"]:
                tree_inputs, pre = simple, simple_madds
        if not math.isclose(pre, entry["pre_madds"], rel_tol=1e-9, abs_tol=1e-9):
            return None
        steps = [tuple(p) for p in entry["path"]]
        if len(steps) != len(tree_inputs) - 1 or not all(
            len(p) == 2 and all(type(i) is int and 0 <= i < len(tree_inputs) for i in p) for p in steps
        ):
            return None
        tree = ctg.ContractionTree.from_path(tree_inputs, output, size_dict, path=steps)
        actual = {v: k for k, v in _canonical(inputs, output).items()}
        if len(set(entry["sliced_inds"])) != len(entry["sliced_inds"]):
            return None
        for ix in entry["sliced_inds"]:
            tree.remove_ind_(actual[ix])
        if tree.max_size() > settings.target_size:
            return None
        search = res["budget"]["search"]
        fresh = _result(
            pre + float(tree.contraction_cost()),
            max(math.log2(tree.max_size()), input_width),
            float(res["width_log2_unsliced"]),
            int(tree.multiplicity),
            len(tree.sliced_inds),
            n_tensors,
            float(res["search_seconds"]),
            settings,
            search,
        )
        # the entry must say what its tree gives: otherwise it is foreign or tampered with
        for k, v in dataclasses.asdict(fresh).items():
            if k in ("seconds_on", "search_seconds", "width_log2_unsliced", "cached"):
                continue
            if isinstance(v, float) and not (
                isinstance(res.get(k), (int, float)) and math.isclose(v, res[k], rel_tol=1e-9, abs_tol=1e-12)
            ):
                return None
            if not isinstance(v, float) and res.get(k) != v:
                return None
        if not (math.isfinite(fresh.search_seconds) and fresh.search_seconds >= 0):
            return None
        # the searched tree's width before slicing: at least the sliced width, at most the
        # largest tensor the network could form
        total = math.log2(math.prod(size_dict[ix] for ix in set(ix for t in inputs for ix in t)))
        if not (fresh.width_log2 - 1e-9 <= fresh.width_log2_unsliced <= max(total, input_width) + 1e-9):
            return None
    except Exception:  # noqa: BLE001 - a missing, unreadable, foreign or malformed entry is a miss
        return None
    return dataclasses.replace(fresh, cached=True), tree, entry["on_raw"]


def _cache_store(
    key, inputs, output, result: CostResult, tree, on_raw: bool, pre_madds: float, settings: CostSettings
) -> None:
    import dataclasses
    import json
    import os
    from pathlib import Path

    from eqvbench.io import write_atomic

    canon = _canonical(inputs, output)
    try:
        os.makedirs(settings.cache_dir, exist_ok=True)
        res = {k: v for k, v in dataclasses.asdict(result).items() if k not in ("seconds_on", "cached")}
        entry = {
            "version": CACHE_VERSION,
            "result": res,
            "path": [list(p) for p in tree.get_path()],
            "sliced_inds": [canon[ix] for ix in tree.sliced_inds],
            "on_raw": on_raw,
            "pre_madds": pre_madds,
        }
        # a link in the cache is replaced, never written through (to /dev/zero, say, or a user's file)
        write_atomic(Path(settings.cache_dir) / f"{key}.json", json.dumps(entry), follow_symlinks=False)
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
        return (
            _result(pre_madds, width, width, 1, 0, len(inputs), time.perf_counter() - t0, settings, "none"),
            None,
            False,
            pre_madds,
        )

    raw = inputs if settings.simplify != "rank" else raw_inputs
    if len(inputs) > settings.search_max_tensors:
        # Trial trees of networks this large can take minutes each (greedy and kahypar alike):
        # cost the in-order sweep only, and say so in the budget.
        linear = _linear_tree(raw, output, size_dict)
        tree = _slice_linear(linear, settings)
        if tree.max_size() > settings.target_size:
            raise MemoryLimitError(_limit_message(settings, math.log2(tree.max_size())))
        return (
            _result(
                float(tree.contraction_cost()),
                max(math.log2(tree.max_size()), input_width),
                max(math.log2(linear.max_size()), input_width),
                int(tree.multiplicity),
                len(tree.sliced_inds),
                len(inputs),
                time.perf_counter() - t0,
                settings,
                search="linear (not searched: more tensors than search_max_tensors)",
            ),
            tree,
            True,
            0.0,
        )
    with _seeded_python_random(settings.seed), _serial_auto_parallel():
        tree, width_unsliced = _search(inputs, output, size_dict, settings, progress)
    on_raw = False
    if tree is None:  # the time budget ran out before a trial finished: the in-order sweep
        linear = _linear_tree(raw, output, size_dict)
        tree, width_unsliced = _slice_linear(linear, settings), math.log2(linear.max_size())
        search, pre_madds, on_raw = "linear (no search trial finished within max_time)", 0.0, True
        madds = float(tree.contraction_cost())
    else:
        search = "optimal" if len(inputs) <= OPTIMAL_MAX_TENSORS else "hyper"
        madds = pre_madds + float(tree.contraction_cost())
    if search == "hyper":
        # A baseline the search must beat: contract in the network's own order. For a circuit's
        # network built in time order this is a state-vector sweep, whose cost a small search
        # budget on a large network (thousands of tensors) can fail to reach.
        linear = _linear_tree(raw, output, size_dict)
        try:
            sliced = _slice_linear(linear, settings)  # compared as it would run: sliced to the same limit
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
# Share of a time budget (cost.max_time) kept for forest reconfiguration of the best trial trees
# (on Sycamore 53 at 20 cycles, 120 s: two thirds did better than a third or a half).
FOREST_SHARE = 2 / 3
# Trials the trial phase waits for past its share of the budget (at 30 s on Sycamore, a third gave
# the forest no tree below the in-order sweep).
MIN_TRIALS = 8
# Forest reconfiguration: saplings grown per round, parents kept, and each sapling's subtree
# reconfiguration (subtrees of this many tensors, this many of them); cotengra's forest defaults.
FOREST_TREES = 8
FOREST_KEEP = 4
FOREST_SUBTREE_SIZE = 10
FOREST_MAXITER = 100
SLICE_RECONF_MAX_BITS = 40
# How often a wait on work in the search's processes looks at the clock (seconds).
BUDGET_POLL_S = 0.05

_clock = time.monotonic  # the budget's clock (the tests replace it to count its checks)


class _OutOfTime(Exception):
    """The time budget ran out: ends the phase of the search that hears it."""


class Budget:
    """The wall-clock budget of one search (`cost.max_time`), counted from its creation.

    Every phase asks it before it starts a piece of work and while it waits for
    one; `checks` counts the questions.
    """

    def __init__(self, seconds: float):
        self.start = _clock()
        self.deadline = self.start + seconds
        self.checks = 0

    def over(self, until: float | None = None) -> bool:
        """Whether the clock has passed `until` (default: the deadline)."""
        self.checks += 1
        interrupts.check()
        return _clock() >= (self.deadline if until is None else until)


class _SearchProcesses:
    """`cost.processes` local processes for one search, started (spawned) on entry and killed,
    never waited for, on exit: a search ends on its own terms, whatever its processes still run,
    and leaves no process behind. `n` = 1: no processes, the work runs in this process."""

    def __init__(self, n: int):
        self.n = n
        self.pool = None

    def __enter__(self) -> _SearchProcesses:
        if self.n > 1:
            self.restart()
        return self

    def restart(self) -> None:
        """Kill the processes (and the work they hold) and start fresh ones."""
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor

        from eqvbench.sweeps.procs import children_allowed, kill_executor, quiet_resource_tracker

        if self.pool is not None:
            kill_executor(self.pool)
        quiet_resource_tracker()
        self.pool = ProcessPoolExecutor(
            self.n,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_search_process,
            initargs=(os.getpid(),),
        )
        with children_allowed():  # processes start on submit: start all of them here
            for _ in range(self.n):
                self.pool.submit(int)

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            from eqvbench.sweeps.procs import kill_executor

            kill_executor(self.pool)
            self.pool = None

    def executor(self, stop) -> _BudgetedExecutor:
        return _BudgetedExecutor(self.pool, self.n, stop)


def _init_search_process(parent_pid: int) -> None:
    import cotengra.parallel as par

    from eqvbench.sweeps.procs import bind_to_parent

    bind_to_parent(parent_pid)
    par._IS_WORKER = True  # cotengra's parallel="auto" stays serial in here


class _BudgetedExecutor:
    """What cotengra's hyper-optimiser and forest reconfiguration get as their pool.

    No work starts once `stop()` says so (`_OutOfTime` instead), and a wait for
    work in the processes gives up when it does: work in flight at the deadline
    is abandoned, not waited for. Without processes (`pool` None) the work runs
    here, one piece at a time, when submitted; a piece that has begun is finished.
    """

    def __init__(self, pool, n_workers: int, stop):
        self._pool = pool
        self._max_workers = n_workers  # cotengra reads it to size its pre-dispatch
        self._stop = stop
        self.started = 0
        self._futures: list = []

    def submit(self, fn, *args, **kwargs):
        from concurrent.futures import Future

        interrupts.check()
        if self._stop():
            raise _OutOfTime
        self.started += 1
        if self._pool is None:
            fut = Future()
            fut.set_result(fn(*args, **kwargs))
            return fut
        fut = self._pool.submit(fn, *args, **kwargs)
        self._futures.append(fut)
        return _GivingUpFuture(fut, self._stop)

    def abandon(self) -> bool:
        """Cancel what has not started; True if some work is still running in the processes."""
        for f in self._futures:
            f.cancel()
        return any(not f.done() for f in self._futures)


class _GivingUpFuture:
    """A future of the search's processes that stops being waited for when the budget runs out."""

    def __init__(self, fut, stop):
        self._fut = fut
        self._stop = stop

    def done(self) -> bool:
        from concurrent.futures import wait

        interrupts.check()
        if not self._fut.done():  # cotengra scans its futures in a loop: wait a little, not spin
            wait([self._fut], timeout=0.002)
        return self._fut.done() or self._stop()

    def result(self):
        while True:
            try:
                return self._fut.result(timeout=BUDGET_POLL_S)
            except TimeoutError:
                interrupts.check()
                if self._stop():
                    raise _OutOfTime from None

    def cancel(self) -> bool:
        return self._fut.cancel()


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
                progress(
                    f"cost search: {len(opt.scores)} trials, best 10^{math.log10(best):.2f} madds, "
                    f"{time.perf_counter() - t0:.0f} s"
                )

    th = threading.Thread(target=report, daemon=True)
    th.start()
    try:
        return opt.search(inputs, output, size_dict)
    finally:
        done.set()
        th.join()


def _search(inputs, output, size_dict, settings: CostSettings, progress=None):
    """(best tree sliced to fit, log2 width unsliced); (None, None) when a time budget ran out
    before any trial finished.

    With `cost.max_time`, the trials, the reconfiguration and the forest rounds
    all answer to one `Budget`: with `cost.processes` >= 2 the search ends at
    the deadline (the work in flight is abandoned and its processes killed); in
    one process a trial or reconfiguration step that has begun is finished.
    """
    import cotengra as ctg

    if len(inputs) <= OPTIMAL_MAX_TENSORS:
        from cotengra.pathfinders.path_basic import optimize_optimal

        path = optimize_optimal(inputs, output, size_dict, minimize="flops")
        tree = ctg.ContractionTree.from_path(inputs, output, size_dict, path=path)
        return _slice_to_fit(tree, settings), math.log2(tree.max_size())

    budget = Budget(settings.max_time) if settings.max_time is not None else None
    forest = budget is not None and len(inputs) <= RECONF_MAX_TENSORS
    local = isinstance(settings.parallel, int)
    with _SearchProcesses(settings.parallel if local else 1) as procs:
        opt = None
        if budget is not None and not local and settings.parallel is not None:
            # a Dask client: cotengra's own time check, after each trial
            parallel, trial_time = settings.parallel, settings.max_time * (1 - FOREST_SHARE if forest else 1)
        elif budget is not None:
            trials_end = budget.start + settings.max_time * (1 - FOREST_SHARE if forest else 1)
            # the trial phase ends at its share of the budget once MIN_TRIALS trials have finished (the
            # forest needs a fair tree to start from), or at the deadline
            parallel, trial_time = (
                procs.executor(lambda: budget.over(trials_end) and (len(opt.scores) >= MIN_TRIALS or budget.over())),
                None,
            )
        elif local:
            parallel, trial_time = procs.executor(lambda: False), None
        else:
            parallel, trial_time = False, None
        opt = ctg.HyperOptimizer(
            methods=list(settings.methods),
            max_repeats=settings.max_repeats,
            max_time=trial_time,
            minimize=settings.minimize,
            optlib=settings.optlib,
            parallel=parallel,
            reconf_opts=None,
            optlib_opts=_optlib_seed(settings.optlib, settings.seed),
            progbar=False,
        )
        if isinstance(parallel, _BudgetedExecutor) and procs.pool is None:
            opt.pre_dispatch = 1  # in this process: one trial at a time, each reported before the next
        best_trials = _keep_best_trials(opt, FOREST_KEEP) if forest else []
        _check_between_trials(opt)
        try:
            _search_reporting(opt, inputs, output, size_dict, progress)
        except _OutOfTime:
            pass
        if "tree" not in opt.best:
            return None, None
        tree = opt.best["tree"]
        reconfigure = len(inputs) <= RECONF_MAX_TENSORS
        if (
            isinstance(parallel, _BudgetedExecutor)
            and parallel.abandon()
            and reconfigure
            and not (budget is not None and budget.over())
        ):
            procs.restart()  # trials still run there: the reconfiguration needs the processes now
        if forest:
            if progress:
                progress(f"cost: forest reconfiguration of the best {len(best_trials)} trial trees")
            tree = _forest_until(best_trials or [tree], budget, settings, procs, progress)
        elif reconfigure:
            if progress:
                progress(
                    f"cost: subtree reconfiguration of the best tree (10^{math.log10(tree.contraction_cost()):.2f} madds)"
                )
            tree = tree.subtree_reconfigure(minimize=settings.minimize)
    return _slice_to_fit(tree, settings), math.log2(tree.max_size())


def _keep_best_trials(opt, n: int) -> list:
    """A list that `opt` (a cotengra HyperOptimizer) fills, as its trials are reported, with the
    trees of its `n` best trials of distinct score (its `minimize`), best first: the forest's first parents."""
    kept: list = []
    trees: list = []
    report = getattr(opt, "_maybe_report_result", None)  # cotengra's hook for each finished trial
    if report is None:  # another cotengra: the forest starts from the best trial alone
        return trees

    def keep(setting, trial):
        report(setting, trial)
        tree, cost = trial.get("tree"), trial.get("score", math.inf)
        if tree is None or not math.isfinite(cost) or any(c == cost for c, _ in kept):
            return
        kept.append((cost, tree))
        kept.sort(key=lambda ct: ct[0])
        del kept[n:]
        trees[:] = [t for _, t in kept]

    opt._maybe_report_result = keep
    return trees


def _check_between_trials(opt) -> None:
    """A Ctrl-C noted during a trial stops the search when the trial is reported (eqvbench.interrupts)."""
    report = getattr(opt, "_maybe_report_result", None)
    if report is None:
        return

    def checked(setting, trial):
        report(setting, trial)
        interrupts.check()

    opt._maybe_report_result = checked


def _reconfigure_tree(tree, options):
    """One forest sapling: `tree` subtree-reconfigured with `options` (runs in a search process)."""
    return tree.subtree_reconfigure(**options)


def _forest_until(trees, budget: Budget, settings: CostSettings, procs: _SearchProcesses, progress=None):
    """Forest subtree reconfiguration (cotengra's `subtree_reconfigure_forest`, kept here so that the
    deadline ends it without losing its progress) until the budget is spent.

    Each round grows FOREST_TREES saplings from the best FOREST_KEEP trees so far
    (at first: the best distinct trees of the trials), each a seeded subtree
    reconfiguration with randomly drawn options, in the search's processes; the
    next round's parents are the best distinct trees among the saplings and their
    parents. A round the deadline interrupts keeps the saplings that finished. A
    sapling is never worse than its parent, so neither is the returned tree.
    """

    def distinct_best(candidates):  # a sapling that found nothing better repeats its parent's score
        out: dict[float, Any] = {}
        for t in sorted(candidates, key=lambda t: t.get_score(settings.minimize)):
            out.setdefault(t.get_score(settings.minimize), t)
        return list(out.values())[:FOREST_KEEP]

    rng = random.Random(settings.seed)
    forest = distinct_best(trees)
    step = 0
    while not budget.over():
        parents = forest[:FOREST_KEEP]
        futures, grown = [], []
        executor = procs.executor(budget.over)
        try:
            for i in range(FOREST_TREES):
                options = {
                    "subtree_size": FOREST_SUBTREE_SIZE,
                    "subtree_search": rng.choice(("random", "bfs")),
                    "weight_what": rng.choice(("flops", "size")),
                    "select": "random",
                    "maxiter": FOREST_MAXITER,
                    "seed": rng.randrange(2**31),
                    "minimize": settings.minimize,
                }
                futures.append(executor.submit(_reconfigure_tree, parents[i % len(parents)], options))
            for f in futures:
                grown.append(f.result())
        except _OutOfTime:
            pass
        if not grown:
            break
        step += 1
        forest = distinct_best(grown + parents)
        if progress:
            progress(
                f"cost: forest reconfiguration round {step}, 10^{math.log10(forest[0].contraction_cost()):.2f} madds"
            )
    return forest[0]


def _slice_linear(linear, settings: CostSettings):
    """The in-order tree sliced to fit, seeded: slicing and its reconfiguration draw from Python's
    `random` (unseeded, the same sweep's sliced cost ranged from 6.0e4 to 2.1e5 multiply-adds between
    calls, so the baseline a search must beat was not reproducible)."""
    with _seeded_python_random(settings.seed):
        return _slice_to_fit(linear, settings)


def _slice_to_fit(tree, settings: CostSettings):
    """Slice and reconfigure (interleaved, coarse steps keep it to seconds) until the tree fits.

    Trees that need more than SLICE_RECONF_MAX_BITS of slicing (a sign that the
    search found no good tree) are sliced without reconfiguration, in one slicing
    trial (bounded memory), which is fast but leaves a looser upper bound.
    """
    width = _width_log2(tree)
    if width > MAX_WIDTH_LOG2:
        raise MemoryLimitError(
            f"the best contraction tree found has a largest tensor of 2^{width:.0f} elements, past the "
            f"2^{MAX_WIDTH_LOG2} eqvbench can slice and count (its cost would exceed 10^{MAX_WIDTH_LOG2 * 0.301:.0f} "
            "FLOP): take a smaller lattice or fewer cycles"
        )
    if tree.max_size() <= settings.target_size:
        return tree
    bits = width - math.log2(settings.target_size)
    if bits > SLICE_RECONF_MAX_BITS:
        # cotengra's slice finder keeps a cost table per sliced index and trial: its 16 trials on a
        # 1-trial greedy tree of the 70-qubit RCS (10^90 madds) took a worker past 17 GB; one trial
        return tree.slice(target_size=settings.target_size, max_repeats=1)
    if tree.N > RECONF_MAX_TENSORS:
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
    budget = (
        {"search": search, **settings.budget()}
        if search == "hyper" or search.startswith("linear")
        else {"search": search}
    )
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
