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

_RATE: list[dict[str, Any]] = []


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


# A rate measured with at least this share of one core for the benchmark (process CPU time over wall
# time) counts as measured on an idle core, and is cached for later runs (see machine_rate)
IDLE_CPU_SHARE = 0.9
RATE_FILE = "machine_rate.json"
RATE_ENV = "EQVBENCH_MACHINE_RATE"  # the run's rate, handed to the processes it starts


def machine_flops() -> float:
    """This machine's sustained complex128 matrix-multiply rate on one core, real FLOP/s
    (:func:`machine_rate`). Used to extrapolate contraction seconds (t_here)."""
    return machine_rate()["flops"]


def _rate_conditions() -> dict[str, Any]:
    """What the rate depends on besides the load: this host, its CPU, numpy and its BLAS."""
    import platform

    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    blas = "?"
    try:
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        mine = [i for i in info if "numpy" in str(i.get("filepath", ""))] or info  # numpy's: it multiplies
        blas = ", ".join(sorted({f"{i.get('internal_api')} {i.get('version')}" for i in mine})) or "?"
    except Exception:
        pass
    return {"host": platform.node(), "cpu": cpu, "numpy": np.__version__, "blas": blas, "threads": 1}


def _measure() -> tuple[float, float]:
    """(FLOP/s, share of one core the benchmark got): the best of five 384 x 384 complex products on
    one BLAS thread (as points contract), about 0.1 s."""
    import time

    import numpy as np
    from threadpoolctl import threadpool_limits

    n = 384
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    with threadpool_limits(limits=1, user_api="blas"):
        a @ a  # warm-up
        best = float("inf")
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(5):
            t = time.perf_counter()
            a @ a
            best = min(best, time.perf_counter() - t)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return 8.0 * n**3 / max(best, 1e-9), min(1.0, cpu / max(wall, 1e-9))


def rate_file() -> str:
    import os

    from eqvbench.classical.cost import default_cache_dir

    return os.path.join(default_cache_dir(), RATE_FILE)


def machine_rate() -> dict[str, Any]:
    """This machine's one-core matrix-multiply rate and how it was obtained (once per process).

    The rate of a core is the machine's only where the benchmark had the core to itself: a
    measurement that got at least IDLE_CPU_SHARE of a core is cached (`machine_rate.json` in the
    cache directory, `eqvbench.classical.cost.default_cache_dir`, with its date and conditions) and
    every later run on this host, CPU, numpy and BLAS uses it (`source`: 'cached'). Until such a
    measurement exists each run measures its own (`source`: 'this run', with the load it ran under).
    Delete the file to measure again.
    """
    import datetime
    import json
    import os

    if _RATE:
        return _RATE[0]
    handed = os.environ.get(RATE_ENV)  # the run that started this process measured it already
    if handed:
        try:
            rate = json.loads(handed)
            if isinstance(rate, dict) and float(rate["flops"]) > 0:
                _RATE.append(rate)
                return rate
        except (ValueError, KeyError, TypeError):
            pass
    conditions = _rate_conditions()
    path = rate_file()
    rate = None
    try:
        with open(path) as f:
            cached = json.load(f)
        if cached.get("conditions") == conditions and float(cached["flops"]) > 0:
            rate = {**cached, "source": "cached", "file": path}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    if rate is None:
        flops, share = _measure()
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        rate = {
            "flops": flops,
            "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpu_share": round(share, 3),
            "load_1min": None if load is None else round(load, 2),
            "conditions": conditions,
            "idle": share >= IDLE_CPU_SHARE,
            "source": "this run",
            "file": None,
        }
        if rate["idle"]:
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                tmp = f"{path}.{os.getpid()}.tmp"
                with open(tmp, "w") as f:
                    json.dump({k: v for k, v in rate.items() if k not in ("source", "file")}, f, indent=1)
                os.replace(tmp, path)
                rate = {**rate, "source": "measured now, cached", "file": path}
            except OSError:
                pass
    _RATE.append(rate)
    os.environ[RATE_ENV] = json.dumps(rate)  # workers started from here use the same rate
    return rate


def rate_text(rate: dict[str, Any] | None) -> str:
    """How the rate was obtained, in words, for the table's footer."""
    if not isinstance(rate, dict):
        return "measured by the run"
    when = str(rate.get("measured_at", "?"))[:10]
    if rate.get("idle"):
        return f"one core, measured idle on {when}" + (
            ", cached" if str(rate.get("source", "")).startswith(("cached", "measured now")) else ""
        )
    load = rate.get("load_1min")
    return (
        f"one core, this run's rate: measured under load ({rate.get('cpu_share', 0):.0%} of a core"
        + (f", load {load}" if load is not None else "")
        + "), not the machine's"
    )


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
