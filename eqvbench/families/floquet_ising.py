"""Floquet (kicked) Ising dynamics, as in Kim et al., Nature 618, 500 (2023).

Per step: RX(theta_h) on every qubit, then RZZ(-pi/2) = exp(+i pi/4 ZZ) on
every coupler, layer by layer; start in |0...0>; measure a Pauli observable.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Field

from eqvbench.families.base import Instance, LightCone, Measurement
from eqvbench.spec import (
    GridLattice,
    HeavyHex127Lattice,
    HeavyHexLattice,
    LineLattice,
    RingLattice,
    Section,
    Sweep,
)

# Observables of the 2023 experiment (IBM numbering), FRAMEWORK.md section 3.
NAMED_OBSERVABLES = {
    "W_10": "X13 X29 X31 Y9 Y30 Z8 Z12 Z17 Z28 Z32",
    "W_17": "X37 X41 X52 X56 X57 X58 X62 X79 Y75 Z38 Z40 Z42 Z63 Z72 Z80 Z90 Z91",
}
_TOKEN = re.compile(r"^([XYZ])_?(\d+)$")
_ANGLE = re.compile(r"^[0-9.eE+\-*/() ]*(pi[0-9.eE+\-*/() ]*)*$")


def parse_angle(value: Any) -> float:
    """A number, or an expression such as 'pi/4' or '3*pi/8' (radians)."""
    if isinstance(value, bool):
        raise ValueError("expected an angle in radians, e.g. 0.785 or 'pi/4'")
    if isinstance(value, (int, float)):
        x = float(value)
    elif isinstance(value, str) and value.strip() and _ANGLE.match(value.strip()):
        try:
            x = float(eval(value, {"__builtins__": {}}, {"pi": math.pi}))  # only digits, operators and pi
        except Exception:
            raise ValueError(f"expected an angle in radians, e.g. 0.785 or 'pi/4', got {value!r}") from None
    else:
        raise ValueError(f"expected an angle in radians, e.g. 0.785 or 'pi/4', got {value!r}")
    if not math.isfinite(x):
        raise ValueError(f"angle must be finite, got {value!r}")
    return x


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


def _check_observable(text: Any) -> str:
    parse_observable(text)
    return str(text).strip()


FloquetLatticeSpec = Annotated[
    Union[HeavyHex127Lattice, HeavyHexLattice, LineLattice, RingLattice, GridLattice], Field(discriminator="kind")
]


class FloquetCircuit(Section):
    """`circuit:` section of a floquet_ising spec."""

    theta_h: Sweep(Annotated[float, BeforeValidator(parse_angle)]) = [math.pi / 4]
    steps: Sweep(Annotated[int, Field(ge=1, le=200)]) = [5]
    observable: Sweep(Annotated[str, BeforeValidator(_check_observable)]) = ["Z0"]
    final_rx: bool = False
    instances: Annotated[int, Field(ge=1, le=1)] = 1


def qubit_of(lattice, k: int):
    """The lattice qubit numbered k: IBM / line number for LineQubits, row-major index on a grid."""
    import cirq

    if lattice.qubits and isinstance(lattice.qubits[0], cirq.LineQubit):
        q = cirq.LineQubit(k)
        return q if q in set(lattice.qubits) else None
    return lattice.qubits[k] if 0 <= k < lattice.n_qubits else None


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


RZZ = None  # built lazily: cirq import stays out of module import


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


def structurally_diagonal(op) -> bool:
    """Diagonal by gate type (Z rotations, ZZ, CZ), whatever the angle: keeps the cone structural."""
    import cirq

    return isinstance(op.gate, (cirq.ZPowGate, cirq.ZZPowGate, cirq.CZPowGate, cirq.IdentityGate))


def backward_light_cone(circuit, paulis: list[dict]):
    """Gates that can change <O>, walking backwards from O's support (FRAMEWORK.md, v_light).

    A gate joins the cone when it touches a cone qubit, and its qubits join
    the cone. While the observable is still diagonal (all Z, before the walk
    meets a non-diagonal gate on the cone), diagonal gates commute with it and
    are left out: the RZZ layers after the last RX layer drop out for Z
    observables. Returns (error locations in the cone, two-qubit gates in the
    cone, cone qubits).
    """
    import cirq

    cone = {q for ps in paulis for q in ps}
    diagonal_phase = all(p == "Z" for ps in paulis for p in ps.values())
    locations = set()
    n_2q = 0
    moments = list(circuit)
    for m in range(len(moments) - 1, -1, -1):
        joined = set()
        leaves_diagonal = False
        for op in moments[m]:
            if not set(op.qubits) & cone:
                continue
            diagonal = structurally_diagonal(op)
            if diagonal_phase and diagonal:
                continue  # commutes with the still-diagonal observable
            leaves_diagonal |= not diagonal
            locations.add((m, tuple(op.qubits)))
            if len(op.qubits) == 2:
                n_2q += 1
            joined.update(op.qubits)
        busy = {q for op in moments[m] for q in op.qubits}
        locations.update((m, (q,)) for q in cone if q not in busy)
        cone |= joined
        diagonal_phase &= not leaves_diagonal
    return frozenset(locations), n_2q, tuple(sorted(cone))


class FloquetIsingFamily:
    name = "floquet_ising"
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

    def build(self, lattice, circuit: dict[str, Any], seed: int) -> Instance:
        c = floquet_circuit(lattice, circuit["theta_h"], circuit["steps"], circuit["final_rx"])
        paulis = resolve_observable(lattice, circuit["observable"])
        support = tuple(sorted({q for ps in paulis for q in ps}))
        return Instance(c, lattice.qubits, support, seed, data={"paulis": paulis, "lattice": lattice})

    def light_cone(self, instance: Instance) -> LightCone:
        locations, n_2q, qubits = backward_light_cone(instance.circuit, instance.data["paulis"])
        return LightCone(v_light=n_2q, qubits=qubits, locations=locations)

    def measure(self, instances, noise, simulation, rng) -> Measurement:
        import numpy as np

        from eqvbench.simulate import SimSettings, pauli_expectations

        inst = instances[0]
        paulis = inst.data["paulis"]
        vals, errs, ideal, info = pauli_expectations(
            inst.circuit, inst.qubits, noise, paulis, SimSettings.from_section(simulation), rng
        )
        o_ideal, o_noisy = float(np.mean(ideal)), float(np.mean(vals))
        sim_err = float(np.mean(errs))  # the Paulis share trajectories: errors add linearly at worst
        shots = simulation["shots"]
        shot_err = math.sqrt(max(0.0, 1.0 - o_noisy**2) / shots) if shots else 0.0
        o_err = math.hypot(sim_err, shot_err)
        fields = {
            "o_ideal": o_ideal,
            "o_noisy": o_noisy,
            "o_noisy_err": o_err,
            "shots": shots,
            "sim_method": info["method"],
            "n_trajectories": info["n_trajectories"],
        }
        notes = []
        threshold = max(0.02, 3.0 * o_err)
        if abs(o_ideal) < threshold:
            notes.append(f"|<O>_ideal| = {abs(o_ideal):.3g} is below {threshold:.3g} (3 x the error of <O>_noisy): f_eff not divided out")
            return Measurement(None, None, fields, notes)
        return Measurement(o_noisy / o_ideal, o_err / abs(o_ideal), fields, notes)

    def cost_network(self, instance: Instance):
        from eqvbench.families.floquet_ising import sandwich_network

        return sandwich_network(instance)

    def structure_key(self, values: dict[str, Any]) -> dict[str, Any]:
        c = values["circuit"]
        return {"lattice": values["lattice"], "steps": c["steps"], "observable": c["observable"], "final_rx": c["final_rx"]}

    def table_columns(self) -> list[tuple[str, str]]:
        return [("<O> ideal", "o_ideal"), ("<O> noisy", "o_noisy")]


def sandwich_network(instance: Instance, locations=None):
    """quimb network of <0|U^dag O U|0> restricted to the backward light cone.

    Gates outside the cone (and diagonal gates that commute with a diagonal O)
    cancel against their inverses in U^dag and are left out before any
    contraction; qubits outside the cone contribute <0|0> = 1.
    """
    import cirq
    import numpy as np
    import quimb.tensor as qtn

    if locations is None:
        locations, _, _ = backward_light_cone(instance.circuit, instance.data["paulis"])
    cone_qubits = sorted({q for _, qs in locations for q in qs} | {q for ps in instance.data["paulis"] for q in ps})
    index = {q: i for i, q in enumerate(cone_qubits)}
    n = len(cone_qubits)
    circ = qtn.Circuit(n)
    for m, moment in enumerate(instance.circuit):
        for op in moment:
            if (m, tuple(op.qubits)) in locations:
                circ.apply_gate_raw(cirq.unitary(op), tuple(index[q] for q in op.qubits), contract="auto-split-gate")
    ket = circ.psi
    bra = ket.conj().mangle_inner_()
    pauli_mats = {"X": np.array([[0, 1], [1, 0]], complex), "Y": np.array([[0, -1j], [1j, 0]]), "Z": np.diag([1.0 + 0j, -1.0])}
    terms = instance.data["paulis"]
    if len(terms) != 1:
        raise ValueError("the sandwich network is built for one Pauli string; cost M_z per site")
    ops = {index[q]: p for q, p in terms[0].items()}
    bra = bra.reindex({f"k{i}": f"b{i}" for i in range(n)})
    tn = ket & bra
    for i in range(n):
        mat = pauli_mats[ops[i]] if i in ops else np.eye(2, dtype=complex)
        tn &= qtn.Tensor(mat, inds=(f"b{i}", f"k{i}"))
    return tn


FAMILY = FloquetIsingFamily()
