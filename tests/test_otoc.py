"""OTOC family: protocol against direct evaluation and cirq, light-cone limits, Clifford values,
digital-model fidelity, cost network, butterfly velocity fit, bad input."""

import dataclasses
import math

import cirq
import numpy as np
import pytest

import eqvbench.families.otoc as otoc_module
from typer.testing import CliRunner

from eqvbench.cli import app
from eqvbench.families.base import PointSettings
from eqvbench.families.otoc import (
    FAMILY,
    cone_backward,
    cone_forward,
    cost_circuit,
    fit_butterfly_velocity,
    otoc_direct,
    otoc_protocol,
    protocol_circuit,
    random_u,
)
from eqvbench.circuits.lattice import build_lattice
from eqvbench.circuits.noise import NoiseModel
from eqvbench.simulation.simulate import SimSettings
from eqvbench.spec import SimulationSpec, parse_spec
from sweep_util import assert_spec_error

SIM = {
    "method": "auto",
    "target_err": 0.002,
    "max_trajectories": 200000,
    "batch": None,
    "shots": 0,
    "max_qubits": 20,
    "simulate": "auto",
    "estimator": "exact",
}


def settings(**kw):
    """The settings a point's hooks get, with the `simulation:` section SIM changed by kw."""
    return PointSettings(simulation=SimulationSpec(**{**SIM, **kw}))


def point(lattice, **circuit):
    spec = parse_spec({"experiment": "otoc", "lattice": lattice, "circuit": circuit}, "t.yaml")
    return spec.points[0].values


def instance(lattice, seed=1, **circuit):
    v = point(lattice, **circuit)
    return FAMILY.build(build_lattice(v["lattice"]), v["circuit"], seed)


def cirq_protocol_otoc(inst, noise):
    """C from the four ancilla variants, each run through cirq's density-matrix simulator."""
    p = []
    for v in range(4):
        circ = protocol_circuit(inst.u, inst.qm, inst.qa, inst.qbs, inst.operator, v)
        noisy = noise.to_cirq(circ, inst.qubits)
        rho = cirq.DensityMatrixSimulator().simulate(noisy, qubit_order=inst.qubits).final_density_matrix
        n = len(inst.qubits)
        a = inst.qubits.index(inst.qa)
        diag = np.real(np.diag(rho)).reshape([2] * n)
        p1 = float(np.moveaxis(diag, a, 0)[1].sum())
        p.append(noise.readout + (1 - 2 * noise.readout) * p1)  # readout flips the bit with probability r
    return (p[0] - p[1] - p[2] + p[3]) / 2


@pytest.mark.parametrize("gate,op,cycles", [("sqrt_iswap", "X", 4), ("fsim", "Y", 5), ("cz", "Z", 6)])
def test_protocol_direct_network_and_cirq_agree_noiselessly(gate, op, cycles):
    inst = instance(
        {"kind": "grid", "rows": 2, "cols": 3},
        gate=gate,
        operator=op,
        cycles=cycles,
        measurement_qubit="0,1",
        butterfly="1,2",
    )
    direct = otoc_direct(inst)
    prot, _, _ = otoc_protocol(inst, op, NoiseModel(), SimSettings.from_section(SIM), 0, np.random.default_rng(0))
    ref = cirq_protocol_otoc(inst, NoiseModel())
    circ, qs = cost_circuit(inst)
    amp = cirq.final_state_vector(circ, qubit_order=qs)[0]
    net = float(np.real(FAMILY.cost_network(inst).contract(all)))
    assert prot == pytest.approx(direct, abs=1e-6)
    assert ref == pytest.approx(direct, abs=1e-6)
    assert float(np.real(amp)) == pytest.approx(direct, abs=1e-6)
    assert net == pytest.approx(direct, abs=1e-6)
    assert abs(direct - 1) > 1e-3  # the butterfly is inside the cone: not the trivial 1


def test_four_variants_from_one_simulation_match_cirq_with_noise():
    """The sign relations between the variants hold under Pauli noise and readout error (exact DM)."""
    inst = instance({"kind": "grid", "rows": 2, "cols": 3}, cycles=3, measurement_qubit="0,1", butterfly="1,2")
    noise = NoiseModel(p1=0.01, p2=0.03, idle=0.005, readout=0.04)
    sim = dict(SIM, method="density_matrix")
    ours, err, _ = otoc_protocol(inst, "X", noise, SimSettings.from_section(sim), 0, np.random.default_rng(0))
    assert err == 0.0
    assert ours == pytest.approx(cirq_protocol_otoc(inst, noise), abs=1e-6)


