"""Effective region (docs/physics.md, "Effective region"), shared by the observable families.

The device resolves its measured value only to delta = 1 / (f sqrt(shots)).
The effective region is the smallest ball around the measured quantity's
support (qubits within r coupler hops, the gates among them, cut to the ball's
own light cone) whose ideal value is certified to lie within delta of the
whole light cone's value. A family supplies how to evaluate a ball
(:class:`BallValue`) and, where it has one, a reference value of the whole
cone; the growth loop, the certificate and the contraction budget live here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Union

from pydantic import BeforeValidator, Field

from eqvbench.classical.methods import MethodResult
from eqvbench.families.base import Region
from eqvbench.spec import Section


def _region_f(value: Any) -> Any:
    """'auto', or a fidelity in (0, 1]."""
    if value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"expected 'auto' or a fidelity in (0, 1], got {value!r}")
    return float(value)


class RegionSpec(Section):
    """`circuit.region`: effective-region search (docs/physics.md, "Effective region")."""

    enabled: bool = True
    max_qubits: Annotated[int, Field(ge=1, le=64)] = 32  # stop growing past this many qubits
    statevector_max_qubits: Annotated[int, Field(ge=1, le=26)] = 20  # above: tensor-network contraction
    tn_max_repeats: Annotated[int, Field(ge=1, le=10_000)] = 16
    tn_memory_bytes: Annotated[float, Field(gt=0)] = 2.0**31  # largest intermediate allowed, bytes
    tn_max_flops: Annotated[float, Field(gt=0)] = 1e11  # contraction budget per region value, real FLOP
    # reference value of a light cone larger than max_qubits: exact contraction when the cone has at
    # most tn_reference_max_gates two-qubit gates, else Pauli propagation converged within delta / 2
    tn_reference_max_gates: Annotated[int, Field(ge=0, le=100_000)] = 400
    # CPU seconds of the process running the point (load-independent: a busy machine stops the
    # cut-off ladder where an idle one does)
    pauli_max_seconds: Annotated[float, Field(gt=0, le=86_400)] = 120.0
    pauli_max_strings: Annotated[int, Field(ge=1000, le=10**9)] = 20_000_000
    # fidelity for delta where the point is not simulated: 'auto' lets the family simulate a
    # region that fits simulation.max_qubits (slow for deep circuits); a number is taken as given
    # (e.g. the device's measured effective fidelity)
    f_eff: Annotated[Union[str, float], BeforeValidator(_region_f)] = "auto"


class RegionTooCostly(ValueError):
    """Contracting a region's network would exceed the region's memory or FLOP budget."""


def contract_within_budget(
    tn,
    n_qubits: int,
    max_repeats: int = 16,
    seed: int = 0,
    memory_bytes: float = 2**31,
    max_flops: float = 1e11,
    cost_settings=None,
) -> complex:
    """Contract a closed quimb network with a seeded cotengra tree (complex128).

    The tree is found first (`region_tree`); where it exceeds the budgets and
    `cost_settings` (:class:`eqvbench.classical.cost.CostSettings`) is given, the cost
    engine's tree of the same network is tried (its search, or the tree cache the point's
    cost shares). RegionTooCostly is raised (nothing contracted) when the tree's largest
    intermediate exceeds `memory_bytes` or its cost exceeds `max_flops` real FLOP
    (8 x multiply-adds, all slices).
    """
    raw = tn
    tn = tn.rank_simplify(output_inds=())
    tree = region_tree(tn, max_repeats=max_repeats, seed=seed, max_flops=max_flops)
    flops = 8 * tree.contraction_cost()
    if 16 * tree.max_size() <= memory_bytes and flops <= max_flops:
        return complex(tn.contract(all, optimize=tree, output_inds=()))
    found = f"2^{math.log2(tree.max_size()):.0f} elements and {flops:.2g} FLOP"
    if cost_settings is not None:
        from eqvbench.classical.cost import contract_values, network_structure, searched_tree

        result, ctree, on_raw = searched_tree(*network_structure(raw), cost_settings)
        if 16 * 2**result.width_log2 <= memory_bytes and result.cost_flops <= max_flops:
            return contract_values(raw, ctree, on_raw, cost_settings)
        found += f" (the cost search's tree: 2^{result.width_log2:.0f} and {result.cost_flops:.2g})"
    raise RegionTooCostly(
        f"contracting the {n_qubits}-qubit region needs {found} (budget {memory_bytes:.2g} B, {max_flops:.2g} FLOP)"
    )


_TREES: dict = {}  # (structure, search settings) -> tree: a sweep over angles searches each network once
_TREES_MAX = 64


def region_tree(tn, max_repeats: int = 16, seed: int = 0, max_flops: float = 1e11):
    """The contraction tree of a closed quimb network, searched with every random stream seeded.

    Cheap searches first (greedy, then partitioning trials), then one subtree
    reconfiguration of the best tree, stopping once its cost (real FLOP) is within
    `max_flops`. The tree depends on the network's structure only (never on gate
    values), so it is kept for the process's next network of the same structure
    (the same sandwich at another angle): the same seeded search would find it again.
    """
    import importlib.util
    import random

    import cotengra as ctg

    from eqvbench.classical.cost import _optlib_seed, _serial_auto_parallel, network_structure

    inputs, output, sizes = network_structure(tn)
    key = (tuple(inputs), output, tuple(sorted(sizes.items())), max_repeats, seed, max_flops)
    if key in _TREES:
        return _TREES[key]
    state = random.getstate()
    random.seed(seed)
    try:
        # (options, stop when the cost is below, skip when the best tree so far is over this x budget).
        # Reconfiguring the best partition tree once, not every trial: on the hyper-indexed sandwich
        # networks the full search with reconfiguration costs minutes where one pass gains the same
        # (W~17 after 5 steps with the final RX layer, 68 qubits: 8 kahypar trials 3.1e11 FLOP in 23 s,
        # one reconfiguration 2.5e10 in 10 s; reconfiguring every trial, 4 trials: 2.5e13 in 64 s)
        stages = [
            (dict(methods=["greedy"], reconf_opts=None), 1e9, math.inf),
            (
                dict(methods=["kahypar" if importlib.util.find_spec("kahypar") else "labels"], reconf_opts=None),
                max_flops,
                1e6,  # greedy trees of these networks are often 1e4-1e5 x the partition trees
            ),
        ]
        tree = None
        for opts, enough, hopeless in stages:
            if tree is not None and 8 * tree.contraction_cost() > hopeless * max_flops:
                break  # so far over the budget that a longer search will not bring it in
            # optuna's sampler has its own random stream: seed it too, or the tree (and whether it
            # fits the budget, hence whether a region is certified) can change from run to run
            opt = ctg.HyperOptimizer(
                max_repeats=max(1, max_repeats if tree is None else max(8, max_repeats // 2)),
                parallel=False,
                progbar=False,
                optlib="optuna",
                optlib_opts=_optlib_seed("optuna", seed),
                **opts,
            )
            with _serial_auto_parallel():  # kahypar's inner greedy passes would otherwise start a pool
                found = tn.contraction_tree(optimize=opt, output_inds=())
            if tree is None or found.contraction_cost() < tree.contraction_cost():
                tree = found
            if 8 * tree.contraction_cost() <= enough:
                break
        if 8 * tree.contraction_cost() > max_flops and 8 * tree.contraction_cost() <= 1e3 * max_flops:
            tree = tree.subtree_reconfigure()
    finally:
        random.setstate(state)
    if len(_TREES) >= _TREES_MAX:
        _TREES.pop(next(iter(_TREES)))
    _TREES[key] = tree
    return tree


@dataclass
class BallValue:
    """A family's evaluation of one ball: the ideal value, how it was computed ('statevector',
    'tensor_network'), the ball's two-qubit gates in the light cone, and what to cost if chosen."""

    value: float
    method: str
    gates_2q: int
    network: Callable[[], Any]  # builds the quimb network of the region (None when not costable)
    whole: bool | None = None  # the network is the point's whole cost network (None: not known)
    seconds: float = 0.0  # measured time of the evaluation on this machine


