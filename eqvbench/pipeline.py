"""The pipeline: spec -> circuits -> noisy simulation -> fidelity -> volume -> cost.

Knows nothing about any family beyond the :class:`~eqvbench.families.base.Family`
interface.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eqvbench.errors import SpecError
from eqvbench.spec import Point, Spec, check_calibration

if TYPE_CHECKING:
    from eqvbench.families.base import PointSettings

Progress = Callable[[str], None]


def derive_seed(*parts: Any) -> int:
    """A 32-bit seed from any JSON-able parts: independent of sweep order."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "big")


PHYSICS_SECTIONS = ("experiment", "lattice", "circuit", "noise", "simulation")


def physics_of(values: dict[str, Any]) -> dict[str, Any]:
    """The sections that decide a point's sampled numbers: its random streams are seeded from these only,
    so cost, report, device or published settings (and fields added to them later) never move f_eff.
    `circuit.region` (the classical region search's settings and budgets) is left out for the same reason.
    An absent calibration is left out, so specs without one keep the streams they had before it existed."""
    out = {k: values[k] for k in PHYSICS_SECTIONS}
    if isinstance(out["circuit"], dict) and "region" in out["circuit"]:
        out["circuit"] = {k: v for k, v in out["circuit"].items() if k != "region"}
    if "calibration" in out["noise"] and out["noise"]["calibration"] is None:
        out["noise"] = {k: v for k, v in out["noise"].items() if k != "calibration"}
    return out


def cost_cache_key(pp: "PointPlan") -> str:
    """Points with equal keys have the same cost (same network structure, settings and search seed)."""
    from eqvbench.families import get_family

    values = pp.point.values
    # a family whose network depends on more than the circuits' structure says so with cost_key
    structure = get_family(values["experiment"]).cost_key(values) or pp.structure
    return json.dumps([values["experiment"], structure, values["cost"], values["seed"]], sort_keys=True, default=str)


@dataclass(frozen=True)
class PointPlan:
    """A point with its lattice built and its run decisions taken."""

    point: Point
    lattice: Any
    simulate: bool
    structure: dict[str, Any]

    @property
    def n_qubits(self) -> int:
        return self.lattice.n_qubits


@dataclass
class PointResult:
    """Everything eqvbench reports for one point (JSON field names)."""

    experiment: str
    params: dict[str, Any]
    n_qubits: int
    n_gates_2q: int
    v_light: int
    eps: float | None
    f_model: float
    f_eff: float | None = None
    f_eff_err: float | None = None
    v_eff: float | None = None
    cost: Any = None  # CostResult
    resource_flops: float | None = None
    simulated: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    published: dict[str, float] = field(default_factory=dict)  # the spec's `published:` figures
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    methods: list[Any] = field(default_factory=list)  # eqvbench.classical.methods.MethodResult, in METHODS order

    def to_json(self, machines: list[str]) -> dict[str, Any]:
        from eqvbench.classical.methods import machine_flops

        c = self.cost
        out = {
            "experiment": self.experiment,
            "params": self.params,
            "n_qubits": self.n_qubits,
            "n_gates_2q": self.n_gates_2q,
            "v_light": self.v_light,
            "v_eff": self.v_eff,
            "eps": self.eps,
            "f_eff": self.f_eff,
            "f_eff_err": self.f_eff_err,
            "f_model": self.f_model,
            "cost_flops": c.cost_flops if c else None,
            "cost_log10": c.cost_log10 if c else None,
            "width_log2": c.width_log2 if c else None,
            "resource_flops": self.resource_flops,
        }
        for m in machines:
            out[f"seconds_on_{m}"] = c.seconds_on[m] if c else None
        # this machine: the contraction's FLOP over its measured matrix-multiply rate (eqvbench.classical.methods)
        out["seconds_here"] = c.cost_flops / machine_flops() if c else None
        out["simulated"] = self.simulated
        out["cost"] = c.to_json() if c else None
        out.update(self.fields)
        out["methods"] = [m.to_json() for m in self.methods]
        from eqvbench.output.fields import published_ratio

        for k, v in self.published.items():  # published figures beside ours, with ours / published
            out[f"published_{k}"] = v
            out[f"ratio_{k}"] = published_ratio(out.get(k), v)
        out["notes"] = self.notes
        out["timings_s"] = {k: round(v, 3) for k, v in self.timings.items()}
        return out


