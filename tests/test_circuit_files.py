"""Circuit files as users bring them: hostile sizes (issue 31), CRLF, 3-qubit gates, OpenQASM 3, idle
qubits and moments (issue 27). Every file is either read (and checked against cirq) or refused with one
line, exit 2, nothing written, in bounded time and memory."""

import os
import subprocess
import sys
import time
from pathlib import Path

import cirq
import numpy as np
import pytest

from eqvbench.circuits.lattice import build_lattice
from eqvbench.families.circuit import FAMILY, MAX_CIRCUIT_GATES, expanded_count, load_circuit
from sweep_util import invoke

HEAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
ROOT = str(Path(__file__).resolve().parents[1])


def qasm(tmp_path, body: str, name: str = "c.qasm", head: str = HEAD) -> Path:
    f = tmp_path / name
    f.write_text(head + body)
    return f


def spec_for(tmp_path, file: str, extra: str = "") -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"experiment: circuit\nseed: 1\ncircuit: {{file: {file}{extra}}}\nnoise: {{p2: 0.01}}\n")
    return spec


def bounded_cli(*args, address_space: int = 2 << 30, timeout: float = 20.0):
    """`python -m eqvbench ARGS` under an address-space limit and a wall-clock limit."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    t = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "eqvbench", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        preexec_fn=limit,
    )
    return r, time.perf_counter() - t


# --- issue 31: count before building --------------------------------------------------------------


def doubling_definitions(depth: int) -> str:
    lines = ["qreg q[2];", "gate g0 a,b { cx a,b; }"]
    lines += [f"gate g{k} a,b {{ g{k - 1} a,b; g{k - 1} b,a; }}" for k in range(1, depth + 1)]
    return "\n".join(lines + [f"g{depth} q[0],q[1];"]) + "\n"


def nested_repetitions(depth: int, reps: int) -> str:
    q = cirq.LineQubit.range(2)
    c = cirq.FrozenCircuit(cirq.CZ(*q), cirq.X(q[0]))
    for _ in range(depth):
        c = cirq.FrozenCircuit(cirq.CircuitOperation(c, repetitions=reps))
    return cirq.to_json(cirq.Circuit(c.all_operations()))


def legacy_repetitions(reps: int) -> str:
    """cirq's older JSON form: a circuit written once in a context list, referred to by key."""
    import json

    inner = json.loads(cirq.to_json(cirq.Circuit(cirq.CZ(*cirq.LineQubit.range(2)))))
    inner["cirq_type"] = "FrozenCircuit"
    op = {
        "cirq_type": "CircuitOperation",
        "circuit": {"cirq_type": "_SerializedKey", "key": 1},
        "repetitions": reps,
        "qubit_map": [],
        "measurement_key_map": {},
        "param_resolver": {"cirq_type": "ParamResolver", "param_dict": []},
        "repetition_ids": None,
        "parent_path": [],
    }
    top = {"cirq_type": "Circuit", "moments": [{"cirq_type": "Moment", "operations": [op]}]}
    dag = [{"cirq_type": "_SerializedContext", "key": 1, "obj": inner}, top]
    return json.dumps({"cirq_type": "_ContextualSerialization", "object_dag": dag})


HOSTILE = [
    # (file name, content, words the one line must hold)
    ("defs.qasm", HEAD + doubling_definitions(40), f"at least {2**40} gates"),
    ("defs3.qasm", HEAD + doubling_definitions(4000).replace("g3999 b,a;", "g3999 a,b; g3999 b,a;"), "gates"),
    ("nested.json", nested_repetitions(6, 1000), f"expands to {2 * 1000**6} gates"),
    ("reps.json", nested_repetitions(1, 10**12), f"expands to {2 * 10**12} gates"),
    # cirq.read_json of this builds 10^9 repetition ids (out of memory): counted before it
    ("legacy.json", legacy_repetitions(10**9), f"expands to {10**9} gates"),
    (
        "wide.qasm",
        HEAD + "qreg q[200000];\n" + "".join(f"cx q[{2 * i}],q[{2 * i + 1}];\n" for i in range(100000)),
        "line 3: qreg q[200000] brings the circuit to 200000 qubits, more than 4096",
    ),
    ("broadcast.qasm", HEAD + "qreg q[4096];\n" + "h q;\n" * 2000, f"more than the limit of {MAX_CIRCUIT_GATES}"),
    ("many.qasm", HEAD + "qreg q[2];\n" + "x q[0];\n" * 4_100_000, "at least 4100000 gate statements"),
    ("registers.qasm", HEAD + "qreg a[3000];\nqreg b[3000];\ncx a[0],b[0];\n", "line 4: qreg b[3000] brings"),
    (
        "wide.json",
        cirq.to_json(cirq.Circuit(cirq.X.on_each(*cirq.LineQubit.range(5000)))),
        "5000 qubits, more than 4096",
    ),
    ("include.qasm", HEAD + 'include "mygates.inc";\nqreg q[2];\nh q[0];\n', 'line 3: include "mygates.inc": only'),
]


