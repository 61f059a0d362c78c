"""How far a point stands from the other side: the break-even error rate and the resource peak.

docs/physics.md ("Break-even error rate and resource peak") states the method:

break_even_eps
    The device's error rates are scaled by one factor s (every rate, or only the
    two-qubit ones with the others held, ``device.break_even_rates``). The digital
    model gives the fidelity at s exactly from the point's error locations
    (:func:`rate_profile`): f(s) = mean over terms of prod (1 - s p)^n; a
    simulated point keeps its effective volume, f(s) = f_eff^(eps(s) / eps).
    The device's error bar scales as 1 / f, the contraction's time as f (the
    sampling argument; a sampling task's cost in proportion), the approximate
    methods are costed at the new error bar by their own ladders, and
    :func:`eqvbench.classical.verdict.decide` gives the verdict at s. The
    nearest s where that verdict changes is found on a log grid, then by
    bisection; `break_even_eps` is the dressed eps (as the point's `eps`) there.
resource_peak_depth
    For families with a depth parameter, R(d) = f(d) x cost(d) from the digital
    model's f at depth d and the contraction cost of depth d (no simulation),
    searched over a geometric ladder of depths then refined on the integers
    around the largest rung, assuming R has one peak there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from typing import Any

KINDS = ("2q", "1q", "idle", "readout")
RATE_MODES = ("proportional", "hold")
# the scale factor s is searched over [S_MIN, s_max]: rates 10^4 below the device's at most
S_MIN = 1e-4
GRID_STEP = 10**0.02  # log grid of s (about 4.7 % per step) before bisection
BISECT_REL = 1e-6  # bisection stops at this relative width in s
# the resource-peak search
PEAK_MAX_EVALUATIONS = 24
PEAK_FALL = 100.0  # the ladder stops once R has fallen this far below its largest value
PEAK_MAX_DEPTH = 200

BREAK_EVEN_KEYS = (
    "break_even_eps",
    "break_even_p2",
    "break_even_scale",
    "break_even_f",
    "break_even_classical_seconds",
    "break_even_verdict",
    "break_even_rates",
    "break_even_note",
)
RESOURCE_PEAK_KEYS = (
    "resource_peak_depth",
    "resource_peak_flops",
    "resource_peak_f",
    "resource_peak_cost_flops",
    "resource_peak_note",
    "resource_peak_ladder",
)


def rate_profile(
    noise, circuit, qubits: Sequence, measured: Collection = (), locations: Collection | None = None
) -> list[list]:
    """The error locations that matter, grouped: ``[[kind, rate, count], ...]``.

    Parameters
    ----------
    noise : NoiseModel
        The point's noise (rates are probabilities).
    circuit, qubits, measured, locations
        As :meth:`eqvbench.circuits.noise.NoiseModel.f_model`: `locations` None counts every gate and
        idle slot.

    Returns
    -------
    list
        kind ('2q', '1q', 'idle', 'readout'), rate and how many locations carry it; prod (1 - rate)^count
        is `NoiseModel.f_model` exactly.
    """
    import cirq

    counts: dict[tuple[str, float], int] = {}

    def add(kind: str, p: float) -> None:
        if p:
            counts[(kind, p)] = counts.get((kind, p), 0) + 1

    for m, moment in enumerate(circuit):
        busy = set()
        for op in moment:
            if cirq.is_measurement(op):
                continue
            busy.update(op.qubits)
            if locations is None or (m, tuple(op.qubits)) in locations:
                add("2q" if len(op.qubits) == 2 else "1q", noise.gate_error_on(op.qubits))
        for q in qubits:
            if q not in busy and (locations is None or (m, (q,)) in locations):
                add("idle", noise.idle_of(q))
    for q in measured:
        add("readout", noise.readout_of(q))
    return [[k, p, n] for (k, p), n in sorted(counts.items())]


def _log_f(profile: list[list], s: float, mode: str) -> float:
    """ln prod (1 - s p)^n over a profile (held kinds unscaled in mode 'hold'); -inf where a rate reaches 1."""
    out = 0.0
    for kind, p, n in profile:
        q = p * s if (mode == "proportional" or kind == "2q") else p
        if q >= 1:
            return -math.inf
        out += n * math.log1p(-q)
    return out


def model_of(
    noise, first, cone, n_gates_2q: int, f_point: float | None, f_source: str, readout_measured: Collection
) -> dict[str, Any]:
    """What the break-even search needs from a point's circuit, as JSON (kept in the point so that a
    reused point's break-even can be computed again): the whole circuit's profile (for eps), the cone's
    profile per term (for f_model) with each term's weight, the fidelity the verdict used and its source."""
    full = rate_profile(noise, first.circuit, first.qubits, readout_measured)
    terms: dict[str, list] = {}
    for locs in cone.term_locations or [cone.locations]:
        prof = rate_profile(noise, first.circuit, first.qubits, readout_measured, locs)
        key = repr(prof)
        terms.setdefault(key, [0, prof])[0] += 1
    return {
        "n_gates_2q": n_gates_2q,
        "full": full,
        "terms": list(terms.values()),
        "f": f_point,
        "f_source": f_source,
        "p2": noise.p2,
    }


