"""Classical methods per point (eqvbench.classical.methods): the JSON contract, the cheapest method and the verdict."""

from __future__ import annotations

import json

import pytest

from eqvbench.classical.cost import REFERENCE_MACHINES
from eqvbench.classical.methods import METHODS, MethodResult, cheapest, classical_seconds
from eqvbench.pipeline import verdict

FRONTIER = REFERENCE_MACHINES["frontier"]


def _args(values, methods, f=0.5, delta=0.027):
    return values, methods, f, delta, REFERENCE_MACHINES


def _values(shots=100, rep=0.01):
    return {
        "device": {"shots": shots, "repetition_s": rep},
        "report": {"machine": "frontier"},
        "simulation": {"shots": 10_000},
    }


def test_verdict_compares_device_time_with_the_cheapest_method():
    # contraction: f x cost over Frontier's rate; 0.5 x 2e18 / 1.1e18 = 0.91 s against the device's 1 s
    fast = verdict(*_args(_values(), [MethodResult("contraction", "ok", err=0.0, flops=2.0e18)]))
    assert fast["device_seconds"] == pytest.approx(1.0)
    assert fast["classical_seconds"] == pytest.approx(0.5 * 2.0e18 / FRONTIER)
    assert fast["verdict"] == "classical" and fast["cheapest_method"] == "contraction"
    slow = [MethodResult("contraction", "ok", err=0.0, flops=4.0e18)]
    assert verdict(*_args(_values(), slow))["verdict"] == "quantum"
    # a Pauli propagation measured here within the device's error bar counts; one outside it does not
    pp = MethodResult("pauli_propagation", "ok", value=0.5, err=0.01, flops=1e20, seconds=0.2, seconds_kind="measured")
    v = verdict(*_args(_values(), slow + [pp]))
    assert v["verdict"] == "classical" and v["classical_seconds"] == 0.2
    assert v["cheapest_method"] == "pauli_propagation" and "measured" in v["verdict_method"]
    loose = MethodResult("pauli_propagation", "ok", value=0.5, err=0.05, seconds=0.2, seconds_kind="measured")
    v = verdict(*_args(_values(), slow + [loose]))
    assert v["verdict"] == "quantum" and v["cheapest_method"] == "contraction"
    # no device run: the cheapest method still named, no verdict
    v = verdict(*_args(_values(None, None), slow + [pp]))
    assert v == {"cheapest_method": "pauli_propagation", "verdict_method": v["verdict_method"]}


def test_over_budget_methods_do_not_count_unless_only_a_bound_is_left():
    bound = MethodResult("contraction", "over_budget", err=0.0, flops=1e43, note="not searched")
    region = MethodResult("region", "over_budget", note="not certified")
    pp = MethodResult("pauli_propagation", "over_budget", note="not converged", seconds=60.0, seconds_kind="measured")
    t, m, label = cheapest([bound, region, pp], FRONTIER, 0.37, 0.027)
    assert m is bound and t == pytest.approx(0.37 * 1e43 / FRONTIER) and "upper bound" in label
    ok_region = MethodResult("region", "ok", value=0.3, err=0.02, flops=1e12, seconds=5.0, seconds_kind="measured")
    t, m, _ = cheapest([bound, ok_region, pp], FRONTIER, 0.37, 0.027)
    assert m is ok_region and t == pytest.approx(1e12 / FRONTIER)
    assert cheapest([region, pp], FRONTIER, 0.37, 0.027) is None


def test_classical_seconds_takes_the_lesser_of_flops_and_measured_time():
    m = MethodResult("region", "ok", value=0.1, err=0.0, flops=1e12, seconds=1e-9, seconds_kind="measured")
    assert classical_seconds(m, 1e12, None, 0.01) == 1e-9
    m.seconds_kind = "extrapolated"  # an extrapolated time is not evidence: the FLOP count decides
    assert classical_seconds(m, 1e12, None, 0.01) == 1.0
    assert classical_seconds(m, 1e12, None, None) is None  # no error bar to hold the value against
    with pytest.raises(ValueError):
        MethodResult("dmrg", "ok")


