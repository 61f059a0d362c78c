"""Noise from a calibration table: per-qubit and per-coupler rates, against cirq with the channels built by hand."""

from __future__ import annotations

import json
import math
import os
import time

import cirq
import numpy as np
import pytest
from typer.testing import CliRunner

from eqvbench.cli import app

# a 4-qubit line: deliberately unequal rates, so a rate read from the wrong qubit or coupler shows
P1 = {0: 0.002, 1: 0.001, 2: 0.0005, 3: 0.003}
RO = {0: 0.02, 1: 0.05, 2: 0.01, 3: 0.03}
IDLE = {1: 0.001}
P2 = {(0, 1): 0.02, (1, 2): 0.005, (2, 3): 0.01}
TABLE = (
    "qubits:\n"
    + "".join(
        f"  - {{qubit: {q}, p1: {P1[q]}, readout: {RO[q]}" + (f", idle: {IDLE[q]}" if q in IDLE else "") + "}\n"
        for q in P1
    )
    + "pairs:\n"
    + "".join(f"  - {{qubits: [{a}, {b}], p2: {p}}}\n" for (a, b), p in P2.items())
)
SPEC = (
    "experiment: floquet_ising\nseed: 1\nnoise: {{p1: 0.1, p2: 0.1, readout: 0.1, calibration: {cal}}}\n"
    "simulation: {{shots: 0, method: {method}, target_err: 0.002, max_qubits: 8}}\nlattice: {{kind: line, n: 4}}\n"
    "circuit: {{theta_h: 0.4, steps: 3, observable: Z1 Z2, region: {{enabled: false}}}}\ncost: {{enabled: false}}\n"
)


def _run(tmp_path, spec_text, *args):
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text)
    return spec, CliRunner().invoke(app, ["run", str(spec), "--json", "--no-store", "--workers", "1", *args])


def _by_hand(theta=0.4, steps=3):
    """<Z1 Z2> with every channel placed by hand from the table (not through eqvbench's noise model)."""
    from eqvbench.families.floquet_ising import floquet_circuit
    from eqvbench.circuits.lattice import build_lattice

    lat = build_lattice({"kind": "line", "n": 4})
    ideal = floquet_circuit(lat, theta, steps)
    q = lat.qubits
    noisy = cirq.Circuit()
    for moment in ideal:
        noisy.append(moment, strategy=cirq.InsertStrategy.NEW_THEN_INLINE)
        chans, busy = [], set()
        for op in moment:
            busy.update(op.qubits)
            if len(op.qubits) == 1:
                chans.append(cirq.depolarize(P1[op.qubits[0].x]).on(*op.qubits))
            else:
                a, b = sorted(x.x for x in op.qubits)
                chans.append(cirq.depolarize(P2[(a, b)], n_qubits=2).on(*op.qubits))
        chans += [cirq.depolarize(IDLE[x.x]).on(x) for x in q if x not in busy and x.x in IDLE]
        noisy.append(cirq.Moment(chans))
    rho = cirq.DensityMatrixSimulator(dtype=np.complex128).simulate(noisy, qubit_order=q).final_density_matrix
    zz = cirq.Z(q[1]) * cirq.Z(q[2])
    value = zz.expectation_from_density_matrix(rho, {x: i for i, x in enumerate(q)}).real
    # readout flips each measured bit: a weight-2 string shrinks by (1 - 2 r_1)(1 - 2 r_2)
    return value * (1 - 2 * RO[1]) * (1 - 2 * RO[2]), ideal


def test_density_matrix_with_calibrated_rates_matches_cirq(tmp_path):
    (tmp_path / "cal.yaml").write_text(TABLE)
    _, r = _run(tmp_path, SPEC.format(cal="cal.yaml", method="density_matrix"))
    assert r.exit_code == 0, r.output
    (p,) = json.loads(r.stdout)["points"]
    want, ideal = _by_hand()
    assert p["o_noisy"] == pytest.approx(want, abs=1e-10)
    # f_model: prod (1 - p) over the error locations in the light cone (readout is not volume), each
    # location's rate read from the table by hand
    from eqvbench.families import get_family
    from eqvbench.families.floquet_ising import resolve_observable
    from eqvbench.families.observable import ObservableInstance
    from eqvbench.circuits.lattice import build_lattice

    lat = build_lattice({"kind": "line", "n": 4})
    inst = ObservableInstance.of(ideal, lat.qubits, resolve_observable(lat, "Z1 Z2"), lat)
    cone = get_family("floquet_ising").light_cone(inst)
    rate = {1: lambda qs: P1[qs[0].x], 2: lambda qs: P2[tuple(sorted(x.x for x in qs))]}
    want_f = 1.0
    for m, moment in enumerate(ideal):
        busy = set()
        for op in moment:
            busy.update(op.qubits)
            if (m, tuple(op.qubits)) in cone.locations:
                want_f *= 1 - rate[len(op.qubits)](op.qubits)
        want_f *= math.prod(
            1 - IDLE[x.x] for x in lat.qubits if x not in busy and x.x in IDLE and (m, (x,)) in cone.locations
        )
    assert p["f_model"] == pytest.approx(want_f, rel=1e-12) and want_f < 0.97
    # the uniform rates (0.1) are overridden everywhere: with them the value would be far smaller
    assert abs(p["o_noisy"]) > 0.3


