"""experiment: circuit: a QASM or Cirq JSON file, checked against cirq and against the built-in families."""

import json
import math
import re
from pathlib import Path

import cirq
import numpy as np
import pytest

import eqvbench
from eqvbench.families.circuit import FAMILY, kicked_ising_qasm, load_circuit, to_qasm
from eqvbench.circuits.lattice import build_lattice
from eqvbench.spec import COMMON_POINT_FIELDS, FAMILY_POINT_FIELDS, load_spec
from sweep_util import invoke, run_json

CONFIGS = Path(eqvbench.__file__).parent / "configs"
EXAMPLE = CONFIGS / "circuit_example.qasm"
PAULI = {"X": cirq.X, "Y": cirq.Y, "Z": cirq.Z}


def cirq_expectation(qasm_text: str, terms: list[tuple[float, str]]) -> float:
    """sum_i c_i <P_i> from cirq's own QASM reader and state-vector simulator (barriers removed)."""
    from cirq.contrib.qasm_import import circuit_from_qasm

    c = circuit_from_qasm(re.sub(r"barrier[^;]*;", "", qasm_text))
    c = cirq.Circuit(op for op in c.all_operations() if not cirq.is_measurement(op))
    n = int(re.search(r"qreg q\[(\d+)\]", qasm_text).group(1))
    qs = [cirq.NamedQubit(f"q_{i}") for i in range(n)]
    psi = cirq.Simulator(dtype=np.complex128).simulate(c, qubit_order=qs).final_state_vector
    total = 0.0
    for coef, s in terms:
        ps = cirq.PauliString({qs[int(t[1:])]: PAULI[t[0]] for t in s.split()})
        total += coef * ps.expectation_from_state_vector(psi, {q: i for i, q in enumerate(qs)}).real
    return total


def spec_text(file, observable=None, extra=""):
    obs = "" if observable is None else f", observable: {json.dumps(observable)}"
    return (
        f"experiment: circuit\nseed: 2\ncircuit: {{file: {file}{obs}}}\nnoise: {{p2: 0.01}}\n"
        f"simulation: {{shots: 2000, target_err: 0.02}}\ncost: {{max_repeats: 2}}\n{extra}"
    )


# --- reading files ---------------------------------------------------------------------------------


def test_example_qasm_reads_in_file_order():
    loaded = load_circuit(EXAMPLE)
    assert loaded.n_qubits == 6 and loaded.labels == tuple(f"q[{i}]" for i in range(6))
    ops = list(loaded.circuit.all_operations())
    assert sum(len(op.qubits) == 2 for op in ops) == 13 and sum(len(op.qubits) == 1 for op in ops) == 18
    assert not any(cirq.is_measurement(op) for op in ops)  # terminal measurements dropped
    lat = build_lattice({"kind": "circuit", "file": str(EXAMPLE)})
    assert sorted((a.x, b.x) for a, b in lat.edges) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]


def test_registers_number_qubits_in_declaration_order(tmp_path):
    f = tmp_path / "two.qasm"
    f.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg b[2];\nqreg a[3];\nx a[0];\ncx b[1],a[2];\n')
    loaded = load_circuit(f)
    assert loaded.labels == ("b[0]", "b[1]", "a[0]", "a[1]", "a[2]")
    assert {str(op.gate): tuple(q.x for q in op.qubits) for op in loaded.circuit.all_operations()} == {
        "X": (2,),
        "CNOT": (1, 4),
    }


