"""Belief propagation of Z_62 after 20 kicked-Ising steps on IBM's 127-qubit heavy-hex map.

For theta_h = pi/8, pi/4, 3pi/8 evolves |0...0> through the light cone of Z_62
by simple update at bond dimension chi = 4, 8, 16, ... (eqvbench.classical.belief_propagation;
--picture auto: the Schrodinger ladder, then where it does not converge the Heisenberg
one, Z_62 evolved backwards as an operator network, with what is left of the budget)
and prints per chi and picture the value, the discarded weight (Heisenberg rows: the
operator's Frobenius weight, which its error estimate does not use), CPU and wall seconds, the counted
FLOP and the achieved FLOP/s, then the converged value (target delta/2 with
delta = 1/(0.37 sqrt(10^4)) = 0.027, the ladder's error estimate, or why it stopped),
with the published converged values of Begusic, Gray & Chan (arXiv:2308.05077, column
5b of spd.csv, pepo.csv, peps.csv, mix.csv) beside them.

    python benchmarks/bench_belief_propagation.py [--angles pi/8,pi/4,3*pi/8] [--max-chi 64] [--seconds 40]
        [--picture auto|schrodinger|heisenberg]
"""

from __future__ import annotations

import argparse
import math

PUBLISHED = {  # Z_62 after 20 steps, column 5b: SPD, PEPO, PEPS, MIX
    "pi/8": (0.853406, 0.849620, 0.849808, 0.849410),
    "pi/4": (0.264530, 0.265157, 0.254809, 0.268593),
    "3*pi/8": (3.8e-05, 2.2056e-05, 1.7654e-14, 1.2499e-06),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--angles", default="pi/8,pi/4,3*pi/8")
    ap.add_argument("--max-chi", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=40.0, help="CPU-second budget of the chi ladder")
    ap.add_argument("--picture", default="auto", choices=["auto", "schrodinger", "heisenberg"])
    args = ap.parse_args()

    import cirq

    from eqvbench.classical.belief_propagation import converge, truncation_estimate
    from eqvbench.families.floquet_ising import floquet_circuit
    from eqvbench.circuits.lattice import heavy_hex_127
    from eqvbench.circuits.lightcone import backward_cone, restrict_to_cone
    from eqvbench.spec import parse_angle

    lattice = heavy_hex_127()
    delta = 1.0 / (0.37 * math.sqrt(1e4))
    rows = []
    for angle in args.angles.split(","):
        circuit = floquet_circuit(lattice, parse_angle(angle), 20)
        term = {cirq.LineQubit(62): "Z"}
        cone = backward_cone(circuit, [term])
        lad = converge(
            restrict_to_cone(circuit, cone),
            list(cone.qubits),
            [(1.0, term)],
            delta / 2,
            max_chi=args.max_chi,
            max_seconds=args.seconds,
            picture=args.picture,
        )
        print(f"theta_h = {angle}: cone {len(cone.qubits)} qubits, {cone.n_gates_2q} RZZ", flush=True)
        print(
            f"  {'picture':11} {'chi':>4} {'value':>9} {'discarded':>9} {'trunc est':>9} {'CPU s':>7} {'wall s':>7} "
            f"{'FLOP':>9} {'FLOP/s':>8} {'peak B':>8}"
        )
        for r, pic in [(r, x.picture) for x in lad.tried + [lad] for r in x.history]:
            print(
                f"  {pic:11} {r.chi:4d} {r.value:9.5f} {r.discarded:9.2e} {truncation_estimate(r.discarded):9.2e} "
                f"{r.seconds:7.2f} {r.wall_seconds:7.2f} {r.flops:9.2e} {r.flops / max(r.seconds, 1e-9):8.2e} "
                f"{r.peak_memory_bytes:8.2e}"
            )
        rows.append((angle, lad))

    print()
    print(
        f"{'theta_h':8} {'picture':11} {'status':11} {'value':>9} {'+-':>8} {'chi':>4} {'CPU s':>7} {'wall s':>7} {'FLOP':>9} "
        f"{'FLOP/s':>8}  published (SPD PEPO PEPS MIX)  reason"
    )
    for angle, lad in rows:
        pub = " ".join(f"{v:.4g}" for v in PUBLISHED.get(angle, ()))
        val = "-" if lad.value is None else f"{lad.value:9.5f}"
        err = "-" if lad.err is None else f"{lad.err:8.4f}"
        print(
            f"{angle:8} {lad.picture:11} {lad.status:11} {val:>9} {err:>8} {lad.chi or 0:4d} {lad.seconds:7.1f} {lad.wall_seconds:7.1f} "
            f"{lad.flops:9.2e} {lad.flops / max(lad.seconds, 1e-9):8.2e}  {pub:30}  {lad.reason}"
        )


if __name__ == "__main__":
    main()
