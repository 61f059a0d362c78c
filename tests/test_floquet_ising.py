"""Floquet (kicked) Ising family: light cones, known limits, three independent computations."""

import math

import cirq
import numpy as np
import pytest
from typer.testing import CliRunner

from eqvbench.cli import app
from eqvbench.families.base import PointSettings
from eqvbench.families.floquet_ising import (
    FAMILY,
    backward_light_cone,
    floquet_circuit,
    ideal_value_statevector,
    ideal_value_tn,
    parse_angle,
    parse_observable,
    resolve_observable,
    rzz_minus_pi_2,
)
from eqvbench.circuits.lattice import build_lattice, heavy_hex_127
from eqvbench.circuits.noise import NoiseModel
from eqvbench.simulation.simulate import SimSettings, pauli_expectations
from eqvbench.spec import SimulationSpec
from sweep_util import assert_spec_error

LATTICES = [
    {"kind": "line", "n": 6},
    {"kind": "ring", "n": 7},
    {"kind": "grid", "rows": 2, "cols": 3},
    {"kind": "heavy_hex", "center": 62, "radius": 2},
]


def instance(lat_section, theta, steps, observable):
    lat = build_lattice(lat_section)
    return FAMILY.build(
        lat, {"theta_h": theta, "steps": steps, "observable": observable, "final_rx": False, "instances": 1}, 0
    )


# Exact structural cones (diagonal RZZ gates commute with each other and with a diagonal
# evolved operator): counted independently by walking the edge layers by hand.
@pytest.mark.parametrize("obs,steps,gates,qubits", [("Z62", 20, 1667, 127), ("Z62", 5, 39, 19), ("Z13", 7, 44, 17)])
def test_light_cone_on_eagle(obs, steps, gates, qubits):
    h = heavy_hex_127()
    assert h.n_qubits == 127 and len(h.edges) == 144 and [len(x) for x in h.layers] == [48, 48, 48]
    c = floquet_circuit(h, 0.3, steps)
    assert sum(1 for op in c.all_operations() if len(op.qubits) == 2) == 144 * steps
    _, n2, cone = backward_light_cone(c, resolve_observable(h, obs))
    assert (n2, len(cone)) == (gates, qubits)


def test_layers_are_edge_colourings():
    for sec in LATTICES + [{"kind": "heavy_hex_127"}]:
        lat = build_lattice(sec)
        assert sorted(e for layer in lat.layers for e in layer) == sorted(lat.edges)
        for layer in lat.layers:
            qs = [q for e in layer for q in e]
            assert len(qs) == len(set(qs)), sec


def test_rzz_is_exp_plus_i_pi_4_zz():
    zz = np.diag([1, -1, -1, 1]).astype(complex)
    np.testing.assert_allclose(
        cirq.unitary(rzz_minus_pi_2()), np.diag(np.exp(1j * np.pi / 4 * np.diag(zz))), atol=1e-12
    )


@pytest.mark.parametrize("sec", LATTICES)
def test_theta_zero_gives_z_equal_one(sec):
    lat = build_lattice(sec)
    inst = instance(sec, 0.0, 3, "M_z")
    vals, _, ideal, _ = pauli_expectations(
        inst.circuit,
        inst.qubits,
        NoiseModel(),
        inst.paulis,
        SimSettings(method="trajectories"),
        np.random.default_rng(0),
    )
    np.testing.assert_allclose(vals, 1.0, atol=1e-12)
    np.testing.assert_allclose(ideal, 1.0, atol=1e-12)
    assert len(vals) == lat.n_qubits


@pytest.mark.parametrize("sec", LATTICES)
def test_clifford_point_gives_minus_one_zero_or_one(sec):
    lat = build_lattice(sec)
    q0 = lat.qubits[0].x if hasattr(lat.qubits[0], "x") else 0
    for obs in ("M_z", f"X{q0}", f"Y{q0}"):
        inst = instance(sec, math.pi / 2, 4, obs)
        _, _, ideal, _ = pauli_expectations(
            inst.circuit,
            inst.qubits,
            NoiseModel(),
            inst.paulis,
            SimSettings(method="trajectories"),
            np.random.default_rng(0),
        )
        assert np.all(np.min(np.abs(ideal[:, None] - np.array([-1.0, 0.0, 1.0])), axis=1) < 1e-9), (obs, ideal)