def test_otoc_is_one_outside_the_light_cone():
    lat = {"kind": "grid", "rows": 3, "cols": 4}
    outside = inside = 0
    for cycles in (1, 2, 3, 4, 6):
        for d in (1, 2, 3, 4):
            inst = instance(lat, cycles=cycles, butterfly_distance=d, measurement_qubit="1,0")
            u = inst.u
            if cone_forward(u, [inst.qm]) & cone_backward(u, inst.qbs):
                inside += 1
                continue
            outside += 1
            assert otoc_direct(inst) == pytest.approx(1.0, abs=1e-9)
            assert FAMILY.light_cone(inst).v_light == 0
    assert outside >= 5 and inside >= 5


@pytest.mark.slow
def test_otoc_near_zero_deep_in_the_cone_of_a_scrambling_circuit():
    """15 qubits in U (4x4 grid less the ancilla), 16 cycles, butterfly next to Q_m: C averages to ~0.

    For a scrambled state the OTOC fluctuates by ~2^(-n/2) ~ 0.01 between instances; 0.1 is the issue's bound."""
    vals = [
        otoc_direct(
            instance(
                {"kind": "grid", "rows": 4, "cols": 4},
                seed=s,
                cycles=16,
                butterfly_distance=1,
                measurement_qubit="1,1",
                gate="fsim",
            )
        )
        for s in range(3)
    ]
    assert abs(np.mean(vals)) < 0.1
    assert all(abs(v) < 0.2 for v in vals)


def test_clifford_circuits_give_plus_or_minus_one():
    lat = build_lattice({"kind": "grid", "rows": 3, "cols": 3})
    base = instance(
        {"kind": "grid", "rows": 3, "cols": 3}, cycles=5, butterfly_distance=2, measurement_qubit="1,1", gate="cz"
    )
    seen = set()
    for seed in range(12):
        system = lat.restrict(set(lat.qubits) - {base.qa})
        u = random_u(system, 5, "cz", seed, axes=4)  # pi/2 rotations about +-X, +-Y: Clifford
        for qb in system.qubits:
            if qb == base.qm:
                continue
            inst = dataclasses.replace(base, u=u, qbs=(qb,), seed=seed)
            c = otoc_direct(inst)
            assert min(abs(c - 1), abs(c + 1)) < 1e-9, c
            seen.add(round(c))
    assert seen == {-1, 1}


@pytest.mark.slow
def test_f_eff_from_identity_run_matches_digital_model():
    """f_eff (B = I run) against the digital models of the gates in Q_m's cone.

    f_model (every error in the cone fatal) is no bound either way (some Paulis
    commute with the evolved M; errors on the measured ancilla can flip its
    sign). f_eff has the readout's 1 - 2r divided out; the per-gate model
    prod (1 - p_g s_g(I)) (f_measurement) must match within 5 statistical errors plus
    0.01 for the second-order terms ((sum p s)^2 / 2 ~ 0.04 at f ~ 0.75 is an
    upper bound; most of it cancels between the two sides)."""
    v = point(
        {"kind": "grid", "rows": 3, "cols": 4}, cycles=8, butterfly_distance=2, measurement_qubit="1,0", instances=1
    )
    inst = FAMILY.build(build_lattice(v["lattice"]), v["circuit"], 5)
    noise = NoiseModel(p1=0.001, p2=0.008, readout=0.01)
    m = FAMILY.measure([inst], noise, settings(target_err=0.003), np.random.default_rng(2))
    f_model = noise.f_model(inst.circuit, inst.qubits, inst.measured, FAMILY.light_cone(inst).locations)
    assert 0.5 < f_model < 1 and 0.5 < m.f_eff < 1
    assert m.f_eff == pytest.approx(m.fields["f_identity"] / (1 - 2 * noise.readout))
    assert m.f_eff == pytest.approx(m.fields["f_measurement"], abs=5 * m.f_eff_err + 0.01)


