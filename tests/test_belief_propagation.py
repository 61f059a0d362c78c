"""Belief-propagation tensor networks (eqvbench.classical.belief_propagation) against independent values.

- Loop-free graphs (line, a branched tree): BP environments are exact and, with chi large enough that
  nothing is truncated, so is the state: values agree with cirq's state vector to 1e-9 (rounding).
- Graphs with loops: the simple-update state with nothing truncated is the exact state (checked against
  cirq to 1e-9 by contracting it fully); BP's expectation values then differ by the loop error alone,
  measured here against cirq and bounded with a stated margin.
- The 127-qubit kicked-Ising experiment after 5 steps: the exact values of Begusic, Gray & Chan
  (tests/test_published_exact.py's EXACT, arXiv:2308.05077 data) within delta = 0.027 and within BP's
  stated err plus its measured loop error.
"""

import math

import cirq
import numpy as np
import pytest

from eqvbench.classical import belief_propagation as bp
from eqvbench.families.floquet_ising import floquet_circuit, resolve_observable
from eqvbench.circuits.lattice import build_lattice, heavy_hex_127, line, ring
from eqvbench.circuits.lightcone import backward_cone, restrict_to_cone

DELTA = 1 / (0.37 * math.sqrt(1e4))
EXACT = {  # k: (M_z, W_10, W_17) at theta_h = k pi/32, 5 steps (exact.csv columns 4a, 4b, 4c)
    4: (0.9048427074671951, -0.007714801813112025, 2.9323229037927505e-06),
    8: (0.45280386917341503, -0.012840895482336079, -4.361725670444756e-05),
    12: (0.0372627785874283, 0.3174750563553381, -0.13340763556564644),
}


def cirq_value(circuit, qubits, string) -> float:
    psi = cirq.Simulator(dtype=np.complex128).simulate(circuit, qubit_order=qubits).final_state_vector
    ps = cirq.PauliString({q: getattr(cirq, p) for q, p in string.items()})
    return float(ps.expectation_from_state_vector(psi, {q: i for i, q in enumerate(qubits)}).real)


def bp_value(circuit, qubits, string, chi=64) -> tuple[float, bp.SimpleUpdateState]:
    prog = bp.compile_circuit(circuit, qubits)
    st = bp.evolve(prog, chi)
    index = {q: i for i, q in enumerate(qubits)}
    return float(st.run_bp().expectation({index[q]: p for q, p in string.items()}).real), st


@pytest.mark.parametrize("steps", [3, 6])
def test_line_is_exact(steps):
    """Kicked Ising on a 10-qubit line at a generic angle: Z_4 and X_3 Y_4 Z_5 to 1e-9."""
    lat = line(10)
    c = floquet_circuit(lat, 0.7, steps)
    qs = list(lat.qubits)
    for string in ({qs[4]: "Z"}, {qs[3]: "X", qs[4]: "Y", qs[5]: "Z"}, {qs[1]: "Z", qs[6]: "X", qs[8]: "Y"}):
        value, st = bp_value(c, qs, string)
        assert st.truncations == 0
        assert value == pytest.approx(cirq_value(c, qs, string), abs=1e-9)


def test_random_circuit_on_a_tree_is_exact():
    """Random one-qubit gates and random (non-diagonal) two-qubit unitaries on a branched tree."""
    rng = np.random.RandomState(7)
    qs = cirq.LineQubit.range(8)
    edges = [(0, 1), (1, 2), (2, 3), (1, 4), (4, 5), (3, 6), (6, 7)]
    ops = []
    for _ in range(4):
        ops += [cirq.MatrixGate(cirq.testing.random_unitary(2, random_state=rng)).on(q) for q in qs]
        ops += [cirq.MatrixGate(cirq.testing.random_unitary(4, random_state=rng)).on(qs[a], qs[b]) for a, b in edges]
    c = cirq.Circuit(ops)
    prog = bp.compile_circuit(c, qs)
    assert bp.is_tree(prog.n, prog.edges) and all(g.diag is None for g in prog.gates)
    for string in ({qs[2]: "Z"}, {qs[1]: "X", qs[4]: "Y", qs[5]: "Z"}, {qs[0]: "Y", qs[7]: "X"}):
        value, st = bp_value(c, qs, string)
        assert st.truncations == 0
        assert value == pytest.approx(cirq_value(c, qs, string), abs=1e-9)