@pytest.mark.parametrize(
    "sec,obs",
    [
        (LATTICES[0], "Z2"),
        (LATTICES[2], "Z4"),
        (LATTICES[3], "Z62"),
        (LATTICES[3], "X62 Z61"),
        (LATTICES[1], "Y3 X2 Z4"),
    ],
)
def test_engine_cirq_and_tensor_network_agree(sec, obs):
    inst = instance(sec, 0.7, 4, obs)
    sv = ideal_value_statevector(inst)
    tn = ideal_value_tn(inst)
    psi = cirq.final_state_vector(inst.circuit, qubit_order=inst.qubits, dtype=np.complex128)
    ps = cirq.PauliString({q: {"X": cirq.X, "Y": cirq.Y, "Z": cirq.Z}[p] for q, p in inst.paulis[0].items()})
    ref = float(np.real(ps.expectation_from_state_vector(psi, {q: i for i, q in enumerate(inst.qubits)})))
    assert sv == pytest.approx(ref, abs=1e-6)
    assert tn == pytest.approx(ref, abs=1e-6)


def test_butterfly_volume_matches_effective_volume_when_errors_are_rare():
    """To first order 1 - F = sum_g p_g s_g: v_butterfly and v_eff agree within the statistics."""
    sec = {"kind": "heavy_hex", "center": 62, "radius": 2}
    inst = instance(sec, 0.5, 4, "Z62")
    noise = NoiseModel(p1=0.0, p2=0.004)
    sim = SimulationSpec(method="trajectories", target_err=0.0005, max_trajectories=200000, shots=0)
    m = FAMILY.measure([inst], noise, PointSettings(simulation=sim), np.random.default_rng(1))
    eps = -math.log(1 - 0.004)
    v_eff = math.log(1 / m.f_eff) / eps
    v_eff_err = m.f_eff_err / m.f_eff / eps
    # second-order terms are ~ (p v)^2 / 2 relative: a few percent here
    assert m.fields["v_butterfly"] == pytest.approx(v_eff, abs=5 * v_eff_err + 0.05 * v_eff)
    assert 0 < m.fields["v_butterfly"] < FAMILY.light_cone(inst).v_light


def test_parsers():
    assert parse_angle("pi/4") == pytest.approx(math.pi / 4)
    assert parse_angle(0.5) == 0.5
    assert parse_observable("W_17").paulis[62] == "X"
    assert len(parse_observable("W_10").paulis) == 10
    assert parse_observable("Z_62").paulis == {62: "Z"}
    for bad in ("Q3", "X", "X1 X1", ""):
        with pytest.raises(ValueError):
            parse_observable(bad)
    for bad in ("abc", "__import__('os')", "nan", True):
        with pytest.raises(ValueError):
            parse_angle(bad)


BAD = [
    ("lattice: {kind: line, n: 5}\ncircuit: {observable: Z9}\n", "circuit.observable", "not on the lattice"),
    ("lattice: {kind: line, n: 5}\ncircuit: {observable: 'X1 Q2'}\n", "circuit.observable", "malformed"),
    ("lattice: {kind: line, n: 5}\ncircuit: {theta_h: big}\n", "circuit.theta_h", "radians"),
    ("lattice: {kind: line, n: 5}\ncircuit: {steps: 0}\n", "circuit.steps", "greater than or equal to 1"),
    ("lattice: {kind: heavy_hex, center: 130}\n", "lattice.center", "less than or equal to 126"),
    ("lattice: {kind: line, n: 5}\ncircuit: {region: {max_qubits: 0}}\n", "circuit.region.max_qubits", "greater than"),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {tn_max_flops: -1}}\n",
        "circuit.region.tn_max_flops",
        "greater than",
    ),
    ("lattice: {kind: line, n: 5}\ncircuit: {region: {size: 3}}\n", "circuit.region.size", "unknown key"),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {tn_reference_max_gates: -1}}\n",
        "circuit.region.tn_reference_max_gates",
        "greater than",
    ),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {pauli_max_seconds: 0}}\n",
        "circuit.region.pauli_max_seconds",
        "greater than",
    ),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {pauli_max_seconds: .inf}}\n",
        "circuit.region.pauli_max_seconds",
        "",
    ),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {pauli_max_strings: 10}}\n",
        "circuit.region.pauli_max_strings",
        "greater than",
    ),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {pauli_method_max_seconds: 0}}\n",
        "circuit.region.pauli_method_max_seconds",
        "greater than",
    ),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {pauli_method_max_seconds: 1e9}}\n",
        "circuit.region.pauli_method_max_seconds",
        "less than or equal to 86400",
    ),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {bp_max_chi: 1}}\n",
        "circuit.region.bp_max_chi",
        "greater than or equal to 2",
    ),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {bp_max_chi: 5000}}\n",
        "circuit.region.bp_max_chi",
        "less than or equal to 1024",
    ),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {bp_max_seconds: 0}}\n",
        "circuit.region.bp_max_seconds",
        "greater than",
    ),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {bp_max_seconds: 1e9}}\n",
        "circuit.region.bp_max_seconds",
        "less than or equal to 86400",
    ),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {bp_memory_bytes: 10}}\n",
        "circuit.region.bp_memory_bytes",
        "greater than or equal to",
    ),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {belief_propagation: 3}}\n",
        "circuit.region.belief_propagation",
        "",
    ),
    (
        "lattice: {kind: line, n: 5}\ncircuit: {region: {bp_picture: sideways}}\n",
        "circuit.region.bp_picture",
        "heisenberg",
    ),
    ("cases: [{lattice: {kind: line, n: 5}}, {circuit: {steps: -2}}]\n", "cases[1].circuit.steps", "greater than"),
    ("lattice: {kind: line, n: 5}\ncircuit: {region: {f_eff: 1.5}}\n", "circuit.region.f_eff", "fidelity in (0, 1]"),
    ("lattice: {kind: line, n: 5}\ncircuit: {region: {f_eff: high}}\n", "circuit.region.f_eff", "expected 'auto'"),
]