def _run(tmp_path, text):
    from typer.testing import CliRunner

    from eqvbench.cli import app

    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    r = CliRunner().invoke(app, ["run", str(spec), "--json", "--no-store", "--workers", "1"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    # t_here: the contraction's FLOP over this machine's measured rate (one process: one measurement)
    assert doc["flops_here"] > 1e6
    for p in doc["points"]:
        assert p["seconds_here"] == pytest.approx(p["cost_flops"] / doc["flops_here"], rel=1e-12)
    return doc["points"]


def test_every_point_lists_every_method_with_the_contract_fields(tmp_path):
    import cirq
    import numpy as np

    from eqvbench.families.floquet_ising import floquet_circuit
    from eqvbench.circuits.lattice import build_lattice

    points = _run(
        tmp_path,
        "experiment: floquet_ising\nseed: 3\nnoise: {p1: 0.001, p2: 0.01, readout: 0.01}\n"
        "simulation: {shots: 10000, target_err: 0.01}\ndevice: {shots: 10000, repetition_s: 0.001}\n"
        "lattice: {kind: grid, rows: 2, cols: 3}\ncircuit: {theta_h: 0.7, steps: 3, observable: Z1}\n"
        "cases:\n  - {}\n  - {experiment: rcs, lattice: {kind: grid, rows: 2, cols: 2}, "
        "circuit: {cycles: 3, instances: 1}}\n",
    )
    keys = {"method", "status", "value", "err", "flops", "seconds", "seconds_kind", "budget", "note"}
    for p in points:
        assert [m["method"] for m in p["methods"]] == list(METHODS)
        for m in p["methods"]:
            assert keys <= set(m) and m["status"] in ("ok", "over_budget", "not_applicable")
            if m["status"] != "ok":
                assert m["note"], m  # a method that did not run says why
        assert p["cheapest_method"] in METHODS
        assert p["verdict"] in ("classical", "quantum")
    ising, rcs = points
    by = {m["method"]: m for m in ising["methods"]}
    assert by["contraction"]["flops"] == ising["cost_flops"] and by["contraction"]["err"] == 0.0
    # Pauli propagation of the whole cone against cirq's state vector, within its stated error
    lat = build_lattice({"kind": "grid", "rows": 2, "cols": 3})
    c = floquet_circuit(lat, 0.7, 3)
    psi = cirq.Simulator(dtype=np.complex128).simulate(c, qubit_order=lat.qubits).final_state_vector
    exact = cirq.Z(lat.qubits[1]).expectation_from_state_vector(psi, {q: i for i, q in enumerate(lat.qubits)}).real
    pp = by["pauli_propagation"]
    assert pp["status"] == "ok" and pp["seconds_kind"] == "measured" and pp["flops"] > 0
    assert abs(pp["value"] - exact) <= pp["err"] + 1e-12
    assert by["region"]["status"] == "ok" and abs(by["region"]["value"] - exact) <= by["region"]["err"] + 1e-12
    assert ising["o_ideal"] == pytest.approx(exact, abs=1e-10)
    # RCS: the contraction only, the others say why not
    rby = {m["method"]: m for m in rcs["methods"]}
    assert rby["contraction"]["status"] == "ok" and rcs["cheapest_method"] == "contraction"
    assert rby["region"]["status"] == rby["pauli_propagation"]["status"] == "not_applicable"
    assert "amplitudes" in rby["pauli_propagation"]["note"]
    # belief propagation ran on the same point (its own checks: tests/test_belief_propagation.py)
    bp = by["belief_propagation"]
    assert bp["status"] == "ok" and bp["seconds_kind"] == "measured" and bp["flops"] > 0 and bp["chi"] >= 4
    assert rby["belief_propagation"]["status"] == "not_applicable" and "amplitudes" in rby["belief_propagation"]["note"]


def test_pauli_propagation_can_be_switched_off(tmp_path):
    (p,) = _run(
        tmp_path,
        "experiment: floquet_ising\nlattice: {kind: line, n: 4}\n"
        "circuit: {theta_h: 0.3, steps: 2, observable: Z1, region: {pauli_propagation: false}}\n",
    )
    pp = next(m for m in p["methods"] if m["method"] == "pauli_propagation")
    assert pp["status"] == "not_applicable" and "pauli_propagation: false" in pp["note"]


def test_belief_propagation_can_be_switched_off(tmp_path):
    (p,) = _run(
        tmp_path,
        "experiment: floquet_ising\nlattice: {kind: line, n: 4}\n"
        "circuit: {theta_h: 0.3, steps: 2, observable: Z1, region: {belief_propagation: false}}\n",
    )
    bp = next(m for m in p["methods"] if m["method"] == "belief_propagation")
    assert bp["status"] == "not_applicable" and "belief_propagation: false" in bp["note"]


@pytest.mark.parametrize(
    "region, seconds",
    [
        ("{}", 20.0),
        ("{pauli_method_max_seconds: 7}", 7.0),
        ("{pauli_max_seconds: 5, pauli_method_max_seconds: 7}", 5.0),
    ],
)
def test_pauli_propagation_as_a_method_has_its_own_budget(tmp_path, region, seconds):
    """Where the region needs no Pauli-propagation reference (here the ball holds the whole cone), the
    method-only run is bounded by pauli_method_max_seconds, never by more than pauli_max_seconds."""
    (p,) = _run(
        tmp_path,
        "experiment: floquet_ising\nlattice: {kind: line, n: 4}\n"
        f"circuit: {{theta_h: 0.3, steps: 2, observable: Z1, region: {region}}}\n",
    )
    pp = next(m for m in p["methods"] if m["method"] == "pauli_propagation")
    assert pp["status"] == "ok" and pp["budget"]["max_seconds"] == seconds


def test_a_disabled_region_says_so(tmp_path):
    (p,) = _run(
        tmp_path,
        "experiment: floquet_ising\nlattice: {kind: line, n: 4}\n"
        "circuit: {theta_h: 0.3, steps: 2, observable: Z1, region: {enabled: false}}\n",
    )
    region = next(m for m in p["methods"] if m["method"] == "region")
    assert region["status"] == "not_applicable" and "circuit.region.enabled: false" in region["note"]


def test_bad_pauli_propagation_switch_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from eqvbench.cli import app

    spec = tmp_path / "s.yaml"
    spec.write_text(
        "experiment: floquet_ising\nlattice: {kind: line, n: 4}\n"
        "circuit: {observable: Z1, region: {pauli_propagation: 3}}\n"
    )
    r = CliRunner().invoke(app, ["validate", str(spec)])
    out = r.output.strip()
    assert r.exit_code == 2 and len(out.splitlines()) == 1, out
    assert "circuit.region.pauli_propagation" in out and "Traceback" not in out


def test_belief_propagation_on_loops_counts_only_when_corroborated():
    """BP's ladder err leaves out its loop error: the verdict uses it only when another value of the cone
    agrees within delta (|v - w| + u <= delta), and its err then covers the gap."""
    from eqvbench.classical.belief_propagation import corroborate

    def bp():
        return MethodResult(
            "belief_propagation",
            "ok",
            value=0.0,
            err=0.002,
            flops=1e9,
            seconds=1.0,
            seconds_kind="measured",
            detail={"corroborated": None},
        )

    off = bp()  # W_17 after 5 steps at 3pi/8: BP about 0, exact -0.133
    corroborate(off, [(-0.133, 0.0, "the exact value of the whole cone", True)], 0.027)
    assert off.detail["corroborated"] is False and "not corroborated" in off.note
    assert classical_seconds(off, FRONTIER, None, 0.027) is None
    near = bp()
    corroborate(near, [(0.01, 0.005, "pauli_propagation", False)], 0.027)
    assert near.detail["corroborated"] == "pauli_propagation" and near.err == pytest.approx(0.015)
    assert classical_seconds(near, FRONTIER, None, 0.027) == pytest.approx(1e9 / FRONTIER)
    # an exact value of the cone decides alone: an estimate that agrees does not outvote it
    outvoted = bp()
    corroborate(outvoted, [(-0.133, 0.0, "exact", True), (0.01, 0.005, "pauli_propagation", False)], 0.027)
    assert outvoted.detail["corroborated"] is False
    lone = bp()
    corroborate(lone, [], 0.027)
    assert lone.detail["corroborated"] is False
    exact = MethodResult("belief_propagation", "ok", value=0.3, err=0.0, seconds=1.0, seconds_kind="measured")
    corroborate(exact, [(-1.0, 0.0, "exact", True)], 0.027)  # loop-free and untruncated: nothing to corroborate
    assert "corroborated" not in exact.detail and classical_seconds(exact, FRONTIER, None, 0.027) is not None