def plan(spec: Spec) -> list[PointPlan]:
    """Build lattices and decide what runs; raise SpecError for impossible points."""
    from eqvbench.families import get_family
    from eqvbench.circuits.lattice import build_lattice

    plans = []
    for pt in spec.points:
        family = get_family(pt.values["experiment"])
        lattice = build_lattice(pt.values["lattice"])
        for fld, msg in family.check_point(lattice, pt.values):
            raise SpecError(spec.file, fld, msg)
        check_calibration(
            spec.file,
            pt.values,
            lattice,
            f"cases[{pt.params['case']}].noise.calibration" if "case" in pt.params else "noise.calibration",
        )
        sim = pt.values["simulation"]
        fits = lattice.n_qubits <= sim["max_qubits"]
        if sim["simulate"] == "always" and not fits:
            raise SpecError(
                spec.file,
                "simulation.simulate",
                f"'always' but the lattice has {lattice.n_qubits} qubits, over simulation.max_qubits "
                f"= {sim['max_qubits']} (use 'auto' to cost it without simulating)",
            )
        simulate = sim["simulate"] != "never" and fits
        plans.append(PointPlan(pt, lattice, simulate, family.structure_key(pt.values)))
    return plans


def point_settings(pp: PointPlan) -> PointSettings:
    """The point's simulation, cost and region settings, parsed once into typed objects; the cost search
    is seeded from the point's seed and circuit structure (points sharing a structure share a tree)."""
    from eqvbench.families import get_family
    from eqvbench.families.base import PointSettings

    values = pp.point.values
    return PointSettings.from_values(
        values, get_family(values["experiment"]), cost_seed=derive_seed(values["seed"], "cost", pp.structure)
    )


def run_point(spec: Spec, pp: PointPlan, cost_cache: dict[str, Any], progress: Progress | None = None) -> PointResult:
    """Run one point through every stage."""
    import numpy as np

    from eqvbench.families import get_family
    from eqvbench.circuits.noise import NoiseModel

    say = progress or (lambda _: None)
    values = pp.point.values
    family = get_family(values["experiment"])
    seed = values["seed"]
    settings = point_settings(pp)
    timings: dict[str, float] = {}

    # circuits
    t = time.perf_counter()
    say("building circuits")
    n_inst = family.n_instances(values["circuit"])
    instances = [
        family.build(pp.lattice, values["circuit"], derive_seed(seed, "instance", pp.structure, i))
        for i in range(n_inst)
    ]
    timings["circuits"] = time.perf_counter() - t

    # volume and digital error model
    noise = NoiseModel.from_section(values["noise"], pp.lattice)
    first = instances[0]
    cone = family.light_cone(first)
    result = _digital_model(pp, first, cone, noise, timings)

    # noisy simulation -> fidelity
    _fidelity(pp, family, instances, noise, settings, result, say)

    # effective region (docs/physics.md, "Effective region") and cost: the classical methods, all of them
    # behind the one switch cost.enabled (the region's ball contractions, Pauli and belief propagation too)
    region = None
    if settings.cost_enabled:
        t = time.perf_counter()
        say("effective region")
        region = family.effective_region(
            first, settings, result.f_eff, noise, np.random.default_rng(derive_seed(seed, "region", physics_of(values)))
        )
        if region is None:
            result.fields.update({"a_eff": pp.n_qubits, "region_gates_2q": result.n_gates_2q})
        else:
            result.fields.update({"a_eff": region.a_eff, "region_gates_2q": region.n_gates_2q, **region.fields})
            result.notes.extend(region.notes)
        timings["region"] = time.perf_counter() - t
        _cost(spec, pp, family, first, region, settings.cost, cost_cache, result, say)
    else:
        result.notes.append("cost.enabled is false: no classical method run (contraction, region, Pauli and BP)")
    result.methods = classical_methods(family, result, region, settings.region, run=settings.cost_enabled)
    fid = result.f_eff if result.simulated and result.f_eff is not None else result.f_model
    sampling = family.samples(first) and settings.cost_enabled
    result.fields.update(
        verdict(
            values,
            result.methods,
            fid,
            result.fields.get("region_delta"),
            settings.cost.machines,
            result.fields.get("task_flops"),
            sampling=sampling,
        )
    )
    _distance(pp, family, first, cone, noise, settings, result, cost_cache, fid)
    return result