@pytest.mark.parametrize("name,content,words", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_files_are_refused_at_once_in_bounded_memory(tmp_path, name, content, words):
    """Definitions that multiply, nested repetitions, wide registers, broadcasts, includes: exit 2 and one
    line naming the count and the limit, within 20 s under a 2 GB address space; nothing written."""
    (tmp_path / name).write_text(content)
    spec = spec_for(tmp_path, name)
    before = set(tmp_path.iterdir())
    r, seconds = bounded_cli("validate", spec)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {spec}: circuit.file: '{name}': "), lines[:3]
    assert words in lines[0] and "Traceback" not in r.stderr and "MemoryError" not in r.stderr, lines[0]
    assert seconds < 20 and set(tmp_path.iterdir()) == before


def test_counts_are_what_unrolling_gives(tmp_path):
    """The count from the definitions is the number of gates the file reads to, for QASM definitions and
    for nested CircuitOperations (cirq's unroll as the reference)."""
    f = qasm(tmp_path, doubling_definitions(5))
    loaded = load_circuit(f)
    assert sum(len(m) for m in loaded.circuit) == 2**5
    text = nested_repetitions(3, 3)
    (tmp_path / "n.json").write_text(text)
    reference = cirq.unroll_circuit_op(cirq.read_json(json_text=text), deep=True, tags_to_check=None)
    loaded = load_circuit(tmp_path / "n.json")
    assert sum(len(m) for m in loaded.circuit) == len(list(reference.all_operations())) == 2 * 27
    assert expanded_count(cirq.read_json(json_text=text)) == 2 * 27  # the check on what cirq built
    (tmp_path / "l.json").write_text(legacy_repetitions(7))
    assert sum(len(m) for m in load_circuit(tmp_path / "l.json").circuit) == 7
    assert cirq.allclose_up_to_global_phase(cirq.unitary(loaded.circuit), cirq.unitary(reference))


def test_the_gate_limit_is_settable_in_the_spec(tmp_path):
    qasm(tmp_path, "qreg q[2];\n" + "h q[0];\ncx q[0],q[1];\n" * 10)
    r = invoke("validate", spec_for(tmp_path, "c.qasm", ", max_gates: 19"))
    assert r.exit_code == 2 and "the circuit has at least 20 gate statements" in r.output  # before the parse
    assert "more than the limit of 19 (circuit.max_gates)" in r.output
    qasm(tmp_path, "qreg q[2];\ngate g a,b { h a; cx a,b; }\n" + "g q[0],q[1];\n" * 10, "d.qasm")
    r = invoke("validate", spec_for(tmp_path, "d.qasm", ", max_gates: 19"))
    assert r.exit_code == 2 and "line 14: the circuit expands to at least 20 gates" in r.output
    assert "more than the limit of 19 (circuit.max_gates)" in r.output
    r = invoke("validate", spec_for(tmp_path, "c.qasm", ", max_gates: 20"))
    assert r.exit_code == 0, r.output
    assert sum(len(m) for m in load_circuit(tmp_path / "c.qasm", max_gates=20).circuit) == 20


# --- issue 27.1: moments as early as their qubits allow ----------------------------------------------


def test_custom_gates_are_flattened_before_placing(tmp_path):
    """`g q[0]; h q[1]; h q[1];` with g = h; x: the second h q[1] is in moment 1 (not 2), as cirq places
    the flattened gates; the moments are cirq's EARLIEST placement of the same gates in file order."""
    f = qasm(tmp_path, "qreg q[2];\ngate g a { h a; x a; }\ng q[0];\nh q[1];\nh q[1];\n")
    moments = [sorted((str(op.gate), op.qubits[0].x) for op in m) for m in load_circuit(f).circuit]
    assert moments == [[("H", 0), ("H", 1)], [("H", 1), ("X", 0)]]
    body = (
        "qreg q[4];\ngate pair(t) a,b { rz(t) a; cx a,b; h b; }\n"
        "pair(0.3) q[0],q[1];\nh q[2];\nh q[3];\ncx q[2],q[3];\npair(0.1) q[1],q[2];\nx q[0];\nh q[3];\n"
    )
    loaded = load_circuit(qasm(tmp_path, body, "b.qasm"))
    flat = list(loaded.circuit.all_operations())
    assert loaded.circuit == cirq.Circuit(flat, strategy=cirq.InsertStrategy.EARLIEST)
    assert len(loaded.circuit) == 6  # block placement (the old reader) gave 7


# --- issue 27.4: CRLF ----------------------------------------------------------------------------------


def test_windows_line_endings_read_as_unix_ones(tmp_path):
    body = "qreg q[3];\ncreg c[3];\nh q[0]; // a comment\ncx q[0],q[1];\nrz(pi/4) q[2];\nmeasure q -> c;\n"
    unix = load_circuit(qasm(tmp_path, body, "unix.qasm"))
    windows = load_circuit(qasm(tmp_path, body.replace("\n", "\r\n"), "win.qasm", HEAD.replace("\n", "\r\n")))
    assert windows.circuit == unix.circuit and windows.labels == unix.labels and len(unix.circuit) == 2
    r = invoke("validate", spec_for(tmp_path, "win.qasm"))
    assert r.exit_code == 0, r.output
    bad = qasm(tmp_path, "qreg q[2];\r\nh q[0];\r\nfoo q[1];\r\n", "bad.qasm", HEAD.replace("\n", "\r\n"))
    with pytest.raises(ValueError, match=r'^line 5: Unknown gate "foo"$'):
        load_circuit(bad)


# --- issue 27.5: gates on three qubits ---------------------------------------------------------------


@pytest.mark.parametrize("gate,reference", [("ccx", cirq.CCX), ("cswap", cirq.CSWAP), ("c3x", cirq.X.controlled(3))])
def test_three_qubit_gates_are_decomposed_exactly(tmp_path, gate, reference):
    n = cirq.num_qubits(reference)
    args = ",".join(f"q[{k}]" for k in range(n))
    loaded = load_circuit(qasm(tmp_path, f"qreg q[{n}];\n{gate} {args};\n"))
    assert all(len(op.qubits) <= 2 for op in loaded.circuit.all_operations())
    u = cirq.unitary(loaded.circuit)
    assert cirq.allclose_up_to_global_phase(u, cirq.unitary(reference), atol=1e-10)


def test_a_toffoli_circuit_runs(tmp_path):
    qasm(tmp_path, "qreg q[3];\nx q[0];\nx q[1];\nccx q[0],q[1],q[2];\n")
    spec = spec_for(tmp_path, "c.qasm", ", observable: Z2")
    lat = build_lattice({"kind": "circuit", "file": str(tmp_path / "c.qasm")})
    inst = FAMILY.build(lat, {"file": str(tmp_path / "c.qasm"), "observable": "Z2"}, 0)
    psi = cirq.final_state_vector(inst.circuit, qubit_order=cirq.LineQubit.range(3))
    assert abs(psi[0b111]) == pytest.approx(1.0)  # Toffoli flipped the target
    assert invoke("validate", spec).exit_code == 0


# --- issue 27.6: OpenQASM 3, idle qubits ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name,content,words",
    [
        (
            "v3.qasm",
            'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\n',
            "line 1: OpenQASM 3 is not read yet",
        ),
        ("mixed.qasm", HEAD + "qubit[2] q;\nh q[0];\n", "line 3: OpenQASM 3 is not read yet"),
        ("c.qasm3", "OPENQASM 3.0;\nqubit[2] q;\nh q[0];\n", "OpenQASM 3 (.qasm3) is not read yet"),
        ("nohead.qasm", "qreg q[2];\nh q[0];\n", "line 1: the file does not start with 'OPENQASM 2.0;'"),
    ],
)
def test_openqasm3_is_refused_by_name(tmp_path, name, content, words):
    (tmp_path / name).write_text(content)
    r = invoke("validate", spec_for(tmp_path, name))
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and words in lines[0], r.output