@pytest.mark.parametrize(
    "observable,terms",
    [
        ("Z2", [(1.0, "Z2")]),
        ("X3 Z1", [(1.0, "X3 Z1")]),
        ("0.5*Z1 Z2 + 0.5*X3", [(0.5, "Z1 Z2"), (0.5, "X3")]),
        ("Z5 - 0.5*Y4", [(1.0, "Z5"), (-0.5, "Y4")]),
    ],
)
def test_ideal_value_matches_cirq_statevector(write_spec, observable, terms):
    """<O>_ideal of the shipped QASM example (noisy simulation, region and Pauli propagation too) against
    cirq's QASM reader and simulator."""
    spec = write_spec(spec_text(EXAMPLE, observable))
    (p,) = run_json(spec, "--no-store", "--workers", 1)["points"]
    expected = cirq_expectation(EXAMPLE.read_text(), terms)
    assert abs(expected) > 0.05
    assert p["o_ideal"] == pytest.approx(expected, abs=1e-6)
    assert p["reference_value"] == pytest.approx(expected, abs=1e-6)  # whole cone, exact
    pp = next(m for m in p["methods"] if m["method"] == "pauli_propagation")
    assert pp["status"] == "ok" and abs(pp["value"] - expected) <= max(pp["err"], 1e-6) + 1e-6
    bp = next(m for m in p["methods"] if m["method"] == "belief_propagation")
    assert bp["status"] == "ok" and bp["flops"] > 0  # its loop error on this graph is not in err: no value check
    # the noisy value: readout-mitigated, within a few error bars of the depolarised ideal
    assert p["f_eff"] is not None and 0.5 < p["f_eff"] < 1.0
    assert abs(p["f_eff"] - p["f_model"]) < 0.1  # the digital model holds roughly
    assert p["v_butterfly"] is not None and len(p["butterfly_map"]) == 31
    assert set(p) <= set(COMMON_POINT_FIELDS) | set(FAMILY_POINT_FIELDS["circuit"]) | {
        "params",
        "seconds_on_frontier",
        "seconds_on_a100",
        "seconds_on_h100",
    }


def test_xeb_matches_cirq_density_matrix(write_spec):
    """No observable: every qubit measured, XEB from eqvbench's density matrix against cirq's."""
    from eqvbench.simulation.fidelity import xeb_exact
    from eqvbench.circuits.noise import NoiseModel

    spec = write_spec(
        spec_text(EXAMPLE, extra="").replace("simulation: {", "simulation: {method: density_matrix, max_qubits: 14, ")
    )
    (p,) = run_json(spec, "--no-store", "--workers", 1)["points"]
    circuit = load_circuit(EXAMPLE).circuit
    qs = sorted(circuit.all_qubits())
    noise = NoiseModel(p1=0.0016, p2=0.01, readout=0.038)
    p_ideal = np.abs(cirq.Simulator(dtype=np.complex128).simulate(circuit, qubit_order=qs).final_state_vector) ** 2
    rho = (
        cirq.DensityMatrixSimulator(dtype=np.complex128)
        .simulate(noise.to_cirq(circuit, qs, qs), qubit_order=qs)
        .final_density_matrix
    )
    assert p["xeb_exact"] == pytest.approx(xeb_exact(p_ideal, np.real(np.diag(rho))), abs=1e-8)
    assert p["f_eff"] == p["xeb_exact"] and p["v_light"] == 13 and p["a_eff"] == 6
    assert "o_ideal" not in p
    assert {m["method"]: m["status"] for m in p["methods"]} == {
        "contraction": "ok",
        "region": "not_applicable",
        "pauli_propagation": "not_applicable",
        "belief_propagation": "not_applicable",
    }
    assert set(p) <= set(COMMON_POINT_FIELDS) | set(FAMILY_POINT_FIELDS["circuit"]) | {
        "params",
        "seconds_on_frontier",
        "seconds_on_a100",
        "seconds_on_h100",
    }


def test_numeric_fields_are_declared(write_spec):
    from eqvbench.output.fields import is_number, numeric_fields
    from eqvbench.pipeline import machines_of

    spec = write_spec(spec_text(EXAMPLE, [None, "Z2"]))
    points = run_json(spec, "--no-store", "--workers", 1)["points"]
    allowed = set(numeric_fields(["circuit"], machines_of(load_spec(spec))))
    reported = {k for p in points for k, v in p.items() if is_number(v)}
    assert reported <= allowed, sorted(reported - allowed)