def _distance(pp: PointPlan, family, first, cone, noise, settings, result: PointResult, cost_cache, fid) -> None:
    """The break-even error rate and the resource peak (eqvbench.classical.breakeven), into `result`."""
    from eqvbench.classical.breakeven import model_of

    values = pp.point.values
    readout = first.measured if cone.readout_is_volume else ()
    src = "f_eff" if result.simulated and result.f_eff is not None else "f_model"
    model = model_of(noise, first, cone, result.n_gates_2q, fid, src, readout)
    result.fields["break_even_model"] = model
    try:
        result.fields.update(
            break_even_fields(
                values,
                result.methods,
                model,
                result.fields.get("region_delta"),
                settings.cost.machines,
                result.fields.get("task_flops"),
                task_way(result.fields.get("sampling_task")),
                sampling=family.samples(first) and settings.cost_enabled,
            )
        )
    except (ArithmeticError, ValueError) as e:  # a distance that cannot be computed never costs the point
        result.fields["break_even_note"] = f"break-even not computed: {type(e).__name__}: {e}"
    if not family.depth_param:
        result.fields["resource_peak_note"] = f"experiment '{family.name}' has no depth parameter"
    elif not settings.cost_enabled:
        result.fields["resource_peak_note"] = "cost.enabled is false: no cost per depth"
    elif not values["report"].get("resource_peak", False):
        result.fields["resource_peak_note"] = "report.resource_peak is false (true searches the peak depth)"
    else:
        t = time.perf_counter()
        result.fields.update(_resource_peak(pp, family, noise, result, cost_cache, fid))
        result.timings["resource_peak"] = time.perf_counter() - t


def task_way(task: dict[str, Any] | None) -> dict[str, Any] | None:
    """The sampling task's chosen way (`sampling_task[task_method]`), or None."""
    if not task:
        return None
    return task.get(task.get("task_method") or "")


def break_even_fields(
    values: dict[str, Any],
    methods: list[Any],
    model: dict[str, Any] | None,
    delta: float | None,
    machines: dict[str, float],
    task_flops: float | None = None,
    way: dict[str, Any] | None = None,
    sampling: bool = False,
) -> dict[str, Any]:
    """The break-even fields (:func:`eqvbench.classical.breakeven.break_even`) against the device's run on
    report.machine, with the verdict's delta (the region's, else 1 / (f sqrt(simulation.shots)))."""
    from eqvbench.classical.breakeven import break_even

    machine = values["report"]["machine"]
    if machine not in machines or not methods:
        return {}
    f = (model or {}).get("f")
    shots = values["simulation"]["shots"]
    if delta is None and f and f > 0 and shots:
        delta = 1.0 / (f * shots**0.5)
    dev = values["device"]
    t_dev = dev["shots"] * dev["repetition_s"] if dev["shots"] and dev["repetition_s"] else None
    rate = machines[machine]
    return break_even(
        methods,
        model,
        delta,
        rate,
        t_dev,
        None if task_flops is None else task_flops / rate,
        dev.get("break_even_rates", "proportional"),
        way,
        sampling=sampling,
    )