def fidelity_at(model: dict[str, Any], s: float, mode: str) -> tuple[float, float | None]:
    """(f, eps) at rates scaled by `s`: f the fidelity the verdict would use, eps the dressed error per
    two-qubit gate of the whole circuit (None without two-qubit gates)."""
    lf_full = _log_f(model["full"], s, mode)
    n2 = model["n_gates_2q"]
    eps = -lf_full / n2 if n2 else None
    if model["f_source"] == "f_eff":
        eps0 = -_log_f(model["full"], 1.0, mode) / n2 if n2 else None
        if not eps0 or eps is None:
            return model["f"], eps
        return model["f"] ** (eps / eps0), eps
    w = sum(c for c, _ in model["terms"])
    return sum(c * math.exp(_log_f(prof, s, mode)) for c, prof in model["terms"]) / w, eps


def _s_max(model: dict[str, Any], mode: str) -> float:
    """Largest scale at which every scaled rate stays below 1."""
    ps = [p for kind, p, _ in model["full"] if p > 0 and (mode == "proportional" or kind == "2q")]
    for _, prof in model["terms"]:
        ps += [p for kind, p, _ in prof if p > 0 and (mode == "proportional" or kind == "2q")]
    return (1.0 / max(ps)) * (1 - 1e-9) if ps else math.inf


def _path_fraction(way: dict[str, Any] | None, f: float) -> float:
    """A sampling way's fraction of paths at fidelity f with its tree kept (proportional to f without one)."""
    if not way or not way.get("sampler_xeb") or not way.get("paths"):
        return f
    return min(1.0, max(f / way["sampler_xeb"], 1.0 / way["paths"]))


