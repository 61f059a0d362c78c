"""Classical methods per point (eqvbench.classical.methods): the JSON contract, the cheapest method and the verdict."""

from __future__ import annotations

import json

import os

import pytest
from typer.testing import CliRunner

from eqvbench.classical.cost import REFERENCE_MACHINES
from eqvbench.cli import app
from eqvbench.classical.methods import METHODS, MethodResult, classical_seconds
from eqvbench.pipeline import verdict

FRONTIER = REFERENCE_MACHINES["frontier"]
# one costed point in about a second
RCS_SMALL = """\
experiment: rcs
seed: 1
lattice: {kind: grid, rows: 2, cols: 2}
circuit: {cycles: 2, instances: 1}
noise: {p2: 0.01}
simulation: {simulate: never}
cost: {max_repeats: 2}
"""


def _args(values, methods, f=0.5, delta=0.027):
    return values, methods, f, delta, REFERENCE_MACHINES


def _values(shots=100, rep=0.01):
    return {
        "device": {"shots": shots, "repetition_s": rep},
        "report": {"machine": "frontier"},
        "simulation": {"shots": 10_000},
    }


def _pp(value=0.5, err=0.01, certified=True, **kw):
    kw.setdefault("seconds", 0.2)
    return MethodResult(
        "pauli_propagation",
        "ok",
        value=value,
        err=err,
        flops=kw.pop("flops", 1e20),
        seconds_kind="measured",
        detail={"certified": certified},
        **kw,
    )


def test_verdict_compares_device_time_with_the_cheapest_certified_method():
    # contraction: f x cost over Frontier's rate; 0.5 x 2e18 / 1.1e18 = 0.91 s against the device's 1 s
    fast = verdict(*_args(_values(), [MethodResult("contraction", "ok", err=0.0, flops=2.0e18)]))
    assert fast["device_seconds"] == pytest.approx(1.0)
    assert fast["classical_seconds"] == pytest.approx(0.5 * 2.0e18 / FRONTIER)
    assert fast["verdict"] == "classical" and fast["cheapest_method"] == "contraction"
    slow = [MethodResult("contraction", "ok", err=0.0, flops=4.0e18)]
    assert verdict(*_args(_values(), slow))["verdict"] == "quantum"
    # a certified Pauli propagation measured here within the device's error bar reproduces it
    v = verdict(*_args(_values(), slow + [_pp()]))
    assert v["verdict"] == "classical" and v["classical_seconds"] == 0.2
    assert v["cheapest_method"] == "pauli_propagation" and "certified" in v["verdict_method"]
    # converged by its own estimate but not certified: it neither reproduces nor lets 'quantum' stand
    v = verdict(*_args(_values(), slow + [_pp(certified=False)]))
    assert v["verdict"] == "open" and v["cheapest_method"] == "contraction"
    ev = {e["method"]: e for e in v["verdict_evidence"]}
    assert ev["pauli_propagation"]["basis"] == "measured, not certified" and not ev["pauli_propagation"]["reproduces"]
    # the same, costing more than the device's run: evidence for 'quantum'
    v = verdict(*_args(_values(), slow + [_pp(certified=False, seconds=50.0, flops=1e20)]))
    assert v["verdict"] == "quantum"
    # outside the device's error bar: not a reproduction
    v = verdict(*_args(_values(), slow + [_pp(err=0.05, seconds=50.0)]))
    assert v["cheapest_method"] == "contraction"
    # no device run: the cheapest method still named, the verdict null with why
    v = verdict(*_args(_values(None, None), slow + [_pp()]))
    assert v["cheapest_method"] == "pauli_propagation" and v["verdict"] is None and "device" in v["verdict_note"]


def test_an_exhausted_budget_or_an_unsearched_bound_is_open_not_quantum():
    bound = MethodResult("contraction", "over_budget", err=0.0, flops=1e43, note="not searched")
    region = MethodResult("region", "over_budget", note="not certified")
    pp = MethodResult("pauli_propagation", "over_budget", note="not converged", seconds=60.0, seconds_kind="measured")
    v = verdict(*_args(_values(), [bound, region, pp]))
    assert v["verdict"] == "open" and "cheapest_method" not in v
    assert "not searched" in v["verdict_note"] and "pauli_propagation" in v["verdict_note"]
    ok_region = MethodResult(
        "region",
        "ok",
        value=0.3,
        err=0.02,
        flops=1e12,
        seconds=5.0,
        seconds_kind="measured",
        detail={"certified": True},
    )
    v = verdict(*_args(_values(), [bound, ok_region, pp]))
    assert v["verdict"] == "classical" and v["cheapest_method"] == "region"
    assert v["classical_seconds"] == pytest.approx(1e12 / FRONTIER)