def _resource_peak(pp: PointPlan, family, noise, result: PointResult, cost_cache, fid) -> dict[str, Any]:
    """`resource_peak_*` for a family with a depth parameter: the point's circuit built at other depths,
    each with the digital model's f (scaled by the point's ln f / ln f_model where simulated: the same
    ratio of effective to model volume) and its contraction cost (shared through `cost_cache`)."""
    import copy

    from eqvbench.classical.breakeven import PEAK_MAX_DEPTH, resource_peak
    from eqvbench.classical.cost import MemoryLimitError, contraction_cost, network_structure
    from eqvbench.spec import Point

    values = pp.point.values
    section, key = family.depth_param.split(".", 1)
    d0 = values[section][key]
    if not isinstance(d0, int) or result.cost is None:
        return {"resource_peak_note": f"{family.depth_param} is not one integer depth, or the point is not costed"}
    ratio = 1.0
    if fid is not None and result.f_model and 0 < result.f_model < 1 and fid != result.f_model:
        if not 0 < fid < 1:
            return {"resource_peak_note": f"the fidelity {fid:.3g} is not inside (0, 1)"}
        ratio = math.log(fid) / math.log(result.f_model)

    def evaluate(d: int):
        v = copy.deepcopy(values)
        v[section][key] = d
        sub = PointPlan(Point(pp.point.index, {}, v), pp.lattice, False, family.structure_key(v))
        inst = family.build(pp.lattice, v["circuit"], derive_seed(v["seed"], "instance", sub.structure, 0))
        r = _digital_model(sub, inst, family.light_cone(inst), noise, {})
        f = r.f_model**ratio if r.f_model > 0 else 0.0
        ck = cost_cache_key(sub)
        if ck not in cost_cache:
            try:
                inputs, output, sizes = network_structure(family.cost_network(inst))
                cost_cache[ck] = contraction_cost(inputs, output, sizes, point_settings(sub).cost)
            except MemoryLimitError as e:
                return f, None, f"over cost.memory_limit ({e})"
        return f, cost_cache[ck].cost_flops, None

    limit = values["report"].get("resource_peak_max_depth") or PEAK_MAX_DEPTH
    known = {d0: (fid, result.cost.cost_flops, None)}
    return resource_peak(evaluate, d0, limit, known)


def _digital_model(pp: PointPlan, first, cone, noise, timings: dict[str, float]) -> PointResult:
    """The point's result with its volume and the digital error model's figures.

    Parameters
    ----------
    pp : PointPlan
        The point.
    first : Instance
        Its first circuit instance.
    cone : LightCone
        The instance's light cone (`v_light`, the error locations that matter).
    noise : NoiseModel
        The point's noise.
    timings : dict
        The result's stage timings (kept, filled later).

    Returns
    -------
    PointResult
        `n_gates_2q`, `v_light`, `eps` (error per two-qubit gate of the whole circuit), `f_model`
        (over the cone's locations, averaged over terms) and `v_eff_model`.
    """
    values = pp.point.values
    n_gates_2q = sum(1 for op in first.circuit.all_operations() if len(op.qubits) == 2)
    readout_measured = first.measured if cone.readout_is_volume else ()
    f_full = noise.f_model(first.circuit, first.qubits, readout_measured)
    if cone.term_locations:
        f_model = sum(
            noise.f_model(first.circuit, first.qubits, readout_measured, locs) for locs in cone.term_locations
        ) / len(cone.term_locations)
    else:
        f_model = noise.f_model(first.circuit, first.qubits, readout_measured, cone.locations)
    eps = -math.log(f_full) / n_gates_2q if n_gates_2q and 0 < f_full else None
    result = PointResult(
        experiment=values["experiment"],
        params=pp.point.params,
        n_qubits=pp.n_qubits,
        n_gates_2q=n_gates_2q,
        v_light=cone.v_light,
        eps=eps,
        f_model=f_model,
        simulated=pp.simulate,
        timings=timings,
    )
    if eps and f_model > 0:
        result.fields["v_eff_model"] = math.log(1.0 / f_model) / eps  # the digital model's own volume
    result.published = {k: v for k, v in values.get("published", {}).items() if k != "source"}
    if eps == 0.0:
        result.eps = None
        result.notes.append("eps is 0 (noiseless): v_eff is undefined")
    return result


