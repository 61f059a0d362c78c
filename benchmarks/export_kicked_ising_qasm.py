"""Write the kicked Ising circuit of the 127-qubit heavy-hex experiment as OpenQASM 2.

The same circuit `experiment: floquet_ising` builds (RX(theta_h) on every qubit, then RZZ(-pi/2) on
every coupler, layer by layer, per step), written gate by gate with q[k] the IBM qubit k, so that
`experiment: circuit` can run it from the file. Prints the file's size and gate counts.

    python benchmarks/export_kicked_ising_qasm.py [--steps 5] [--theta pi/4] [--out PATH] [--compare Z62]

With --compare OBS, runs OBS through `experiment: floquet_ising` and through `experiment: circuit` on
the written file (region f fixed at 0.3, in-order contraction so that both costs are deterministic)
and prints the figures side by side.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from eqvbench.families.circuit import kicked_ising_qasm, load_circuit

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "eqvbench" / "configs" / "kicked_ising_127.qasm"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--theta", default="pi/4", help="theta_h in radians, e.g. 'pi/4'")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--compare", metavar="OBS", help="observable to run both ways, e.g. Z62")
    args = ap.parse_args()
    text = kicked_ising_qasm(args.theta, args.steps)
    args.out.write_text(text)
    loaded = load_circuit(args.out)
    ops = list(loaded.circuit.all_operations())
    n2 = sum(1 for op in ops if len(op.qubits) == 2)
    print(
        f"{args.out}: {len(text)} bytes, {loaded.n_qubits} qubits, {len(ops) - n2} one-qubit and {n2} two-qubit "
        f"gates, {len(loaded.circuit)} moments, sha256 {loaded.sha256[:16]}"
    )
    if args.compare:
        compare(args.out, args.theta, args.steps, args.compare)


def compare(path: Path, theta: str, steps: int, observable: str) -> None:
    import eqvbench

    common = {"cost": {"search_max_tensors": 1}, "simulation": {"shots": 2000}}
    region = {"f_eff": 0.3}
    builtin = {
        "experiment": "floquet_ising",
        "lattice": {"kind": "heavy_hex_127"},
        **common,
        "circuit": {"theta_h": theta, "steps": steps, "observable": observable, "region": region},
    }
    from_file = {
        "experiment": "circuit",
        **common,
        "circuit": {"file": str(path.resolve()), "observable": observable, "region": region},
    }
    a = eqvbench.run(builtin, workers=1).document["points"][0]
    b = eqvbench.run(from_file, workers=1).document["points"][0]
    print(f"{'field':18s} {'floquet_ising':>24s} {'circuit (QASM)':>24s}")
    for k in (
        "n_qubits",
        "n_gates_2q",
        "v_light",
        "f_model",
        "eps",
        "reference_value",
        "reproduced_value",
        "a_eff",
        "region_gates_2q",
        "cost_flops",
        "width_log2",
        "cost_eff_flops",
    ):
        print(f"{k:18s} {a[k]!s:>24s} {b[k]!s:>24s}")


if __name__ == "__main__":
    main()
