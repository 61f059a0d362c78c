"""The classical cost of a sampling task: `shots` bitstrings at XEB fidelity f, not one amplitude.

A random-circuit-sampling device produces `shots` bitstrings whose linear XEB
is f. A classical computer that does the same task is costed here two ways,
and the cheaper is the task's cost (docs/sampling.md derives every factor):

per sample
    Frugal rejection sampling (Markov, Fatima, Isakov & Boixo 2018,
    arXiv:1807.10749): draw a candidate bitstring x uniformly, compute its
    probability p(x), accept it with probability min(1, 2^n p(x) / M). For a
    Porter-Thomas output (2^n p ~ Exp(1)) a candidate is accepted with
    probability (1 - e^-M) / M, so a sample takes M / (1 - e^-M) amplitudes
    (10.0005 at the paper's M = 10: its 10^7 probabilities for 10^6 samples),
    and the accepted bitstrings have XEB x_M = (1 - (M + 1) e^-M) / (1 - e^-M)
    (0.99955 at M = 10) of the distribution they are drawn from.
batched
    A contraction with k output qubits left open gives the 2^k amplitudes of
    the bitstrings that agree on the other n - k qubits (a batch, fixed at
    random). One bitstring is drawn from each batch with probability
    proportional to its probability in the batch: the "fast sampling" that
    removes the rejection overhead (Markov et al. 2018; Villalonga et al. 2019,
    npj Quantum Inf. 5, 86, qFlex, whose batches are the amplitudes of a few
    open qubits). Each batch yields ONE sample, so the samples are as
    uncorrelated as the device's (many samples per batch would share n - k
    bits: correlated bitstrings, not the device's task). For Porter-Thomas
    probabilities the drawn bitstring has XEB (B - 1) / (B + 1) with B = 2^k
    (E[sum q^2 / sum q] = 2B / (B + 1) for B i.i.d. Exp(1) variables: q_i / sum q
    is Beta(1, B - 1), independent of the sum), 0.88 at k = 4 and 0.992 at k = 8.
    With every qubit open (k = n, where the memory limit holds 2^n amplitudes)
    the batch is the whole output distribution: all the shots are drawn from
    one contraction, i.i.d., with no fixed bits and no batch factor.

Both use the fraction-of-paths argument (Markov et al. 2018): the amplitude
is a sum over the P slices (paths) of its sliced contraction; summing a
fraction phi of them gives amplitudes of fidelity about phi, and a sampler of
relative XEB x fed with them reaches XEB phi x. So the task needs
phi = f / x (at most 1) of the paths, at phi of the contraction's cost, and a
tree with at least 1/phi slices: where the searched tree has fewer, the same
network is costed again (eqvbench's `contraction_cost`, same seed and budget)
with its memory limit log2(1/phi) bits below the tree's unsliced width; a tree
of S < 1/phi slices sums max(phi, 1/S) of them, and the cheaper of the two
honest figures is kept. The factors (x_M, (B - 1)/(B + 1), phi) are
exact for Porter-Thomas statistics with exact partial amplitudes; the cost of
sampling the random batches and bitstrings is negligible and not counted.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from eqvbench.classical.cost import (
    ITEMSIZE,
    CostResult,
    CostSettings,
    MemoryLimitError,
    contraction_cost,
    network_structure,
)

REJECTION_M = 10.0  # Markov et al.'s frugal rejection threshold: 10 amplitudes per sample
K_LADDER = (2, 4, 6, 8, 12, 16, 20, 24, 30)  # open qubits tried by the batched way, smallest first
MAX_K_SEARCHES = 4  # how many of them are searched (each is one cost search, plus one to cut paths)
K_MAX = 30  # 2^30 amplitudes per batch at most


def rejection_acceptance(m: float) -> float:
    """Probability that frugal rejection with threshold `m` accepts a uniform candidate (Porter-Thomas)."""
    return -math.expm1(-m) / m


def rejection_xeb(m: float) -> float:
    """Linear XEB, relative to the distribution sampled, of frugal rejection's accepted bitstrings (Porter-Thomas)."""
    return (1 - (m + 1) * math.exp(-m)) / -math.expm1(-m)


