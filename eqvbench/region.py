"""Effective region (FRAMEWORK.md section 4), shared by the observable families.

The device resolves its measured value only to delta = 1 / (f sqrt(shots)).
The effective region is the smallest ball around the measured quantity's
support (qubits within r coupler hops, and the gates among them) whose ideal
value no longer moves by delta when the ball grows by one hop. A family
supplies how to evaluate a ball (:class:`BallValue`); the growth loop, the
stopping rule and the contraction budget live here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Union

from pydantic import BeforeValidator, Field

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
    """`circuit.region`: effective-region search (FRAMEWORK.md section 4)."""

    enabled: bool = True
    max_qubits: Annotated[int, Field(ge=1, le=64)] = 32  # stop growing past this many qubits
    statevector_max_qubits: Annotated[int, Field(ge=1, le=26)] = 20  # above: tensor-network contraction
    tn_max_repeats: Annotated[int, Field(ge=1, le=10_000)] = 16
    tn_memory_bytes: Annotated[float, Field(gt=0)] = 2.0**31  # largest intermediate allowed, bytes
    tn_max_flops: Annotated[float, Field(gt=0)] = 1e11  # contraction budget per region value, real FLOP
    # fidelity for delta where the point is not simulated: 'auto' lets the family simulate a
    # region that fits simulation.max_qubits (slow for deep circuits); a number is taken as given
    # (e.g. the device's measured effective fidelity)
    f_eff: Annotated[Union[str, float], BeforeValidator(_region_f)] = "auto"


class RegionTooCostly(ValueError):
    """Contracting a region's network would exceed the region's memory or FLOP budget."""


def contract_within_budget(tn, n_qubits: int, max_repeats: int = 16, seed: int = 0,
                           memory_bytes: float = 2**31, max_flops: float = 1e11) -> complex:
    """Contract a closed quimb network with a seeded cotengra tree (complex128).

    The tree is found first; RegionTooCostly is raised (nothing contracted)
    when its largest intermediate exceeds `memory_bytes` or its cost exceeds
    `max_flops` real FLOP (8 x multiply-adds).
    """
    import random

    import cotengra as ctg

    from eqvbench.cost import _serial_auto_parallel

    tn = tn.rank_simplify(output_inds=())
    state = random.getstate()
    random.seed(seed)
    try:
        opt = ctg.HyperOptimizer(max_repeats=max_repeats, parallel=False, progbar=False, reconf_opts={})
        with _serial_auto_parallel():  # kahypar's inner greedy passes would otherwise start a pool
            tree = tn.contraction_tree(optimize=opt, output_inds=())
        flops = 8 * tree.contraction_cost()
        if 16 * tree.max_size() > memory_bytes or flops > max_flops:
            raise RegionTooCostly(
                f"contracting the {n_qubits}-qubit region needs 2^{math.log2(tree.max_size()):.0f} "
                f"elements and {flops:.2g} FLOP (budget {memory_bytes:.2g} B, {max_flops:.2g} FLOP)"
            )
        return complex(tn.contract(all, optimize=tree, output_inds=()))
    finally:
        random.setstate(state)


@dataclass
class BallValue:
    """A family's evaluation of one ball: the ideal value, how it was computed ('statevector',
    'tensor_network'), the ball's two-qubit gates in the light cone, and what to cost if chosen."""

    value: float
    method: str
    gates_2q: int
    network: Callable[[], Any]  # builds the quimb network of the region (None when not costable)
    whole: bool | None = None  # the network is the point's whole cost network (None: not known)


def grow_region(lattice, centre, reg: dict[str, Any], shots: int, f: float | None, f_source: str | None,
                evaluate: Callable[[set], BallValue],
                simulate_f: Callable[[set, BallValue], float | None] | None = None) -> Region:
    """Grow the ball of radius r around `centre` until the ideal value moves by less than
    delta = 1 / (f sqrt(shots)); the region is the last ball before that move.

    `f` (with `f_source` saying where it came from) is the fidelity for delta;
    when it is None and `reg['f_eff']` is a number, that number is used; when
    both are missing, `simulate_f(qubits, ball)` is asked on every ball (it
    returns None where it cannot simulate) and the latest answer is used.
    Raises nothing for an unreachable region: the Region's notes say why.
    `evaluate` may raise RegionTooCostly.
    """
    if not reg["enabled"]:
        return Region(None, None, None, {}, ["effective region disabled (circuit.region.enabled: false)"])
    if not shots:
        return Region(None, None, None, {}, ["effective region needs simulation.shots > 0 (delta = 1/(f sqrt(shots)))"])
    if not (f and f > 0):
        f, f_source = None, None
        if reg["f_eff"] != "auto":
            f, f_source = float(reg["f_eff"]), "circuit.region.f_eff"
    auto_f = f_source is None
    history: list[dict[str, Any]] = []
    prev: tuple[BallValue, set] | None = None
    n_all = lattice.n_qubits
    r = 0
    while True:  # ends: the ball stops growing at the latest when it holds every reachable qubit
        qs = lattice.ball(list(centre), r)
        if len(qs) > reg["max_qubits"]:
            return Region(None, None, None, {"region_history": history},
                          [f"effective region not found within circuit.region.max_qubits = {reg['max_qubits']} qubits"])
        try:
            ball = evaluate(qs)
        except RegionTooCostly as e:
            return Region(None, None, None, {"region_history": history},
                          [f"effective region not found: {e} (circuit.region.tn_memory_bytes / tn_max_flops)"])
        if auto_f and simulate_f is not None:
            sim_f = simulate_f(qs, ball)
            if sim_f is not None:
                f, f_source = sim_f, f"noisy simulation of the {len(qs)}-qubit region"
        delta = 1.0 / (f * shots**0.5) if f and f > 0 else None
        history.append({"radius": r, "qubits": len(qs), "gates_2q": ball.gates_2q, "value": ball.value,
                        "method": ball.method, "delta": delta})
        if prev is not None and delta is not None and abs(ball.value - prev[0].value) < delta:
            chosen, chosen_qs, radius = prev[0], prev[1], r - 1
            break
        if len(qs) == n_all or (prev is not None and len(qs) == len(prev[1])):
            chosen, chosen_qs, radius = ball, qs, r  # the whole lattice, or all of it the centre reaches
            break
        prev = (ball, qs)
        r += 1
    fields = {"region_radius": radius, "region_f": f, "region_f_source": f_source, "region_delta": delta,
              "region_history": history}
    return Region(len(chosen_qs), chosen.gates_2q, chosen.network(), fields, whole=chosen.whole)
