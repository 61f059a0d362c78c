"""Certificates and verdicts of Z_62 on the 127-qubit kicked-Ising experiment against published data.

Runs eqvbench's whole pipeline (no simulation; f = 0.37 and 10^4 shots give delta = 0.027; the
device's run is 10^4 shots x 1 ms) for Z_62 after 9 steps at every published angle
theta_h = k pi/32, k = 0..16, and after 20 steps at k = 4, 6, 7, 8, 10, 12, with the default
budgets, and prints per point the reproduced value, its stated error, its certificate, the
verdict, the method it rests on and each method's evidence.

After 9 steps the exact values are published (Begusic, Gray & Chan, arXiv:2308.05077, data
repository tbegusic/arxiv-2308.05077-data, MIT licence, exact.csv column 5a, copied into
tests/data/begusic_gray_chan_exact.csv): the script counts the certified values and the wrong
ones (a certified value farther from the exact one than its stated error). After 20 steps no
exact value exists; the four published converged methods (SPD, PEPO, PEPS, MIX: the same
repository's spd.csv, pepo.csv, peps.csv, mix.csv, column 5b) are printed beside it.

    python benchmarks/bench_verdict_z62.py [--steps 9,20] [--k 4,6]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

EXACT_CSV = Path(__file__).resolve().parent.parent / "tests" / "data" / "begusic_gray_chan_exact.csv"
K_20 = (4, 6, 7, 8, 10, 12)
# Z_62 after 20 steps (column 5b): SPD, PEPO, PEPS, MIX at theta_h = k pi/32
PUBLISHED_20 = {
    4: (0.853414, 0.849620, 0.849807, 0.849413),
    6: (0.712703, 0.686219, 0.679709, 0.680877),
    7: (0.537281, 0.518020, 0.509124, 0.511046),
    8: (0.264530, 0.265163, 0.254814, 0.268587),
    10: (0.017310, 0.017258, 0.000591, 0.016264),
    12: (3.8e-05, 2.2056e-05, 1.7654e-14, 1.2499e-06),
}


def exact_9_steps() -> dict[int, float]:
    with EXACT_CSV.open() as fh:
        return {k: float(row["5a"]) for k, row in enumerate(csv.DictReader(fh))}


def run(k: int, steps: int):
    from eqvbench.pipeline import plan, run_point
    from eqvbench.spec import parse_spec

    spec = parse_spec(
        {
            "experiment": "floquet_ising",
            "lattice": {"kind": "heavy_hex_127"},
            "circuit": {"theta_h": f"{k}*pi/32", "steps": steps, "observable": "Z62", "region": {"f_eff": 0.37}},
            "noise": {"p1": 0.001, "p2": 0.01, "readout": 0.01},
            "simulation": {"shots": 10000, "simulate": "never"},
            "cost": {"max_repeats": 8, "memory_limit": None},
            "device": {"shots": 10000, "repetition_s": 0.001},
            "report": {"machine": "frontier"},
        },
        "bench_verdict_z62",
    )
    return run_point(spec, plan(spec)[0], {})


def g(x, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="9,20")
    ap.add_argument("--k", default=None, help="angles k of theta_h = k pi/32 (default: all published)")
    args = ap.parse_args()
    exact = exact_9_steps()
    certified = wrong = 0
    for steps in (int(s) for s in args.steps.split(",")):
        ks = [int(k) for k in args.k.split(",")] if args.k else (sorted(exact) if steps == 9 else K_20)
        print(f"\nZ_62 after {steps} steps (delta 0.027; device 1e4 shots x 1 ms = 10 s; machine frontier)")
        for k in ks:
            t = time.perf_counter()
            res = run(k, steps)
            f = res.fields
            v, err = f.get("reproduced_value"), f.get("reproduced_err")
            ref = exact.get(k) if steps == 9 else None
            line = f"k={k:2d}  {g(v, '+.6f')} +- {g(err, '.2g')}  certificate {f.get('reproduced_certificate')}"
            if ref is not None:
                line += f"  exact {ref:+.6f}"
                if v is not None:
                    certified += 1
                    off = abs(v - ref)
                    bad = off > err + 1e-12
                    wrong += bad
                    line += f"  off {off:.2g}" + ("  WRONG" if bad else "")
            else:
                line += "  published " + " ".join(f"{p:.4g}" for p in PUBLISHED_20.get(k, ()))
            print(line)
            print(f"      verdict {f.get('verdict')} by {f.get('verdict_method')}; {f.get('verdict_note')}")
            for e in f.get("verdict_evidence", []):
                if e["status"] == "not_applicable":
                    continue
                secs = e.get("seconds")
                print(
                    f"      {e['method']:18} {e['status']:13} value {g(e.get('value'), '+.5f')} err "
                    f"{g(e.get('err'), '.2g')} seconds {g(secs, '.3g')} ({e.get('basis')}) "
                    f"{'' if e.get('why') is None else e['why'][:110]}"
                )
            print(f"      {time.perf_counter() - t:.1f} s")
    if certified or wrong:
        n9 = len(exact) if "9" in args.steps.split(",") and not args.k else None
        print(
            f"\nafter 9 steps: {certified} certified" + (f" of {n9}" if n9 else "") + f", {wrong} outside their error"
        )


if __name__ == "__main__":
    main()