def test_converge_on_a_line_reports_exact():
    lat = line(12)
    c = floquet_circuit(lat, 0.9, 5)
    qs = list(lat.qubits)
    term = {qs[6]: "Z"}
    lad = bp.converge(c, qs, [(1.0, term)], 0.01)
    assert lad.status == "ok" and lad.exact_tree and lad.err == 0.0
    assert lad.value == pytest.approx(cirq_value(c, qs, term), abs=1e-9)
    assert lad.flops > 0 and lad.peak_memory_bytes > 0 and [r.chi for r in lad.history][0] == 4


def heisenberg_value(circuit, qubits, string, chi=256) -> tuple[float, bp.SimpleUpdateState]:
    hprog = bp.heisenberg_program(bp.compile_circuit(circuit, qubits))
    index = {q: i for i, q in enumerate(qubits)}
    st = bp.evolve_operator(hprog, {index[q]: p for q, p in string.items()}, chi)
    return bp.zero_state_value(st)[0], st


@pytest.mark.parametrize("steps", [3, 6])
def test_heisenberg_line_is_exact(steps):
    """The observable evolved backwards as an operator network (Pauli basis, RZZ through its rank-4
    Pauli-transfer-matrix factors), nothing truncated, contracted with |0...0> by vector BP: exact
    on a line, to 1e-9 of cirq's state vector."""
    lat = line(10)
    c = floquet_circuit(lat, 0.7, steps)
    qs = list(lat.qubits)
    for string in ({qs[4]: "Z"}, {qs[3]: "X", qs[4]: "Y", qs[5]: "Z"}, {qs[1]: "Z", qs[6]: "X", qs[8]: "Y"}):
        value, st = heisenberg_value(c, qs, string)
        assert st.truncations == 0 and st.tensors[0].dtype == np.float64
        assert value == pytest.approx(cirq_value(c, qs, string), abs=1e-9)


def test_heisenberg_random_circuit_on_a_tree_is_exact():
    """Random one- and two-qubit unitaries (full-rank 16x16 transfer matrices) on a branched tree."""
    rng = np.random.RandomState(11)
    qs = cirq.LineQubit.range(8)
    edges = [(0, 1), (1, 2), (2, 3), (1, 4), (4, 5), (3, 6), (6, 7)]
    ops = []
    for _ in range(3):
        ops += [cirq.MatrixGate(cirq.testing.random_unitary(2, random_state=rng)).on(q) for q in qs]
        ops += [cirq.MatrixGate(cirq.testing.random_unitary(4, random_state=rng)).on(qs[a], qs[b]) for a, b in edges]
    c = cirq.Circuit(ops)
    for string in ({qs[2]: "Z"}, {qs[1]: "X", qs[4]: "Y", qs[5]: "Z"}, {qs[0]: "Y", qs[7]: "X"}):
        value, st = heisenberg_value(c, qs, string)
        assert st.truncations == 0
        assert value == pytest.approx(cirq_value(c, qs, string), abs=1e-9)


def test_auto_picture_falls_back_to_heisenberg():
    """Z at the end of a 10-qubit line after 3 steps within chi 4: the state needs more (the
    Schrodinger ladder stops unconverged), the observable's operator network does not (exact)."""
    lat = line(10)
    c = floquet_circuit(lat, 0.7, 3)
    qs = list(lat.qubits)
    term = {qs[0]: "Z"}
    lad = bp.converge(c, qs, [(1.0, term)], 1e-3, max_chi=4)
    assert lad.picture == "heisenberg" and lad.status == "ok" and lad.exact_tree and lad.err == 0.0
    assert [x.picture for x in lad.tried] == ["schrodinger"] and lad.tried[0].status == "over_budget"
    assert lad.value == pytest.approx(cirq_value(c, qs, term), abs=1e-9)
    assert lad.flops > sum(r.flops for r in lad.history)  # the Schrodinger runs are counted too
    with pytest.raises(ValueError, match="picture"):
        bp.converge(c, qs, [(1.0, term)], 1e-3, picture="interaction")


