"""Rough time and memory estimates for `eqvbench validate` (order of magnitude only)."""

from __future__ import annotations

from dataclasses import dataclass

# Seconds per density-matrix element per instruction on one core of a 2020s
# laptop, measured on the engine in eqvbench.simulate (about 3 ns).
DM_SECONDS_PER_ELEMENT_OP = 3e-9
# One hyper-optimisation trial (kahypar or greedy, then scoring) takes about
# 1 ms per circuit operation (measured: 1.5 s for Sycamore 53 x 20, 1543 ops).
COST_SECONDS_PER_OP_PER_TRIAL = 1e-3


@dataclass(frozen=True)
class Estimate:
    sim_seconds: float
    cost_seconds: float
    memory_bytes: int

    @property
    def seconds(self) -> float:
        return self.sim_seconds + self.cost_seconds


def estimate_point(pp, instance, n_instances: int) -> Estimate:
    """Estimate one point from its plan and one built instance."""
    n = pp.n_qubits
    values = pp.point.values
    sim_s, mem = 0.0, 0
    if pp.simulate:
        n_ops = sum(1 for _ in instance.circuit.all_operations())
        n_instr = 2 * n_ops  # each gate is followed by its noise channel
        sim_s = n_instances * n_instr * 4**n * DM_SECONDS_PER_ELEMENT_OP
        mem = 3 * 16 * 4**n  # rho plus two temporaries, complex128
    cost = values["cost"]
    cost_s = 0.0
    if cost["enabled"]:
        n_ops = sum(1 for _ in instance.circuit.all_operations())
        cost_s = cost["max_repeats"] * COST_SECONDS_PER_OP_PER_TRIAL * n_ops
        if cost["max_time"] is not None:
            cost_s = min(cost_s, cost["max_time"])
    return Estimate(sim_s, cost_s, mem)