def test_one_identity_normalisation_per_u():
    """Every butterfly position of one U gets the same B = I signal (f_eff), whatever the point's stream."""
    lat = {"kind": "grid", "rows": 2, "cols": 3}
    noise = NoiseModel(p1=0.002, p2=0.01, readout=0.02)
    fs = set()
    for kw in ({"butterfly_distance": 1}, {"butterfly_distance": 2}, {"butterfly": ["1,2"]}):
        v = point(lat, cycles=6, measurement_qubit="0,0", instances=1, **kw)
        inst = FAMILY.build(build_lattice(v["lattice"]), v["circuit"], 7)
        for rng_seed in (1, 2):
            otoc_module._IDENTITY_CACHE.clear()  # the seeding, not the memo, must make them equal
            m = FAMILY.measure(
                [inst], noise, settings(method="trajectories", target_err=0.02), np.random.default_rng(rng_seed)
            )
            fs.add(m.f_eff)
    assert len(fs) == 1


def test_butterfly_sensitivity_predicts_the_noisy_otoc_when_errors_are_rare():
    """To first order C_noisy / C_ideal = prod (1 - p_g s_g) = f_butterfly.

    f_butterfly covers the gates of U and U^dag; the tolerance 0.01 holds the two ancilla CZs it leaves out
    (at most 2 p2 = 0.008) and the second-order terms ((sum p s)^2 / 2 ~ 0.002)."""
    v = point(
        {"kind": "grid", "rows": 3, "cols": 3},
        cycles=4,
        butterfly_distance=2,
        measurement_qubit="1,1",
        instances=1,
        gate="fsim",
    )
    inst = FAMILY.build(build_lattice(v["lattice"]), v["circuit"], 11)
    noise = NoiseModel(p1=0.0, p2=0.004)
    m = FAMILY.measure([inst], noise, settings(method="density_matrix", max_qubits=14), np.random.default_rng(0))
    ratio = m.fields["otoc_noisy"] / m.fields["otoc_ideal"]
    assert abs(m.fields["otoc_ideal"]) > 0.2
    # second order ~ (sum p s)^2 / 2 ~ 0.005 here
    assert ratio == pytest.approx(m.fields["f_butterfly"], abs=0.01)
    assert len(m.fields["butterfly_map"]) == sum(len(mo) for mo in inst.u) * 2


def test_map_note_compares_c_with_no_threshold_past_its_range():
    """One shot per variant: the error of C_noisy is binomial shot noise, sqrt(1 - C^2) / 2 from the
    exact density matrix, so 3 errors exceed 1 and no |C| <= 1 could pass; the note says that
    instead of comparing |C_ideal| with a threshold above 1 ("0.737 < 1.1")."""
    import re

    v = point({"kind": "grid", "rows": 2, "cols": 3}, cycles=3, butterfly="1,2", measurement_qubit="0,0", instances=1)
    inst = FAMILY.build(build_lattice(v["lattice"]), v["circuit"], 5)
    noise = NoiseModel(p2=0.005)
    m = FAMILY.measure(
        [inst], noise, settings(method="density_matrix", max_qubits=14, shots=1), np.random.default_rng(0)
    )
    c, err = m.fields["otoc_noisy"], m.fields["otoc_noisy_err"]
    assert err == pytest.approx(math.sqrt(1 - c**2) / 2, rel=1e-9) and 3 * err > 1
    assert m.fields.get("v_butterfly") is None
    (note,) = [n for n in m.notes if "sensitivity map" in n]
    assert f"the error of C_noisy ({err:.2g}) is too large: 3 errors cover all of |C| <= 1" in note
    assert all(float(x) <= 1 for x in re.findall(r"< ([0-9.]+)", note)), note
    # with enough shots the same point gets its map
    m = FAMILY.measure(
        [inst], noise, settings(method="density_matrix", max_qubits=14, shots=10**4), np.random.default_rng(0)
    )
    assert m.fields["v_butterfly"] is not None and not any("sensitivity map" in n for n in m.notes)


def test_cost_network_cancels_gates_outside_the_butterfly_cone():
    """Gates outside Q_b's backward cone drop out; those in it but outside Q_m's forward cone
    appear twice (state preparation and its mirror), the rest four times; the network still gives C."""
    inst = instance({"kind": "grid", "rows": 3, "cols": 4}, cycles=4, butterfly_distance=3, measurement_qubit="1,0")
    u = inst.u
    bwd = cone_backward(u, inst.qbs)
    fwd = cone_forward(u, [inst.qm])
    n2 = lambda locs: sum(1 for m, j in locs if len(u[m].operations[j].qubits) == 2)  # noqa: E731
    n2_all = sum(1 for op in u.all_operations() if len(op.qubits) == 2)
    circ, _ = cost_circuit(inst)
    assert n2(bwd) < n2_all
    assert n2(bwd - fwd) > 0  # the split is exercised
    assert sum(1 for op in circ.all_operations() if len(op.qubits) == 2) == 4 * n2(bwd & fwd) + 2 * n2(bwd - fwd)
    net = float(np.real(FAMILY.cost_network(inst).contract(all)))
    assert net == pytest.approx(otoc_direct(inst), abs=1e-6)