def test_trajectories_with_calibrated_rates_agree_with_the_density_matrix(tmp_path):
    (tmp_path / "cal.json").write_text(
        json.dumps(
            {
                "qubits": [
                    {"qubit": q, "p1": P1[q], "readout": RO[q], **({"idle": IDLE[q]} if q in IDLE else {})} for q in P1
                ],
                "pairs": [{"qubits": list(k), "p2": v} for k, v in P2.items()],
            }
        )
    )
    _, r = _run(tmp_path, SPEC.format(cal="cal.json", method="trajectories"))
    assert r.exit_code == 0, r.output
    (p,) = json.loads(r.stdout)["points"]
    want, _ = _by_hand()
    # o_noisy_err is the trajectories' standard error (shots 0): 5 of them
    assert abs(p["o_noisy"] - want) <= 5 * p["o_noisy_err"] + 1e-12


def test_f_model_and_readout_use_each_qubits_rates():
    from eqvbench.circuits.lattice import build_lattice
    from eqvbench.circuits.noise import NoiseModel
    from eqvbench.simulation.simulate import noisy_probabilities

    lat = build_lattice({"kind": "line", "n": 4})
    section = {
        "p1": 0.1,
        "p2": 0.1,
        "readout": 0.1,
        "idle": 0.0,
        "calibration": {
            "qubits": [{"qubit": q, "p1": P1[q], "readout": RO[q], "idle": IDLE.get(q)} for q in P1],
            "pairs": [{"qubits": list(k), "p2": v} for k, v in P2.items()],
        },
    }
    noise = NoiseModel.from_section(section, lat)
    q = lat.qubits
    c = cirq.Circuit([cirq.X(q[0]), cirq.H(q[3])], cirq.CZ(q[0], q[1]), cirq.CZ(q[2], q[3]))
    # by hand: moment 0 has X on q0 and H on q3, q1 idle; moment 1 two CZs; readout on all four
    want = (1 - P1[0]) * (1 - P1[3]) * (1 - IDLE[1]) * (1 - P2[(0, 1)]) * (1 - P2[(2, 3)])
    want *= math.prod(1 - RO[k] for k in RO)
    assert noise.f_model(c, q, q) == pytest.approx(want, rel=1e-12)
    # per-qubit readout flips against cirq's bit-flip channels on each qubit
    probs = noisy_probabilities(c, q, noise)
    ref = (
        cirq.DensityMatrixSimulator(dtype=np.complex128)
        .simulate(noise.to_cirq(c, q, q), qubit_order=q)
        .final_density_matrix
    )
    assert np.allclose(probs, np.real(np.diag(ref)), atol=1e-12)
    manual = cirq.Circuit(c, cirq.Moment(cirq.bit_flip(RO[k]).on(q[k]) for k in RO))
    rho = cirq.DensityMatrixSimulator(dtype=np.complex128).simulate(manual, qubit_order=q).final_density_matrix
    noiseless_gates = NoiseModel(qubit_readout={q[k]: RO[k] for k in RO})
    assert np.allclose(noisy_probabilities(c, q, noiseless_gates), np.real(np.diag(rho)), atol=1e-12)


def test_a_changed_table_is_a_different_point(tmp_path):
    from eqvbench.spec import load_spec
    from eqvbench.sweeps.store import point_key

    (tmp_path / "cal.yaml").write_text(TABLE)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(cal="cal.yaml", method="density_matrix"))
    first = load_spec(spec).points[0].values
    (tmp_path / "cal.yaml").write_text(TABLE.replace("p2: 0.02", "p2: 0.03"))
    second = load_spec(spec).points[0].values
    assert first["noise"]["calibration"]["sha256"] != second["noise"]["calibration"]["sha256"]
    assert point_key(first, "x") != point_key(second, "x")


def test_workers_rebuild_the_calibrated_spec(tmp_path):
    (tmp_path / "cal.yaml").write_text(TABLE)
    text = SPEC.format(cal="cal.yaml", method="density_matrix").replace("theta_h: 0.4", "theta_h: [0.4, 0.5]")
    _, one = _run(tmp_path, text)
    spec = tmp_path / "spec.yaml"
    two = CliRunner().invoke(app, ["run", str(spec), "--json", "--no-store", "--workers", "2"])
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    a, b = (json.loads(r.stdout)["points"] for r in (one, two))
    assert [p["o_noisy"] for p in a] == [p["o_noisy"] for p in b]


