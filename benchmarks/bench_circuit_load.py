"""Loading a large circuit file: eqvbench's reader against the field's readers, and the pipeline after it.

    python benchmarks/bench_circuit_load.py                 # 20k, 217k and 2.18M gates
    python benchmarks/bench_circuit_load.py --sizes 217000  # one size
    python benchmarks/bench_circuit_load.py --pipeline      # also `eqvbench run` (costed point) per size

The files are random circuits on 50 qubits (the shape of the files that were slow: 4 MB and 217k gates, 40 MB and 2.18M
gates), layers of u3/rz rotations with random angles and a random matching of cx. For each: the time
(wall, one process, best of --repeat) and the peak memory of

- eqvbench: `load_circuit` (parse, checks, the cirq circuit it hands to the pipeline; cache cleared);
- qiskit: `qiskit.qasm2.load` (Rust), when qiskit is installed (it is not a dependency of eqvbench;
  absent, the row says so). `--peer-python PATH` runs it in another interpreter that has it;
- cirq: `cirq.contrib.qasm_import.circuit_from_qasm` (the reader eqvbench used before), at sizes up to
  --cirq-max (it is quadratic in a wide moment and takes about 30 s at 217k gates);
- Cirq JSON of the same circuit: eqvbench's load against `cirq.read_json` alone, where the JSON fits
  the 50 MB limit (about 160 bytes a gate); where it does not, a CircuitOperation repeating a tenth of
  the circuit 10 times (the same number of gates; `cirq.read_json` does not unroll it, eqvbench does).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path


def make_qasm(n_gates: int, n_qubits: int = 50, seed: int = 0) -> str:
    """A random circuit of about `n_gates` gates: rotation layers and cx matchings."""
    rng = random.Random(seed)
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{n_qubits}];", f"creg c[{n_qubits}];"]
    count = 0
    while count < n_gates:
        for k in range(n_qubits):
            if rng.random() < 0.8:
                lines.append(f"rz({rng.uniform(-3.14, 3.14):.4f}) q[{k}];")
            else:
                a, b, c = (rng.uniform(-3.14, 3.14) for _ in range(3))
                lines.append(f"u3({a:.3f},{b:.3f},{c:.3f}) q[{k}];")
            count += 1
        order = list(range(n_qubits))
        rng.shuffle(order)
        for i in range(0, n_qubits - 1, 2):
            lines.append(f"cx q[{order[i]}],q[{order[i + 1]}];")
            count += 1
    lines.append("measure q -> c;")
    return "\n".join(lines) + "\n"


def timed(fn, repeat: int) -> tuple[float, float]:
    """(best wall seconds, peak MB of Python allocations in one run)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
        del out
    gc.collect()
    tracemalloc.start()
    out = fn()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    del out
    return best, peak


def eqvbench_load(path: Path):
    from eqvbench.families import circuit

    circuit._load_bytes.cache_clear()
    return circuit.load_circuit(path, max_gates=10**8)


_PEER = """
import sys, time
import qiskit.qasm2
best = float("inf")
for _ in range(int(sys.argv[2])):
    t = time.perf_counter(); qiskit.qasm2.load(sys.argv[1]); best = min(best, time.perf_counter() - t)
print(best)
"""


def qiskit_time(path: Path, repeat: int, peer_python: str | None) -> tuple[float | None, str]:
    try:
        import qiskit.qasm2

        return timed(lambda: qiskit.qasm2.load(str(path)), repeat)[0], "in process"
    except ImportError:
        pass
    if peer_python:
        out = subprocess.run([peer_python, "-c", _PEER, str(path), str(repeat)], capture_output=True, text=True)
        if out.returncode == 0:
            return float(out.stdout.strip()), f"in {peer_python}"
        return None, f"failed in {peer_python}: {out.stderr.strip().splitlines()[-1:]}"
    return None, "qiskit not installed: skipped (pip install qiskit, or --peer-python)"


def cirq_time(text: str) -> float:
    from cirq.contrib.qasm_import import circuit_from_qasm

    t = time.perf_counter()
    circuit_from_qasm(text)
    return time.perf_counter() - t


def run_pipeline(path: Path, workdir: Path) -> float:
    spec = workdir / "spec.yaml"
    spec.write_text(
        f"experiment: circuit\ncircuit: {{file: {path}, observable: Z0, max_gates: 100000000}}\n"
        "noise: {p2: 0.005}\nsimulation: {enabled: false}\n"
    )
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "eqvbench", "run", str(spec), "--no-store"], check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[20_000, 217_000, 2_180_000])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--peer-python", default=os.environ.get("EQVBENCH_PEER_PYTHON"))
    ap.add_argument("--cirq-max", type=int, default=25_000)
    ap.add_argument("--pipeline", action="store_true")
    args = ap.parse_args()
    import cirq

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in args.sizes:
            text = make_qasm(n)
            path = tmp / f"random_{n}.qasm"
            path.write_text(text)
            loaded = eqvbench_load(path)
            n_ops = sum(len(m) for m in loaded.circuit)
            t_eqv, mb = timed(lambda path=path: eqvbench_load(path), args.repeat)
            t_qiskit, how = qiskit_time(path, args.repeat, args.peer_python)
            t_cirq = cirq_time(text) if n <= args.cirq_max else None
            row = {
                "gates": n_ops,
                "qasm_MB": round(len(text) / 1e6, 2),
                "eqvbench_s": round(t_eqv, 3),
                "eqvbench_peak_MB": round(mb),
                "qiskit_s": None if t_qiskit is None else round(t_qiskit, 3),
                "ratio_to_qiskit": None if t_qiskit is None else round(t_eqv / t_qiskit, 2),
                "qiskit": how,
                "cirq_reader_s": None if t_cirq is None else round(t_cirq, 2),
            }
            js = cirq.to_json(loaded.circuit, indent=None)
            if len(js) <= 50_000_000:
                jpath = tmp / f"random_{n}.json"
                jpath.write_text(js)
                row["json_MB"] = round(len(js) / 1e6, 1)
                row["json_eqvbench_s"] = round(timed(lambda jpath=jpath: eqvbench_load(jpath), 1)[0], 3)
                row["json_cirq_read_json_s"] = round(timed(lambda js=js: cirq.read_json(json_text=js), 1)[0], 3)
            else:
                row["json"] = f"{len(js) / 1e6:.0f} MB, over the 50 MB limit"
                # the same number of gates as 10 repetitions of a tenth of the circuit
                tenth = cirq.FrozenCircuit(list(loaded.circuit.all_operations())[: n_ops // 10])
                rep = cirq.to_json(cirq.Circuit(cirq.CircuitOperation(tenth, repetitions=10)), indent=None)
                jpath = tmp / f"random_{n}_x10.json"
                jpath.write_text(rep)
                row["json_x10_MB"] = round(len(rep) / 1e6, 1)
                row["json_x10_eqvbench_s"] = round(timed(lambda jpath=jpath: eqvbench_load(jpath), 1)[0], 3)
                row["json_x10_cirq_read_json_s"] = round(timed(lambda rep=rep: cirq.read_json(json_text=rep), 1)[0], 3)
            if args.pipeline:
                row["pipeline_s"] = round(run_pipeline(path, tmp), 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
            del loaded
    print(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