@pytest.mark.parametrize("text,fld,words", BAD)
def test_bad_input(tmp_path, text, fld, words):
    spec = tmp_path / "f.yaml"
    spec.write_text("experiment: floquet_ising\n" + text)
    assert_spec_error(CliRunner().invoke(app, ["validate", str(spec)]), spec, fld, words)


def test_cost_network_structure_does_not_depend_on_theta():
    """Costs are cached by structure: RX(0) = I must not make the network look diagonal."""
    from eqvbench.classical.cost import network_structure

    sec = {"kind": "heavy_hex", "center": 62, "radius": 2}
    a = network_structure(FAMILY.cost_network(instance(sec, 0.0, 3, "Z62")))
    b = network_structure(FAMILY.cost_network(instance(sec, 0.7, 3, "Z62")))
    assert a == b


def test_given_region_fidelity_sets_delta():
    inst = instance({"kind": "line", "n": 9}, 0.4, 3, "Z4")
    values = {
        "circuit": {
            "theta_h": 0.4,
            "steps": 3,
            "observable": "Z4",
            "final_rx": False,
            "instances": 1,
            "region": {
                "enabled": True,
                "max_qubits": 32,
                "statevector_max_qubits": 20,
                "tn_max_repeats": 4,
                "tn_memory_bytes": 2**31,
                "tn_max_flops": 1e11,
                "f_eff": 0.25,
            },
        },
        "simulation": {"shots": 400, "max_qubits": 20},
    }
    region = FAMILY.effective_region(
        inst, PointSettings.from_values(values, FAMILY), None, NoiseModel(p2=0.01), np.random.default_rng(0)
    )
    assert region.fields["region_f_source"] == "circuit.region.f_eff"
    assert region.fields["region_delta"] == pytest.approx(1 / (0.25 * 20))
    hist = region.fields["region_history"]
    # the chosen radius is the last before a change smaller than delta (or the whole lattice)
    assert region.a_eff <= 9 and all(h["method"] == "statevector" for h in hist)


def test_w17_is_minus_one_at_the_clifford_point():
    """Independent check of the README's claim: at theta_h = pi/2 the 5-step Heisenberg-evolved W_17 is -Z
    on one qubit (cirq's Clifford Pauli propagation on all 127 qubits), so <W_17> = -1 from |0...0>."""
    lat = heavy_hex_127()
    c = FAMILY.build(
        lat, {"theta_h": math.pi / 2, "steps": 5, "observable": "W_17", "final_rx": False, "instances": 1}, 0
    ).circuit
    ops = [
        cirq.X(op.qubits[0]) ** 0.5 if len(op.qubits) == 1 else cirq.ZZ(*op.qubits) ** -0.5 for op in c.all_operations()
    ]  # RX(pi/2) and RZZ(-pi/2) up to global phases
    ps = resolve_observable(lat, "W_17")[0]
    w = cirq.PauliString({q: {"X": cirq.X, "Y": cirq.Y, "Z": cirq.Z}[p] for q, p in ps.items()})
    evolved = w.conjugated_by(ops)
    assert len(evolved) == 1 and all(p == cirq.Z for p in evolved.values())
    assert evolved.coefficient == pytest.approx(-1)
