"""Exact structural light cones: cutting every gate outside the cone leaves <O> unchanged."""

import math

import cirq
import numpy as np
import pytest

from eqvbench.families.floquet_ising import floquet_circuit, resolve_observable
from eqvbench.circuits.lattice import build_lattice, heavy_hex_127
from eqvbench.circuits.lightcone import (
    DIAGONAL,
    GENERAL,
    IDENTITY,
    backward_cone,
    restrict_to_cone,
    structurally_diagonal,
)


def expectation(circuit, qubits, terms) -> float:
    psi = cirq.Simulator(dtype=np.complex128).simulate(circuit, qubit_order=qubits).final_state_vector
    qm = {q: i for i, q in enumerate(qubits)}
    total = 0.0
    for term in terms:
        ps = cirq.PauliString({q: getattr(cirq, p) for q, p in term.items()})
        total += ps.expectation_from_state_vector(psi, qm).real
    return total / len(terms)


def random_circuit(qubits, edges, depth, rng):
    """Layers of random 1q gates (diagonal and not) and 2q gates (diagonal and not) on random couplers."""
    moments = []
    one = [
        lambda a: cirq.rx(a),
        lambda a: cirq.rz(a),
        lambda a: cirq.PhasedXPowGate(phase_exponent=a, exponent=0.5),
        lambda a: cirq.ZPowGate(exponent=a),
    ]
    two = [
        lambda a: cirq.ZZPowGate(exponent=a),
        lambda a: cirq.CZPowGate(exponent=a),
        lambda a: cirq.FSimGate(a, a / 3),
        lambda a: cirq.ISwapPowGate(exponent=a),
    ]
    for _ in range(depth):
        moments.append(
            cirq.Moment(one[rng.integers(4)](rng.uniform(0.1, 1.4)).on(q) for q in qubits if rng.random() < 0.7)
        )
        used, ops = set(), []
        for k in rng.permutation(len(edges)):
            a, b = edges[k]
            if a in used or b in used:
                continue
            used |= {a, b}
            g = two[rng.integers(4)] if rng.random() < 0.5 else two[rng.integers(2)]  # diagonal-heavy
            ops.append(g(rng.uniform(0.1, 1.4)).on(a, b))
        moments.append(cirq.Moment(ops))
    return cirq.Circuit(moments)


@pytest.mark.parametrize("seed", range(6))
def test_cut_outside_cone_leaves_value_on_random_circuits(seed):
    rng = np.random.default_rng(seed)
    lat = build_lattice({"kind": "grid", "rows": 2, "cols": 4})
    c = random_circuit(list(lat.qubits), list(lat.edges), 5, rng)
    qs = list(lat.qubits)
    k = rng.integers(1, 4)
    term = {qs[i]: "XYZ"[rng.integers(3)] for i in rng.choice(len(qs), size=k, replace=False)}
    cone = backward_cone(c, [term])
    cut = restrict_to_cone(c, cone)
    assert expectation(cut, qs, [term]) == pytest.approx(expectation(c, qs, [term]), abs=1e-10)
    n_all = sum(1 for _ in c.all_operations())
    assert sum(1 for _ in cut.all_operations()) <= n_all


@pytest.mark.parametrize("obs", ["Z0", "X3", "Y5 Z6", "M_z"])
@pytest.mark.parametrize("theta", [0.31, math.pi / 4, 1.2])
def test_cut_outside_cone_leaves_kicked_ising_value(obs, theta):
    lat = build_lattice({"kind": "line", "n": 9})
    c = floquet_circuit(lat, theta, 4)
    terms = resolve_observable(lat, obs)
    cone = backward_cone(c, terms)
    cut = restrict_to_cone(c, cone)
    assert expectation(cut, list(lat.qubits), terms) == pytest.approx(
        expectation(c, list(lat.qubits), terms), abs=1e-12
    )


def test_heavy_hex_cut_value_and_count():
    """Z_62 after 3 steps on a radius-4 heavy-hex patch: the cone is far smaller than the circuit."""
    full = heavy_hex_127()
    lat = full.restrict(full.ball([cirq.LineQubit(62)], 3), "heavy_hex")
    c = floquet_circuit(lat, 0.7, 3)
    terms = resolve_observable(lat, "Z62")
    cone = backward_cone(c, terms)
    assert cone.n_gates_2q < sum(1 for op in c.all_operations() if len(op.qubits) == 2)
    cut = restrict_to_cone(c, cone)
    assert expectation(cut, list(lat.qubits), terms) == pytest.approx(
        expectation(c, list(lat.qubits), terms), abs=1e-12
    )


def test_hand_worked_cone():
    """Z on q1 behind RX on q0, then CZ(q0, q1): CZ commutes with Z1 (diagonal), RX on q0 sees identity."""
    q0, q1, q2 = cirq.LineQubit.range(3)
    c = cirq.Circuit([cirq.Moment(cirq.rx(0.3)(q0)), cirq.Moment(cirq.CZ(q0, q1)), cirq.Moment(cirq.rx(0.2)(q1))])
    cone = backward_cone(c, [{q1: "Z"}])
    # RX(q1) is in; it makes q1 general, so CZ is in and makes q0 diagonal; RX(q0) then acts on a diagonal qubit
    assert cone.gates == {(2, (q1,)), (1, (q0, q1)), (0, (q0,))} and cone.n_gates_2q == 1
    cone2 = backward_cone(c[:2], [{q1: "Z"}])  # without the final RX: Z1 commutes with everything
    assert cone2.gates == frozenset() and cone2.states == {q1: DIAGONAL}
    cone3 = backward_cone(c, [{q2: "X"}])
    assert cone3.gates == frozenset() and cone3.states == {q2: GENERAL}
    assert IDENTITY == 0


def test_sum_cone_is_union_of_terms():
    lat = build_lattice({"kind": "line", "n": 8})
    c = floquet_circuit(lat, 0.4, 3)
    terms = resolve_observable(lat, "M_z")
    union = set()
    for t in terms:
        union |= backward_cone(c, [t]).gates
    assert backward_cone(c, terms).gates == union


def test_structural_diagonal_is_by_type():
    q0, q1 = cirq.LineQubit.range(2)
    assert structurally_diagonal(cirq.ZZPowGate(exponent=0.3)(q0, q1))
    assert structurally_diagonal(cirq.CZ(q0, q1)) and structurally_diagonal(cirq.rz(0.1)(q0))
    assert not structurally_diagonal(cirq.rx(0.0)(q0))  # RX(0) is diagonal by value, not by type
    assert not structurally_diagonal(cirq.FSimGate(0.0, 0.3)(q0, q1))
    assert structurally_diagonal(cirq.MatrixGate(np.diag([1, 1j, -1, 1j]))(q0, q1))
