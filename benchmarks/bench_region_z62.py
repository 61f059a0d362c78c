"""Certified effective region of Z_62 after 20 kicked-Ising steps on the 127-qubit heavy-hex map.

For theta_h = pi/8, pi/4, 3pi/8 (f = 0.37, 10^4 shots, so delta = 0.027) runs eqvbench's
pipeline (region search with its certificate, then the region's contraction cost) and prints
the reproduced value with its uncertainty, the method, A_eff, cost_eff, the measured seconds,
the achieved rate cost_eff / seconds, and the published converged values of Begusic, Gray &
Chan (arXiv:2308.05077, data repository tbegusic/arxiv-2308.05077-data, column 5b of spd.csv,
pepo.csv, peps.csv, mix.csv) beside them.

The region's reference is belief propagation (its chi ladder within --bp-seconds CPU seconds,
the state's and, where that does not converge, the observable's: bp_picture 'auto'),
else Pauli propagation (within --pauli-seconds); Pauli propagation also runs as a method of its
own within min(--pauli-seconds, 20) where belief propagation was the reference.

    python benchmarks/bench_region_z62.py [--angles pi/8,pi/4,3*pi/8] [--pauli-seconds 120] [--bp-seconds 40]
"""

from __future__ import annotations

import argparse
import time

# Z_62 after 20 steps, column 5b: SPD, PEPO, PEPS, MIX (Begusic, Gray & Chan 2024 data files)
PUBLISHED = {
    "pi/8": (0.853406, 0.849620, 0.849808, 0.849410),
    "pi/4": (0.264530, 0.265157, 0.254809, 0.268593),
    "3*pi/8": (3.8e-05, 2.2056e-05, 1.7654e-14, 1.2499e-06),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--angles", default="pi/8,pi/4,3*pi/8")
    ap.add_argument("--pauli-seconds", type=float, default=120.0)
    ap.add_argument("--bp-seconds", type=float, default=40.0)
    args = ap.parse_args()

    from eqvbench.pipeline import plan, run_point
    from eqvbench.spec import parse_spec

    rows = []
    for angle in args.angles.split(","):
        spec = parse_spec(
            {
                "experiment": "floquet_ising",
                "lattice": {"kind": "heavy_hex_127"},
                "circuit": {
                    "theta_h": angle,
                    "steps": 20,
                    "observable": "Z62",
                    "region": {
                        "f_eff": 0.37,
                        "pauli_max_seconds": args.pauli_seconds,
                        "bp_max_seconds": args.bp_seconds,
                    },
                },
                "noise": {"p1": 0.001, "p2": 0.01, "readout": 0.01},
                "simulation": {"shots": 10000, "simulate": "never"},
                "cost": {"max_repeats": 8, "memory_limit": None},
            },
            "bench_region_z62",
        )
        t = time.perf_counter()
        res = run_point(spec, plan(spec)[0], {})
        wall = time.perf_counter() - t
        f = res.fields
        rate = (
            f["cost_eff_flops"] / f["reproduced_seconds"]
            if f.get("cost_eff_flops") and f.get("reproduced_seconds")
            else None
        )
        rows.append((angle, f, wall, rate))
        print(
            f"theta_h = {angle}: {wall:.1f} s for the point (region {res.timings.get('region', 0):.1f} s)", flush=True
        )
        for note in res.notes:
            print("  note:", note)
        for m in res.methods:
            if m.method in ("pauli_propagation", "belief_propagation"):
                val = "-" if m.value is None else f"{m.value:.5f} +- {m.err:.4f}"
                print(
                    f"  method {m.method}: {m.status} {val}, {m.seconds or 0:.1f} s, {m.flops or 0:.3g} FLOP"
                    + (
                        f", chi {m.detail.get('chi')}, {m.detail.get('picture')} picture"
                        if m.method == "belief_propagation"
                        else ""
                    )
                )
        for h in f.get("region_history", []):
            print(
                f"  ball r={h['radius']:2d} {h['qubits']:3d} qubits {h['gates_2q']:5d} 2q  value {h['value']:+.5f}"
                f"  {h['method']}  {h['seconds']:.2f} s"
            )

    def g(x, fmt):
        width = int(fmt.split(".")[0].rstrip("desf") or 0)
        return f"{'-':>{width}}" if x is None else format(x, fmt)

    print()
    print(
        f"{'theta_h':8} {'value':>9} {'+-':>8} {'A_eff':>5} {'cost_eff':>9} {'repro s':>8} {'FLOP/s':>8} "
        f"{'reference':>10} {'+-':>8} {'ref s':>7} {'point s':>8}  published (SPD PEPO PEPS MIX)  method"
    )
    for angle, f, wall, rate in rows:
        pub = " ".join(f"{v:.4g}" for v in PUBLISHED.get(angle, ()))
        print(
            f"{angle:8} {g(f.get('reproduced_value'), '9.4f')} {g(f.get('reproduced_err'), '8.4f')} "
            f"{g(f.get('a_eff'), '5d')} {g(f.get('cost_eff_flops'), '9.2e')} {g(f.get('reproduced_seconds'), '8.2f')} "
            f"{g(rate, '8.1e')} {g(f.get('reference_value'), '10.4f')} {g(f.get('reference_err'), '8.4f')} "
            f"{g(f.get('reference_seconds'), '7.1f')} {wall:8.1f}  {pub:30}  {f.get('reproduced_method')}"
        )


if __name__ == "__main__":
    main()