def test_cirq_json_gives_what_qasm_gives(tmp_path, write_spec):
    """The same circuit as Cirq JSON (on grid qubits, numbered in sorted order) gives the QASM's numbers."""
    loaded = load_circuit(EXAMPLE)
    grid = {cirq.LineQubit(i): cirq.GridQubit(0, i) for i in range(6)}
    (tmp_path / "c.json").write_text(cirq.to_json(loaded.circuit.transform_qubits(lambda q: grid[q])))
    spec = write_spec(spec_text("c.json", ["Z2", "0.5*Z1 Z2 + 0.5*X3"]), "j.yaml")
    qasm = write_spec(spec_text(EXAMPLE, ["Z2", "0.5*Z1 Z2 + 0.5*X3"]), "q.yaml")
    a = run_json(spec, "--no-store", "--workers", 1)["points"]
    b = run_json(qasm, "--no-store", "--workers", 1)["points"]
    for p, q in zip(a, b):
        for k in ("v_light", "f_model", "o_ideal", "reproduced_value", "a_eff", "region_gates_2q"):
            assert p[k] == pytest.approx(q[k], rel=1e-12, abs=1e-12), k
    # the cost networks are the same (the cost search is seeded by the file's content: its trees may differ)
    from eqvbench.classical.cost import network_structure

    for obs in ("Z2", "0.5*Z1 Z2 + 0.5*X3"):
        shapes = []
        for f in (tmp_path / "c.json", EXAMPLE):
            lat = build_lattice({"kind": "circuit", "file": str(f)})
            inst = FAMILY.build(lat, {"file": str(f), "observable": obs}, 0)
            inputs, output, sizes = network_structure(FAMILY.cost_network(inst))
            shapes.append(sorted(sorted(sizes[i] for i in t) for t in inputs))
        assert shapes[0] == shapes[1]
    assert load_circuit(tmp_path / "c.json").labels == tuple(f"q(0, {i})" for i in range(6))


def test_files_and_observables_sweep(tmp_path, write_spec):
    other = tmp_path / "ghz.qasm"
    other.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\n')
    spec = write_spec(
        f"experiment: circuit\ncircuit: {{file: [{EXAMPLE}, ghz.qasm], observable: [Z0 Z2, X0 X1 X2]}}\n"
        "cost: {max_repeats: 2}\nsimulation: {simulate: never}\n"
    )
    s = load_spec(spec)
    assert [p.params for p in s.points] == [
        {"circuit.file": str(EXAMPLE), "circuit.observable": "Z0 Z2"},
        {"circuit.file": str(EXAMPLE), "circuit.observable": "X0 X1 X2"},
        {"circuit.file": str(other), "circuit.observable": "Z0 Z2"},
        {"circuit.file": str(other), "circuit.observable": "X0 X1 X2"},
    ]
    points = run_json(spec, "--no-store", "--workers", 1)["points"]
    assert [p["n_qubits"] for p in points] == [6, 6, 3, 3]
    assert [round(p["reproduced_value"], 9) for p in points[2:]] == [1.0, 1.0]  # GHZ: <Z0 Z2> = <XXX> = 1


def test_workers_rebuild_a_circuit_spec(write_spec):
    from eqvbench.sweeps.execute import _WORKER_SPECS, _worker_plans, spec_payload

    spec = load_spec(CONFIGS / "circuit_example.yaml")
    _WORKER_SPECS.clear()
    rebuilt = _worker_plans(spec_payload(spec))[0]
    assert rebuilt.resolved() == spec.resolved()


def test_exporter_round_trips(tmp_path):
    """to_qasm writes rotations with their angles in full precision: reading it back gives the same unitary."""
    q = cirq.LineQubit.range(3)
    c = cirq.Circuit(
        cirq.rx(0.3).on(q[0]),
        cirq.ry(-1.2).on(q[1]),
        cirq.ZZPowGate(exponent=0.37).on(q[1], q[2]),
        cirq.CZ(q[0], q[1]),
        cirq.H(q[2]),
        cirq.PhasedXPowGate(phase_exponent=0.25, exponent=0.5).on(q[0]),
        cirq.CNOT(q[2], q[0]),
        cirq.T(q[1]),
        cirq.SWAP(q[0], q[1]),
    )
    f = tmp_path / "x.qasm"
    f.write_text(to_qasm(c, q))
    back = load_circuit(f).circuit
    assert cirq.allclose_up_to_global_phase(cirq.unitary(back), cirq.unitary(c), atol=1e-12)


# --- the kicked Ising experiment from a file --------------------------------------------------------


def test_shipped_kicked_ising_file_is_the_exporters():
    """The shipped QASM is what the exporter writes, and reads back as the built-in circuit, moment by moment."""
    from eqvbench.families.floquet_ising import floquet_circuit
    from eqvbench.circuits.lattice import heavy_hex_127

    assert (CONFIGS / "kicked_ising_127.qasm").read_text() == kicked_ising_qasm("pi/4", 5)
    built = floquet_circuit(heavy_hex_127(), math.pi / 4, 5)
    read = load_circuit(CONFIGS / "kicked_ising_127.qasm").circuit
    assert len(read) == len(built) == 20
    for a, b in zip(built, read):
        assert [op.qubits for op in a] == [op.qubits for op in b]
        for x, y in zip(a, b):  # rzz drops RZZ's global phase
            assert cirq.allclose_up_to_global_phase(cirq.unitary(x), cirq.unitary(y), atol=1e-15)