@pytest.mark.parametrize(
    "table,msg",
    [
        (TABLE.replace("p1: 0.001,", "p1: 1.5,"), "cal.yaml: qubits[1].p1: "),
        (TABLE.replace("  - {qubit: 3, p1: 0.003, readout: 0.03}\n", ""), "cal.yaml: qubits: no row for qubit 3"),
        (TABLE.replace("  - {qubits: [2, 3], p2: 0.01}\n", ""), "cal.yaml: pairs: no row for coupler [2, 3]"),
        (TABLE + "  - {qubits: [1, 0], p2: 0.01}\n", "cal.yaml: pair [0, 1] has more than one row"),
        (TABLE.replace("qubits:\n", "qubit:\n", 1), "cal.yaml: unknown key 'qubit'"),
        ("qubits: [\n  {qubit: 0\n", "cal.yaml: line "),
        (TABLE.replace("p2: 0.02", "p2: '0.02'"), "cal.yaml: pairs[0].p2: "),
        ("!!python/object/apply:os.system ['echo hacked']\n", "cal.yaml: "),
    ],
)
def test_bad_calibration_is_one_line_naming_spec_field_and_file(tmp_path, table, msg):
    (tmp_path / "cal.yaml").write_text(table)
    out = tmp_path / "out.json"
    spec, r = _run(tmp_path, SPEC.format(cal="cal.yaml", method="density_matrix"), "--out", str(out))
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert len(line.splitlines()) == 1 and line.startswith(f"error: {spec}: noise.calibration: ") and msg in line, line
    assert "hacked" not in r.output and not out.exists()
    v = CliRunner().invoke(app, ["validate", str(spec)])
    assert v.exit_code == 2 and msg in v.output


def test_missing_calibration_file(tmp_path):
    spec, r = _run(tmp_path, SPEC.format(cal="nowhere.yaml", method="density_matrix"))
    assert r.exit_code == 2 and f"{spec}: noise.calibration: nowhere.yaml: file not found" in r.output


def _rows(n: int) -> str:
    return "".join(f"  - {{qubit: {q}, p1: 0.001, readout: 0.01}}\n" for q in range(n))


def _json_table(p1_text="0.001", qubit_text="0"):
    rows = [f'{{"qubit": {qubit_text if q == 0 else q}, "p1": {p1_text if q == 0 else P1[q]}}}' for q in P1]
    return '{"qubits": [' + ", ".join(rows) + "]}"


@pytest.mark.parametrize(
    "name,make,msg",
    [
        ("cal.json", lambda p: p.write_text(_json_table(qubit_text="7" * 5000)), "an integer of thousands of digits"),
        (
            "cal.json",
            lambda p: p.write_text(_json_table(qubit_text="7" * 40)),
            "qubits[0].qubit: integer with more than 30 digits",
        ),
        ("cal.json", lambda p: p.write_text("[" * 100_000), "nested too deeply"),
        ("cal.json", lambda p: p.write_text(_json_table(p1_text="Infinity")), "Infinity is not a number"),
        ("cal.json", lambda p: p.write_text(_json_table(p1_text="NaN")), "NaN is not a number"),
        (
            "cal.yaml",
            lambda p: p.write_text(TABLE.replace("p1: 0.001,", "p1: .inf,")),
            "qubits[1].p1: must be a finite number",
        ),
        ("cal.yaml", lambda p: os.mkfifo(p), "not a regular file"),  # reading it would wait forever
        # a link to a FIFO stands for one to /dev/zero: a node reading would block on or never finish
        ("cal.json", lambda p: (os.mkfifo(p.parent / "node"), p.symlink_to(p.parent / "node")), "not a regular file"),
        ("cal.json", lambda p: p.write_text(" " * 10_000_001), "larger than 10 MB"),
        # 9 MB of rows, no aliases (issue 31): the rows are the limit, named before the parse
        ("cal.yaml", lambda p: p.write_text("qubits:\n" + _rows(210_000)), "more than 16384 rows (210001 mentions"),
        (
            "cal.json",
            lambda p: p.write_text(
                '{"qubits": [' + ",".join(f'{{"qubit": {q}, "p1": 0.001}}' for q in range(300_000)) + "]}"
            ),
            "more than 16384 rows",
        ),
        # past the row limit without naming qubits: the YAML stops composing at its value limit
        ("cal.yaml", lambda p: p.write_text("qubits:\n" + "  - {p1: 0.001, readout: 0.01}\n" * 200_000), "values"),
    ],
    ids=[
        "5000-digits",
        "40-digits",
        "nested",
        "Infinity",
        "NaN",
        "yaml-inf",
        "fifo",
        "link-to-node",
        "10MB",
        "rows-yaml",
        "rows-json",
        "values-yaml",
    ],
)
def test_hostile_calibration_file_is_one_line(tmp_path, name, make, msg):
    """Calibration files are read as the spec is: bounded regular files, finite numbers of sane
    size, bounded nesting; anything else is one line naming the spec, field and file, exit 2."""
    import subprocess
    import sys
    from pathlib import Path

    make(tmp_path / name)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(cal=name, method="density_matrix"))
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    t = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "eqvbench", "validate", str(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert time.perf_counter() - t < 20, "refused, but not at once"
    line = r.stderr.strip()
    assert r.returncode == 2 and "Traceback" not in line and len(line.splitlines()) == 1, r.stderr[-2000:]
    assert line.startswith(f"error: {spec}: noise.calibration: {name}: ") and msg in line, line