def _fidelity(
    pp: PointPlan, family, instances: list, noise, settings: PointSettings, result: PointResult, say: Progress
) -> None:
    """The noisy simulation's `f_eff` and `v_eff` and the family's measured fields, into `result`; where the
    point is not simulated, a note saying why."""
    import numpy as np

    values = pp.point.values
    if not pp.simulate:
        reason = (
            "simulation.simulate is 'never'"
            if settings.simulation.simulate == "never"
            else (f"{pp.n_qubits} qubits > simulation.max_qubits = {settings.simulation.max_qubits}")
        )
        result.notes.append(f"not simulated ({reason}): f_eff is null, resource uses f_model")
        return
    t = time.perf_counter()
    say(f"simulating {len(instances)} instance(s), {pp.n_qubits} qubits")
    rng = np.random.default_rng(derive_seed(values["seed"], "shots", physics_of(values)))
    meas = family.measure(instances, noise, settings, rng)
    result.f_eff, result.f_eff_err = meas.f_eff, meas.f_eff_err
    result.fields.update(meas.fields)
    result.notes.extend(meas.notes)
    result.timings["simulation"] = time.perf_counter() - t
    if result.f_eff is not None and result.eps:
        if result.f_eff > 0:
            result.v_eff = math.log(1.0 / result.f_eff) / result.eps
            if result.v_eff > result.v_light * (1 + 3 * _rel_err(result.f_eff, result.f_eff_err, result.v_eff)):
                result.notes.append(
                    f"v_eff {result.v_eff:.3g} exceeds v_light {result.v_light}: the measured fidelity is below "
                    "what the errors of the light cone's gates explain (ln(1/f_eff)/eps counts more error "
                    "locations than the cone has), so the error model misses errors or f_eff is not a fidelity here"
                )
        else:
            result.notes.append(f"f_eff = {result.f_eff:.3g} <= 0 (within noise of 0): v_eff undefined")


def _rel_err(f: float, f_err: float | None, v_eff: float) -> float:
    """Relative standard error of v_eff = ln(1/f)/eps from f's: f_err / (f ln(1/f))."""
    if not f_err or f >= 1 or v_eff <= 0:
        return 0.0
    return f_err / (f * math.log(1.0 / f))


def _cost(
    spec: Spec,
    pp: PointPlan,
    family,
    first,
    region,
    cost_settings,
    cost_cache: dict[str, Any],
    result: PointResult,
    say: Progress,
) -> None:
    """The light cone's contraction cost (shared through `cost_cache`), the effective region's unless it is
    the whole cone (`cost_eff_flops`), and `resource_flops`, into `result`."""
    from eqvbench.classical.cost import MemoryLimitError, contraction_cost, network_structure

    t = time.perf_counter()
    key = cost_cache_key(pp)
    if key in cost_cache:
        result.cost = cost_cache[key]
        result.fields["cost_cached"] = True
    else:
        limit = f" within {cost_settings.max_time:g} s" if cost_settings.max_time else ""
        say(f"cost search (budget {cost_settings.max_repeats} trials{limit})")
        inputs, output, sizes = network_structure(family.cost_network(first))
        try:
            result.cost = contraction_cost(inputs, output, sizes, cost_settings, progress=say)
        except MemoryLimitError as e:
            raise SpecError(spec.file, "cost.memory_limit", str(e)) from None
        cost_cache[key] = result.cost
        result.fields["cost_cached"] = False
        if result.cost.cached:
            say("cost: cached tree (found by an earlier run)")
    # a region holding the whole light cone has the same network: do not search it twice
    whole_cone = region is None or (region.whole if region.whole is not None else region.n_gates_2q == result.v_light)
    result.fields["cost_eff_flops"] = result.cost.cost_flops if whole_cone else None
    if not whole_cone and region.network is not None:
        say("cost of the effective region")
        r_in, r_out, r_sizes = network_structure(region.network)
        result.fields["cost_eff_flops"] = contraction_cost(r_in, r_out, r_sizes, cost_settings).cost_flops
    result.timings["cost"] = time.perf_counter() - t
    # the simulated f_eff, else (not simulated, or XEB is no fidelity there) the digital model's
    fid = result.f_eff if pp.simulate and result.f_eff is not None else result.f_model
    if fid is not None and fid > 0:
        result.resource_flops = fid * result.cost.cost_flops
    if family.samples(first):
        t = time.perf_counter()
        _sampling_task(pp.point.values, first, cost_settings, fid, result, say)
        result.timings["sampling_task"] = time.perf_counter() - t


