"""The verdict: `classical`, `quantum` or `open`, with the evidence of every method (docs/physics.md, "Verdict").

- ``classical``: a method reproduced the device's quantity, certified within the
  device's error bar delta (:mod:`eqvbench.classical.certify`), in less time on
  `report.machine` than the device's run.
- ``quantum``: every applicable method has a cost estimate above the device's
  run: a searched contraction tree (never the unsearched in-order sweep), a
  certified method's own cost, and for the approximate methods that did not
  reach delta their cost to reach it projected from their own ladders
  (:func:`project_pauli`, :func:`project_bp`).
- ``open``: neither can be shown (a budget ran out and no projection is
  credible, or a value came back that nothing independent certifies).
"""

from __future__ import annotations

import math
from typing import Any

from eqvbench.classical.methods import MethodResult, classical_seconds

VERDICTS = ("classical", "quantum", "open")
# the point fields the verdict writes (recomputed when a stored point is reused: they read report.machine)
VERDICT_KEYS = (
    "task_seconds",
    "cheapest_method",
    "device_seconds",
    "classical_seconds",
    "verdict_machine",
    "verdict_method",
    "verdict",
    "verdict_note",
    "verdict_evidence",
)
# a projection reaches at most this many decades past the last rung it was fitted to
MAX_EXTRAPOLATION_DECADES = 3.0
MIN_RUNGS = 3


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares line y = a + b x."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 0 else 0.0
    return my - b * mx, b


def _project(knob: list[float], values: list[float], flops: list[float], target: float, shrinking: bool):
    """Project the FLOP at which the ladder's change per rung falls to `target`.

    `knob` is the ladder's setting per rung (a cut-off, which shrinks; or chi, which grows), `values` its
    values and `flops` its cost per rung. The change |v_i - v_{i-1}| and the cost are fitted as power laws
    of the knob over the last rungs; None (with why) where they do not fall, or the target lies more than
    :data:`MAX_EXTRAPOLATION_DECADES` decades past the last rung.
    """
    pts = [(k, abs(v - w), f) for k, v, w, f in zip(knob[1:], values[1:], values[:-1], flops[1:]) if k > 0 and f]
    pts = [(k, c, f) for k, c, f in pts if c > 0][-4:]
    if len(pts) < MIN_RUNGS - 1:
        return None, f"{len(pts)} rung(s) with a change: a projection needs {MIN_RUNGS - 1}"
    lk = [math.log10(k) for k, _, _ in pts]
    a, b = _fit(lk, [math.log10(c) for _, c, _ in pts])
    a2, b2 = _fit(lk, [math.log10(f) for _, _, f in pts])
    falls = b > 0.05 if shrinking else b < -0.05
    if not falls:
        return None, "the ladder's change does not fall as the ladder goes on"
    last = pts[-1][0]
    # in logs first: a target far off (a tiny or huge delta) must not overflow
    lk_star = math.log10(last) if pts[-1][1] <= target else (math.log10(target) - a) / b
    beyond = abs(lk_star - math.log10(last))
    if beyond > MAX_EXTRAPOLATION_DECADES:
        return None, f"delta lies {beyond:.1f} decades past the last rung (at most {MAX_EXTRAPOLATION_DECADES:g})"
    k_star = 10**lk_star
    flops_star = 10 ** (a2 + b2 * math.log10(k_star))
    return {
        "knob": k_star,
        "flops": max(flops_star, pts[-1][2]),
        "change_exponent": b,
        "cost_exponent": b2,
        "rungs_fitted": len(pts) + 1,
        "decades_extrapolated": beyond,
    }, None