def test_kicked_ising_from_qasm_matches_the_builtin_family(write_spec):
    """The 127-qubit kicked Ising circuit (5 steps, theta_h = pi/4) run from its QASM export gives the
    built-in floquet_ising family's light cone, digital model, classical value, region and cost."""
    # the in-order contraction (no search): the cost search's seed comes from each family's structure key,
    # and searches with different seeds find different trees; same network, same seed: same tree (below)
    common = "cost: {search_max_tensors: 1}\nsimulation: {shots: 2000}\n"
    builtin = write_spec(
        "experiment: floquet_ising\nlattice: {kind: heavy_hex_127}\n"
        "circuit: {theta_h: pi/4, steps: 5, observable: Z62, region: {f_eff: 0.3}}\n" + common,
        "b.yaml",
    )
    from_file = write_spec(
        f"experiment: circuit\ncircuit: {{file: {CONFIGS / 'kicked_ising_127.qasm'}, "
        "observable: Z62, region: {f_eff: 0.3}}\n" + common,
        "f.yaml",
    )
    (a,) = run_json(builtin, "--no-store", "--workers", 1)["points"]
    (b,) = run_json(from_file, "--no-store", "--workers", 1)["points"]
    assert (
        (a["v_light"], a["n_gates_2q"], a["n_qubits"])
        == (b["v_light"], b["n_gates_2q"], b["n_qubits"])
        == (39, 720, 127)
    )
    for k in ("f_model", "eps", "reproduced_value", "reference_value", "region_value"):
        assert b[k] == pytest.approx(a[k], rel=1e-12, abs=1e-12), k
    for k in (
        "a_eff",
        "region_gates_2q",
        "region_radius",
        "cost_flops",
        "width_log2",
        "cost_eff_flops",
        "cheapest_method",
    ):
        assert b[k] == a[k], k
    assert a["reference_value"] == pytest.approx(cirq_ising_z62(), abs=1e-6)  # the whole cone, exactly
    assert abs(a["reproduced_value"] - a["reference_value"]) <= a["region_delta"]  # the region, within delta


def test_kicked_ising_cost_search_is_the_builtins():
    """The cost networks of the built-in and the file's Z62 are the same: a search with one seed finds one tree."""
    from eqvbench.classical.cost import CostSettings, contraction_cost, network_structure
    from eqvbench.families import floquet_ising
    from eqvbench.circuits.lattice import heavy_hex_127
    from eqvbench.spec import CostSpec

    path = str(CONFIGS / "kicked_ising_127.qasm")
    a = floquet_ising.FAMILY.build(
        heavy_hex_127(), {"theta_h": math.pi / 4, "steps": 5, "observable": "Z62", "final_rx": False}, 0
    )
    b = FAMILY.build(build_lattice({"kind": "circuit", "file": path}), {"file": path, "observable": "Z62"}, 0)
    na, nb = network_structure(floquet_ising.FAMILY.cost_network(a)), network_structure(FAMILY.cost_network(b))
    assert na == nb
    settings = CostSettings.from_section(CostSpec(max_repeats=4, cache=False).model_dump(), seed=7)
    assert contraction_cost(*na, settings).cost_flops == contraction_cost(*nb, settings).cost_flops


def cirq_ising_z62() -> float:
    """<Z62> after 5 steps from cirq's simulator on the 19-qubit light cone (independent of eqvbench's kernels)."""
    from eqvbench.families.floquet_ising import floquet_circuit
    from eqvbench.circuits.lattice import heavy_hex_127
    from eqvbench.circuits.lightcone import backward_cone, restrict_to_cone

    lat = heavy_hex_127()
    c = floquet_circuit(lat, math.pi / 4, 5)
    cone = backward_cone(c, [{cirq.LineQubit(62): "Z"}])
    cut = restrict_to_cone(c, cone)
    qs = list(cone.qubits)
    psi = cirq.Simulator(dtype=np.complex128).simulate(cut, qubit_order=qs).final_state_vector
    return cirq.Z(cirq.LineQubit(62)).expectation_from_state_vector(psi, {q: i for i, q in enumerate(qs)}).real


# --- bad input ---------------------------------------------------------------------------------------