def _sampling_task(values, first, cost_settings, fid: float | None, result: PointResult, say: Progress) -> None:
    """The device's sampling task, `device.shots` bitstrings at fidelity `fid`, costed per sample and
    batched (:func:`eqvbench.classical.sampling.sampling_task_cost`, reusing the amplitude's tree), into
    `result.fields` (`task_flops`, `task_method`, `task_batch_qubits`, `sampling_task`); null with a
    note where it cannot be costed."""
    from eqvbench.classical.cost import MemoryLimitError
    from eqvbench.classical.sampling import sampling_task_cost

    fields = result.fields
    fields.update({"task_flops": None, "task_method": None, "task_batch_qubits": None, "sampling_task": None})
    shots = values["device"]["shots"]
    machine = values["report"]["machine"]
    why = None
    if not shots:
        return  # no device run: no task and no verdict (verdict_note says so)
    if fid is None or not fid > 0:
        why = "no fidelity to sample at: the device's sampling task is not costed"
    elif machine not in cost_settings.machines:
        why = f"report.machine {machine!r} has no FLOP/s: the device's sampling task is not costed"
    if why is not None:
        result.notes.append(why)
        return
    cost = values["cost"]
    say(f"cost of the sampling task: {shots} bitstrings at f = {fid:.3g}")
    try:
        task = sampling_task_cost(
            first.circuit,
            first.qubits,
            shots,
            min(float(fid), 1.0),
            cost_settings,
            cost_settings.machines[machine],
            amplitude_cost=result.cost,
            k_values=tuple(cost["sampling_batch_qubits"]),
            max_k_searches=len(cost["sampling_batch_qubits"]),
            full_state=cost["sampling_full_state"],
            progress=say,
        )
    except MemoryLimitError as e:
        result.notes.append(f"the device's sampling task is not costed within cost.memory_limit: {e}")
        return
    fields.update(
        {
            "task_flops": task.task_flops,
            "task_method": task.task_method,
            "task_batch_qubits": task.task_batch_qubits,
            "sampling_task": _without_seconds(task.to_json()),
        }
    )


def _without_seconds(task: dict[str, Any]) -> dict[str, Any]:
    """The sampling task's JSON without its seconds on one machine: `task_seconds` is the verdict's, on
    report.machine (recomputed when a stored point is reused on another)."""
    out = {k: v for k, v in task.items() if k not in ("task_seconds", "rate_flops")}
    for way in ("per_sample", "batched"):
        if out.get(way):
            out[way] = {k: v for k, v in out[way].items() if k != "task_seconds"}
    return out


