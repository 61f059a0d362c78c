"""Pauli-propagation benchmark: eqvbench's engine beside exact values and IBM's `pauli-prop`.

1. Small circuit, exact: a 3x4 grid, 5 kicked-Ising steps, <Z> with no
   truncation against cirq's state vector (value and seconds).
2. 127-qubit heavy hex, 5 steps: W_10 and M_z against the exact values of
   Begušić, Gray & Chan (arXiv:2308.05077; data repository
   tbegusic/arxiv-2308.05077-data, exact.csv).
3. Z_62 after 20 steps of the 127-qubit kicked-Ising circuit at theta_h =
   pi/8, pi/4, 3pi/8 for a ladder of coefficient cut-offs (weight cut-off 8,
   as in NVIDIA's cuPauliProp sample, and none), beside the sparse-Pauli-
   dynamics values published in the same repository (spd.csv, column 5b).
4. If `pauli-prop` (IBM, Apache-2.0, Rust core; needs qiskit) is installed:
   the same Z_62 runs through `propagate_through_circuit` with the same
   coefficient cut-off (its `atol`; it has no weight cut-off), value, seconds
   and the time ratio. The two engines truncate differently (pauli-prop moves
   the Clifford RZZ(-pi/2) layers to the end first, so its rotations are
   multi-qubit Pauli rotations), so equal cut-offs give close, not equal,
   values; both approach the converged value as the cut-off shrinks.

Seconds exclude imports and numba's compilation (one warm-up run first).
Runs in about 2-3 minutes on 2 cores.

Usage: python benchmarks/bench_pauli_propagation.py [--skip-pauli-prop]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from eqvbench import pauli_propagation as pp
from eqvbench.families.floquet_ising import floquet_circuit, resolve_observable
from eqvbench.lattice import build_lattice, heavy_hex_127

# tbegusic/arxiv-2308.05077-data, exact.csv (columns 4a = M_z, 4b = W_10 after 5 steps)
EXACT_5 = {(4, "M_z"): 0.9048427074671951, (15, "W_10"): 0.9303109905832745, (4, "W_10"): -0.007714801813112025}
# tbegusic/arxiv-2308.05077-data, spd.csv, column 5b: <Z_62> after 20 steps by sparse Pauli dynamics
SPD_Z62_20 = {4: 0.853414, 8: 0.26453, 12: 3.8e-05}
LADDER = [(1e-3, None), (1e-3, 8), (3e-4, 8), (1e-4, 8)]


def mib(b: float) -> str:
    return f"{b / 2**20:.1f} MiB"


def small_exact() -> None:
    import cirq

    lat = build_lattice({"kind": "grid", "rows": 3, "cols": 4})
    c = floquet_circuit(lat, 0.55, 5)
    q = lat.qubits[5]
    t = time.perf_counter()
    psi = cirq.Simulator(dtype=np.complex128).simulate(c, qubit_order=lat.qubits).final_state_vector
    ref = cirq.Z(q).expectation_from_state_vector(psi, {p: i for i, p in enumerate(lat.qubits)}).real
    t_sv = time.perf_counter() - t
    r = pp.propagate(c, lat.qubits, {q: "Z"}, coefficient_cutoff=0.0)
    print(f"[1] grid 3x4, 5 steps, theta_h 0.55, <Z_{q.row},{q.col}>: cirq {ref:.12f} ({t_sv:.2f} s), "
          f"Pauli propagation exact {r.value:.12f} ({r.seconds:.2f} s, {r.peak_strings} strings), "
          f"|diff| {abs(r.value - ref):.1e}")


def five_steps() -> None:
    lat = heavy_hex_127()
    for (k, name), ref in EXACT_5.items():
        cut = 1e-5 if k == 4 and name == "W_10" else 1e-7
        r = pp.propagate(floquet_circuit(lat, k * math.pi / 32, 5), lat.qubits, resolve_observable(lat, name), cut)
        print(f"[2] 127q 5 steps theta_h {k}pi/32 {name}: {r.value:+.9f} exact {ref:+.9f} |diff| "
              f"{abs(r.value - ref):.1e} (cut-off {cut:g}, {r.peak_strings} strings, {r.seconds:.2f} s)")


def z62_eqvbench(lat, k: int) -> dict:
    prog = pp.compile_circuit(floquet_circuit(lat, k * math.pi / 32, 20), lat.qubits)
    out = {}
    for cut, mw in LADDER:
        r = pp.propagate(prog, None, {lat.qubits[62]: "Z"}, cut, max_weight=mw, max_strings=20_000_000)
        out[(cut, mw)] = r
        print(f"[3] Z_62 20 steps theta_h {k}pi/32 cut-off {cut:g} weight<={mw or '-'}: {r.value:+.6f} "
              f"(SPD {SPD_Z62_20[k]:+.6f}) peak {r.peak_strings} strings, {mib(r.peak_memory_bytes)}, "
              f"{r.string_gate_ops:.3g} string-gate ops = {r.flops:.3g} FLOP-eq, {r.seconds:.2f} s")
    return out


def z62_pauli_prop(lat, k: int, atol: float, max_terms: int) -> tuple[float, int, float, float]:
    """(value, terms at the end, seconds preprocessing, seconds propagating), the steps of pauli-prop's
    `propagate_through_circuit` (Heisenberg frame) timed one by one."""
    from pauli_prop import (
        circuit_to_rotation_gates,
        evolve_through_cliffords,
        propagate_through_rotation_gates,
    )
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp

    qc = QuantumCircuit(lat.n_qubits)
    for _ in range(20):
        for i in range(lat.n_qubits):
            qc.rx(k * math.pi / 32, i)
        for layer in lat.layers:  # qiskit's RZZ(t) = exp(-i t/2 ZZ): RZZ(-pi/2) as in eqvbench
            for a, b in layer:
                qc.rzz(-math.pi / 2, a.x, b.x)
    op = SparsePauliOp.from_sparse_list([("Z", [62], 1.0)], num_qubits=lat.n_qubits)
    t = time.perf_counter()
    clifford, rest = evolve_through_cliffords(qc)
    rot = circuit_to_rotation_gates(rest)
    t_prep = time.perf_counter() - t
    t = time.perf_counter()
    out, _ = propagate_through_rotation_gates(op, rot, max_terms, atol, "h")
    out = SparsePauliOp(out.paulis.evolve(clifford, frame="h"), out.coeffs.copy(), ignore_pauli_phase=False)
    t_prop = time.perf_counter() - t
    value = float(np.real(out.coeffs[~np.any(out.paulis.x, axis=1)].sum()))
    return value, len(out), t_prep, t_prop


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-pauli-prop", action="store_true")
    args = ap.parse_args()
    lat = heavy_hex_127()
    pp.propagate(floquet_circuit(lat, 0.3, 1), lat.qubits, {lat.qubits[62]: "Z"})  # numba warm-up
    small_exact()
    five_steps()
    have_ibm = False
    if not args.skip_pauli_prop:
        try:
            import pauli_prop  # noqa: F401

            have_ibm = True
        except ImportError:
            print("[4] pauli-prop is not installed (pip install pauli-prop): skipped")
    for k in (4, 8, 12):
        ours = z62_eqvbench(lat, k)
        if have_ibm:
            r = ours[(1e-3, None)]
            v, n, prep, prop = z62_pauli_prop(lat, k, 1e-3, 2**20)
            print(f"[4] Z_62 20 steps theta_h {k}pi/32 cut-off 1e-3, no weight cut-off: pauli-prop {v:+.6f} "
                  f"({n} terms at the end; {prep:.2f} s moving Cliffords and converting the circuit, "
                  f"{prop:.2f} s propagating) vs eqvbench {r.value:+.6f} ({r.peak_strings} strings peak, "
                  f"{r.seconds:.2f} s in all): time ratio {(prep + prop) / r.seconds:.0f}x in all, "
                  f"{prop / r.seconds:.1f}x propagation alone")


if __name__ == "__main__":
    main()