def test_idle_declared_qubits_are_left_out(tmp_path):
    """A 6-qubit register of which gates touch q[1], q[2], q[4]: the circuit has those 3 qubits (keeping
    their numbers), XEB measures 3, an observable on an idle qubit is one line."""
    f = qasm(tmp_path, "qreg q[6];\ncreg c[6];\nh q[1];\ncx q[1],q[2];\nx q[4];\nmeasure q -> c;\n")
    loaded = load_circuit(f)
    assert [q.x for q in loaded.qubits] == [1, 2, 4] and loaded.n_qubits == 3 and len(loaded.labels) == 6
    lat = build_lattice({"kind": "circuit", "file": str(f)})
    assert [q.x for q in lat.qubits] == [1, 2, 4]
    inst = FAMILY.build(lat, {"file": str(f), "observable": None}, 0)
    assert [q.x for q in inst.measured] == [1, 2, 4]
    r = invoke("validate", spec_for(tmp_path, "c.qasm", ", observable: Z3"))
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and "circuit.observable: qubit 3 (q[3]) of 'Z3' is idle" in lines[0]
    r = invoke("validate", spec_for(tmp_path, "c.qasm", ", observable: Z9"))
    assert r.exit_code == 2 and "qubit 9 of 'Z9' is not in the circuit, which has 6 qubits" in r.output
    assert invoke("validate", spec_for(tmp_path, "c.qasm", ", observable: Z2 Z4")).exit_code == 0
    mz = FAMILY.build(lat, {"file": str(f), "observable": "M_z"}, 0)
    assert len(mz.paulis) == 3