def project_pauli(m: MethodResult, delta: float):
    """Pauli propagation's cost (FLOP-equivalent) to bring its cut-off ladder's change to delta / 2, from its
    own ladder (`detail['ladder']`); (projection, None) or (None, why)."""
    rungs = [r for r in m.detail.get("ladder") or [] if r.get("value") is not None]
    if not rungs:
        return None, "no cut-off completed"
    proj, why = _project(
        [r["coefficient_cutoff"] for r in rungs],
        [r["value"] for r in rungs],
        [r["flops"] for r in rungs],
        delta / 2,
        shrinking=True,
    )
    if proj is not None:
        proj = {**proj, "coefficient_cutoff": proj.pop("knob")}
        proj["assumes"] = (
            "the change between cut-offs and the cost per run follow power laws of the cut-off; "
            "the change is taken as the error"
        )
    return proj, why


def project_bp(m: MethodResult, delta: float):
    """Belief propagation's cost (FLOP) to bring the change per doubling of chi to delta / 2, from its chi
    ladder (`detail['ladder']`, the last picture's rungs). BP's loop error is not in the ladder: were it
    above delta, BP would never reach delta, so the projection is what BP costs at least."""
    ladder = [r for r in m.detail.get("ladder") or [] if r.get("value") is not None and r.get("flops")]
    if ladder:
        pic = ladder[-1].get("picture")
        ladder = [r for r in ladder if r.get("picture") == pic]
    if not ladder:
        return None, "no chi completed"
    proj, why = _project(
        [float(r["chi"]) for r in ladder],
        [r["value"] for r in ladder],
        [r["flops"] for r in ladder],
        delta / 2,
        shrinking=False,
    )
    if proj is not None:
        proj = {**proj, "chi": proj.pop("knob")}
        proj["assumes"] = (
            "the change per doubling of chi and the cost per rung follow power laws of chi; BP's loop error "
            "is not included, so this is what BP costs at least"
        )
    return proj, why


def _evidence(
    m: MethodResult,
    rate: float,
    f: float | None,
    delta: float | None,
    task_seconds: float | None,
    sampling: bool = False,
) -> dict[str, Any]:
    """One method's account for the verdict: `seconds` on the machine and `basis` ('reproduced',
    'searched tree', 'measured, not certified', 'projected'), or `seconds` None with `why`."""
    e: dict[str, Any] = {"method": m.method, "status": m.status, "budget": m.budget, "value": m.value, "err": m.err}
    if m.status == "not_applicable":
        return {**e, "counts": False, "seconds": None, "basis": None, "why": m.note or "not applicable"}
    if m.method == "contraction":
        if m.status != "ok":
            why = "the network was not searched: the in-order sweep's cost is an upper bound, not an estimate"
            return {**e, "counts": False, "seconds": None, "basis": None, "why": m.note or why}
        if sampling and task_seconds is None:
            why = "the device's sampling task was not costed (the point's notes say why); one amplitude is not the task"
            return {**e, "counts": False, "seconds": None, "basis": None, "why": why}
        t = task_seconds if sampling else classical_seconds(m, rate, f, delta)
        basis = "the device's sampling task" if sampling else "searched tree"
        return {**e, "counts": True, "reproduces": True, "seconds": t, "basis": basis, "why": None}
    t = classical_seconds(m, rate, f, delta)
    if t is not None:
        return {**e, "counts": True, "reproduces": True, "seconds": t, "basis": "certified", "why": None}
    if delta is None:
        return {**e, "counts": False, "seconds": None, "basis": None, "why": "no fidelity for delta"}
    if m.status == "ok" and m.flops is not None:
        # converged by its own estimate, but not certified: what it cost is the estimate of its cost
        why = m.detail.get("refused") or "not certified by an independent computation"
        if m.detail.get("certified") is True and m.err is not None and m.err > delta:
            why = f"certified, but its error {m.err:.2g} exceeds the device's error bar delta = {delta:.2g}"
        if m.detail.get("refused"):
            return {**e, "counts": False, "seconds": None, "basis": None, "why": f"refused: {why}"}
        secs = min(x for x in (m.flops / rate, m.seconds if m.seconds_kind == "measured" else math.inf))
        return {
            **e,
            "counts": True,
            "reproduces": False,
            "seconds": secs,
            "basis": "measured, not within delta" if m.detail.get("certified") is True else "measured, not certified",
            "why": why,
        }
    proj, why = (None, None)
    if m.method == "pauli_propagation":
        proj, why = project_pauli(m, delta)
    elif m.method == "belief_propagation":
        proj, why = project_bp(m, delta)
    else:
        why = m.note or "not certified within the budget, and no projection of its cost"
    if proj is None:
        return {**e, "counts": False, "seconds": None, "basis": None, "why": why}
    return {
        **e,
        "counts": True,
        "reproduces": False,
        "seconds": proj["flops"] / rate,
        "basis": "projected",
        "projection": proj,
        "why": None,
    }