def batch_xeb(batch_qubits: int) -> float:
    """Linear XEB, relative to the distribution sampled, of one bitstring drawn from a batch of 2^k
    bitstrings in proportion to their probabilities (Porter-Thomas): (B - 1) / (B + 1)."""
    b = 2.0**batch_qubits
    return (b - 1) / (b + 1)


@dataclass(frozen=True)
class SamplingWay:
    """One way to do the task: its contractions, the factors between them and the task, and its cost."""

    method: str  # 'per_sample' | 'batched'
    batch_qubits: int  # k, the open output qubits of each contraction (0: one amplitude)
    sampler: str  # how bitstrings are drawn from the amplitudes
    contractions: float  # contractions the task takes
    samples_per_contraction: float
    sampler_xeb: float  # XEB of the sampler relative to the distribution it samples
    path_fraction: float  # phi: fraction of each contraction's paths (slices) summed
    paths: int  # slices of the costed tree (at least 1/phi where it could be cut so)
    contraction_flops: float  # one contraction, all its paths
    task_flops: float
    task_seconds: float
    cost: CostResult
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "batch_qubits": self.batch_qubits,
            "amplitudes_per_contraction": 2**self.batch_qubits,
            "sampler": self.sampler,
            "contractions": self.contractions,
            "samples_per_contraction": self.samples_per_contraction,
            "sampler_xeb": self.sampler_xeb,
            "path_fraction": self.path_fraction,
            "paths": self.paths,
            "contraction_flops": self.contraction_flops,
            "task_flops": self.task_flops,
            "task_seconds": self.task_seconds,
            "cost": {"cost_flops": self.cost.cost_flops, "width_log2": self.cost.width_log2, **self.cost.to_json()},
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class SamplingTask:
    """The classical cost of `shots` bitstrings at XEB fidelity f: the cheaper of the ways costed."""

    task_flops: float
    task_seconds: float  # on the machine of `rate_flops`
    task_method: str  # 'per_sample' | 'batched'
    task_batch_qubits: int  # k of the chosen way (0 for per_sample)
    shots: int
    f: float
    rate_flops: float
    per_sample: SamplingWay | None
    batched: SamplingWay | None
    scan: tuple[dict[str, Any], ...]  # the batched way's k tried: cost of one contraction, or why none
    searches: int  # cost searches run (cached ones included)
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "task_flops": self.task_flops,
            "task_seconds": self.task_seconds,
            "task_method": self.task_method,
            "task_batch_qubits": self.task_batch_qubits,
            "shots": self.shots,
            "f": self.f,
            "rate_flops": self.rate_flops,
            "per_sample": self.per_sample.to_json() if self.per_sample else None,
            "batched": self.batched.to_json() if self.batched else None,
            "scan": list(self.scan),
            "searches": self.searches,
            "notes": list(self.notes),
        }


def batch_candidates(n_qubits: int, settings: CostSettings, k_values=None, max_k_searches: int = MAX_K_SEARCHES):
    """The open-qubit counts the batched way searches: `k_values` (default: the first `max_k_searches`
    of K_LADDER) that the lattice and the memory limit allow (2^k amplitudes fit in one tensor)."""
    k_mem = math.floor(math.log2(settings.target_size)) if settings.memory_limit is not None else K_MAX
    k_top = min(n_qubits, K_MAX, k_mem)
    ladder = K_LADDER if k_values is None else tuple(sorted(set(k_values)))
    return [k for k in ladder if 1 <= k <= k_top][:max_k_searches]