def test_quantum_needs_every_method_costed_above_the_device_and_projections_say_how():
    from eqvbench.classical.verdict import project_pauli

    searched = MethodResult("contraction", "ok", err=0.0, flops=1e30)
    # a cut-off ladder whose change falls tenfold per decade of cut-off while its cost grows tenfold
    ladder = [
        {"coefficient_cutoff": c, "value": 0.5 + 300.0 * c, "flops": 1e20 / c, "status": "ok"}
        for c in (1e-3, 1e-4, 1e-5)
    ]
    pp = MethodResult(
        "pauli_propagation", "over_budget", flops=1e14, seconds=60.0, seconds_kind="measured", detail={"ladder": ladder}
    )
    proj, why = project_pauli(pp, 0.027)
    assert why is None
    # changes 0.27 (at 1e-4) and 0.027 (at 1e-5): delta/2 = 0.0135 is reached at a cut-off of 5e-6
    assert proj["coefficient_cutoff"] == pytest.approx(5e-6, rel=1e-6)
    assert proj["flops"] == pytest.approx(1e20 / 5e-6, rel=1e-6)
    v = verdict(*_args(_values(), [searched, pp]))
    assert v["verdict"] == "quantum"
    ev = {e["method"]: e for e in v["verdict_evidence"]}
    assert ev["pauli_propagation"]["basis"] == "projected" and "assumes" in ev["pauli_propagation"]["projection"]
    # a ladder whose change does not fall projects nothing: open
    pp.detail["ladder"] = [dict(r, value=0.5 + 0.1 * (-1) ** i) for i, r in enumerate(ladder)]
    assert project_pauli(pp, 0.027)[0] is None
    assert verdict(*_args(_values(), [searched, pp]))["verdict"] == "open"


def test_classical_seconds_takes_the_lesser_of_flops_and_measured_time():
    m = MethodResult(
        "region",
        "ok",
        value=0.1,
        err=0.0,
        flops=1e12,
        seconds=1e-9,
        seconds_kind="measured",
        detail={"certified": True},
    )
    assert classical_seconds(MethodResult("region", "ok", value=0.1, err=0.0, flops=1e12), 1e12, None, 0.01) is None
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


def test_a_certificate_never_rests_on_the_value_it_certifies():
    """W~_17 after 5 steps at pi/2 on the 127-qubit map: BP reads 0 (exact -1), the region's ball was chosen
    against BP, and Pauli propagation's dropped-weight bound gives -1 exactly."""
    from eqvbench.classical.certify import Candidate, certify

    bp = Candidate("belief_propagation", 0.0, 0.0)
    region = Candidate("region", 7e-18, 7e-18, rests_on=frozenset({"belief_propagation"}), kind="exact")
    # alone, the region cannot certify BP: nothing is certified
    alone = certify([bp, region], 0.027)
    assert not alone["belief_propagation"].certified and not alone["region"].certified
    # a bound refuses BP, and with it the region resting on it
    pp = Candidate("pauli_propagation", -1.0, 0.0, proof="dropped-weight bound")
    out = certify([bp, region, pp], 0.027)
    assert out["pauli_propagation"].certified and out["pauli_propagation"].certificate == ["dropped-weight bound"]
    assert out["belief_propagation"].refused and not out["belief_propagation"].certified
    assert out["region"].refused and "belief_propagation" in out["region"].refused
    # two independent estimates that agree within delta certify each other, the error covering the gap
    a, b = Candidate("pauli_propagation", 0.50, 0.004), Candidate("belief_propagation", 0.51, 0.002)
    out = certify([a, b], 0.027)
    assert out["pauli_propagation"].certificate == ["belief_propagation"]
    # neither bounds the truth: twice the gap plus the larger ladder error
    assert out["pauli_propagation"].err == pytest.approx(2 * 0.01 + 0.004)
    assert out["belief_propagation"].certified and out["belief_propagation"].err == pytest.approx(2 * 0.01 + 0.004)
    # ... and a region resting on one of them is certified with the chain named
    reg = Candidate("region", 0.505, 0.02, rests_on=frozenset({"pauli_propagation"}), kind="exact")
    out = certify([a, b, reg], 0.027)
    assert out["region"].certified and out["region"].certificate == ["belief_propagation", "pauli_propagation"]
    # estimates that disagree certify nothing; an exact value refuses the one that is off
    far = Candidate("belief_propagation", 0.60, 0.002)
    out = certify([a, far], 0.027)
    assert not out["pauli_propagation"].certified and not out["belief_propagation"].certified
    exact = Candidate("contraction", 0.501, 0.0, proof="exact", kind="exact")
    out = certify([a, far, exact], 0.027)
    assert out["pauli_propagation"].certified and out["belief_propagation"].refused
    # estimates of one kind do not corroborate each other
    twin = Candidate("pauli_propagation_2", 0.5, 0.0, kind="pauli_propagation")
    assert not certify([a, twin], 0.027)["pauli_propagation"].certified