@dataclass(frozen=True)
class Reference:
    """The value of the whole light cone that certifies a region: `err` bounds (exact methods: 0) or,
    for truncated methods, estimates |value - exact|; `exact` says which."""

    value: float
    err: float
    method: str
    seconds: float
    exact: bool = True
    # False where the err leaves out a known systematic error (belief propagation on a graph with
    # loops: its loop error): such a value certifies corroborated balls but is not a reproduction alone
    alone: bool = True
    # the classical method that computed it, where one did (the region's certificate rests on it)
    source: str | None = None


@dataclass(frozen=True)
class ConeRun:
    """A whole-cone method's run (Pauli or belief propagation): the point's method entry and, converged,
    the region's reference, both with its measured seconds.

    Parameters
    ----------
    method : str
        The entry's name (`methods.METHODS`).
    flops : float
        Its counted cost (real FLOP, or FLOP-equivalent).
    seconds : float
        Measured on this machine.
    budget : dict
        What bounded the run: the entry's `budget`.
    """

    method: str
    flops: float | None
    seconds: float
    budget: dict[str, Any]

    def entry(
        self, status: str, detail: dict[str, Any], value: float | None = None, err: float | None = None, note=None
    ) -> MethodResult:
        """The point's method entry, measured on this machine."""
        return MethodResult(
            self.method,
            status,
            value=value,
            err=err,
            flops=self.flops,
            seconds=self.seconds,
            seconds_kind="measured",
            budget=self.budget,
            note=note,
            detail=detail,
        )

    def converged(
        self,
        value: float,
        err: float,
        method: str,
        note: str,
        detail: dict[str, Any],
        exact: bool = True,
        alone: bool = True,
    ) -> tuple[Reference, MethodResult]:
        """The region's reference (`method` names it; `exact` and `alone` as in :class:`Reference`) and the
        entry, status 'ok' (`note` says how `err` was found)."""
        ref = Reference(value, err, method, self.seconds, exact=exact, alone=alone, source=self.method)
        return ref, self.entry("ok", detail, value, err, note)

    def not_converged(
        self, what: str, target: float, reason: str, settings: str, notes: list[str], detail: dict[str, Any]
    ) -> tuple[None, MethodResult]:
        """No reference and the entry over budget; why (`what` did not reach `target` = delta/2 for
        `reason`, bounded by the `circuit.region` `settings`) is added to `notes` too."""
        why = f"{what} of the whole cone not converged within delta/2 = {target:.3g}: {reason} (circuit.region.{settings})"
        notes.append(why)
        return None, self.entry("over_budget", detail, note=why)