class _Searches:
    """Counts eqvbench cost searches of one task and hands each its network's structure."""

    def __init__(self, settings: CostSettings, progress=None):
        self.settings, self.progress, self.count = settings, progress, 0

    def cost(self, structure, settings: CostSettings | None = None) -> CostResult:
        self.count += 1
        return contraction_cost(*structure, settings or self.settings, progress=self.progress)

    def with_paths(self, structure, first: CostResult, phi: float) -> tuple[CostResult, float, tuple[str, ...]]:
        """(cost, fraction of its paths summed, notes): the cheaper honest figure of `first` and, where
        `first` has fewer than 1/phi slices, of the same network costed with its memory limit log2(1/phi)
        bits below its unsliced width (one sliced index of size 2 at most halves a tree's largest tensor,
        but the reconfiguration that follows slicing can narrow the tree too). A tree of S < 1/phi slices
        sums max(phi, 1/S) of them: never less than one whole path."""
        need = math.ceil(1 / phi - 1e-9)
        options = [(first, max(phi, 1 / first.n_slices))]
        notes: list[str] = []
        if first.n_slices < need:
            width = math.floor(min(first.width_log2, first.width_log2_unsliced - math.log2(need)))
            lowered = dataclasses.replace(
                self.settings, memory_limit=2 ** max(width, 0) * ITEMSIZE[self.settings.dtype]
            )
            try:
                if width < 1:
                    raise MemoryLimitError("no slice that small")
                cut = self.cost(structure, lowered)
                options.append((cut, max(phi, 1 / cut.n_slices)))
            except MemoryLimitError:
                notes.append(
                    f"the network cannot be cut into {need} paths (slices of 2^{width} elements are smaller "
                    "than its largest input)"
                )
        cost, frac = min(options, key=lambda o: o[0].cost_flops * o[1])
        if frac > phi * (1 + 1e-12) and len(options) > 1:
            notes.append(
                f"{cost.n_slices} path(s), {frac:.3g} of them summed: phi = {phi:.3g} would need {need}, and "
                "cutting them costs more than it saves"
            )
        return cost, frac, tuple(notes)