def test_cost_disabled_runs_no_classical_method(tmp_path, monkeypatch):
    """cost.enabled: false is one switch: no contraction, region, Pauli or belief propagation runs."""
    from typer.testing import CliRunner

    import eqvbench.classical.belief_propagation as bp
    import eqvbench.classical.pauli_propagation as pauli
    from eqvbench.cli import app

    def refuse(*a, **k):
        raise AssertionError("a classical method ran under cost.enabled: false")

    monkeypatch.setattr(pauli, "converge", refuse)
    monkeypatch.setattr(bp, "bp_reference", refuse)
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "experiment: floquet_ising\nlattice: {kind: line, n: 4}\n"
        "circuit: {theta_h: 0.3, steps: 2, observable: Z1}\ncost: {enabled: false}\n"
        "simulation: {shots: 1000, target_err: 0.05}\n"
    )
    r = CliRunner().invoke(app, ["run", str(spec), "--json", "--no-store", "--workers", "1"])
    assert r.exit_code == 0, r.output
    (p,) = json.loads(r.stdout)["points"]
    assert [m["method"] for m in p["methods"]] == list(METHODS)
    for m in p["methods"]:
        assert m["status"] == "not_applicable" and m["note"] == "not run (cost.enabled: false)", m
    assert p["cost_flops"] is None and p.get("reproduced_value") is None and p.get("a_eff") is None
    assert any("no classical method run" in n for n in p["notes"])


@pytest.fixture
def fresh_rate(monkeypatch):
    """This process forgets its measured rate (and the rate a parent handed it) for the test."""
    from eqvbench.classical import methods

    monkeypatch.setattr(methods, "_RATE", [])
    monkeypatch.delenv(methods.RATE_ENV, raising=False)
    yield methods
    monkeypatch.delenv(methods.RATE_ENV, raising=False)


def test_rate_measured_idle_is_cached_with_its_date_and_conditions(fresh_rate, monkeypatch):
    """t_here's rate is the machine's: measured once with a core to itself, then read back by later runs
    (the same spec read 160, 25, 18, 5.8 GFLOP/s as the load changed: issue 27 item 2)."""
    import datetime

    m = fresh_rate
    monkeypatch.setattr(m, "_measure", lambda: (2.0e10, 0.99))
    first = m.machine_rate()
    assert first["flops"] == 2.0e10 and first["idle"] and first["file"] == m.rate_file()
    assert datetime.datetime.fromisoformat(first["measured_at"]).tzinfo is not None
    assert {"host", "cpu", "numpy", "blas"} <= set(first["conditions"])
    # a later run under load measures nothing: it uses the cached rate
    monkeypatch.setattr(m, "_RATE", [])
    monkeypatch.delenv(m.RATE_ENV)
    monkeypatch.setattr(m, "_measure", lambda: (3.0e9, 0.4))
    later = m.machine_rate()
    assert later["flops"] == 2.0e10 and later["source"] == "cached" and later["measured_at"] == first["measured_at"]
    assert "measured idle on" in m.rate_text(later)


def test_rate_measured_under_load_is_this_runs_and_not_cached(fresh_rate, monkeypatch, write_spec):
    m = fresh_rate
    monkeypatch.setattr(m, "_measure", lambda: (3.0e9, 0.4))
    r = CliRunner().invoke(app, ["run", str(write_spec(RCS_SMALL)), "--no-store", "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert "this run's rate: measured under load (40% of a core" in r.stdout and "not the machine's" in r.stdout
    assert not os.path.exists(m.rate_file())
    doc = json.loads(
        CliRunner().invoke(app, ["run", str(write_spec(RCS_SMALL)), "--no-store", "--workers", "1", "--json"]).stdout
    )
    assert doc["flops_here"] == 3.0e9
    assert doc["flops_here_measured"]["source"] == "this run" and doc["flops_here_measured"]["idle"] is False