def decide(
    methods: list[MethodResult],
    f: float | None,
    delta: float | None,
    rate: float,
    device_seconds: float | None,
    task_seconds: float | None = None,
    sampling: bool = False,
) -> dict[str, Any]:
    """The point's verdict fields.

    Parameters
    ----------
    methods : list of MethodResult
        Every method's entry.
    f : float or None
        The fidelity the device reached (the sampling argument's fraction of the work).
    delta : float or None
        The device's error bar on the measured quantity.
    rate : float
        `report.machine`'s FLOP/s.
    device_seconds : float or None
        The device's run (device.shots x device.repetition_s); None: no verdict.
    task_seconds : float or None
        For a sampling task, the contraction's cost of the device's samples on the machine.
    sampling : bool
        The device's task is sampling (XEB): the contraction counts with `task_seconds` only (never
        with one amplitude's cost), and not at all where that is None.

    Returns
    -------
    dict
        `verdict` (one of :data:`VERDICTS`, None without a device run), `verdict_evidence` (per method),
        `verdict_note`, `classical_seconds` (the cheapest reproduction) and `cheapest_method`.
    """
    evidence = [
        _evidence(m, rate, f, delta, task_seconds, sampling)
        if m.method == "contraction"
        else _evidence(m, rate, f, delta, None)
        for m in methods
    ]
    repro = [e for e in evidence if e.get("reproduces") and e["seconds"] is not None]
    out: dict[str, Any] = {"verdict_evidence": evidence}
    if repro:
        best = min(repro, key=lambda e: e["seconds"])
        out.update(
            {
                "cheapest_method": best["method"],
                "verdict_method": f"{best['method']} ({best['basis']})",
                "classical_seconds": best["seconds"],
            }
        )
    if device_seconds is None:
        out["verdict"] = None
        out["verdict_note"] = "no device run given (device.shots and device.repetition_s)"
        return out
    applicable = [e for e in evidence if e["status"] != "not_applicable"]
    fast = [e for e in repro if e["seconds"] <= device_seconds]
    if fast:
        e = min(fast, key=lambda e: e["seconds"])
        out["verdict"] = "classical"
        out["verdict_note"] = (
            f"{e['method']} reproduces it in {e['seconds']:.3g} s, under the device's {device_seconds:.3g} s"
        )
        return out
    unknown = [e for e in applicable if not e["counts"]]
    below = [e for e in applicable if e["counts"] and e["seconds"] <= device_seconds]
    if not unknown and not below and applicable:
        least = min(applicable, key=lambda e: e["seconds"])
        out["verdict"] = "quantum"
        out["verdict_note"] = (
            f"every method costs more than the device's {device_seconds:.3g} s; the least is "
            f"{least['method']} at {least['seconds']:.3g} s ({least['basis']})"
        )
        return out
    out["verdict"] = "open"
    parts = [f"{e['method']}: {e['why']}" for e in unknown]
    parts += [
        f"{e['method']}: {e['basis']} at {e['seconds']:.3g} s, under the device's run, but it does not reproduce"
        for e in below
    ]
    out["verdict_note"] = (
        ("; ".join(parts) + ": a larger budget for these methods (cost.*, circuit.region.*) would settle it")
        if parts
        else "no applicable method"
    )
    return out