def test_a_large_legal_file_reads_to_the_same_gates_as_cirqs_reader(tmp_path):
    """Random rotations and cx on 20 qubits: the same operations as cirq's OpenQASM reader gives (its
    EARLIEST placement, angles bit for bit), and the same unitary on a small case."""
    from cirq.contrib.qasm_import import circuit_from_qasm

    rng = np.random.default_rng(3)
    lines = ["qreg q[20];"]
    for _ in range(300):
        a, b = rng.choice(20, 2, replace=False)
        lines.append(f"u3({rng.uniform(-3, 3):.5f},{rng.uniform(-3, 3):.5f},0.25) q[{a}];")
        lines.append(f"rz({rng.uniform(-3, 3)!r}) q[{b}];" if rng.random() < 0.5 else f"cx q[{a}],q[{b}];")
    text = HEAD + "\n".join(lines) + "\n"
    ours = load_circuit(qasm(tmp_path, text, head="")).circuit
    theirs = circuit_from_qasm(text).transform_qubits(lambda q: cirq.LineQubit(int(q.name.split("_")[1])))
    assert ours == cirq.Circuit(theirs.all_operations(), strategy=cirq.InsertStrategy.EARLIEST)


def test_a_long_load_reports_its_progress(tmp_path, monkeypatch):
    """A file of a few MB reports the fraction read as it goes (the CLI shows it on a terminal), then 1.0."""
    from eqvbench.families import circuit

    seen = []
    monkeypatch.setattr(circuit, "load_progress", lambda name, f: seen.append((name, f)))
    f = qasm(tmp_path, "qreg q[20];\n" + "".join(f"rz({k * 1e-6:.6f}) q[{k % 20}];\n" for k in range(140_000)))
    assert f.stat().st_size > 2_000_000
    load_circuit(f)
    fractions = [x for name, x in seen if name == "c.qasm"]
    assert len(fractions) >= 3 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert 0 < fractions[0] < 1


@pytest.mark.parametrize(
    "body",
    [
        "a" * 2_000_000,
        "rx(" + "1" * 2_000_000 + "x) q[0];",
        "u3(" + "1," * 500_000 + ") q[0];",
        "cx " + "q[0]," * 400_000,
    ],
    ids=["long-name", "long-number", "many-params", "many-args"],
)
def test_a_long_malformed_statement_is_refused_in_one_pass(tmp_path, body):
    """Megabytes that are not a statement: refused in well under a second (the statement patterns never
    backtrack; a long name without ';' took time quadratic in its length)."""
    f = qasm(tmp_path, "qreg q[2];\n" + body)
    load_circuit(qasm(tmp_path, "qreg q[1];\nh q[0];\n", "warm.qasm"))  # cirq imported
    t = time.perf_counter()
    with pytest.raises(ValueError, match="^line 4: "):
        load_circuit(f)
    assert time.perf_counter() - t < 2


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5", "true"])
def test_a_bad_gate_limit_is_one_line_naming_the_field(tmp_path, value):
    qasm(tmp_path, "qreg q[2];\nh q[0];\ncx q[0],q[1];\n")
    r = invoke("validate", spec_for(tmp_path, "c.qasm", f", max_gates: {value}"))
    assert r.exit_code == 2, r.output
    assert "circuit.max_gates" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1, r.output