QASM_HEAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\n'
BAD = [
    # (file name, content, observable, field, words)
    ("syntax.qasm", QASM_HEAD + "h q[0]\ncx q[0],q[1];\n", None, "circuit.file", "line 5"),
    ("unknown.qasm", QASM_HEAD + "h q[0];\nfoo q[1];\n", None, "circuit.file", 'line 5: Unknown gate "foo"'),
    (
        "rc3x.qasm",
        QASM_HEAD.replace("q[3]", "q[4]") + "h q[0];\n\nrc3x q[0],q[1],q[2],q[3];\n",
        None,
        "circuit.file",
        "line 6: unsupported gate rc3x on 4 qubits",
    ),
    ("reset.qasm", QASM_HEAD + "h q[0];\nreset q[1];\n", None, "circuit.file", "line 5: reset"),
    (
        "mid.qasm",
        QASM_HEAD + "creg c[3];\nmeasure q[0] -> c[0];\nh q[0];\n",
        None,
        "circuit.file",
        "line 5: a measurement before the end",
    ),
    ("range.qasm", QASM_HEAD + "h q[7];\n", None, "circuit.file", "line 4"),
    (
        "ok.qasm",
        QASM_HEAD + "h q[0];\ncx q[0],q[1];\n",
        "Z1 X3",
        "circuit.observable",
        "qubit 3 of 'Z1 X3' is not in the circuit",
    ),
    ("ok.qasm", QASM_HEAD + "h q[0];\ncx q[0],q[1];\n", "0.5*Z1 + Q2", "circuit.observable", "'Q2' is not like"),
    ("ok.qasm", QASM_HEAD + "h q[0];\ncx q[0],q[1];\n", "M_z + Z1", "circuit.observable", "cannot be part of a sum"),
    (
        "notcircuit.json",
        cirq.to_json(cirq.X(cirq.LineQubit(0))),
        None,
        "circuit.file",
        "holds a SingleQubitPauliStringGateOperation, not a cirq.Circuit",
    ),
    ("broken.json", '{"cirq_type": "Circuit",\n "moments": [\n', None, "circuit.file", "line 3: malformed JSON"),
    ("code.json", '{"cirq_type": "os.system", "command": "touch pwned"}', None, "circuit.file", "not Cirq JSON"),
    ("circuit.txt", "h q[0];", None, "circuit.file", "unknown format '.txt'"),
    ("exp.qasm", QASM_HEAD + "rx(exp(1000)) q[0];\n", None, "circuit.file", "exp() is not a finite real number"),
    ("sqrt.qasm", QASM_HEAD + "rx(sqrt(-1)) q[0];\n", None, "circuit.file", "sqrt() is not a finite real number"),
    ("root.qasm", QASM_HEAD + "rx((-8)^(1/3)) q[0];\n", None, "circuit.file", "'^' is not a finite real number"),
    ("huge.qasm", QASM_HEAD + "rx(1e300*1e300) q[0];\n", None, "circuit.file", "'*' is not a finite real number"),
    (
        "symbolic.qasm",
        QASM_HEAD + "gate g(a) x { rx(a^(9^9)) x; }\ng(3) q[0];\n",
        None,
        "circuit.file",
        "line 5: a gate parameter's '^' is not a finite real number",
    ),
    (
        "inf.json",
        cirq.to_json(cirq.Circuit(cirq.rx(0.25).on(cirq.LineQubit(0)))).replace("0.25", "Infinity"),
        None,
        "circuit.file",
        "gate Rx has a parameter that is not a finite number",
    ),
    (
        "nan.json",
        cirq.to_json(cirq.Circuit(cirq.CZ(*cirq.LineQubit.range(2)) ** 0.5)).replace("0.5", "NaN"),
        None,
        "circuit.file",
        "gate CZPowGate has a parameter that is not a finite number",
    ),
]