def break_even(
    methods: list,
    model: dict[str, Any] | None,
    delta: float | None,
    rate: float,
    device_seconds: float | None,
    task_seconds: float | None = None,
    mode: str = "proportional",
    task_way: dict[str, Any] | None = None,
    sampling: bool = False,
) -> dict[str, Any]:
    """The break-even fields of a point (:data:`BREAK_EVEN_KEYS`).

    Parameters
    ----------
    methods : list of MethodResult
        The point's methods, as the verdict read them.
    model : dict or None
        :func:`model_of` for the point.
    delta : float or None
        The device's error bar at the point's rates (the verdict's).
    rate : float
        `report.machine`'s FLOP/s.
    device_seconds : float or None
        The device's run (held fixed: same shots at every rate).
    task_seconds : float or None
        A sampling task's cost on the machine at the point's fidelity.
    mode : {'proportional', 'hold'}
        Scale every rate, or only the two-qubit ones.
    task_way : dict or None
        The task's chosen way (`sampling_task[task_method]`: `sampler_xeb` x, `paths` S, `path_fraction`).
        At another f the task is that way with its tree kept: its fraction of paths min(1, max(f / x, 1 / S))
        (docs/sampling.md). Cutting the tree into more paths where f falls below x / S, or switching
        ways, can only make the task cheaper, so a flip to `classical` as the rates rise comes no later
        than where this model puts it: the break-even rate is then an upper bound.
    sampling : bool
        The point is a sampling task (the verdict's `sampling`).

    Returns
    -------
    dict
        `break_even_eps` (dressed error per two-qubit gate at the flip), `break_even_p2` (the bare
        two-qubit rate there), `break_even_scale` (s, rates over the point's), `break_even_f`,
        `break_even_verdict` (the verdict past the flip), `break_even_rates` (mode) and `break_even_note`;
        None and the note saying why where no flip is found.
    """
    from eqvbench.classical.verdict import decide

    out: dict[str, Any] = dict.fromkeys(BREAK_EVEN_KEYS)
    out["break_even_rates"] = mode

    def fail(why: str) -> dict[str, Any]:
        out["break_even_note"] = why
        return out

    if device_seconds is None:
        return fail("no device run given (device.shots and device.repetition_s): no verdict to flip")
    if model is None:
        return fail("no digital model for this point")
    f0 = model.get("f")
    if f0 is None:
        return fail("no fidelity for the point (f_eff and f_model missing)")
    if not 0 < f0 < 1:
        return fail(f"the fidelity the verdict uses is {f0:.3g}, not inside (0, 1): no error rate scales it")
    f_model0, eps0 = fidelity_at({**model, "f_source": "f_model"}, 1.0, mode)
    if eps0 is None:
        return fail("the circuit has no two-qubit gates: no error per two-qubit gate")
    if eps0 <= 0 or f_model0 >= 1:
        return fail("the digital model's fidelity is 1 (noiseless rates): no error rate to scale")
    if f_model0 <= 0 or not math.isfinite(eps0):
        return fail("the digital model's fidelity is 0 (a rate of 1): no error rate to scale")
    if mode == "hold" and not any(k == "2q" for k, _, _ in model["full"]):
        return fail("the two-qubit gates carry no error: holding the other rates leaves nothing to scale")

    def decided(s: float) -> dict[str, Any]:
        f, _ = fidelity_at(model, s, mode)
        d = delta * f0 / f if delta is not None else None
        t = None
        if task_seconds is not None:
            t = task_seconds * _path_fraction(task_way, f) / _path_fraction(task_way, f0)
        return decide(methods, min(f, 1.0), d, rate, device_seconds, t, sampling=sampling)

    def at(s: float) -> tuple[str | None, float, float | None]:
        f, eps = fidelity_at(model, s, mode)
        if not f > 0:
            return "classical", f, eps  # nothing of the signal survives: any sampler matches it
        return decided(s)["verdict"], f, eps

    v0, _, _ = at(1.0)
    other = {"classical": "quantum", "quantum": "classical"}
    s_top = _s_max(model, mode)

    def scan(direction: int) -> tuple[float, float] | None:
        """(last s with v0, first s without) walking from 1 in `direction` (-1 lower rates, +1 higher)."""
        s_prev = 1.0
        while True:
            s = s_prev * GRID_STEP**direction
            if s < S_MIN or s > s_top:
                return None
            if at(s)[0] != v0:
                return s_prev, s
            s_prev = s

    def bisect(a: float, b: float) -> float:
        while abs(b - a) > BISECT_REL * max(a, b):
            m = math.sqrt(a * b)
            if at(m)[0] == v0:
                a = m
            else:
                b = m
        return b

    if v0 in other:
        direction = -1 if v0 == "classical" else +1
        br = scan(direction)
        if br is None:
            lim = S_MIN if direction < 0 else s_top
            f_lim, eps_lim = fidelity_at(model, lim, mode)
            where = (
                f"rates down to {lim:g} x the point's (eps {eps_lim:.3g}, f {f_lim:.3g})"
                if direction < 0
                else f"rates up to {lim:.3g} x the point's (a rate reaches 1; eps {eps_lim:.3g})"
            )
            return fail(f"{v0} at every error rate searched, {where}")
        directions = [(direction, br)]
    else:
        directions = [(d, br) for d in (-1, +1) if (br := scan(d)) is not None]
        if not directions:
            return fail(f"'{v0}' at every error rate searched: no method's cost settles it at any rate")
    found = []
    for _direction, (a, b) in directions:
        s_star = bisect(a, b)  # just past the flip, within BISECT_REL
        v_past, f_star, eps_star = at(s_star)
        found.append((abs(math.log(s_star)), s_star, v_past, f_star, eps_star))
    _, s_star, v_past, f_star, eps_star = min(found)
    if v0 in other and v_past != other[v0]:
        # the verdict leaves v0 but not for the other side: say where and why
        f_s, _ = fidelity_at(model, s_star, mode)
        d = delta * f0 / f_s if delta is not None else None
        note = decide(methods, min(f_s, 1.0), d, rate, device_seconds, None)["verdict_note"]
        out.update({"break_even_scale": s_star, "break_even_f": f_star, "break_even_verdict": v_past})
        return fail(
            f"{v0} down to eps {eps_star:.4g} ({s_star:.3g} x the point's rates), then {v_past}, not {other[v0]}: "
            f"{note}"
        )
    past = decided(s_star) if f_star > 0 else {"verdict_evidence": []}
    ev = [e["seconds"] for e in past["verdict_evidence"] if e.get("counts") and e.get("seconds") is not None]
    out.update(
        {
            "break_even_classical_seconds": past.get("classical_seconds", min(ev) if ev else None),
            "break_even_eps": eps_star,
            "break_even_p2": model["p2"] * s_star if model.get("p2") else None,
            "break_even_scale": s_star,
            "break_even_f": f_star,
            "break_even_verdict": v_past,
        }
    )
    eps_here = -_log_f(model["full"], 1.0, mode) / model["n_gates_2q"]
    side = "at or below" if eps_star < eps_here else "above"
    out["break_even_note"] = f"{v_past} {side} eps {eps_star:.4g} (has {eps_here:.4g}; rates {mode})" + (
        "" if v0 in other else f"; '{v0}' at the point's rates"
    )
    return out


