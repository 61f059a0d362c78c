"""Contraction cost of the 70-qubit, 24-cycle RCS row of configs/paper.yaml against its published figure.

Runs that row of the config as `eqvbench run` does (same spec, seed and cost
settings, through `eqvbench.run`; no store, no tree cache) and prints eqvbench's
single-amplitude cost (FLOP = 8 x multiply-adds, unsliced as the config asks),
the published figure the config lists beside it, their ratio, the search's
seconds and its budget; then two reference figures of the same network: the
in-order state-vector sweep (the cost engine's baseline) and the legs of its
balanced cuts in time (the qubits) and in space (2 per fSim gate across the
middle of the grid: its operator Schmidt rank is 4). Options override the config's cost budget, e.g. a
time-budgeted search: `--max-time 300 --processes 2 --max-repeats 100000` (a
time-budgeted search spends its last two thirds on forest subtree reconfiguration
of the best tree); `--cycles N` costs the same layout at another depth (the
published figure is for the config's depth, so no ratio is printed);
`--cotengra S` also runs cotengra alone on the same network, as a user would
(`full_simplify`, then `HyperOptimizer(methods=['kahypar', 'greedy'],
max_time=S, parallel=True)`), and prints its cost beside eqvbench's.

The layout is the config's stand-in, a 7x10 grid of the device's couplers
(docs/costs.md says why, and which published figure is used). Target: within
10x of the published figure.

    python benchmarks/bench_rcs70_cost.py [--config configs/paper.yaml] [--max-time S]
        [--processes N] [--max-repeats N] [--seed N] [--methods kahypar,greedy]
        [--cycles N] [--cotengra S]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def rcs70_spec(config: Path) -> dict:
    """The config's 70-qubit RCS case as a one-case spec dict (top-level sections under the case's)."""
    doc = yaml.safe_load(config.read_text())
    cases = [
        c
        for c in doc["cases"]
        if c.get("experiment", doc["experiment"]) == "rcs"
        and c["lattice"].get("kind") == "grid"
        and c["lattice"]["rows"] * c["lattice"]["cols"] == 70
    ]
    if len(cases) != 1:
        raise SystemExit(f"{config}: cases: expected one 70-qubit RCS grid case, found {len(cases)}")
    spec = {k: v for k, v in doc.items() if k not in ("cases", "report", "description")}
    for k, v in cases[0].items():
        spec[k] = {**spec.get(k, {}), **v} if isinstance(v, dict) and isinstance(spec.get(k), dict) else v
    spec["cost"] = {**spec.get("cost", {}), "cache": False}
    return spec


def network_references(spec: dict) -> tuple[float, int, dict[str, int]]:
    """(multiply-adds of the in-order sweep, legs of the time cut, legs of the space cuts through the
    middle of the grid) of the row's amplitude network. Gate values do not change these."""
    from eqvbench.circuits.lattice import build_lattice
    from eqvbench.classical.cost import _linear_tree, network_structure
    from eqvbench.families import get_family

    fam = get_family("rcs")
    lat = build_lattice(spec["lattice"])
    inst = fam.build(lat, {**spec["circuit"], "instances": 1}, seed=spec["seed"])
    inputs, output, sizes = network_structure(fam.cost_network(inst))
    sweep = float(_linear_tree(inputs, output, sizes).contraction_cost())
    rows, cols = spec["lattice"]["rows"], spec["lattice"]["cols"]
    gates = [op.qubits for op in inst.circuit.all_operations() if len(op.qubits) == 2]
    space = {
        f"cols <{cols // 2} | >={cols // 2}": 2 * sum((a.col < cols // 2) != (b.col < cols // 2) for a, b in gates),
        f"rows <{rows // 2} | >={rows // 2}": 2 * sum((a.row < rows // 2) != (b.row < rows // 2) for a, b in gates),
    }
    return sweep, len(inst.qubits), space


def cotengra_alone(spec: dict, seconds: float) -> tuple[float, int]:
    """(log10 multiply-adds, trials) of cotengra's hyper-optimiser alone on the row's network after
    quimb's `full_simplify`, all cores, `seconds` of search."""
    import cotengra as ctg

    from eqvbench.circuits.lattice import build_lattice
    from eqvbench.families import get_family

    fam = get_family("rcs")
    inst = fam.build(build_lattice(spec["lattice"]), {**spec["circuit"], "instances": 1}, seed=spec["seed"])
    tn = fam.cost_network(inst).full_simplify(output_inds=(), equalize_norms=True)
    opt = ctg.HyperOptimizer(
        methods=["kahypar", "greedy"],
        max_time=seconds,
        max_repeats=10**6,
        parallel=True,
        progbar=False,
        minimize="flops",
    )
    tree = opt.search([tuple(t.inds) for t in tn], (), dict(tn.ind_sizes()))
    return math.log10(tree.contraction_cost()), len(opt.scores)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "paper.yaml")
    ap.add_argument("--max-time", type=float, help="cost.max_time, seconds (default: the config's)")
    ap.add_argument("--processes", type=int, help="cost.processes (default: the config's)")
    ap.add_argument("--max-repeats", type=int, help="cost.max_repeats (default: the config's)")
    ap.add_argument("--seed", type=int, help="the spec's seed (default: the config's)")
    ap.add_argument("--methods", help="cost.methods, comma-separated, e.g. kahypar (default: the config's)")
    ap.add_argument("--cycles", type=int, help="circuit.cycles (default: the config's; no ratio when changed)")
    ap.add_argument("--cotengra", type=float, metavar="S", help="also run cotengra alone for S seconds")
    args = ap.parse_args()

    import eqvbench

    spec = rcs70_spec(args.config)
    for key, val in (("max_time", args.max_time), ("processes", args.processes), ("max_repeats", args.max_repeats)):
        if val is not None:
            spec["cost"][key] = val
    if args.seed is not None:
        spec["seed"] = args.seed
    if args.methods:
        spec["cost"]["methods"] = args.methods.split(",")
    depth_changed = args.cycles is not None and args.cycles != spec["circuit"]["cycles"]
    if depth_changed:
        spec["circuit"]["cycles"] = args.cycles
    lat, circ = spec["lattice"], spec["circuit"]
    print(
        f"RCS {lat['rows']}x{lat['cols']} grid ({lat['rows'] * lat['cols']} qubits), {circ['cycles']} cycles, "
        f"{circ['pattern']}, {circ['gate']}; one amplitude; {os.cpu_count()} cores; "
        f"load {os.getloadavg()[0]:.1f} before"
    )
    t = time.perf_counter()
    point = eqvbench.run(spec, workers=1).points[0]
    wall = time.perf_counter() - t
    cost = point["cost"]
    published = point["published_cost_flops"]
    ratio = point.cost_flops / published if published else math.nan
    print(
        f"eqvbench cost       {point.cost_flops:.3e} FLOP (10^{math.log10(cost['multiply_adds']):.2f} multiply-adds), "
        f"width 2^{point.width_log2:.0f} (unsliced)"
    )
    if depth_changed:
        print(f"published           none at {args.cycles} cycles (the config's figure is for its own depth)")
    else:
        print(f"published           {published:.3e} FLOP ({spec['published']['source']})")
        print(f"ratio               {ratio:.2f}x (target: at most 10x) -> {'met' if ratio <= 10 else 'missed'}")
    print(
        f"search              {cost['search_seconds']:.1f} s (point {wall:.1f} s), load {os.getloadavg()[0]:.1f} after"
    )
    print(f"budget              {cost['budget']}, seed {spec['seed']}")
    sweep, time_cut, space_cuts = network_references(spec)
    print(
        f"in-order sweep      10^{math.log10(sweep):.2f} multiply-adds "
        f"(the search's tree: {sweep / cost['multiply_adds']:.1f}x below it)"
    )
    print(
        f"balanced cuts       time: {time_cut} legs; space: "
        + ", ".join(f"{k} {v} legs" for k, v in space_cuts.items())
    )
    if args.cotengra:
        load = os.getloadavg()[0]
        t = time.perf_counter()
        ctg_madds, trials = cotengra_alone(spec, args.cotengra)
        print(
            f"cotengra alone      10^{ctg_madds:.2f} multiply-adds, {trials} trials in "
            f"{time.perf_counter() - t:.0f} s, all {os.cpu_count()} cores (load {load:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after); eqvbench / cotengra: "
            f"{10 ** (math.log10(cost['multiply_adds']) - ctg_madds):.2f}x"
        )


if __name__ == "__main__":
    main()
