"""Sampling points (rcs, a circuit file without an observable) through the pipeline: the classical side of
the verdict is the device's task, `device.shots` bitstrings at fidelity f; linear XEB is a fidelity only
where the ideal output is far from uniform."""

from __future__ import annotations

import math

import cirq
import numpy as np
import pytest

from eqvbench.classical.cost import REFERENCE_MACHINES
from sweep_util import run_json

RCS = """experiment: rcs
seed: 7
lattice: {kind: grid, rows: 2, cols: 3}
circuit: {cycles: 6, instances: 1}
simulation: {shots: 2000}
cost: {max_repeats: 2, methods: [greedy]}
"""
DEVICE = "device: {shots: 100000, repetition_s: 2.0e-4}\n"


def test_a_sampling_point_is_costed_as_the_devices_shots(write_spec):
    p = run_json(write_spec(RCS + DEVICE), "--no-store", "--workers", 1)["points"][0]
    task = p["sampling_task"]
    ways = [w for w in (task["per_sample"], task["batched"]) if w]
    # the cheaper way is the task; each way's figure is its factors' product
    assert p["task_flops"] == min(w["task_flops"] for w in ways)
    for w in ways:
        assert w["task_flops"] == pytest.approx(w["contractions"] * w["path_fraction"] * w["contraction_flops"])
    per = task["per_sample"]
    # frugal rejection at M = 10: M / (1 - e^-M) amplitudes per sample, phi = f / x_M of the paths
    assert per["contractions"] == pytest.approx(1e5 * 10 / (1 - math.exp(-10)))
    assert per["path_fraction"] == pytest.approx(min(1.0, p["f_eff"] / (1 - 11 * math.exp(-10)) * (1 - math.exp(-10))))
    # 6 qubits: the full state fits, one contraction gives every sample at phi = f
    full = task["batched"]
    assert full["batch_qubits"] == 6 and full["contractions"] == 1 and full["path_fraction"] >= p["f_eff"] - 1e-12
    # the verdict compares the task, on report.machine, with the device's run: not one amplitude
    assert p["task_seconds"] == pytest.approx(p["task_flops"] / REFERENCE_MACHINES["frontier"])
    contraction = next(e for e in p["verdict_evidence"] if e["method"] == "contraction")
    assert contraction["basis"] == "the device's sampling task" and contraction["seconds"] == p["task_seconds"]
    assert p["verdict"] == "classical" and p["classical_seconds"] == p["task_seconds"]
    assert p["device_seconds"] == pytest.approx(20.0)
    assert p["task_flops"] > p["f_eff"] * p["cost_flops"]  # more than f x one amplitude: 1e5 samples


def test_no_device_run_no_task(write_spec):
    p = run_json(write_spec(RCS), "--no-store", "--workers", 1)["points"][0]
    assert p["task_flops"] is None and p["sampling_task"] is None and p["verdict"] is None
    assert not any("sampling task" in n for n in p["notes"])


def test_reused_sampling_point_gets_its_machines_task_seconds(write_spec, tmp_path):
    db = tmp_path / "s.eqvdb"
    first = run_json(write_spec(RCS + DEVICE), "--store", db, "--workers", 1)["points"][0]
    other = run_json(write_spec(RCS + DEVICE + "report: {machine: a100}\n", "a.yaml"), "--store", db)["points"][0]
    assert other["task_flops"] == first["task_flops"]
    assert other["task_seconds"] == pytest.approx(first["task_flops"] / REFERENCE_MACHINES["a100"])
    assert other["verdict_machine"] == "a100"


def test_a_task_that_cannot_be_costed_is_no_evidence():
    from eqvbench.classical.methods import MethodResult
    from eqvbench.classical.verdict import decide

    tree = MethodResult("contraction", "ok", flops=1e3)
    out = decide([tree], f=0.5, delta=0.01, rate=1e18, device_seconds=1.0, task_seconds=None, sampling=True)
    assert out["verdict"] == "open" and "sampling task was not costed" in out["verdict_note"]
    # one amplitude's 1e3 FLOP would have read 'classical'
    assert decide([tree], f=0.5, delta=0.01, rate=1e18, device_seconds=1.0)["verdict"] == "classical"


UNIFORM = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[5];
h q[0]; h q[1]; h q[2]; h q[3]; h q[4];
cx q[0],q[1];
cx q[1],q[0];
"""


def test_xeb_of_a_uniform_output_is_no_fidelity(write_spec, tmp_path):
    (tmp_path / "h5.qasm").write_text(UNIFORM)
    spec = write_spec("experiment: circuit\ncircuit: {file: h5.qasm}\nnoise: {p1: 0.001, p2: 0.01}\n")
    p = run_json(spec, "--no-store", "--workers", 1)["points"][0]
    assert abs(p["xeb_contrast"]) < 1e-9  # H on every qubit, CNOTs permute: exactly uniform
    assert p["f_eff"] is None and p["xeb_exact"] is None and p["v_eff"] is None
    assert any("linear XEB is no fidelity" in n for n in p["notes"])
    assert p["resource_flops"] == pytest.approx(p["f_model"] * p["cost_flops"])  # the model's fidelity instead


def test_contrast_is_d_sum_p_squared_minus_one(write_spec):
    """Against cirq's state vector of the same circuit, built independently from the spec's seed."""
    from eqvbench.families import get_family
    from eqvbench.pipeline import derive_seed, plan
    from eqvbench.spec import load_spec

    path = write_spec(RCS)
    p = run_json(path, "--no-store", "--workers", 1)["points"][0]
    pp = plan(load_spec(str(path)))[0]
    seed = derive_seed(pp.point.values["seed"], "instance", pp.structure, 0)
    inst = get_family("rcs").build(pp.lattice, pp.point.values["circuit"], seed)
    psi = cirq.Simulator(dtype=np.complex128).simulate(inst.circuit, qubit_order=inst.qubits).final_state_vector
    prob = np.abs(psi) ** 2
    assert p["xeb_contrast"] == pytest.approx(prob.size * float(prob @ prob) - 1, rel=1e-9)
    assert p["xeb_contrast"] > 0.1 and p["f_eff"] is not None


def test_v_eff_above_v_light_gets_a_note(monkeypatch):
    """A measured fidelity below what the cone's error locations explain: v_eff > v_light is flagged."""
    from eqvbench import pipeline
    from eqvbench.families.base import Measurement
    from eqvbench.families.rcs import RCSFamily
    from eqvbench.spec import parse_spec

    monkeypatch.setattr(RCSFamily, "measure", lambda self, *a: Measurement(f_eff=1e-3, f_eff_err=1e-5, fields={}))
    spec = parse_spec({"experiment": "rcs", "lattice": {"kind": "grid", "rows": 2, "cols": 2}}, "t.yaml")
    res = pipeline.run_point(spec, pipeline.plan(spec)[0], {})
    assert res.v_eff > res.v_light
    assert any("exceeds v_light" in n for n in res.notes)
