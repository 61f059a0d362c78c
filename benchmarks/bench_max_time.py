"""How closely `cost.max_time` bounds a cost search's wall time, on the 53-qubit Sycamore circuit.

For each number of cycles and of search processes (`cost.processes`), one
time-budgeted `eqvbench.classical.cost.contraction_cost` of a single amplitude
(ABCDCDAB, fSim, seed 2019, no memory limit), and its wall seconds:

- `search s`: the budgeted part (trials, subtree reconfiguration, forest
  rounds, starting and killing the search's processes), which `max_time`
  bounds; `over s` is what it took past the budget;
- `call s`: the whole call, which adds the structural simplification before
  the search and the in-order baseline and slicing after it (not counted in
  the budget; `cost.search_seconds` reports this figure).

The load average before and after each search is printed beside it: a
budget is wall-clock time, so a busy machine finishes fewer trials in it,
but the search should end on time all the same.

    python benchmarks/bench_max_time.py [--max-time 15] [--cycles 12,20] [--processes 1,2]
"""

from __future__ import annotations

import argparse
import math
import os
import time


def sycamore_network(cycles: int):
    from eqvbench.classical.cost import network_structure
    from eqvbench.families import get_family
    from eqvbench.circuits.lattice import build_lattice

    fam = get_family("rcs")
    lattice = build_lattice({"kind": "sycamore", "qubits": 53})
    inst = fam.build(lattice, {"cycles": cycles, "pattern": "ABCDCDAB", "gate": "syc", "instances": 1}, seed=0)
    return network_structure(fam.cost_network(inst))


def timed_search(net, budget: float, processes: int) -> tuple[float, float, object]:
    """(seconds of the budgeted search, seconds of the whole call, the CostResult)."""
    import eqvbench.classical.cost as cost

    spans: list[float] = []
    search = cost._search

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return search(*args, **kwargs)
        finally:
            spans.append(time.perf_counter() - t)

    cost._search = timed
    try:
        t = time.perf_counter()
        r = cost.contraction_cost(
            *net,
            cost.CostSettings(
                max_repeats=10**6,
                max_time=budget,
                memory_limit=None,
                seed=2019,
                cache_dir=None,
                parallel=processes if processes > 1 else None,
            ),
        )
        return spans[0], time.perf_counter() - t, r
    finally:
        cost._search = search


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-time", type=float, default=15.0, help="cost.max_time, seconds")
    ap.add_argument("--cycles", default="12,20", help="comma-separated")
    ap.add_argument("--processes", default="1,2", help="cost.processes values, comma-separated")
    args = ap.parse_args()
    print(
        f"Sycamore 53 qubits, ABCDCDAB, fSim(pi/2, pi/6); one amplitude; cost.max_time {args.max_time:g} s; "
        f"{os.cpu_count()} cores"
    )
    print(
        f"{'cycles':>6} {'processes':>9} {'search s':>9} {'over s':>7} {'call s':>7} {'log10 madds':>11} "
        f"{'load before':>11} {'load after':>10}  search"
    )
    for cycles in (int(c) for c in args.cycles.split(",")):
        net = sycamore_network(cycles)
        for processes in (int(p) for p in args.processes.split(",")):
            load = os.getloadavg()[0]
            search_s, call_s, r = timed_search(net, args.max_time, processes)
            print(
                f"{cycles:6d} {processes:9d} {search_s:9.2f} {search_s - args.max_time:+7.2f} {call_s:7.2f} "
                f"{math.log10(r.multiply_adds):11.2f} {load:11.2f} {os.getloadavg()[0]:10.2f}  "
                f"{r.budget['search']}",
                flush=True,
            )
    print(
        "search s: trials, reconfiguration and forest rounds, processes started and killed (what max_time "
        "bounds); call s adds the simplification before it and the in-order baseline and slicing after it"
    )


if __name__ == "__main__":
    main()
