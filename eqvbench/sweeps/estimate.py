"""Rough time and memory estimates for `eqvbench validate` (order of magnitude only)."""

from __future__ import annotations

from dataclasses import dataclass

# Seconds per density-matrix element per instruction on one core of a 2020s
# laptop, measured on the engine in eqvbench.simulation.simulate (about 3 ns).
DM_SECONDS_PER_ELEMENT_OP = 3e-9
# One hyper-optimisation trial (kahypar or greedy, then scoring) takes about
# 1 ms per circuit operation (measured: 1.5 s for Sycamore 53 x 20, 1543 ops).
COST_SECONDS_PER_OP_PER_TRIAL = 1e-3
# One fused 4x4 update per amplitude in the numba trajectory kernel (2.1 ms per 2^20 amplitudes).
TRAJ_SECONDS_PER_AMPLITUDE_UPDATE = 2e-9


@dataclass(frozen=True)
class Estimate:
    sim_seconds: float
    cost_seconds: float
    memory_bytes: int

    @property
    def seconds(self) -> float:
        return self.sim_seconds + self.cost_seconds


def simulation_memory(pp) -> tuple[int, str]:
    """(bytes, what they hold) of a point's simulation: 0 when it is not simulated."""
    if not pp.simulate:
        return 0, ""
    from eqvbench.simulation.simulate import resolve_method
    from eqvbench.simulation.trajectories import batch_rows

    n = pp.n_qubits
    sim = pp.point.values["simulation"]
    if resolve_method(sim["method"], n) == "density_matrix":
        return 3 * 16 * 4**n, f"a {n}-qubit density matrix and two temporaries"  # complex128
    rows = sim["batch"] or batch_rows(n)
    # batch, |psi|^2 temporaries, fused matrices
    return 2 * 16 * rows * 2**n + 2**27, f"a batch of {rows} {n}-qubit state vectors"


def physical_memory() -> int | None:
    """This machine's memory in bytes, or None where the OS does not say."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _read_limit(path: str) -> int | None:
    """A cgroup memory limit file's value in bytes ('max', absent or unreadable: None)."""
    try:
        with open(path) as f:
            text = f.read(64).strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def memory_limit(proc_cgroup: str = "/proc/self/cgroup", cgroup_root: str = "/sys/fs/cgroup") -> tuple[int, str] | None:
    """(bytes, what sets them) that this process may use: the least of the machine's memory, the
    memory limit of its cgroup and every parent cgroup (v2 memory.max, v1 memory.limit_in_bytes: what
    a container or a batch scheduler such as Slurm enforces) and its address-space ulimit."""
    import os

    found: list[tuple[int, str]] = []
    phys = physical_memory()
    if phys:
        found.append((phys, "this machine's"))
    try:
        with open(proc_cgroup) as f:
            lines = f.read(65536).splitlines()
    except OSError:
        lines = []
    for line in lines:
        hid, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hid == "0" and controllers == "":
            base, name = cgroup_root, "memory.max"
        elif "memory" in controllers.split(","):
            base, name = os.path.join(cgroup_root, "memory"), "memory.limit_in_bytes"
        else:
            continue
        parts = [p for p in path.split("/") if p and p not in (".", "..")]
        for k in range(len(parts), -1, -1):
            limit = _read_limit(os.path.join(base, *parts[:k], name))
            if limit:
                found.append((limit, "the cgroup memory limit of"))
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY and soft > 0:
            found.append((soft, "the address-space ulimit (ulimit -v) of"))
    except (ImportError, ValueError, OSError, AttributeError):
        pass
    return min(found, key=lambda x: x[0]) if found else None


def check_memory(spec, plans, workers: int = 1, available: int | None = None) -> int:
    """Refuse a point whose simulation cannot fit in this machine's memory (SpecError, with the
    estimate), before anything runs; returns how many of `workers` fit side by side (at least 1)."""
    from eqvbench.errors import SpecError

    limit = memory_limit() if available is None else (available, "this machine's")
    if not limit:
        return workers
    available, whose = limit
    peak = 0
    for i, pp in enumerate(plans):
        mem, what = simulation_memory(pp)
        if mem > available:
            params = ", ".join(f"{k}={v}" for k, v in pp.point.params.items())
            other = "or use method: trajectories" if "density matrix" in what else "or a smaller simulation.batch"
            raise SpecError(
                spec.file,
                "simulation",
                f"point {i + 1}{f' ({params})' if params else ''} needs about {fmt_bytes(mem)} to simulate "
                f"({what}), more than {whose} {fmt_bytes(available)}: lower simulation.max_qubits "
                f"(bigger points are then costed from the model) {other}",
            )
        peak = max(peak, mem)
    return max(1, min(workers, available // peak)) if peak else workers


def fmt_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def estimate_point(pp, instance, n_instances: int) -> Estimate:
    """Estimate one point from its plan and one built instance."""
    n = pp.n_qubits
    values = pp.point.values
    sim_s, mem = 0.0, 0
    if pp.simulate:
        from eqvbench.simulation.simulate import resolve_method

        sim = values["simulation"]
        n_ops = sum(1 for _ in instance.circuit.all_operations())
        if resolve_method(sim["method"], n) == "density_matrix":
            n_instr = 2 * n_ops  # each gate is followed by its noise channel
            sim_s = n_instances * n_instr * 4**n * DM_SECONDS_PER_ELEMENT_OP
        else:
            # about (0.5 / target)^2 trajectories, each one 4x4 update per two-qubit gate
            n2 = sum(1 for op in instance.circuit.all_operations() if len(op.qubits) == 2)
            n_traj = min(sim["max_trajectories"], max(32, int((0.5 / sim["target_err"]) ** 2)))
            sim_s = n_instances * n_traj * (n2 + n) * 2**n * TRAJ_SECONDS_PER_AMPLITUDE_UPDATE
        mem = simulation_memory(pp)[0]
    cost = values["cost"]
    cost_s = 0.0
    if cost["enabled"]:
        n_ops = sum(1 for _ in instance.circuit.all_operations())
        cost_s = cost["max_repeats"] * COST_SECONDS_PER_OP_PER_TRIAL * n_ops
        if cost["max_time"] is not None:
            cost_s = min(cost_s, cost["max_time"])
    return Estimate(sim_s, cost_s, mem)