def classical_methods(family, result: PointResult, region, reg: Any, run: bool = True) -> list[Any]:
    """Every method of eqvbench.classical.methods for this point: the contraction from the cost search (with the
    value where the whole cone was contracted as the region's reference), the region from its
    certificate (its budget from `reg`, the point's region settings), and what the family ran (Pauli
    propagation); the rest not applicable, with why. `run` False (cost.enabled: false): none ran."""
    from eqvbench.classical.methods import METHODS, contraction_entry, not_applicable, region_entry

    if not run:
        return [not_applicable(name, "not run (cost.enabled: false)") for name in METHODS]
    why = family.not_applicable
    fields = result.fields
    contraction = contraction_entry(result.cost)
    if str(fields.get("reference_method", "")).startswith("whole light cone") and fields.get("reference_err") == 0:
        contraction.value, contraction.seconds = fields["reference_value"], fields["reference_seconds"]
        contraction.seconds_kind = "measured"
        contraction.note = f"the whole cone computed exactly as the region's reference: {fields['reference_method']}"
    entries = {"contraction": contraction}
    if region is not None:
        budget = {k: getattr(reg, k) for k in ("max_qubits", "tn_max_flops", "tn_memory_bytes") if hasattr(reg, k)}
        entries["region"] = region_entry(fields, fields.get("cost_eff_flops"), budget, result.notes)
        for m in region.methods:
            entries[m.method] = m
    for name in METHODS:
        if name not in entries:
            entries[name] = not_applicable(name, why.get(name, f"not implemented for experiment '{family.name}'"))
    return [entries[name] for name in METHODS]


def verdict(
    values: dict[str, Any],
    methods: list[Any],
    f: float | None,
    delta: float | None,
    machines: dict[str, float],
    task_flops: float | None = None,
    sampling: bool = False,
) -> dict[str, Any]:
    """The verdict fields (:func:`eqvbench.classical.verdict.decide`): `classical`, `quantum` or `open`
    against the device's run (device.shots x device.repetition_s) on report.machine, with every method's
    evidence; delta the region's, else 1 / (f sqrt(simulation.shots)). For a sampling task (`sampling`)
    the contraction counts with the task's cost (`task_flops`, also as `task_seconds` on the machine), and
    not at all where the task was not costed."""
    from eqvbench.classical.verdict import decide

    machine = values["report"]["machine"]
    if machine not in machines or not methods:
        return {}
    shots = values["simulation"]["shots"]
    if delta is None and f and f > 0 and shots:
        delta = 1.0 / (f * shots**0.5)
    dev = values["device"]
    t_dev = dev["shots"] * dev["repetition_s"] if dev["shots"] and dev["repetition_s"] else None
    rate = machines[machine]
    task_seconds = None if task_flops is None else task_flops / rate
    out = decide(methods, f, delta, rate, t_dev, task_seconds, sampling=sampling)
    if sampling:
        out["task_seconds"] = task_seconds
    out["verdict_machine"] = machine
    if t_dev is not None:
        out["device_seconds"] = t_dev
    return out


def machines_of(spec: Spec) -> list[str]:
    from eqvbench.classical.cost import REFERENCE_MACHINES

    extra = {k: v for m in spec.models for k, v in m.cost.machines.items()}
    return list({**REFERENCE_MACHINES, **extra})


def to_document(spec: Spec, results: list[PointResult]) -> dict[str, Any]:
    """The JSON output: what computed it (versions, code fingerprint), resolved spec, points."""
    from eqvbench.families import get_family
    from eqvbench.classical.methods import machine_flops, machine_rate
    from eqvbench.sweeps.provenance import provenance

    machines = machines_of(spec)
    families = [get_family(name) for name in spec.experiments]
    points = [r.to_json(machines) for r in results]
    columns = list(dict.fromkeys(tuple(c) for f in families for c in f.table_columns()))
    doc = {
        **provenance(),
        "flops_here": machine_flops(),
        "flops_here_measured": {k: v for k, v in machine_rate().items() if k != "flops"},
        "spec_file": spec.file,
        "spec": spec.resolved(),
        "columns": [list(c) for c in columns],
        "definitions": {
            **DEFINITIONS,
            **{f.name: f.meaning + (f" [{f.unit}]" if f.unit else "") for fam in families for f in fam.result_fields},
        },
        "points": points,
    }
    summary = summarize(spec.experiments, points)
    if summary is not None:
        doc["summary"] = summary
    return doc