def _reproduction(value: float | None, err: float | None, method: str | None, seconds: float | None) -> dict:
    return {
        "reproduced_value": value,
        "reproduced_err": err,
        "reproduced_method": method,
        "reproduced_seconds": seconds,
    }


def _within(ball: BallValue, ref: Reference | None, delta: float | None) -> bool:
    """Whether `ball` is certified: |v - v_ref| + u_ref <= delta."""
    return ref is not None and delta is not None and abs(ball.value - ref.value) + ref.err <= delta


def _certified_ball(balls: list, ref: Reference | None, delta: float | None):
    """The smallest certified ball (None when there is none). Against an estimated (not exact) reference
    it must be corroborated: every larger ball evaluated agrees too, and there is at least one."""
    if ref is None or ref.exact:
        return next((b for b in balls if _within(b[0], ref, delta)), None)
    tail = len(balls)
    while tail > 0 and _within(balls[tail - 1][0], ref, delta):
        tail -= 1
    return balls[tail] if len(balls) - tail >= 2 else None


def grow_region(
    lattice,
    centre,
    reg: RegionSpec,
    shots: int,
    f: float | None,
    f_source: str | None,
    evaluate: Callable[[set], BallValue],
    simulate_f: Callable[[set, BallValue], float | None] | None = None,
    cone_qubits: set | None = None,
    reference: Callable[[float | None], Reference | None] | None = None,
) -> Region:
    """The smallest certified ball around `centre`: its ideal value is within delta = 1 / (f sqrt(shots))
    of the whole light cone's.

    Certificate: ball values of a truncated lattice oscillate with the radius,
    so neighbouring balls agreeing proves nothing. A ball of value v is
    certified against a reference value v_ref of the whole cone with error
    u_ref (exact methods: u_ref = 0) when |v - v_ref| + u_ref <= delta, and
    that sum is the region's uncertainty. The reference is the first ball that
    holds every qubit of the cone (`cone_qubits`: its value is exact), or
    `reference(delta)` (computed once, when needed: the whole cone by another method).
    A reference from a truncated method (Pauli propagation) carries an error
    estimate, not a bound: `region_certificate` says which kind certified, and
    such a ball must be corroborated: the next larger ball agrees with the
    reference too (a ball that is within delta only transiently, between two
    swings of the oscillation, is not claimed).
    Without a reference within the budgets, or without a fidelity for delta, no
    region is claimed (a_eff None) and the notes say why; the balls' values stay
    in `region_history`.

    `f` (with `f_source` saying where it came from) is the fidelity for delta;
    when it is None and `reg.f_eff` is a number, that number is used; when
    both are missing, `simulate_f(qubits, ball)` is asked on every ball (it
    returns None where it cannot simulate) and the latest answer is used.
    `evaluate` may raise RegionTooCostly. The returned Region's fields carry the
    classical reproduction (`reproduced_value`, `reproduced_err`,
    `reproduced_method`, `reproduced_seconds`): the certified region's value,
    else the reference's, else None.
    """
    import time

    if not reg.enabled:
        return Region(
            None,
            None,
            None,
            _reproduction(None, None, None, None),
            ["effective region disabled (circuit.region.enabled: false)"],
        )
    if reg.f_eff != "auto":  # the user's fidelity (e.g. the device's measured one) sets delta, simulated or not
        f, f_source = float(reg.f_eff), "circuit.region.f_eff"
    elif not (f and f > 0):
        f, f_source = None, None
    auto_f = f_source is None
    history: list[dict[str, Any]] = []
    balls: list[tuple[BallValue, set, int]] = []
    notes: list[str] = []
    ref: Reference | None = None
    ref_tried = False
    n_all = lattice.n_qubits
    cone = set(cone_qubits) if cone_qubits is not None else None
    delta = 1.0 / (f * shots**0.5) if shots and f and f > 0 else None
    stop_reason = None
    r = 0

    while True:  # ends: the ball stops growing at the latest when it holds every reachable qubit
        qs = lattice.ball(list(centre), r)
        if balls and len(qs) == len(balls[-1][1]):
            break  # holds all the centre reaches
        if len(qs) > reg.max_qubits:
            stop_reason = f"the next ball has {len(qs)} qubits, over circuit.region.max_qubits = {reg.max_qubits}"
            break
        t = time.perf_counter()
        try:
            ball = evaluate(qs)
        except RegionTooCostly as e:
            stop_reason = f"{e} (circuit.region.tn_memory_bytes / tn_max_flops)"
            break
        ball.seconds = time.perf_counter() - t
        if auto_f and simulate_f is not None:
            sim_f = simulate_f(qs, ball)
            if sim_f is not None:
                f, f_source = sim_f, f"noisy simulation of the {len(qs)}-qubit region"
        if shots and f and f > 0:
            delta = 1.0 / (f * shots**0.5)
        holds_cone = len(qs) == n_all or (cone is not None and cone <= qs)
        if holds_cone and ref is None:
            ref = Reference(ball.value, 0.0, f"whole light cone ({ball.method}, {len(qs)} qubits)", ball.seconds)
        history.append(
            {
                "radius": r,
                "qubits": len(qs),
                "gates_2q": ball.gates_2q,
                "value": ball.value,
                "method": ball.method,
                "delta": delta,
                "seconds": round(ball.seconds, 4),
            }
        )
        balls.append((ball, qs, r))
        if ref is None and not ref_tried and reference is not None:
            ref_tried = True
            ref = _try_reference(reference, delta, notes)
        if _certified_ball(balls, ref, delta) is not None or holds_cone:
            break
        r += 1
    if ref is None and not ref_tried and reference is not None:  # stopped before the first ball
        ref = _try_reference(reference, delta, notes)
    return _region_result(balls, history, ref, f, f_source, delta, shots, stop_reason, notes)