def test_butterfly_velocity_fit_recovers_a_known_front():
    v_true, x0 = 0.6, 0.5
    pts = []
    for t in (2, 4, 6, 8):
        for d in range(1, 9):
            c = 1 / (1 + math.exp(-(d - (v_true * t + x0)) * 3))  # 0 inside the front, 1 outside
            pts.append({"operator": "X", "cycles": t, "butterfly_distance": d, "otoc_ideal": c, "otoc_norm": None})
    fit = fit_butterfly_velocity(pts)["butterfly_velocity"]["X:ideal"]
    # the logistic is symmetric about its centre, so linear interpolation between integer d is near exact
    assert fit["v_b"] == pytest.approx(v_true, abs=0.02)
    assert fit["v_b_err"] is not None and fit["v_b_err"] < 0.05


def test_shipped_config_runs_and_fits_a_positive_velocity(tmp_path):
    import json

    out = tmp_path / "o.json"
    spec = tmp_path / "o.yaml"
    spec.write_text(
        "experiment: otoc\nseed: 3\nlattice: {kind: grid, rows: 3, cols: 3}\n"
        "circuit: {cycles: [2, 4, 6], butterfly_distance: [1, 2, 3], measurement_qubit: '1,0', instances: 1}\n"
        "noise: {p1: 0.001, p2: 0.005, readout: 0.01}\nsimulation: {target_err: 0.02, shots: 1000}\n"
        "cost: {max_repeats: 2}\n"
    )
    r = CliRunner().invoke(app, ["run", str(spec), "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert len(doc["points"]) == 9
    for p in doc["points"]:
        for k in ("otoc_ideal", "otoc_noisy", "otoc_norm", "f_eff", "v_light", "v_eff", "cost_flops", "eps"):
            assert k in p
        assert 0 < p["f_eff"] <= 1
    assert "butterfly velocity" in r.output
    fit = doc["summary"]["butterfly_velocity"]["X:ideal"]
    assert len(fit["front"]) >= 2 and fit["v_b"] > 0
    costs = {p["butterfly_distance"]: p["cost_flops"] for p in doc["points"] if p["cycles"] == 6}
    assert len(set(costs.values())) > 1  # the network depends on the butterfly's cone


# --------------------------------------------------------------------------- effective region


def region_of(lattice, region, shots, f_eff=None, seed=1, max_qubits=20, **circuit):
    v = point(lattice, region=region, **circuit)
    v["simulation"] = dict(SIM, shots=shots, max_qubits=max_qubits)
    return FAMILY.effective_region(
        instance(lattice, seed, **circuit),
        PointSettings.from_values(v, FAMILY),
        f_eff,
        NoiseModel(p2=0.01),
        np.random.default_rng(0),
    )


def test_geodesic_qubits_are_the_shortest_paths_between_qm_and_the_butterfly():
    from eqvbench.families.otoc import geodesic_qubits

    inst = instance({"kind": "grid", "rows": 3, "cols": 4}, measurement_qubit="0,0", ancilla="1,0", butterfly="1,2")
    got = {(q.row, q.col) for q in geodesic_qubits(inst)}
    # with (1,0) taken by the ancilla every shortest path (3 hops) runs along row 0 first
    assert got == {(0, 0), (0, 1), (0, 2), (1, 1), (1, 2)}


def test_region_values_by_state_vector_and_by_tensor_network_agree():
    """The two ways a ball's C is computed (a state vector of the cone-cut circuit, cotengra
    contraction of the cost network) agree to 1e-8 on every ball, and with the independent
    two-state-vector `otoc_direct` of the ball's restricted circuit."""
    from eqvbench.families.otoc import region_instance

    lat = {"kind": "grid", "rows": 3, "cols": 4}
    kw = dict(cycles=6, measurement_qubit="1,0", butterfly_distance=3, instances=1)
    base = {"f_eff": 1.0}
    sv = region_of(lat, {**base, "statevector_max_qubits": 26}, shots=10**8, **kw)
    tn = region_of(lat, {**base, "statevector_max_qubits": 1}, shots=10**8, **kw)
    hs, ht = sv.fields["region_history"], tn.fields["region_history"]
    assert [h["method"] for h in hs] == ["statevector"] * len(hs)
    assert [h["method"] for h in ht] == ["tensor_network"] * len(ht)
    assert [h["qubits"] for h in hs] == [h["qubits"] for h in ht]
    inst = instance(lat, **kw)
    system = inst.lattice.restrict(set(inst.lattice.qubits) - {inst.qa})
    from eqvbench.families.otoc import geodesic_qubits

    for a, b in zip(hs, ht):
        assert a["value"] == pytest.approx(b["value"], abs=1e-8)
        ball = system.ball(list(geodesic_qubits(inst)), a["radius"])
        assert a["value"] == pytest.approx(otoc_direct(region_instance(inst, ball)), abs=1e-8)


def test_tiny_error_bar_grows_the_region_to_the_whole_cone():
    """delta = 1/(1 x sqrt(1e8)) = 1e-4: the ball grows until it holds the whole cone, whose value
    (C_ideal of the whole device, exactly) certifies the smallest ball within delta of it."""
    lat = {"kind": "grid", "rows": 3, "cols": 4}
    kw = dict(cycles=6, measurement_qubit="1,0", butterfly_distance=3, instances=1)
    region = region_of(lat, {"f_eff": 1.0}, shots=10**8, **kw)
    hist = region.fields["region_history"]
    c_ideal = otoc_direct(instance(lat, **kw))
    assert region.fields["region_delta"] == pytest.approx(1e-4)
    cone = set(cost_circuit(instance(lat, **kw))[0].all_qubits())
    assert hist[-1]["qubits"] >= len(cone) and hist[-2]["qubits"] < len(cone)
    assert hist[-1]["value"] == pytest.approx(c_ideal, abs=1e-9)
    assert region.fields["reference_value"] == pytest.approx(c_ideal, abs=1e-9)
    assert region.fields["region_err"] <= 1e-4
    assert region.fields["reproduced_value"] == pytest.approx(c_ideal, abs=region.fields["reproduced_err"] + 1e-12)
    chosen = [h for h in hist if h["radius"] == region.fields["region_radius"]][0]
    assert chosen["value"] == pytest.approx(c_ideal, abs=1e-4)
    assert region.n_gates_2q == FAMILY.light_cone(instance(lat, **kw)).v_light
    assert abs(hist[0]["value"] - c_ideal) > 1e-3  # the first ball alone would not do


def test_region_with_the_whole_cone_but_fewer_prepared_gates_is_costed_on_its_own():
    """8 cycles, butterfly 3 away, delta = 1/(0.8 x 100): the growth stops at a 10-qubit ball whose
    cone (A) is the whole cone but whose G part (gates entering the network twice) is smaller, so
    its network is not the point's: `whole` must say so, or the pipeline would report the full
    cost as cost_eff."""
    from eqvbench.families.otoc import geodesic_qubits, region_instance

    lat = {"kind": "grid", "rows": 3, "cols": 4}
    kw = dict(cycles=8, measurement_qubit="1,0", butterfly_distance=3, instances=1)
    inst = instance(lat, **kw)
    region = region_of(lat, {"f_eff": 0.8}, shots=10**4, **kw)
    system = inst.lattice.restrict(set(inst.lattice.qubits) - {inst.qa})
    ball = system.ball(list(geodesic_qubits(inst)), region.fields["region_radius"])
    n2 = lambda c: sum(1 for op in c.all_operations() if len(op.qubits) == 2)  # noqa: E731
    assert region.a_eff == 11 and len(ball) == 10
    assert region.n_gates_2q == FAMILY.light_cone(inst).v_light
    assert n2(cost_circuit(region_instance(inst, ball))[0]) < n2(cost_circuit(inst)[0])
    assert region.whole is False


def test_region_growth_ends_where_the_ball_stops_growing():
    """A line of 5 with the ancilla (3) beside Q_m (2) cuts qubit 4 off U's lattice, and with no
    fidelity to set delta (nothing simulable: max_qubits 1) the growth must still end: at the
    largest ball the centre reaches, {0, 1, 2}. Without delta no region is claimed, but that ball
    holds the whole cone, so its value is the exact reproduction."""
    kw = dict(cycles=3, measurement_qubit=2, ancilla=3, butterfly=1, instances=1)
    region = region_of({"kind": "line", "n": 5}, {}, shots=100, max_qubits=1, **kw)
    hist = region.fields["region_history"]
    assert hist[-1]["qubits"] == 3 and hist[-1]["delta"] is None
    assert region.a_eff is None and any("no fidelity" in n for n in region.notes)
    c = otoc_direct(instance({"kind": "line", "n": 5}, **kw))
    assert region.fields["reproduced_value"] == pytest.approx(c, abs=1e-9) and region.fields["reproduced_err"] == 0


def test_large_error_bar_keeps_the_smallest_connecting_ball():
    """f = 0.05 and 100 shots: delta = 2, more than C in [-1, 1] can move, so the region is the first
    ball (the shortest paths between Q_m and Q_b) plus the ancilla."""
    from eqvbench.families.otoc import geodesic_qubits

    lat = {"kind": "grid", "rows": 3, "cols": 4}
    kw = dict(cycles=6, measurement_qubit="1,0", butterfly_distance=3, instances=1)
    region = region_of(lat, {"f_eff": 0.05}, shots=100, **kw)
    assert region.fields["region_delta"] == pytest.approx(2.0)
    assert region.fields["region_radius"] == 0
    assert region.a_eff == len(geodesic_qubits(instance(lat, **kw))) + 1
    assert region.network is not None


def test_region_simulates_the_identity_signal_when_asked():
    """'auto' and no f_eff: f is the B = I protocol simulated on the balls: below 1 (noise), above
    0.5 (at most 2 x 7 two-qubit gates at p2 = 0.01 and two ancilla CZs)."""
    lat = {"kind": "grid", "rows": 2, "cols": 3}
    region = region_of(lat, {}, shots=10**4, cycles=3, measurement_qubit="0,0", butterfly="1,2", instances=1)
    assert region.fields["region_f_source"].startswith("noisy simulation of the")
    assert 0.5 < region.fields["region_f"] < 1.0


BAD = [
    ("circuit: {butterfly: '7,7'}\n", "circuit.butterfly", "not a qubit of the lattice"),
    ("circuit: {butterfly: '1,1', measurement_qubit: '1,1'}\n", "circuit.butterfly", "is the measurement qubit"),
    ("circuit: {operator: W}\n", "circuit.operator", "'I', 'X', 'Y' or 'Z'"),
    ("circuit: {measurement_qubit: '9,0'}\n", "circuit.measurement_qubit", "not a qubit of the lattice"),
    ("circuit: {butterfly_distance: 9}\n", "circuit.butterfly_distance", "no qubit"),
    ("circuit: {butterfly: 3, butterfly_distance: 2}\n", "circuit", "either butterfly"),
    ("circuit: {ancilla: '2,2', measurement_qubit: '0,0'}\n", "circuit.ancilla", "not a neighbour"),
    ("circuit: {butterfly: abc}\n", "circuit.butterfly", "expected a qubit"),
    (
        "lattice: {kind: line, n: 2}\ncircuit: {measurement_qubit: 0, butterfly: 1}\n",
        "circuit.ancilla",
        "no free neighbour",
    ),
    ("circuit: {gate: iswap}\n", "circuit.gate", "'sqrt_iswap', 'fsim' or 'cz'"),
    ("circuit: {cycles: 0}\n", "circuit.cycles", "greater than or equal to 1"),
    ("circuit: {instances: 0}\n", "circuit.instances", "greater than or equal to 1"),
    ("circuit: {butterfly_map: maybe}\n", "circuit.butterfly_map", "boolean"),
    ("lattice: {kind: heavy_hex_127}\n", "lattice", ""),
    ("circuit: {region: {f_eff: 1.5}}\n", "circuit.region.f_eff", "fidelity in (0, 1]"),
    ("circuit: {region: {statevector_max_qubits: 40}}\n", "circuit.region.statevector_max_qubits", "less than"),
]


@pytest.mark.parametrize("text,fld,words", BAD)
def test_bad_input(tmp_path, text, fld, words):
    spec = tmp_path / "o.yaml"
    spec.write_text("experiment: otoc\n" + text)
    assert_spec_error(CliRunner().invoke(app, ["validate", str(spec)]), spec, fld, words)
