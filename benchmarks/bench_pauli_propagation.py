"""Pauli-propagation benchmark: eqvbench's engine beside exact values and IBM's `pauli-prop`.

1. Small circuit, exact: a 3x4 grid, 5 kicked-Ising steps, <Z> with no
   truncation against cirq's state vector (value and seconds).
2. 127-qubit heavy hex, 5 steps: W_10 and M_z against the exact values of
   Begušić, Gray & Chan (arXiv:2308.05077; data repository
   tbegusic/arxiv-2308.05077-data, exact.csv).
3. Z_62 after 20 steps of the 127-qubit kicked-Ising circuit at theta_h =
   pi/8, pi/4, 3pi/8: a table over a ladder of coefficient cut-offs (no
   weight cut-off, and weight cut-off 8 as in NVIDIA's cuPauliProp sample):
   value, change from the previous cut-off (the ladder's error estimate),
   seconds, peak strings, dropped weight, beside the converged values
   published in the same repository (column 5b of spd.csv, pepo.csv,
   peps.csv, mix.csv). Coefficient truncation approaches the converged value
   slowly and not monotonically here (the value passes it and keeps
   drifting: pi/4 reads 0.28, 0.25, 0.21, 0.18 at 1e-3 ... 3e-5); a gate-by-
   gate merge-then-truncate propagation and pauli-prop drift alike.
4. If `pauli-prop` (IBM, Apache-2.0, Rust core; needs qiskit) is installed:
   the same Z_62 runs through `propagate_through_circuit` with the same
   coefficient cut-off (its `atol`; it has no weight cut-off), value, seconds
   and the time ratio. The two engines truncate differently (pauli-prop moves
   the Clifford RZZ(-pi/2) layers to the end first, so its rotations are
   multi-qubit Pauli rotations), so equal cut-offs give close, not equal,
   values; both approach the converged value as the cut-off shrinks.

Seconds exclude imports and numba's compilation (one warm-up run first).
Runs in about 4-5 minutes on 2 cores.

Usage: python benchmarks/bench_pauli_propagation.py [--skip-pauli-prop]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from eqvbench.classical import pauli_propagation as pp
from eqvbench.families.floquet_ising import floquet_circuit, resolve_observable
from eqvbench.circuits.lattice import build_lattice, heavy_hex_127

# tbegusic/arxiv-2308.05077-data, exact.csv (columns 4a = M_z, 4b = W_10 after 5 steps)
EXACT_5 = {(4, "M_z"): 0.9048427074671951, (15, "W_10"): 0.9303109905832745, (4, "W_10"): -0.007714801813112025}
# tbegusic/arxiv-2308.05077-data, column 5b (<Z_62> after 20 steps) of spd.csv, pepo.csv, peps.csv, mix.csv
PUBLISHED_Z62_20 = {
    4: {"SPD": 0.853414, "PEPO": 0.849620, "PEPS": 0.849807, "MIX": 0.849413},
    8: {"SPD": 0.26453, "PEPO": 0.265163, "PEPS": 0.254814, "MIX": 0.268587},
    12: {"SPD": 3.8e-05, "PEPO": 2.2e-05, "PEPS": 1.8e-14, "MIX": 1.2e-06},
}
# (cut-off, weight cut-off) per angle, coarse to fine; each stops where one run would exceed ~60 s on 2 cores
LADDER = {
    4: [(c, None) for c in (1e-3, 3e-4, 1e-4, 3e-5, 1e-5)] + [(c, 8) for c in (1e-3, 3e-4, 1e-4, 3e-5)],
    8: [(c, None) for c in (1e-3, 3e-4, 1e-4)] + [(c, 8) for c in (1e-3, 3e-4, 1e-4, 3e-5)],
    12: [(c, None) for c in (1e-3, 3e-4, 1e-4)] + [(c, 8) for c in (1e-3, 3e-4, 1e-4)],
}


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
    print(
        f"[1] grid 3x4, 5 steps, theta_h 0.55, <Z_{q.row},{q.col}>: cirq {ref:.12f} ({t_sv:.2f} s), "
        f"Pauli propagation exact {r.value:.12f} ({r.seconds:.2f} s, {r.peak_strings} strings), "
        f"|diff| {abs(r.value - ref):.1e}"
    )


def five_steps() -> None:
    lat = heavy_hex_127()
    for (k, name), ref in EXACT_5.items():
        cut = 1e-5 if k == 4 and name == "W_10" else 1e-7
        r = pp.propagate(floquet_circuit(lat, k * math.pi / 32, 5), lat.qubits, resolve_observable(lat, name), cut)
        print(
            f"[2] 127q 5 steps theta_h {k}pi/32 {name}: {r.value:+.9f} exact {ref:+.9f} |diff| "
            f"{abs(r.value - ref):.1e} (cut-off {cut:g}, {r.peak_strings} strings, {r.seconds:.2f} s)"
        )


def z62_eqvbench(lat, k: int) -> dict:
    prog = pp.compile_circuit(floquet_circuit(lat, k * math.pi / 32, 20), lat.qubits)
    pub = PUBLISHED_Z62_20[k]
    print(
        f"[3] Z_62 after 20 steps, theta_h {k}pi/32; published: " + ", ".join(f"{m} {v:+.6f}" for m, v in pub.items())
    )
    print(
        f"[3]   {'cut-off':>8} {'weight':>6} {'value':>9} {'err':>8} {'seconds':>8} {'strings':>9} "
        f"{'dropped':>8} {'-PEPO':>8}"
    )
    out = {}
    prev = {}
    for cut, mw in LADDER[k]:
        r = pp.propagate(prog, None, {lat.qubits[62]: "Z"}, cut, max_weight=mw, max_strings=20_000_000)
        out[(cut, mw)] = r
        err = abs(r.value - prev[mw]) if mw in prev else math.nan
        prev[mw] = r.value
        print(
            f"[3]   {cut:>8g} {mw or '-':>6} {r.value:+9.6f} {err:8.4f} {r.seconds:8.2f} {r.peak_strings:9d} "
            f"{r.truncated_weight:8.3g} {r.value - pub['PEPO']:+8.4f}"
        )
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
            print(
                f"[4] Z_62 20 steps theta_h {k}pi/32 cut-off 1e-3, no weight cut-off: pauli-prop {v:+.6f} "
                f"({n} terms at the end; {prep:.2f} s moving Cliffords and converting the circuit, "
                f"{prop:.2f} s propagating) vs eqvbench {r.value:+.6f} ({r.peak_strings} strings peak, "
                f"{r.seconds:.2f} s in all): time ratio {(prep + prop) / r.seconds:.0f}x in all, "
                f"{prop / r.seconds:.1f}x propagation alone"
            )


if __name__ == "__main__":
    main()