def _try_reference(reference: Callable[[float | None], Reference | None], delta, notes: list[str]):
    """`reference(delta)`, or None with the reason in `notes` when the whole cone is over the budgets."""
    try:
        return reference(delta)
    except RegionTooCostly as e:
        notes.append(f"no reference value of the whole light cone: {e}")
        return None


def _why_no_region(shots: int, delta: float | None, ref: Reference | None, stop_reason: str | None) -> str:
    """The note saying why no ball was certified: no shots, no fidelity, no reference, or no ball close enough."""
    if not shots:
        return "effective region needs simulation.shots > 0 (delta = 1/(f sqrt(shots)))"
    if delta is None:
        return "effective region: no fidelity for delta = 1/(f sqrt(shots)) (set circuit.region.f_eff)"
    if ref is None:
        return (
            "effective region not certified: no value of the whole light cone within the budgets"
            + (f" ({stop_reason})" if stop_reason else "")
            + "; largest ball's value in region_history"
        )
    return (
        f"effective region not certified: no ball within delta = {delta:.3g} of the reference "
        + (f"before {stop_reason}" if stop_reason else "")
        + "; largest ball's value in region_history"
    )


def _region_result(
    balls: list[tuple[BallValue, set, int]],
    history: list[dict[str, Any]],
    ref: Reference | None,
    f: float | None,
    f_source: str | None,
    delta: float | None,
    shots: int,
    stop_reason: str | None,
    notes: list[str],
) -> Region:
    """The region's fields from the balls evaluated: the smallest certified ball, else none.

    Parameters
    ----------
    balls : list of (BallValue, set, int)
        The balls evaluated, smallest first: value, qubits, radius.
    history : list of dict
        Their `region_history` rows.
    ref : Reference or None
        The whole cone's value.
    f, f_source, delta
        The fidelity for delta, where it came from, and delta = 1 / (f sqrt(shots)).
    shots : int
        The device's shots.
    stop_reason : str or None
        Why the growth stopped short of the cone.
    notes : list of str
        Added to: why no region is claimed, or why the reference is not the reproduction.

    Returns
    -------
    Region
        The certified ball, its value the reproduction; else no region, the reproduction the
        reference's (when it stands alone) or None.
    """
    fields: dict[str, Any] = {
        "region_f": f,
        "region_f_source": f_source,
        "region_delta": delta,
        "region_history": history,
        "region_radius": None,
        "region_value": None,
        "region_err": None,
    }
    if ref is not None:
        fields.update(
            {
                "reference_value": ref.value,
                "reference_err": ref.err,
                "reference_method": ref.method,
                "reference_seconds": ref.seconds,
                "reference_source": ref.source,
                "region_certificate": "rigorous" if ref.exact else "estimate",
            }
        )
    chosen = _certified_ball(balls, ref, delta)
    if chosen is None and ref is not None and not ref.exact and balls and _within(balls[-1][0], ref, delta):
        notes.append(
            f"the {len(balls[-1][1])}-qubit ball agrees with the reference estimate, but no larger ball "
            "could be evaluated to corroborate it" + (f" ({stop_reason})" if stop_reason else "")
        )
    if chosen is not None:
        ball, qs, rad = chosen
        err = abs(ball.value - ref.value) + ref.err
        fields.update({"region_radius": rad, "region_value": ball.value, "region_err": err})
        fields.update(
            _reproduction(ball.value, err, f"effective region ({ball.method}, {len(qs)} qubits)", ball.seconds)
        )
        return Region(len(qs), ball.gates_2q, ball.network(), fields, notes, whole=ball.whole)
    notes.append(_why_no_region(shots, delta, ref, stop_reason))
    if ref is not None and not ref.alone:
        notes.append(
            f"{ref.method}: {ref.value:.4g} +- {ref.err:.2g} is not shown as the reproduction: its "
            "error estimate leaves out belief propagation's loop error and no ball corroborated it"
        )
        fields.update(_reproduction(None, None, None, None))
    elif ref is not None:
        fields.update(_reproduction(ref.value, ref.err, ref.method, ref.seconds))
    else:
        fields.update(_reproduction(None, None, None, None))
    return Region(None, None, None, fields, notes)