def sampling_task_cost(
    circuit,
    qubits,
    shots: int,
    f: float,
    settings: CostSettings,
    rate_flops: float,
    amplitude_cost: CostResult | None = None,
    *,
    rejection_m: float = REJECTION_M,
    k_values=None,
    max_k_searches: int = MAX_K_SEARCHES,
    full_state: bool = True,
    progress=None,
) -> SamplingTask:
    """Cost `shots` bitstrings of `circuit` (on `qubits`, all measured) at linear XEB `f`, per sample and
    batched, and keep the cheaper (module docstring: the factors and their sources).

    `amplitude_cost`: the point's `contraction_cost` of one amplitude with the same `settings`, if already
    known (it is reused where its slices are enough paths). Searches: one per batched k (at most
    `max_k_searches`, from `k_values` or K_LADDER, within `settings.memory_limit`), plus one per way
    whose best tree has fewer than 1/phi slices, plus one amplitude if not given, plus, with `full_state`
    and where 2^n amplitudes fit the memory limit (always without one), k = n: the whole output
    distribution from one contraction, every shot sampled from it directly (XEB phi, no batch factor).
    A k whose search fails (memory limit) is recorded in `scan` and skipped. `rate_flops`: the
    machine's sustained FLOP/s.
    """
    from eqvbench.classical.networks import amplitude_network

    if not (isinstance(shots, int) and shots >= 1):
        raise ValueError(f"shots must be a positive integer, got {shots!r}")
    if not (isinstance(f, (int, float)) and 0 < f <= 1):
        raise ValueError(f"f (the XEB fidelity to reach) must lie in (0, 1], got {f!r}")
    if not (isinstance(rate_flops, (int, float)) and rate_flops > 0 and math.isfinite(rate_flops)):
        raise ValueError(f"rate_flops must be a positive finite FLOP/s, got {rate_flops!r}")
    if not rejection_m > 0:
        raise ValueError(f"rejection_m must be positive, got {rejection_m!r}")
    qubits = list(qubits)
    searches = _Searches(settings, progress)
    notes: list[str] = []

    # per sample: frugal rejection over uniform candidates, one amplitude each
    per_sample = None
    structure = network_structure(amplitude_network(circuit, qubits))
    try:
        amp = amplitude_cost if amplitude_cost is not None else searches.cost(structure)
        x = rejection_xeb(rejection_m)
        phi = min(1.0, f / x)
        cost, frac, way_notes = searches.with_paths(structure, amp, phi)
        if f > x:
            way_notes += (f"frugal rejection at M = {rejection_m:g} reaches XEB {x:.4g} < f with exact amplitudes",)
        per_amp = 1 / rejection_acceptance(rejection_m)
        contractions = shots * per_amp
        task = contractions * frac * cost.cost_flops
        per_sample = SamplingWay(
            "per_sample",
            0,
            f"frugal rejection, M = {rejection_m:g} ({per_amp:.4g} amplitudes per sample)",
            contractions,
            1 / per_amp,
            x,
            frac,
            cost.n_slices,
            cost.cost_flops,
            task,
            task / rate_flops,
            cost,
            way_notes,
        )
    except MemoryLimitError as exc:
        notes.append(f"per sample: {exc}")

    # batched: k open qubits, one sample per batch drawn in proportion to the batch's probabilities;
    # with every qubit open (the full state, where it fits), all the shots come from one contraction
    n = len(qubits)
    scan: list[dict[str, Any]] = []
    best = None
    ks = batch_candidates(n, settings, k_values, max_k_searches)
    if full_state and n not in ks and (settings.memory_limit is None or 2**n <= settings.target_size):
        ks.append(n)
    for k in ks:
        x = 1.0 if k == n else batch_xeb(k)
        batches = 1 if k == n else shots
        entry: dict[str, Any] = {"k": k, "sampler_xeb": x}
        if f > x:
            scan.append({**entry, "skipped": f"one draw from 2^{k} reaches XEB {x:.4g} < f"})
            continue
        open_structure = network_structure(amplitude_network(circuit, qubits, open_qubits=qubits[:k]))
        try:
            cost = searches.cost(open_structure)
        except MemoryLimitError as exc:
            scan.append({**entry, "skipped": str(exc)})
            continue
        # ranked before cutting paths: phi of the contraction, the cut's overhead not yet counted
        estimate = batches * (f / x) * cost.cost_flops
        scan.append({**entry, "cost_flops": cost.cost_flops, "width_log2": cost.width_log2, "n_slices": cost.n_slices})
        scan[-1]["estimate_flops"] = estimate
        if best is None or estimate < best[0]:
            best = (estimate, k, x, batches, cost, open_structure)
    batched = None
    if best is not None:
        _, k, x, batches, first, open_structure = best
        cost, frac, way_notes = searches.with_paths(open_structure, first, f / x)
        task = batches * frac * cost.cost_flops
        sampler = (
            f"the full distribution: all {shots} samples drawn from one contraction's 2^{k} probabilities"
            if k == n
            else f"one bitstring per batch of 2^{k}, drawn in proportion to their probabilities"
        )
        batched = SamplingWay(
            "batched",
            k,
            sampler,
            float(batches),
            shots / batches,
            x,
            frac,
            cost.n_slices,
            cost.cost_flops,
            task,
            task / rate_flops,
            cost,
            way_notes,
        )
    ways = [w for w in (per_sample, batched) if w is not None]
    if not ways:
        raise MemoryLimitError("; ".join(notes + [s["skipped"] for s in scan if "skipped" in s]) or "no way costed")
    chosen = min(ways, key=lambda w: w.task_flops)
    return SamplingTask(
        task_flops=chosen.task_flops,
        task_seconds=chosen.task_seconds,
        task_method=chosen.method,
        task_batch_qubits=chosen.batch_qubits,
        shots=shots,
        f=float(f),
        rate_flops=float(rate_flops),
        per_sample=per_sample,
        batched=batched,
        scan=tuple(scan),
        searches=searches.count,
        notes=tuple(notes),
    )
