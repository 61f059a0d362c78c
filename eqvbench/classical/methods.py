"""Classical methods: what each costs for a point, and the cheapest that reproduces it.

Every point lists the same methods, in this order (docs/physics.md, "Classical methods"):

- ``contraction``: the exact tensor-network contraction of the light cone,
  costed by a searched tree (`cost_flops`). Not run: its `value` is null and
  its `err` 0 (it is exact). ``over_budget`` when the network was too large to
  search and the in-order sweep's cost stands as a bound.
- ``region``: the certified effective region (the ball whose value is within
  the device's error bar of the whole cone's), costed the same way; its value
  and uncertainty are computed.
- ``pauli_propagation``: Heisenberg-picture sparse Pauli dynamics of the whole
  cone with the coefficient cut-off tightened until converged; its cost is a
  FLOP-equivalent (string-gate operations x (4 x 64-bit words + 2)).
- ``belief_propagation``: the whole cone's state as a tensor network on the
  circuit's qubit graph (simple update at bond dimension chi, BP environments),
  chi raised until converged; its cost is the SVD/QR/contraction FLOP counted
  (:mod:`eqvbench.classical.belief_propagation`).

`seconds` are on this machine: measured where the method ran, else the FLOP
count over this machine's calibrated rate (:func:`machine_flops`,
`seconds_kind` says which).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

METHODS = ("contraction", "region", "pauli_propagation", "belief_propagation")
STATUSES = ("ok", "over_budget", "not_applicable")

_RATE: list[float] = []


@dataclass
class MethodResult:
    """One classical method's account of a point. `flops` in real FLOP (FLOP-equivalent for Pauli
    propagation), `seconds` on this machine; `value` and `err` for observables."""

    method: str
    status: str
    value: float | None = None
    err: float | None = None
    flops: float | None = None
    seconds: float | None = None
    seconds_kind: str | None = None  # 'measured' | 'extrapolated'
    budget: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # method-specific figures (strings kept, qubits, ...)

    def __post_init__(self) -> None:
        if self.method not in METHODS or self.status not in STATUSES:
            raise ValueError(f"unknown method {self.method!r} or status {self.status!r}")

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MethodResult:
        """An entry of a point's `methods` list read back (a stored point)."""
        names = ("method", "status", "value", "err", "flops", "seconds", "seconds_kind", "budget", "note")
        return cls(**{k: d.get(k) for k in names if k in d}, detail={k: v for k, v in d.items() if k not in names})

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "status": self.status,
            "value": self.value,
            "err": self.err,
            "flops": self.flops,
            "seconds": self.seconds,
            "seconds_kind": self.seconds_kind,
            "budget": self.budget,
            "note": self.note,
            **self.detail,
        }


def not_applicable(method: str, why: str) -> MethodResult:
    return MethodResult(method, "not_applicable", note=why)


def machine_flops() -> float:
    """This machine's sustained complex128 matrix-multiply rate, real FLOP/s (measured once per process:
    the best of five 384 x 384 products, about 0.1 s). Used to extrapolate contraction seconds."""
    if not _RATE:
        import time

        import numpy as np

        n = 384
        rng = np.random.default_rng(0)
        a = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
        a @ a  # warm-up
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            a @ a
            best = min(best, time.perf_counter() - t)
        _RATE.append(8.0 * n**3 / max(best, 1e-9))
    return _RATE[0]


def contraction_entry(cost, note: str | None = None) -> MethodResult:
    """The light cone's contraction from its cost search (`CostResult`); None cost: not costed."""
    if cost is None:
        return not_applicable("contraction", note or "not costed (cost.enabled: false)")
    search = str(cost.budget.get("search", ""))
    searched = not search.startswith("linear (")
    status = "ok" if searched else "over_budget"
    why = None if searched else f"{search}: the in-order sweep's cost is an upper bound"
    return MethodResult(
        "contraction",
        status,
        value=None,
        err=0.0,
        flops=cost.cost_flops,
        seconds=cost.cost_flops / machine_flops(),
        seconds_kind="extrapolated",
        budget=dict(cost.budget),
        note=why or note,
        detail={"width_log2": cost.width_log2},
    )


def region_entry(
    fields: dict[str, Any], cost_eff_flops: float | None, reg_budget: dict[str, Any], notes: list[str]
) -> MethodResult:
    """The certified effective region from the region fields a family wrote."""
    disabled = next((n for n in notes if n.startswith("effective region disabled")), None)
    if disabled:
        return not_applicable("region", disabled)
    if "region_history" not in fields:
        return not_applicable("region", "the measured quantity's support is the whole circuit")
    if fields.get("region_value") is None:
        why = next((n for n in notes if n.startswith("effective region")), "effective region not certified")
        return MethodResult("region", "over_budget", budget=reg_budget, note=why)
    seconds = None
    for h in fields.get("region_history") or []:
        if h.get("radius") == fields.get("region_radius"):
            seconds = h.get("seconds")
    return MethodResult(
        "region",
        "ok",
        value=fields["region_value"],
        err=fields["region_err"],
        flops=cost_eff_flops,
        seconds=seconds,
        seconds_kind="measured" if seconds is not None else None,
        budget=reg_budget,
        note=None if cost_eff_flops is not None else "region not costed",
        detail={
            "a_eff": fields.get("a_eff"),
            "certificate": fields.get("region_certificate"),
            # certified: against an exact reference, or (eqvbench.classical.certify) a certified one
            "certified": bool(fields.get("region_certified", fields.get("region_certificate") == "rigorous")),
            "certificate_chain": fields.get("region_certificate_chain"),
        },
    )


def classical_seconds(m: MethodResult, rate: float, f: float | None, delta: float | None) -> float | None:
    """Seconds on a machine of `rate` FLOP/s for method `m` to give the device's quantity, or None when it
    does not: its flops over the rate (for the contraction times f, the sampling argument: a sampler at
    fidelity f needs a fraction f of the exact work), or its measured seconds on this machine when fewer.
    A method with a value counts only when its `err` is within the device's error bar `delta`."""
    if m.status == "not_applicable" or m.flops is None and m.seconds is None:
        return None
    if m.method != "contraction" and (m.value is None or m.err is None or delta is None or m.err > delta):
        return None
    if m.method != "contraction" and m.detail.get("certified") is not True:  # eqvbench.classical.certify
        return None
    options = []
    if m.flops is not None:
        scale = f if (m.method == "contraction" and f is not None and f > 0) else 1.0
        options.append(scale * m.flops / rate)
    if m.seconds is not None and m.seconds_kind == "measured":
        options.append(m.seconds)
    return min(options) if options else None