@pytest.mark.parametrize("name,content,observable,field,words", BAD, ids=[b[0] + (b[2] or "") for b in BAD])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_input_is_one_line_naming_spec_and_field(
    tmp_path, write_spec, command, name, content, observable, field, words
):
    (tmp_path / name).write_text(content)
    spec = write_spec(spec_text(name, observable))
    before = set(tmp_path.iterdir())
    r = invoke(command, spec, *(["--out", tmp_path / "out.json"] if command == "run" else []))
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {spec}: {field}: ") and words in lines[0], r.output
    assert "Traceback" not in r.output
    assert set(tmp_path.iterdir()) == before  # no store, no output document
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("command", ["validate", "run"])
def test_missing_file_says_where_it_looked(tmp_path, write_spec, command):
    spec = write_spec(spec_text("nowhere.qasm"))
    r = invoke(command, spec)
    assert r.exit_code == 2
    (line,) = [ln for ln in r.output.splitlines() if ln.strip()]
    assert (
        line == f"error: {spec}: circuit.file: 'nowhere.qasm': file not found (looked for {tmp_path / 'nowhere.qasm'})"
    )
    assert list(tmp_path.iterdir()) == [spec]


def test_file_is_required(write_spec):
    r = invoke("validate", write_spec("experiment: circuit\n"))
    assert r.exit_code == 2 and "circuit: required field is missing" in r.output
    r = invoke("validate", write_spec("experiment: circuit\ncircuit: {observable: Z0}\n", "b.yaml"))
    assert r.exit_code == 2 and "circuit.file: required field is missing" in r.output


def test_paths_are_relative_to_the_spec(tmp_path, monkeypatch):
    d = tmp_path / "specs"
    d.mkdir()
    (d / "c.qasm").write_text(QASM_HEAD + "h q[0];\ncx q[0],q[1];\n")
    (d / "s.yaml").write_text(spec_text("c.qasm", "X0 X1"))
    monkeypatch.chdir(tmp_path)
    s = load_spec("specs/s.yaml")
    assert s.points[0].values["circuit"]["file"] == str(d / "c.qasm")
    assert s.points[0].values["lattice"] == {"kind": "circuit", "file": str(d / "c.qasm")}


def test_sums_are_costed_term_by_term(write_spec):
    """A sum of Pauli strings (floquet_ising's M_z, a weighted sum from a file) is costed as its terms'
    sandwich networks side by side: the tensors of all terms, no index shared between terms."""
    from eqvbench.classical.cost import network_structure
    from eqvbench.families import floquet_ising

    lat = build_lattice({"kind": "line", "n": 4})
    circ = {"theta_h": 0.4, "steps": 2, "final_rx": False}
    whole = floquet_ising.FAMILY.build(lat, {**circ, "observable": "M_z"}, 0)
    inputs, output, _ = network_structure(floquet_ising.FAMILY.cost_network(whole))
    per_term = [
        network_structure(
            floquet_ising.FAMILY.cost_network(floquet_ising.FAMILY.build(lat, {**circ, "observable": f"Z{k}"}, 0))
        )[0]
        for k in range(4)
    ]
    assert len(inputs) == sum(len(t) for t in per_term) and output == ()
    spec = write_spec(
        "experiment: floquet_ising\nlattice: {kind: line, n: 4}\n"
        "circuit: {theta_h: 0.4, steps: 2, observable: M_z}\ncost: {max_repeats: 2}\n"
    )
    (p,) = run_json(spec, "--no-store", "--workers", 1)["points"]
    assert p["cost_flops"] > 0 and p["reproduced_value"] == pytest.approx(p["o_ideal"], abs=1e-12)


def test_parameter_arithmetic_is_bounded(tmp_path):
    """An integer power tower in a gate parameter (9^9^9: cirq's reader computes it exactly, for
    ever) is one line at once; ordinary expressions keep their values."""
    import os
    import subprocess
    import sys

    (tmp_path / "tower.qasm").write_text(QASM_HEAD + "rx(9^9^9) q[0];\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text("tower.qasm"))
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run(
        [sys.executable, "-m", "eqvbench", "validate", str(spec)], capture_output=True, text=True, timeout=120, env=env
    )
    assert r.returncode == 2 and r.stderr.strip() == (
        f"error: {spec}: circuit.file: 'tower.qasm': line 4: a gate parameter's '^' is not a finite real number"
    ), r.stderr
    (tmp_path / "ok.qasm").write_text(
        QASM_HEAD + "rx(2^10) q[0];\nrz(-pi^2/8 + sin(pi/6)*3) q[1];\ngate g(a) x { ry(a^2/2) x; }\ng(3) q[2];\n"
    )
    angles = [op.gate.exponent * math.pi for op in load_circuit(tmp_path / "ok.qasm").circuit.all_operations()]
    assert angles == pytest.approx([2.0**10, -(math.pi**2) / 8 + 1.5, 4.5], rel=1e-12)
