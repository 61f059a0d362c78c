"""The classical cost of the published RCS experiments' sampling tasks: per sample and batched.

Costs the device's task, `shots` bitstrings at the published XEB fidelity f, for
the Sycamore 53-qubit 20-cycle circuit (configs/sycamore53.yaml: its lattice,
circuit, seed and 8 PB memory limit) and the 70-qubit 24-cycle row of
configs/paper.yaml (its 7x10 stand-in grid, seed, unlimited memory), with
eqvbench.classical.sampling.sampling_task_cost and a small search budget
(`--max-repeats` trials per search; several searches per case: one amplitude,
one per batched k, the full state where it fits, and one more per way whose
tree needs more paths). Prints one amplitude's cost, each way's task FLOP and
its time on Frontier (1.1e18 FLOP/s), the chosen way, and the published claim
beside it. No tree cache: every search runs. docs/sampling.md explains every
factor.

    nice -n 5 python benchmarks/bench_sampling_task.py [--max-repeats N] [--k 4,8] [--case sycamore|rcs70]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
YEAR_S = 365.25 * 86400
FRONTIER = 1.1e18

# case: (shots, f, the published claim for the same task)
CASES = {
    "sycamore": (1_000_000, 2.2e-3, "10,000 years on Summit (Arute et al. 2019); spoofed since"),
    "rcs70": (1_000_000, 1.7e-3, "about 47 years on Frontier (Morvan et al. 2023)"),
}


def case_point(name: str) -> tuple[dict, dict, int, int | None]:
    """(lattice section, circuit section, seed, memory limit in bytes) of a case, read from its config."""
    from eqvbench.spec import parse_bytes

    if name == "sycamore":
        doc = yaml.safe_load((ROOT / "configs" / "sycamore53.yaml").read_text())
        mem = doc.get("cost", {}).get("memory_limit")
        return doc["lattice"], doc["circuit"], doc["seed"], None if mem is None else parse_bytes(mem)
    doc = yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text())
    rows = [
        c
        for c in doc["cases"]
        if c.get("experiment", doc["experiment"]) == "rcs"
        and c["lattice"].get("kind") == "grid"
        and c["lattice"]["rows"] * c["lattice"]["cols"] == 70
    ]
    if len(rows) != 1:
        raise SystemExit(f"configs/paper.yaml: cases: expected one 70-qubit RCS grid case, found {len(rows)}")
    row = rows[0]
    mem = {**doc.get("cost", {}), **row.get("cost", {})}.get("memory_limit")
    return row["lattice"], row["circuit"], doc["seed"], None if mem is None else parse_bytes(mem)


def fmt_s(seconds: float) -> str:
    return f"{seconds / YEAR_S:.3g} y" if seconds > YEAR_S else f"{seconds:.3g} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-repeats", type=int, default=4, help="trials per cost search (default 4)")
    ap.add_argument("--k", default="4,8", help="open qubits the batched way tries (default 4,8)")
    ap.add_argument("--case", choices=sorted(CASES), action="append", help="default: both")
    args = ap.parse_args()

    from eqvbench.circuits.lattice import build_lattice
    from eqvbench.classical.cost import CostSettings
    from eqvbench.classical.sampling import sampling_task_cost
    from eqvbench.families import get_family

    ks = tuple(int(k) for k in args.k.split(","))
    fam = get_family("rcs")
    print(
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.max_repeats} trials per search; "
        f"batched k tried: {ks} and the full state where it fits; Frontier {FRONTIER:.2g} FLOP/s"
    )
    rows = []
    for name in args.case or sorted(CASES, reverse=True):
        shots, f, claim = CASES[name]
        lattice, circuit, seed, mem = case_point(name)
        inst = fam.build(build_lattice(lattice), {**circuit, "instances": 1}, seed=seed)
        settings = CostSettings(max_repeats=args.max_repeats, memory_limit=mem, seed=seed)
        t = time.perf_counter()
        task = sampling_task_cost(
            inst.circuit, inst.qubits, shots, f, settings, FRONTIER, k_values=ks, max_k_searches=len(ks)
        )
        wall = time.perf_counter() - t
        print(
            f"\n{name}: {len(inst.qubits)} qubits, {circuit['cycles']} cycles, {shots:.0e} shots at f = {f:g}, "
            f"memory limit {mem if mem is None else f'{mem:.2g} B'}; {task.searches} searches in {wall:.0f} s"
        )
        for s in task.scan:
            if "skipped" in s:
                print(f"  k = {s['k']:2d}: skipped ({s['skipped']})")
            else:
                print(
                    f"  k = {s['k']:2d}: one contraction {s['cost_flops']:.3e} FLOP, width 2^{s['width_log2']:.0f}, "
                    f"{s['n_slices']} slices; x = {s['sampler_xeb']:.4f}"
                )
        for way in (task.per_sample, task.batched):
            if way is None:
                continue
            print(
                f"  {way.method:10s} k = {way.batch_qubits:2d}: {way.contractions:.4g} contractions x "
                f"phi {way.path_fraction:.4g} x {way.contraction_flops:.3e} FLOP ({way.paths} paths) "
                f"= {way.task_flops:.3e} FLOP = {fmt_s(way.task_seconds)} on Frontier"
                + (f"  [{'; '.join(way.notes)}]" if way.notes else "")
            )
        rows.append((name, task, claim))
        print(
            f"  task: {task.task_method} (k = {task.task_batch_qubits}), {task.task_flops:.3e} FLOP, "
            f"{fmt_s(task.task_seconds)} on Frontier; published: {claim}"
        )
    print("\ncase      task FLOP   Frontier     way         k  per-sample FLOP  batched FLOP  published")
    for name, task, claim in rows:
        ps = f"{task.per_sample.task_flops:.3e}" if task.per_sample else "-"
        bt = f"{task.batched.task_flops:.3e}" if task.batched else "-"
        print(
            f"{name:9s} {task.task_flops:.3e}  {fmt_s(task.task_seconds):11s}  {task.task_method:10s} "
            f"{task.task_batch_qubits:2d}  {ps:15s}  {bt:12s}  {claim}"
        )
    if not math.isfinite(sum(t.task_flops for _, t, _ in rows)):
        raise SystemExit("a task cost is not finite")


if __name__ == "__main__":
    main()