def resource_peak(
    evaluate: Callable[[int], tuple[float | None, float | None, str | None]],
    d0: int,
    d_max: int = PEAK_MAX_DEPTH,
    known: dict[int, tuple[float | None, float | None, str | None]] | None = None,
    max_evaluations: int = PEAK_MAX_EVALUATIONS,
) -> dict[str, Any]:
    """The depth at which R(d) = f(d) x cost(d) peaks (:data:`RESOURCE_PEAK_KEYS`).

    Parameters
    ----------
    evaluate : callable
        depth -> (f, cost_flops, why): the fidelity and FLOP at that depth, or None and why not.
    d0 : int
        The point's depth (its value in `known` is reused).
    d_max : int
        Deepest depth tried.
    known : dict, optional
        Depths already evaluated.
    max_evaluations : int
        At most this many calls of `evaluate`.

    Returns
    -------
    dict
        `resource_peak_depth`, `resource_peak_flops` (R there, FLOP), `resource_peak_f`,
        `resource_peak_cost_flops`, `resource_peak_ladder` (every depth evaluated) and
        `resource_peak_note`; the depth None with why where the peak is not bracketed.
    """
    vals: dict[int, tuple[float | None, float | None, str | None]] = dict(known or {})
    calls = [0]

    def r(d: int) -> float | None:
        if d not in vals:
            if calls[0] >= max_evaluations:
                raise _Budget
            calls[0] += 1
            vals[d] = evaluate(d)
        f, c, _ = vals[d]
        return f * c if f is not None and c is not None else None

    out: dict[str, Any] = dict.fromkeys(RESOURCE_PEAK_KEYS)

    def ladder() -> list[dict[str, Any]]:
        rows = []
        for d in sorted(vals):
            f, c, why = vals[d]
            rows.append(
                {"depth": d, "f": f, "cost_flops": c, "resource_flops": f * c if f is not None and c else None}
                | ({"why": why} if why else {})
            )
        return rows

    note = None
    try:
        rungs = sorted({d for d in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192) if d <= d_max} | {d0})
        best = None
        for d in rungs:
            rd = r(d)
            if rd is None:
                note = f"no resource at depth {d}: {vals[d][2]}"
                break
            if best is None or rd > best[1]:
                best = (d, rd)
            elif d > d0 and rd < best[1] / PEAK_FALL:
                break
        if best is None:
            out["resource_peak_ladder"] = ladder()
            out["resource_peak_note"] = note or "no depth evaluated"
            return out
        ev = sorted(d for d in vals if r(d) is not None)
        i = ev.index(best[0])
        if i == len(ev) - 1:
            out["resource_peak_ladder"] = ladder()
            out["resource_peak_note"] = f"R still rises at the deepest depth tried ({ev[-1]}): the peak lies beyond" + (
                f"; {note}" if note else ""
            )
            return out
        a, b = ev[max(i - 1, 0)], ev[i + 1]
        while b - a > 2:  # ternary search on the integers of the bracket (one peak assumed)
            m1, m2 = a + (b - a) // 3, b - (b - a) // 3
            r1, r2 = r(m1), r(m2)
            if r1 is None or r2 is None:
                break
            if r1 < r2:
                a = m1
            else:
                b = m2
        for d in range(a, b + 1):
            r(d)
    except _Budget:
        note = f"the search stopped after {max_evaluations} depths: the peak is the largest R found"
    good = [
        (r_, d) for d in vals if (r_ := (vals[d][0] * vals[d][1] if vals[d][0] is not None and vals[d][1] else None))
    ]
    r_best, d_best = max(good)
    f, c, _ = vals[d_best]
    out.update(
        {
            "resource_peak_depth": d_best,
            "resource_peak_flops": r_best,
            "resource_peak_f": f,
            "resource_peak_cost_flops": c,
            "resource_peak_ladder": ladder(),
            "resource_peak_note": note
            or f"R = f x cost peaks at depth {d_best} ({r_best:.3g} FLOP; {len(vals)} depths costed, no simulation)",
        }
    )
    return out


class _Budget(Exception):
    """The resource-peak search used its evaluations."""