def summarize(experiments: list[str], points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What families fit across their points (e.g. the OTOC butterfly velocity); None if nothing."""
    from eqvbench.families import get_family

    families = [get_family(name) for name in experiments]
    summaries = {
        f.name: s for f in families if (s := f.summary([p for p in points if p["experiment"] == f.name])) is not None
    }
    if len(summaries) == 1 and len(families) == 1:
        return next(iter(summaries.values()))
    if summaries:
        return {**summaries, "lines": [ln for s in summaries.values() for ln in s.get("lines", [])]}
    return None


def comparable(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Point JSON without what measures time or provenance (timings, search seconds, measured seconds of
    the classical reproduction, whether the tree came from the on-disk cache): what must be identical
    whatever the executor, worker count or rerun."""
    out = []
    for p in points:
        p = json.loads(json.dumps(p))
        p.pop("timings_s", None)
        p.pop("seconds_here", None)  # extrapolated from this machine's measured rate
        for k in ("reproduced_seconds", "reference_seconds"):
            p.pop(k, None)
        for h in p.get("region_history") or []:
            h.pop("seconds", None)
        if p.get("cheapest_method") not in (None, "contraction"):
            p.pop("classical_seconds", None)  # measured on this machine
        if any(e.get("counts") and e.get("method") != "contraction" for e in p.get("verdict_evidence") or []):
            # the break-even re-decides with those methods' times, measured on this machine
            for k in ("break_even_eps", "break_even_p2", "break_even_scale", "break_even_f"):
                p.pop(k, None)
            for k in ("break_even_classical_seconds", "break_even_verdict", "break_even_note"):
                p.pop(k, None)
        for e in p.get("verdict_evidence") or []:
            if e.get("method") != "contraction":
                e.pop("seconds", None)  # measured on this machine, or from a CPU-time-budgeted ladder
        for m in p.get("methods") or []:
            if m.get("seconds_kind") is not None:
                m.pop("seconds", None)  # measured, or extrapolated from this machine's measured rate
            m.pop("cpu_seconds", None)  # belief propagation's measured CPU seconds, and per chi
            for step in m.get("ladder") or []:
                step.pop("seconds", None)
        costs = [p.get("cost")] + [(p.get("sampling_task") or {}).get(w) or {} for w in ("per_sample", "batched")]
        for c in costs[:1] + [w.get("cost") for w in costs[1:]]:
            if c:
                c.pop("search_seconds", None)
                c.pop("cached", None)
        out.append(p)
    return out


DEFINITIONS = {
    "resource_flops": "R = f_eff x cost_flops (f_model where not simulated): the classical work "
    "needed to reproduce the noisy result at the fidelity the device reached",
    "cost_flops": "8 x complex multiply-adds of the contraction, summed over slices",
    "seconds_here": "cost_flops over this machine's measured one-core complex matrix-multiply rate (flops_here, "
    "FLOP/s; how and when it was measured: flops_here_measured): what large contractions approach; networks "
    "of small tensors run slower",
    "eps": "-ln(f_model of the whole circuit) / n_gates_2q: error per two-qubit gate, dressed",
    "v_eff": "ln(1 / f_eff) / eps, in two-qubit gates",
    "methods": "every classical method for the point (contraction, region, pauli_propagation, "
    "belief_propagation): status "
    "ok / over_budget / not_applicable, value and err (observables), flops (FLOP; FLOP-equivalent for Pauli "
    "propagation: string-gate operations x (4 x words + 2)), seconds on this machine (seconds_kind: measured, "
    "or extrapolated from its calibrated FLOP/s), budget, note",
    "cheapest_method": "the cheapest method that reproduces the quantity on report.machine: certified "
    "(eqvbench.classical.certify) with its err within the device's error bar, or the searched contraction",
    "verdict": "'classical' (a certified method reproduces it in no more time than the device's run, "
    "device.shots x device.repetition_s), 'quantum' (every applicable method has a cost estimate above the "
    "device's run: searched tree, certified or measured cost, or a projection from its own ladder), 'open' "
    "(neither can be shown: verdict_note says what would settle it), null without a device run; "
    "verdict_evidence has every method's account",
}
