"""Floquet (kicked) Ising dynamics, as in Kim et al., Nature 618, 500 (2023).

Per step: RX(theta_h) on every qubit, then RZZ(-pi/2) = exp(+i pi/4 ZZ) on
every coupler, layer by layer; start in |0...0>; measure a Pauli observable.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Field

from eqvbench.families.base import (
    BUTTERFLY_FIELDS,
    REGION_COLUMNS,
    SIM_FIELDS,
    Family,
    LightCone,
    Measurement,
    PointSettings,
    Region,
    observable_fields,
    reproduction_columns,
)
from eqvbench.families.observable import ObservableInstance, error_sensitivities, first_order
from eqvbench.circuits.lattice import qubit_label, qubit_of
from eqvbench.circuits.lightcone import backward_cone
from eqvbench.classical.networks import sandwich_network
from eqvbench.classical.methods import MethodResult
from eqvbench.classical.region import (
    BallValue,
    ConeRun,
    Reference,
    RegionSpec,
    contract_within_budget,
    grow_region,
)
from eqvbench.spec import (
    GridLattice,
    HeavyHex127Lattice,
    HeavyHexLattice,
    LineLattice,
    RingLattice,
    Section,
    Sweep,
)

# Observables of the 2023 experiment (IBM numbering), Kim et al., Nature 618, 500 (2023).
NAMED_OBSERVABLES = {
    "W_10": "X13 X29 X31 Y9 Y30 Z8 Z12 Z17 Z28 Z32",
    "W_17": "X37 X41 X52 X56 X57 X58 X62 X79 Y75 Z38 Z40 Z42 Z63 Z72 Z80 Z90 Z91",
}
_TOKEN = re.compile(r"^([XYZ])_?(\d+)$")


def parse_angle(value: Any) -> float:
    """A number, or an expression such as 'pi/4' or '3*pi/8' (radians): see eqvbench.spec.parse_angle."""
    from eqvbench.spec import parse_angle as parse  # parsed, never evaluated as Python

    return parse(value)


@dataclass(frozen=True)
class Observable:
    """A Pauli string {qubit number: 'X'|'Y'|'Z'}, or M_z (mean of Z over all qubits)."""

    name: str
    paulis: dict[int, str] | None  # None: M_z

    @property
    def is_mean_z(self) -> bool:
        return self.paulis is None


def parse_observable(text: str) -> Observable:
    """'M_z', 'W_10', 'W_17', 'Z_62' / 'Z62', or a Pauli string such as 'X13 X29 Y9 Z8'."""
    t = str(text).strip()
    if t.lower() in ("m_z", "mz"):
        return Observable("M_z", None)
    body = NAMED_OBSERVABLES.get(t, t)
    paulis: dict[int, str] = {}
    for tok in body.replace(",", " ").split():
        m = _TOKEN.match(tok)
        if not m:
            raise ValueError(f"malformed Pauli string {text!r}: {tok!r} is not like 'X13' or 'Z_62'")
        q = int(m.group(2))
        if q in paulis:
            raise ValueError(f"malformed Pauli string {text!r}: qubit {q} appears twice")
        paulis[q] = m.group(1)
    if not paulis:
        raise ValueError(f"empty observable {text!r}")
    return Observable(t, paulis)


_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
MAX_OBSERVABLE_TERMS = 10_000


def parse_pauli_sum(text: str) -> list[tuple[float, Observable]]:
    """A weighted sum of Pauli strings, e.g. '0.5*Z0 + 0.5*Z1', 'Z0 Z1 - 0.25*X3' or a single
    observable of :func:`parse_observable` (coefficient 1): [(coefficient, observable), ...].

    Each term is an optional real coefficient followed by '*' (or a bare sign), then a Pauli
    string or a named observable; no expression is evaluated.
    """
    t = str(text).strip()
    if not t:
        raise ValueError("empty observable")
    # split at + or - that start a term (not the sign of an exponent such as 1e-3)
    parts, start = [], 0
    for m in re.finditer(r"[+-]", t):
        i = m.start()
        before = t[:i].rstrip()
        if not before or before[-1] in "*+-" or re.search(r"\d[eE]$", t[:i]):
            continue  # a leading sign, a sign after '*', an exponent's sign (1e-3)
        parts.append(t[start:i])
        start = i
    parts.append(t[start:])
    if len(parts) > MAX_OBSERVABLE_TERMS:
        raise ValueError(f"more than {MAX_OBSERVABLE_TERMS} terms in {text!r}")
    terms: list[tuple[float, Observable]] = []
    seen: set = set()
    for part in parts:
        body = part.strip()
        sign = 1.0
        if body[:1] in "+-":
            sign, body = (-1.0 if body[0] == "-" else 1.0), body[1:].strip()
        coef = 1.0
        if "*" in body:
            num, _, body = body.partition("*")
            num, body = num.strip(), body.strip()
            if not _NUMBER.match(num):
                raise ValueError(f"malformed observable {text!r}: coefficient {num!r} is not a number")
            coef = float(num)
            if not math.isfinite(coef):
                raise ValueError(f"malformed observable {text!r}: coefficient {num!r} is not finite")
        if not body:
            raise ValueError(f"malformed observable {text!r}: a term has no Pauli string")
        obs = parse_observable(body)
        key = obs.name if obs.is_mean_z else tuple(sorted(obs.paulis.items()))
        if key in seen:
            raise ValueError(f"malformed observable {text!r}: term {body!r} appears twice")
        seen.add(key)
        terms.append((sign * coef, obs))
    return terms


def _check_observable(text: Any) -> str:
    parse_observable(text)
    return str(text).strip()


FloquetLatticeSpec = Annotated[
    Union[HeavyHex127Lattice, HeavyHexLattice, LineLattice, RingLattice, GridLattice], Field(discriminator="kind")
]


class IsingRegionSpec(RegionSpec):
    """`circuit.region` of a floquet_ising spec: the shared region settings, and whether Pauli propagation
    and belief propagation of the whole cone run as classical methods of their own (each always runs
    where it is the region's reference)."""

    pauli_propagation: bool = True
    # Pauli propagation run only as a method (the region had another reference, or none was needed)
    # stops at this many seconds (and never later than pauli_max_seconds): a method that does not
    # converge in it is reported over budget rather than holding every point for pauli_max_seconds
    pauli_method_max_seconds: Annotated[float, Field(gt=0, le=86_400)] = 20.0
    # belief propagation (eqvbench.classical.belief_propagation): the whole cone's reference before Pauli
    # propagation, and a method of its own; chi doubles from 4 up to bp_max_chi within bp_max_seconds
    # CPU seconds and an estimated peak of bp_memory_bytes; bp_picture 'schrodinger' evolves the state,
    # 'heisenberg' the observable (operator network), 'auto' the state and, unconverged, the observable
    belief_propagation: bool = True
    bp_picture: Literal["auto", "schrodinger", "heisenberg"] = "auto"
    bp_max_chi: Annotated[int, Field(ge=2, le=1024)] = 64
    bp_max_seconds: Annotated[float, Field(gt=0, le=86_400)] = 40.0
    bp_memory_bytes: Annotated[float, Field(ge=2**20, le=2**40)] = 2.0**32


class FloquetCircuit(Section):
    """`circuit:` section of a floquet_ising spec."""

    theta_h: Sweep(Annotated[float, BeforeValidator(parse_angle)]) = [math.pi / 4]
    steps: Sweep(Annotated[int, Field(ge=1, le=200)]) = [5]
    observable: Sweep(Annotated[str, BeforeValidator(_check_observable)]) = ["Z0"]
    final_rx: bool = False
    instances: Annotated[int, Field(ge=1, le=1)] = 1
    region: IsingRegionSpec = IsingRegionSpec()


def resolve_observable(lattice, text: str) -> list[dict]:
    """Pauli strings {qubit: 'X'|'Y'|'Z'} whose mean is the observable; ValueError if off the lattice."""
    obs = parse_observable(text)
    if obs.is_mean_z:
        return [{q: "Z"} for q in lattice.qubits]
    out = {}
    for k, p in obs.paulis.items():
        q = qubit_of(lattice, k)
        if q is None:
            raise ValueError(f"qubit {k} of {text!r} is not on the lattice ({lattice.kind}, {lattice.n_qubits} qubits)")
        out[q] = p
    return [out]


def rzz_minus_pi_2():
    """RZZ(-pi/2) = exp(+i pi/4 Z Z), exactly (global phase included)."""
    import cirq

    return cirq.ZZPowGate(exponent=-0.5, global_shift=-0.5)


def floquet_circuit(lattice, theta_h: float, steps: int, final_rx: bool = False):
    """Kicked-Ising circuit: per step an RX(theta_h) moment, then one moment per coupler layer."""
    import cirq

    rx, zz = cirq.rx(theta_h), rzz_minus_pi_2()
    moments = []
    for _ in range(steps):
        moments.append(cirq.Moment(rx.on(q) for q in lattice.qubits))
        moments += [cirq.Moment(zz.on(a, b) for a, b in layer) for layer in lattice.layers if layer]
    if final_rx:
        moments.append(cirq.Moment(rx.on(q) for q in lattice.qubits))
    return cirq.Circuit(moments)


def backward_light_cone(circuit, paulis: list[dict]):
    """Gates that can change <O> (exact structural cone, :mod:`eqvbench.circuits.lightcone`).

    Returns (error locations in the cone, two-qubit gates in the cone, cone qubits).
    """
    cone = backward_cone(circuit, paulis)
    return cone.locations, cone.n_gates_2q, cone.qubits


@dataclass(frozen=True, kw_only=True)
class KickedIsingInstance(ObservableInstance):
    """A kicked Ising circuit and its observable, with the circuit's parameters: a region is the
    circuit rebuilt on the sub-lattice (as if the rest of the device did not exist)."""

    theta_h: float
    steps: int
    final_rx: bool

    def restrict(self, qubits) -> KickedIsingInstance:
        """The circuit on the sub-lattice induced by `qubits`, and the observable's terms within it
        (M_z: the full lattice's sites in it)."""
        sub = self.lattice.restrict(set(qubits))
        c = floquet_circuit(sub, self.theta_h, self.steps, self.final_rx)
        keep = set(sub.qubits)
        return KickedIsingInstance.of(
            c,
            sub.qubits,
            [ps for ps in self.paulis if all(q in keep for q in ps)],
            sub,
            0,
            theta_h=self.theta_h,
            steps=self.steps,
            final_rx=self.final_rx,
        )


class FloquetIsingFamily(Family):
    name = "floquet_ising"
    result_fields = (
        observable_fields() + reproduction_columns(seconds=True) + REGION_COLUMNS + SIM_FIELDS + BUTTERFLY_FIELDS
    )
    depth_param = "circuit.steps"
    lattice_spec = FloquetLatticeSpec
    circuit_spec = FloquetCircuit

    def default_lattice(self):
        return LineLattice()

    def n_instances(self, circuit: dict[str, Any]) -> int:
        return 1  # the circuit has no random parts

    def check_point(self, lattice, values: dict[str, Any]) -> list[tuple[str, str]]:
        try:
            resolve_observable(lattice, values["circuit"]["observable"])
        except ValueError as e:
            return [("circuit.observable", str(e))]
        return []

    def build(self, lattice, circuit: dict[str, Any], seed: int) -> KickedIsingInstance:
        c = floquet_circuit(lattice, circuit["theta_h"], circuit["steps"], circuit["final_rx"])
        return KickedIsingInstance.of(
            c,
            lattice.qubits,
            resolve_observable(lattice, circuit["observable"]),
            lattice,
            seed,
            theta_h=circuit["theta_h"],
            steps=circuit["steps"],
            final_rx=circuit["final_rx"],
        )

    def light_cone(self, instance: ObservableInstance) -> LightCone:
        paulis = instance.paulis
        cone = backward_cone(instance.circuit, paulis)
        terms = None
        if len(paulis) > 1:  # a sum: each term has its own cone and digital model
            terms = tuple(backward_cone(instance.circuit, [ps]).locations for ps in paulis)
        return LightCone(
            v_light=cone.n_gates_2q,
            qubits=cone.qubits,
            locations=cone.locations,
            term_locations=terms,
            readout_is_volume=False,
        )

    def measure(self, instances, noise, settings: PointSettings, rng) -> Measurement:
        import numpy as np

        from eqvbench.simulation.simulate import pauli_expectations

        inst = instances[0]
        paulis = inst.paulis
        vals, errs, ideal, info = pauli_expectations(inst.circuit, inst.qubits, noise, paulis, settings.engine, rng)
        weighted = inst.weighted
        o_ideal, o_noisy = inst.term_sum(ideal), inst.term_sum(vals)
        # the Paulis share trajectories: errors add linearly at worst
        sim_err = float(np.dot(np.abs(inst.term_weights()), errs)) if weighted else float(np.mean(errs))
        scale = float(np.abs(inst.term_weights()).sum()) if weighted else 1.0  # |<O>| <= scale
        shots = settings.simulation.shots
        shot_err = math.sqrt(max(0.0, scale**2 - o_noisy**2) / shots) if shots else 0.0
        o_err = math.hypot(sim_err, shot_err)
        # readout attenuates each term by exactly (1 - 2r)^w: divided out (readout is not volume)
        readout = np.array([noise.readout_factor(ps) for ps in paulis])
        o_mitigated = inst.term_sum(vals / readout)
        if weighted:
            mit_err = o_err * float(np.dot(np.abs(inst.term_weights()), 1.0 / readout)) / scale
        else:
            mit_err = o_err * float(np.mean(1.0 / readout))
        fields = {
            "o_ideal": o_ideal,
            "o_noisy": o_noisy,
            "o_noisy_err": o_err,
            "o_mitigated": o_mitigated,
            "o_mitigated_err": mit_err,
            "shots": shots,
            "sim_method": info["method"],
            "n_trajectories": info["n_trajectories"],
        }
        notes = []
        threshold = max(0.02, 3.0 * mit_err)
        if abs(o_ideal) >= threshold:
            fields.update(butterfly_cone(inst, noise, o_ideal))
        if abs(o_ideal) < threshold and threshold >= scale:
            notes.append(
                f"the error of the readout-mitigated <O>_noisy ({mit_err:.2g}) is too large: 3 errors "
                f"cover all of |<O>| <= {scale:g}, so f_eff is not divided out"
            )
            return Measurement(None, None, fields, notes)
        if abs(o_ideal) < threshold:
            notes.append(
                f"|<O>_ideal| = {abs(o_ideal):.3g} is below {threshold:.3g} (3 x the error of the "
                "readout-mitigated <O>_noisy): f_eff not divided out"
            )
            return Measurement(None, None, fields, notes)
        return Measurement(o_mitigated / o_ideal, mit_err / abs(o_ideal), fields, notes)

    def effective_region(self, instance, settings: PointSettings, f_eff, noise, rng) -> Region | None:
        return find_effective_region(instance, settings, f_eff, noise, rng)

    def structure_key(self, values: dict[str, Any]) -> dict[str, Any]:
        c = values["circuit"]
        return {
            "lattice": values["lattice"],
            "steps": c["steps"],
            "observable": c["observable"],
            "final_rx": c["final_rx"],
        }


def butterfly_cone(instance: ObservableInstance, noise, o_ideal: float) -> dict[str, Any]:
    """Per-gate error sensitivity s_g = 1 - <O>_{Pauli error after g} / <O>_ideal, averaged over Paulis.

    Every (gate, non-identity Pauli) pair is one exactly simulated state
    vector; all of them run as batches of the trajectory engine. Returns
    v_butterfly (sum of s_g over two-qubit gates), the first-order fidelity
    prediction prod over gates of (1 - p_g s_g) (idle errors not included),
    and the per-gate map.
    """
    import numpy as np

    from eqvbench.simulation import trajectories as tr
    from eqvbench.circuits.noise import NoiseModel
    from eqvbench.simulation.simulate import pauli_expectation_rows

    qubits = instance.qubits
    n = len(qubits)
    index = {q: i for i, q in enumerate(qubits)}
    strings = [{index[q]: p for q, p in ps.items()} for ps in instance.paulis]
    program = tr.compile_program(instance.circuit, qubits, NoiseModel(p1=0.5, p2=0.5))

    def functional(psi):
        rows = [pauli_expectation_rows(psi, st, n) for st in strings]
        if instance.coefficients is None:
            return np.mean(rows, axis=0)
        return np.tensordot(instance.term_weights(), rows, axes=1)

    sens = error_sensitivities(
        program,
        range(len(program.error_index)),
        o_ideal,
        lambda hit, pauli: tr.run_batch(program, hit, pauli, functional),
        tr.batch_rows(n),
    )
    # error location k is the circuit's k-th gate, moment by moment
    gates = [(m, op) for m, moment in enumerate(instance.circuit) for op in moment]
    v_b, f_b = first_order([op for _, op in gates], sens, noise)
    per_gate = [
        {"moment": m, "qubits": [qubit_label(q) for q in op.qubits], "s": round(float(s), 6)}
        for (m, op), s in zip(gates, sens)
    ]
    return {"v_butterfly": v_b, "f_butterfly": f_b, "butterfly_map": per_gate}


def ideal_value_statevector(instance: ObservableInstance) -> float:
    """<O> of the ideal circuit from eqvbench's state-vector kernels."""

    from eqvbench.simulation import trajectories as tr
    from eqvbench.circuits.noise import NoiseModel
    from eqvbench.simulation.simulate import pauli_expectation_rows

    qubits = instance.qubits
    n = len(qubits)
    index = {q: i for i, q in enumerate(qubits)}
    psi = tr.ideal_state(tr.compile_program(instance.circuit, qubits, NoiseModel()))[None]
    return instance.term_sum(
        [pauli_expectation_rows(psi, {index[q]: p for q, p in ps.items()}, n)[0] for ps in instance.paulis]
    )


def ideal_value_tn(
    instance: ObservableInstance,
    max_repeats: int = 16,
    seed: int = 0,
    memory_bytes: float = 2**31,
    max_flops: float = 1e11,
) -> float:
    """<O> of the ideal circuit by contracting the light-cone sandwich network with cotengra
    (RegionTooCostly, nothing contracted, when a tree exceeds the memory or FLOP budget)."""
    values = []
    for ps in instance.paulis:
        values.append(
            contract_within_budget(
                sandwich_network(instance.circuit, ps), len(instance.qubits), max_repeats, seed, memory_bytes, max_flops
            ).real
        )
    return instance.term_sum(values)


def cone_value(
    circuit,
    terms: list[dict],
    statevector_max_qubits: int = 20,
    max_repeats: int = 16,
    memory_bytes: float = 2**31,
    max_flops: float = 1e11,
    coefficients: list[float] | None = None,
    cost_settings=None,
) -> tuple[float, str, int]:
    """Exact ideal <O> (mean of the terms, or sum_i coefficients_i term_i) from each term's structural
    light cone alone.

    A term whose cone has at most `statevector_max_qubits` qubits is simulated
    as a state vector over its cone qubits only (gates outside the cone
    removed); a larger one is contracted as its sandwich network with cotengra
    (RegionTooCostly when the tree exceeds the budgets; `cost_settings`: also try the cost
    engine's tree, :func:`eqvbench.classical.region.contract_within_budget`). Returns (value,
    method, largest cone in qubits).
    """

    from eqvbench.simulation import trajectories as tr
    from eqvbench.circuits.lightcone import restrict_to_cone
    from eqvbench.circuits.noise import NoiseModel
    from eqvbench.simulation.simulate import pauli_expectation_rows

    total, methods, widest = 0.0, set(), 0
    weights = [1.0] * len(terms) if coefficients is None else coefficients
    for w, ps in zip(weights, terms):
        cone = backward_cone(circuit, [ps])
        qs = list(cone.qubits)
        widest = max(widest, len(qs))
        if len(qs) <= statevector_max_qubits:
            cut = restrict_to_cone(circuit, cone)
            index = {q: i for i, q in enumerate(qs)}
            psi = tr.ideal_state(tr.compile_program(cut, qs, NoiseModel()))[None]
            total += w * float(pauli_expectation_rows(psi, {index[q]: p for q, p in ps.items()}, len(qs))[0])
            methods.add("statevector")
        else:
            total += (
                w
                * contract_within_budget(
                    sandwich_network(circuit, ps, cone.gates),
                    len(qs),
                    max_repeats,
                    0,
                    memory_bytes,
                    max_flops,
                    cost_settings,
                ).real
            )
            methods.add("tensor_network")
    method = methods.pop() if len(methods) == 1 else "statevector+tensor_network"
    return (total / len(terms) if coefficients is None else total), method, widest


def find_effective_region(
    instance: ObservableInstance, settings: PointSettings, f_eff: float | None, noise, rng
) -> Region:
    """The certified effective region of <O> (see :func:`eqvbench.classical.region.grow_region`): balls around O's support.

    f is f_eff where the point was simulated, else `region.f_eff`, else ('auto')
    the readout-mitigated noisy/ideal ratio simulated on the largest ball that
    fits the simulation limit. Ball values come from each term's light cone
    inside the ball (:func:`cone_value`); the reference that certifies them is
    the ball holding the whole cone or, when the cone is larger than
    `region.max_qubits`, the whole cone contracted within the region's budgets.
    A ball's instance is `instance.restrict(qubits)` (the kicked Ising circuit rebuilt on the
    sub-lattice; a circuit file's gates among the ball's qubits).
    """
    import numpy as np

    from eqvbench.simulation.simulate import pauli_expectations

    reg = settings.region if settings.region is not None else IsingRegionSpec()
    sim = settings.simulation
    lattice = instance.lattice
    subs: dict[frozenset, ObservableInstance] = {}
    budget = dict(
        statevector_max_qubits=reg.statevector_max_qubits,
        max_repeats=reg.tn_max_repeats,
        memory_bytes=reg.tn_memory_bytes,
        max_flops=reg.tn_max_flops,
    )
    full_cone = backward_cone(instance.circuit, instance.paulis)

    def evaluate(qs) -> BallValue:
        key = frozenset(qs)
        if key not in subs:
            subs[key] = instance.restrict(qs)
        inst_r = subs[key]
        value, method, _ = cone_value(inst_r.circuit, inst_r.paulis, **budget, coefficients=inst_r.coefficients)
        n2 = backward_cone(inst_r.circuit, inst_r.paulis).n_gates_2q
        return BallValue(value, method, n2, inst_r.network if inst_r.paulis else lambda: None)

    def reference(delta: float | None) -> Reference | None:
        if len(full_cone.qubits) <= reg.max_qubits:
            return None  # the balls reach the whole cone themselves
        return cone_reference(instance, reg, delta, notes, ran, settings.cost if settings.cost_enabled else None)

    def simulate_f(qs, ball: BallValue) -> float | None:
        if len(qs) > sim.max_qubits or abs(ball.value) <= 0.05:
            return None
        inst_r = subs[frozenset(qs)]
        paulis = inst_r.paulis
        noisy, _, ideal, _ = pauli_expectations(inst_r.circuit, inst_r.qubits, noise, paulis, settings.engine, rng)
        readout = [noise.readout_factor(ps) for ps in paulis]
        if inst_r.coefficients is not None:
            w = inst_r.coefficients
            return float(sum(c * v / r for c, v, r in zip(w, noisy, readout)) / float(np.dot(w, ideal)))
        return float(sum(v / r for v, r in zip(noisy, readout)) / ideal.sum())

    f, source = (f_eff, "f_eff") if f_eff and f_eff > 0 else (None, None)
    notes: list[str] = []
    ran: dict[str, MethodResult] = {}
    region = grow_region(
        lattice,
        instance.measured,
        reg,
        sim.shots,
        f,
        source,
        evaluate,
        simulate_f,
        cone_qubits=set(full_cone.qubits),
        reference=reference,
    )
    region.notes[:0] = notes
    delta = region.fields.get("region_delta")
    if delta is None and f:
        delta = 1.0 / (f * sim.shots**0.5) if sim.shots else None
    if "belief_propagation" not in ran:
        if reg.belief_propagation:
            from eqvbench.classical.belief_propagation import bp_reference

            _, ran["belief_propagation"] = bp_reference(instance, reg, delta, [])
        else:
            ran["belief_propagation"] = MethodResult(
                "belief_propagation", "not_applicable", note="disabled (circuit.region.belief_propagation: false)"
            )
    if "pauli_propagation" not in ran:
        if reg.pauli_propagation:
            method_reg = reg.model_copy(
                update={"pauli_max_seconds": min(reg.pauli_max_seconds, reg.pauli_method_max_seconds)}
            )
            _, ran["pauli_propagation"] = pauli_reference(
                instance, method_reg, delta, [], budget_field="pauli_method_max_seconds"
            )
        else:
            ran["pauli_propagation"] = MethodResult(
                "pauli_propagation", "not_applicable", note="disabled (circuit.region.pauli_propagation: false)"
            )
    region.methods.extend([ran["pauli_propagation"], ran["belief_propagation"]])
    return certify_region(region, ran["pauli_propagation"], ran["belief_propagation"], delta)


def _candidates(region: Region, pp: MethodResult, bp: MethodResult) -> list:
    """The point's computations of <O> for :func:`eqvbench.classical.certify.certify`: the whole cone's
    exact value (a ball holding it, or its contraction), Pauli and belief propagation, and the region's
    ball, which rests on the reference that selected it."""
    from eqvbench.classical.certify import Candidate

    fields = region.fields
    out = []
    exact_ref = fields.get("reference_err") == 0 and str(fields.get("reference_method", "")).startswith(
        "whole light cone"
    )
    if exact_ref:
        out.append(Candidate("contraction", fields["reference_value"], 0.0, proof="exact", kind="exact"))
    if pp.status == "ok":
        proof = "dropped-weight bound" if pp.detail.get("error_kind") == "bound" else None
        out.append(Candidate("pauli_propagation", pp.value, pp.err, proof=proof))
    if bp.status == "ok":
        proof = "exact (loop-free graph, nothing truncated)" if bp.detail.get("loop_free") and bp.err == 0 else None
        err = bp.detail.get("ladder_err", bp.err)
        out.append(Candidate("belief_propagation", bp.value, 0.0 if err is None else err, proof=proof))
    if fields.get("region_value") is not None:
        basis = "contraction" if exact_ref else fields.get("reference_source")
        out.append(
            Candidate(
                "region",
                fields["region_value"],
                fields["region_err"],
                rests_on=frozenset([basis] if basis else ["reference"]),
                kind="exact",
            )
        )
    return out


def certify_region(region: Region, pp: MethodResult, bp: MethodResult, delta: float | None) -> Region:
    """Certify the point's values (:mod:`eqvbench.classical.certify`) and write the outcome: each method's
    `certified`, `certificate` and `refused`; the region kept only where certified; the reproduction the
    certified region, else the best certified whole-cone value, else null with a note."""
    from eqvbench.classical.certify import best, certify

    fields = region.fields
    verdicts = certify(_candidates(region, pp, bp), delta)
    for m in (pp, bp):
        v = verdicts.get(m.method)
        if v is None:
            continue
        m.detail.update({"certified": v.certified, "certificate": v.certificate, "refused": v.refused})
        if m.method == "belief_propagation" and v.certificate != [
            "exact (loop-free graph, nothing truncated)"
        ]:  # the ladder's err leaves out BP's loop error: shown only once something independent bounds it
            m.err = v.err if v.certified else None
        elif v.certified:
            m.err = v.err
        if v.refused:
            m.note = f"{m.note or ''}; refused: {v.refused}".lstrip("; ")
        elif not v.certified:
            m.note = f"{m.note or ''}; not certified: no independent computation agrees within delta".lstrip("; ")
    reg_v = verdicts.get("region")
    if "contraction" in verdicts:
        fields["reference_certificate"] = ["exact"]
    fields["region_certified"] = bool(reg_v and reg_v.certified)
    if reg_v is not None:
        fields["region_certificate_chain"] = reg_v.certificate
    if reg_v is not None and reg_v.certified:
        fields["reproduced_certificate"] = reg_v.certificate
        return region
    if reg_v is not None:  # a ball was chosen against a reference that is not certified: no region
        why = reg_v.refused or "its reference is not certified by an independent computation"
        region.notes.append(f"effective region of {region.a_eff} qubits withdrawn: {why}")
        fields.update({"region_radius": None, "region_value": None, "region_err": None})
        region = Region(None, None, None, fields, region.notes, methods=region.methods)
    whole = best({k: v for k, v in verdicts.items() if k != "region"}, order=("contraction", "pauli_propagation"))
    if whole is None:
        fields.update(
            {"reproduced_value": None, "reproduced_err": None, "reproduced_method": None, "reproduced_seconds": None}
        )
        fields["reproduced_certificate"] = None
        region.notes.append(
            "no certified classical value: no exact computation or bound, and no two independent computations "
            f"agree within delta{'' if delta is None else f' = {delta:.3g}'}"
        )
        return region
    entry = {"pauli_propagation": pp, "belief_propagation": bp}.get(whole.name)
    fields.update(
        {
            "reproduced_value": whole.value,
            "reproduced_err": whole.err,
            "reproduced_method": fields.get("reference_method")
            if whole.name == "contraction"
            else f"{whole.name}, certified by {', '.join(whole.certificate)}",
            "reproduced_seconds": fields.get("reference_seconds") if entry is None else entry.seconds,
            "reproduced_certificate": whole.certificate,
        }
    )
    return region


def cone_reference(
    instance: ObservableInstance,
    reg: IsingRegionSpec,
    delta: float | None,
    notes: list[str],
    record: dict[str, MethodResult] | None = None,
    cost_settings=None,
) -> Reference | None:
    """The whole light cone's <O>: exact contraction when the cone has at most
    `region.tn_reference_max_gates` two-qubit gates and fits the region's budgets (along the
    region's tree or, given `cost_settings`, the cost search's), else belief
    propagation (`region.belief_propagation`), else Pauli propagation, each converged within delta / 2
    (estimates; delta 0.01 when no fidelity sets it). None, with the reasons in `notes`, when none fits
    its budget."""
    from eqvbench.classical.region import RegionTooCostly

    paulis = instance.paulis
    cone = backward_cone(instance.circuit, paulis)
    # a sum is evaluated term by term (cone_value): what matters is its largest term's cone
    widest = (
        cone
        if len(paulis) == 1
        else max((backward_cone(instance.circuit, [ps]) for ps in paulis), key=lambda c: c.n_gates_2q)
    )
    if widest.n_gates_2q <= reg.tn_reference_max_gates:
        t = time.perf_counter()
        try:
            value, method, _ = cone_value(
                instance.circuit,
                paulis,
                reg.statevector_max_qubits,
                reg.tn_max_repeats,
                reg.tn_memory_bytes,
                reg.tn_max_flops,
                coefficients=instance.coefficients,
                cost_settings=cost_settings,
            )
            return Reference(
                value, 0.0, f"whole light cone ({method}, {len(cone.qubits)} qubits)", time.perf_counter() - t
            )
        except RegionTooCostly as e:
            notes.append(f"whole light cone not contracted: {e}")
    return certified_reference(instance, reg, delta, notes, record if record is not None else {})


def certified_reference(
    instance: ObservableInstance, reg: IsingRegionSpec, delta: float | None, notes: list[str], record: dict
) -> Reference | None:
    """The whole cone's <O> from belief propagation (`region.belief_propagation`) and Pauli propagation,
    certified (:mod:`eqvbench.classical.certify`): a bound by itself, an estimate only where the other,
    independent, agrees within delta. Pauli propagation runs within `pauli_max_seconds` where belief
    propagation did not converge, else within `pauli_method_max_seconds`. Both entries go to `record`;
    None, with the reasons in `notes`, when nothing is certified."""
    from eqvbench.classical.certify import best, certify

    refs: dict[str, Reference | None] = {}
    if getattr(reg, "belief_propagation", False):
        from eqvbench.classical.belief_propagation import bp_reference

        refs["belief_propagation"], record["belief_propagation"] = bp_reference(instance, reg, delta, notes)
    bp = record.get("belief_propagation")
    pp_reg, field_name = reg, "pauli_max_seconds"
    if bp is not None and bp.status == "ok" and hasattr(reg, "pauli_method_max_seconds"):
        pp_reg = reg.model_copy(update={"pauli_max_seconds": min(reg.pauli_max_seconds, reg.pauli_method_max_seconds)})
        field_name = "pauli_method_max_seconds"
    refs["pauli_propagation"], record["pauli_propagation"] = pauli_reference(
        instance, pp_reg, delta, notes, budget_field=field_name
    )
    region = Region(None, None, None, {}, [])
    verdicts = certify(
        _candidates(region, record["pauli_propagation"], bp or MethodResult("belief_propagation", "not_applicable")),
        delta,
    )
    chosen = best(verdicts, order=("pauli_propagation", "belief_propagation"))
    if chosen is None:
        said = "; ".join(
            f"{n}: {v.refused or 'not certified (nothing independent agrees within delta)'}"
            for n, v in verdicts.items()
        )
        notes.append(
            "no certified value of the whole light cone" + (f" ({said})" if said else " (no method converged)")
        )
        return None
    ref = refs[chosen.name]
    rigorous = len(chosen.certificate) == 1 and chosen.certificate[0] not in verdicts
    return Reference(
        chosen.value,
        chosen.err,
        f"{ref.method}; certified by {', '.join(chosen.certificate)}",
        ref.seconds,
        exact=rigorous,
        source=chosen.name,
    )


def pauli_reference(
    instance: ObservableInstance,
    reg: RegionSpec,
    delta: float | None,
    notes: list[str],
    budget_field: str = "pauli_max_seconds",
) -> tuple[Reference | None, MethodResult]:
    """The whole cone's <O> by Pauli propagation, converged within delta / 2 (delta 0.01 when no fidelity
    sets it), as a region reference (None, with the reason in `notes`, when it does not converge within
    `region.pauli_max_seconds` / `pauli_max_strings`) and as the point's `pauli_propagation` method.
    `budget_field` names the setting that bounded the seconds, for the note."""
    from eqvbench.circuits.lightcone import restrict_to_cone
    from eqvbench.classical.pauli_propagation import converge

    paulis = instance.paulis
    cone = backward_cone(instance.circuit, paulis)
    target = delta if delta else 0.01
    budget = {"target_err": target / 2, "max_seconds": reg.pauli_max_seconds, "max_strings": reg.pauli_max_strings}
    # cut-offs relative to a term's coefficient (1/terms: M_z's are 1/127), from 1e-3 down; the value
    # must agree within delta/2 with the three coarser cut-offs before it (1.5 decades): the value drifts
    # slowly and not monotonically with the cut-off (Z_62 after 20 steps at pi/8: 0.868, 0.860, 0.848,
    # 0.844, 0.840, 0.843 from 1e-3 to 3e-6, where converged methods agree on 0.850; at pi/4 0.279 ...
    # 0.177 at 3e-5 against 0.265), the same for merge-then-truncate propagation and IBM's pauli-prop,
    # and two agreeing steps certified a ball 0.029 off
    coefficients = instance.coefficients
    # a weighted sum: relative to its smallest coefficient
    scale = 1.0 / len(paulis) if coefficients is None else min(abs(c) for c in coefficients if c) or 1.0
    cutoffs = tuple(c * scale for c in (1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6))
    conv = converge(
        restrict_to_cone(instance.circuit, cone),
        list(cone.qubits),
        instance.propagation_terms(),
        target,
        cutoffs=cutoffs,
        max_seconds=reg.pauli_max_seconds,
        max_strings=reg.pauli_max_strings,
        agree=3,
    )

    run = ConeRun("pauli_propagation", conv.flops, conv.seconds, budget)

    def detail(cutoff: float | None = None) -> dict[str, Any]:
        return {
            "coefficient_cutoff": cutoff,
            "peak_strings": conv.peak_strings,
            "string_gate_ops": conv.string_gate_ops,
            "peak_memory_bytes": conv.peak_memory_bytes,
        }

    # the cut-off ladder, for the verdict's projection of what reaching delta would cost
    ladder = [
        {
            "coefficient_cutoff": r.coefficient_cutoff,
            "value": None if r.status != "ok" else r.value,
            "peak_strings": r.peak_strings,
            "flops": r.flops,
            "seconds": round(r.seconds, 4),
            "truncated_weight": r.truncated_weight,
            "status": r.status,
        }
        for r in conv.history
    ]
    # the dropped coefficients' magnitudes bound the truncation error rigorously (each dropped term
    # a P contributes a <psi|P|psi>, |.| <= |a|): where that bound is within delta/2, it certifies
    bounded = [r for r in conv.history if r.status == "ok" and r.truncated_weight <= target / 2]
    if bounded:
        r = min(bounded, key=lambda r: r.truncated_weight)
        if conv.status != "ok" or r.truncated_weight <= max(conv.err, conv.cutoff):
            method = (
                f"pauli_propagation (cut-off {r.coefficient_cutoff:g}, {r.peak_strings:.3g} strings, "
                "error bounded by the dropped weight)"
            )
            note = "error bounded by the dropped weight"
            d = {**detail(r.coefficient_cutoff), "error_kind": "bound", "ladder": ladder}
            return run.converged(r.value, r.truncated_weight, method, note, d)
    if conv.status != "ok":
        settings = f"{budget_field} / pauli_max_strings"
        d = {**detail(), "ladder": ladder}
        return run.not_converged("Pauli propagation", target / 2, conv.reason, settings, notes, d)
    # the ladder's change is blind to what every cut-off drops alike (a value of 3e-6 reads 0 at all of
    # them): the estimate is floored at the final cut-off, the size below which single terms were dropped
    err = max(conv.err, conv.cutoff)
    method = f"pauli_propagation (cut-off {conv.cutoff:g}, {conv.peak_strings:.3g} strings)"
    note = "error estimated from the cut-off ladder"
    d = {**detail(conv.cutoff), "error_kind": "estimate", "ladder": ladder}
    return run.converged(conv.value, err, method, note, d, exact=False)


FAMILY = FloquetIsingFamily()
