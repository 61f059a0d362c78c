"""Noisy-simulation benchmark: eqvbench's engine beside cirq's density-matrix simulator and qsimcirq.

Same RCS instance for every tool (grid, fSim(pi/2, pi/6), ABCDCDAB; n qubits
x n cycles; depolarizing p1 = 0.1 %, p2 = 0.5 % after every gate, as in
eqvbench's noise model and its `NoiseModel.to_cirq` channels). Every tool runs
in its own subprocess, so that peak memory (max RSS of the process, imports
included) is its own; times exclude imports and JIT warm-up.

- cirq-dm: cirq.DensityMatrixSimulator, exact (skipped where it would take
  over 10 minutes: it grows ~33x per 2 qubits, 250 s at 12 qubits).
- eqv-dm: eqvbench's exact density matrix (up to 12 qubits).
- eqv-traj: eqvbench's Pauli trajectories, sampling until the XEB's standard
  error is below the target.
- qsim-2000: qsimcirq's noisy sampling, 2000 repetitions, 2 threads, XEB
  from the sampled bitstrings.

Ratios: "x cirq" = cirq-dm time / eqv-traj time; "x qsim @ equal error" =
qsim time scaled to eqv-traj's standard error (time ~ 1/error^2) / eqv-traj time.

Usage: python benchmarks/bench_engine.py [--sizes 10,12,16,20]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

GRIDS = {6: (2, 3), 8: (2, 4), 10: (2, 5), 12: (3, 4), 14: (2, 7), 16: (4, 4), 18: (3, 6), 20: (4, 5)}
TARGET = {10: 0.003, 12: 0.003, 14: 0.005, 16: 0.005, 18: 0.01, 20: 0.01}
CIRQ_DM_MAX = 12  # 14 qubits would take ~8000 s
EQV_DM_MAX = 12


def instance(n: int):
    from eqvbench.families.rcs import FAMILY
    from eqvbench.circuits.lattice import build_lattice
    from eqvbench.circuits.noise import NoiseModel

    rows, cols = GRIDS[n]
    lat = build_lattice({"kind": "grid", "rows": rows, "cols": cols})
    inst = FAMILY.build(lat, {"cycles": n, "pattern": "ABCDCDAB", "gate": "syc", "instances": 1}, 1234)
    return inst, NoiseModel(p1=0.001, p2=0.005)


def worker(method: str, n: int) -> dict:
    import numpy as np

    from eqvbench.simulation.fidelity import xeb_exact, xeb_of_circuit, xeb_sampled
    from eqvbench.simulation.simulate import SimSettings, state_vector

    inst, noise = instance(n)
    c, qs = inst.circuit, inst.qubits
    out: dict = {"method": method, "n": n}
    if method == "cirq-dm":
        import cirq

        noisy = noise.to_cirq(c, qs)
        p_ideal = np.abs(state_vector(c, qs)) ** 2
        t = time.perf_counter()
        rho = cirq.DensityMatrixSimulator(dtype=np.complex64).simulate(noisy, qubit_order=qs).final_density_matrix
        out["seconds"] = time.perf_counter() - t
        out["f"] = xeb_exact(p_ideal, np.real(np.diag(rho)).astype(float))
        out["err"] = 0.0
    elif method in ("eqv-dm", "eqv-traj"):
        from eqvbench.simulation import kernels

        kernels.warm_up()
        sim = SimSettings("density_matrix" if method == "eqv-dm" else "trajectories", TARGET[n], 200_000)
        t = time.perf_counter()
        r = xeb_of_circuit(c, qs, noise, sim, 0, np.random.default_rng(7))
        out["seconds"] = time.perf_counter() - t
        out["f"], out["err"] = r.exact.value, r.exact.stderr or 0.0
        out["trajectories"] = r.n_trajectories
    elif method == "qsim-2000":
        import cirq
        import qsimcirq

        noisy = noise.to_cirq(c, qs) + cirq.measure(*qs, key="m")
        p_ideal = np.abs(state_vector(c, qs)) ** 2
        simulator = qsimcirq.QSimSimulator(qsimcirq.QSimOptions(cpu_threads=2), seed=7)
        simulator.run(noisy, repetitions=2)  # warm-up
        t = time.perf_counter()
        res = simulator.run(noisy, repetitions=2000)
        out["seconds"] = time.perf_counter() - t
        bits = res.measurements["m"].astype(np.int64)
        est = xeb_sampled(p_ideal, bits @ (1 << np.arange(n - 1, -1, -1)))
        out["f"], out["err"] = est.value, est.stderr
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_worker(method: str, n: int, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, str(n)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"method": method, "n": n, "skipped": f"over {timeout:.0f} s"}
    if p.returncode != 0:
        return {"method": method, "n": n, "skipped": "failed: " + (p.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def have_qsim() -> bool:
    import importlib.util

    return importlib.util.find_spec("qsimcirq") is not None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,12,16,20", help="qubits (= cycles), comma-separated")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]))))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    print(
        f"{'size':>7} {'tool':>10} {'seconds':>9} {'peak MB':>8} {'F_eff':>8} {'+-':>7} {'|F-exact|':>9}  notes",
        flush=True,
    )
    for n in sizes:
        results = {}
        for method in ("cirq-dm", "eqv-dm", "eqv-traj", "qsim-2000"):
            if method == "cirq-dm" and n > CIRQ_DM_MAX:
                results[method] = {"skipped": "would take over 10 min (~33x per 2 qubits from 250 s at 12)"}
            elif method == "eqv-dm" and n > EQV_DM_MAX:
                results[method] = {"skipped": "density matrix too large for this benchmark"}
            elif method == "qsim-2000" and not have_qsim():
                results[method] = {"skipped": "qsimcirq not installed (pip install 'eqvbench[qsim]')"}
            else:
                results[method] = run_worker(method, n, timeout=600)
        exact = next((results[m]["f"] for m in ("cirq-dm", "eqv-dm") if "f" in results[m]), None)
        traj = results["eqv-traj"]
        for method, r in results.items():
            if "skipped" in r:
                print(
                    f"{n:>3}x{n:<3} {method:>10} {'-':>9} {'-':>8} {'-':>8} {'-':>7} {'-':>9}  skipped: {r['skipped']}"
                )
                continue
            dev = f"{abs(r['f'] - exact):.4f}" if exact is not None else "-"
            note = f"{r['trajectories']} trajectories" if r.get("trajectories") else ""
            print(
                f"{n:>3}x{n:<3} {method:>10} {r['seconds']:>9.2f} {r['peak_rss_mb']:>8.0f} {r['f']:>8.4f} "
                f"{r['err']:>7.4f} {dev:>9}  {note}",
                flush=True,
            )
        ratios = []
        if "seconds" in traj and "seconds" in results["cirq-dm"]:
            ratios.append(f"eqv-traj is {results['cirq-dm']['seconds'] / traj['seconds']:.0f}x faster than cirq-dm")
        if "seconds" in traj and "seconds" in results["eqv-dm"]:
            ratios.append(f"{results['eqv-dm']['seconds'] / traj['seconds']:.0f}x faster than eqv-dm")
        q = results["qsim-2000"]
        if "seconds" in traj and "seconds" in q and traj["err"] > 0:
            equal = q["seconds"] * (q["err"] / traj["err"]) ** 2
            ratios.append(
                f"{equal / traj['seconds']:.0f}x faster than qsim-2000 at equal error "
                f"(qsim would need {equal:.1f} s for +-{traj['err']:.4f})"
            )
        if ratios:
            print(f"{'':>7} ratios: " + "; ".join(ratios), flush=True)
        rows.append(results)


if __name__ == "__main__":
    main()