def test_truncation_is_counted_and_estimated():
    """At chi = 2 on a 10-qubit line the truncated value misses the exact one by less than the
    discarded-weight estimate 2 sqrt(2 x discarded) (the canonical gauge of a tree makes it a fidelity)."""
    lat = line(10)
    c = floquet_circuit(lat, 0.7, 6)
    qs = list(lat.qubits)
    term = {qs[5]: "Z"}
    value, st = bp_value(c, qs, term, chi=2)
    assert st.truncations > 0 and 0 < st.discarded
    assert abs(value - cirq_value(c, qs, term)) <= bp.truncation_estimate(st.discarded)


@pytest.mark.parametrize(
    "lattice, steps, loop_error",
    [
        # a 12-qubit ring: until correlations wrap around it BP is exact (measured 5e-15 at 6 steps)
        ({"kind": "ring", "n": 12}, 6, 1e-9),
        # a 3x3 grid (4-cycles): measured BP loop error, largest over the nine Z_i, 0.0227 after 3 steps;
        # bounded at 0.03 (the measurement plus a third) so that a gauge or message bug, which gives O(1)
        # errors, fails while the loop error itself passes
        ({"kind": "grid", "rows": 3, "cols": 3}, 3, 0.03),
    ],
)
def test_loopy_lattice_state_exact_and_bp_within_its_loop_error(lattice, steps, loop_error):
    lat = ring(12) if lattice["kind"] == "ring" else build_lattice(lattice)
    qs = list(lat.qubits)
    c = floquet_circuit(lat, 0.7, steps)
    prog = bp.compile_circuit(c, qs)
    assert not bp.is_tree(prog.n, prog.edges)
    st = bp.evolve(prog, 256)
    assert st.truncations == 0
    psi = cirq.Simulator(dtype=np.complex128).simulate(c, qubit_order=qs).final_state_vector
    assert abs(np.vdot(st.statevector(), psi)) == pytest.approx(1.0, abs=1e-9)  # the state itself is exact
    env = st.run_bp()
    order = {q: i for i, q in enumerate(qs)}
    errors = [
        abs(env.expectation({i: "Z"}).real - cirq.Z(q).expectation_from_state_vector(psi, order).real)
        for i, q in enumerate(qs)
    ]
    assert max(errors) <= loop_error


def _published(name: str, k: int) -> bp.BPLadder:
    lat = heavy_hex_127()
    c = floquet_circuit(lat, k * math.pi / 32, 5)
    paulis = resolve_observable(lat, name)
    cone = backward_cone(c, paulis)
    w = 1.0 / len(paulis)
    return bp.converge(restrict_to_cone(c, cone), list(cone.qubits), [(w, ps) for ps in paulis], DELTA / 2)


# BP's loop error, measured with nothing truncated (chi 32): W_10 4.6e-8, 1.9e-5, 6.2e-5 at k = 4, 8, 12;
# W_17 1.5e-8, 4.1e-5 at k = 4, 8; the M_z terms 4e-14. The slack is the largest, rounded up to 1e-4.
LOOP_SLACK = 1e-4


@pytest.mark.parametrize(
    "name, column, k", [("M_z", 0, 8), ("M_z", 0, 12), ("W_10", 1, 8), ("W_10", 1, 12), ("W_17", 2, 4), ("W_17", 2, 8)]
)
def test_127_qubit_experiment_after_5_steps(name, column, k):
    lad = _published(name, k)
    exact = EXACT[k][column]
    assert lad.status == "ok", lad.reason
    assert abs(lad.value - exact) <= DELTA
    assert abs(lad.value - exact) <= lad.err + LOOP_SLACK


def test_loop_error_is_not_in_the_estimate():
    """The limitation, stated: W_17 after 5 steps at theta_h = 3 pi/8 converges (nothing truncated at
    chi 32, err 0) to about 0 where the exact value is -0.1334: BP misses the correlations around the
    heavy-hex loops that this string's value comes from, and no chi ladder can see it."""
    lad = _published("W_17", 12)
    assert lad.status == "ok" and lad.err <= DELTA / 2
    assert abs(lad.value - EXACT[12][2]) > 0.1


# The Heisenberg picture's loop error, measured with nothing truncated: W_10 6.4e-5, 8.6e-5 at k = 8, 12;
# W_17 4.3e-5 at k = 12. The slack is the largest, rounded up to 1e-4.
HEISENBERG_LOOP_SLACK = 1e-4


@pytest.mark.parametrize(
    "name, column, k", [("W_10", 1, 8), ("W_10", 1, 12), ("W_17", 2, 4), ("W_17", 2, 8), ("W_17", 2, 12)]
)
def test_127_qubit_experiment_after_5_steps_heisenberg(name, column, k):
    """The operator network's ladder (three chis agreeing within delta/2, or nothing truncated)
    against the published exact values; W_17 at 3 pi/8, where the state's BP misses the loop
    correlations entirely (test_loop_error_is_not_in_the_estimate), comes within 5e-5."""
    lat = heavy_hex_127()
    c = floquet_circuit(lat, k * math.pi / 32, 5)
    paulis = resolve_observable(lat, name)
    cone = backward_cone(c, paulis)
    w = 1.0 / len(paulis)
    lad = bp.converge(
        restrict_to_cone(c, cone), list(cone.qubits), [(w, ps) for ps in paulis], DELTA / 2, picture="heisenberg"
    )
    exact = EXACT[k][column]
    assert lad.status == "ok" and lad.picture == "heisenberg", lad.reason
    assert abs(lad.value - exact) <= DELTA
    assert abs(lad.value - exact) <= lad.err + HEISENBERG_LOOP_SLACK


def test_bp_is_the_region_reference_of_a_large_cone():
    """A cone larger than region.max_qubits, exact contraction switched off: belief propagation and
    Pauli propagation certify each other, the reference is one of them, and it and the certified ball agree with
    the cone's state vector within their errors."""
    from eqvbench.families.base import PointSettings
    from eqvbench.families.floquet_ising import FAMILY, cone_value
    from eqvbench.circuits.noise import NoiseModel
    from eqvbench.spec import parse_spec

    spec = parse_spec(
        {
            "experiment": "floquet_ising",
            "lattice": {"kind": "line", "n": 24},
            "circuit": {
                "theta_h": 0.5,
                "steps": 6,
                "observable": "Z12",
                "region": {"f_eff": 0.37, "max_qubits": 10, "tn_reference_max_gates": 0},
            },
            "simulation": {"shots": 10000, "simulate": "never"},
        },
        "t.yaml",
    )
    v = spec.points[0].values
    inst = FAMILY.build(build_lattice(v["lattice"]), v["circuit"], 0)
    region = FAMILY.effective_region(
        inst, PointSettings.from_values(v, FAMILY), None, NoiseModel(), np.random.default_rng(0)
    )
    f = region.fields
    exact, _, _ = cone_value(inst.circuit, inst.paulis)
    # the BP ladder stops once its estimate is within delta/2, before chi is large enough to truncate
    # nothing, so BP and Pauli propagation are both estimates: each is certified by the other, with the
    # same stated error 2|v-w| + max(ladder errors), and the tie goes to Pauli propagation
    by = {m.method: m for m in region.methods}
    bp, pp = by["belief_propagation"], by["pauli_propagation"]
    assert bp.status == "ok" and bp.detail["certified"] and bp.detail["certificate"] == ["pauli_propagation"]
    assert pp.status == "ok" and pp.detail["certified"] and pp.detail["certificate"] == ["belief_propagation"]
    for m in (bp, pp):
        assert abs(m.value - exact) <= m.err <= DELTA / 2
    assert 0 < f["reference_err"] <= DELTA / 2 and f["reference_source"] in ("belief_propagation", "pauli_propagation")
    ref = by[f["reference_source"]]
    assert f["reference_value"] == ref.value and f["reference_err"] == ref.err
    assert abs(f["reference_value"] - exact) <= f["reference_err"]
    assert f["region_certificate"] == "estimate" and f["region_certified"]
    assert set(f["region_certificate_chain"]) == {"belief_propagation", "pauli_propagation"}
    assert abs(f["region_value"] - exact) <= f["region_err"]
