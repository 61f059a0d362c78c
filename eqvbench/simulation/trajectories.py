"""Pauli-trajectory noisy simulation, batched, with the error-free branch taken exactly.

A depolarizing channel of rate p is a mixture: nothing with probability 1-p,
a uniformly random non-identity Pauli with probability p. So any quantity L
linear in the output state (an XEB overlap, an observable) is

    L(rho) = w0 L(psi_0) + (1 - w0) E[ L(psi_E) | at least one error ],

with w0 = prod(1 - p) over all error locations and psi_0 the ideal state.
The first term is computed once, exactly; only trajectories with at least
one error are sampled (first error drawn from its exact distribution, later
ones independently), so the statistical error scales with (1 - w0).

Each trajectory is simulated exactly as a state vector. Single-qubit gates
and Pauli errors are fused into the next two-qubit gate on their qubits, so
every trajectory costs one 4x4 update per two-qubit gate. A batch of
trajectories advances together (per-row matrices, numba kernels); within a
batch, rows are sorted by the block where their first error lands and start
there from a copy of the ideal state, skipping their error-free prefix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cirq
import numpy as np

from eqvbench import interrupts
from eqvbench.circuits.noise import NoiseModel
from eqvbench.circuits.instructions import Instruction, compile_circuit

PAULIS = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=np.complex128)


@dataclass(frozen=True)
class Program:
    """A circuit flattened into gates and error locations, with per-location rates."""

    n_qubits: int
    items: tuple[Instruction, ...]  # unitaries (matrix set) and error locations (p set)
    error_index: tuple[int, ...]  # item index of each error location
    rates: np.ndarray  # rate of each error location

    @property
    def w0(self) -> float:
        """Probability that no gate or idle error happens."""
        return float(np.exp(np.sum(np.log1p(-self.rates)))) if self.rates.size else 1.0


def compile_program(circuit: cirq.Circuit, qubits: Sequence[cirq.Qid], noise: NoiseModel) -> Program:
    """The circuit as unitaries and error locations (see :func:`eqvbench.simulation.simulate.compile_circuit`)."""
    items = compile_circuit(circuit, qubits, noise)
    if any(len(it.targets) > 2 for it in items):
        raise ValueError("trajectories support 1- and 2-qubit gates only")
    err_idx = tuple(i for i, it in enumerate(items) if it.matrix is None)
    rates = np.array([items[i].p for i in err_idx], dtype=float)
    return Program(len(qubits), tuple(items), err_idx, rates)


def sample_errors(program: Program, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw n error patterns conditioned on at least one error.

    Returns `hit` (n, L) bool and `pauli` (n, L) int: for a 1-qubit location
    1..3 (X, Y, Z), for a 2-qubit location 1..15 (4 * P_a + P_b).
    """
    p = program.rates
    L = p.size
    # P(first error at l) = p_l prod_{j<l} (1 - p_j), normalised over l
    log_surv = np.concatenate([[0.0], np.cumsum(np.log1p(-p))])
    first_w = p * np.exp(log_surv[:-1])
    cdf = np.cumsum(first_w)
    first = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right").clip(0, L - 1)
    hit = rng.random((n, L)) < p
    cols = np.arange(L)
    hit &= cols[None, :] > first[:, None]
    hit[np.arange(n), first] = True
    n_qubits = np.array([len(program.items[i].targets) for i in program.error_index])
    top = np.where(n_qubits == 1, 3, 15)
    pauli = 1 + (rng.random((n, L)) * top[None, :]).astype(np.int64)
    return hit, pauli


@dataclass
class _Blocks:
    """Fused program for a batch: per block, the qubits and per-row matrices."""

    qubits: list[tuple[int, ...]]
    ideal: list[np.ndarray]  # (d, d)
    rows: list[np.ndarray]  # (B, d, d)
    first_block: np.ndarray  # (B,) block index where each row first differs from ideal


def fuse(program: Program, hit: np.ndarray, pauli: np.ndarray) -> _Blocks:
    """Fuse 1q gates and Pauli errors into the next 2q gate on their qubits, row by row."""
    B = hit.shape[0]
    n = program.n_qubits
    eye = np.eye(2, dtype=np.complex128)
    pend = [np.broadcast_to(eye, (B, 2, 2)).copy() for _ in range(n)]
    pend_ideal = [eye.copy() for _ in range(n)]
    dirty = np.zeros((n, B), dtype=bool)
    first_block = np.full(B, np.iinfo(np.int64).max, dtype=np.int64)
    blocks = _Blocks([], [], [], first_block)
    err_pos = {item: k for k, item in enumerate(program.error_index)}

    def emit(qs, ideal, rows):
        j = len(blocks.qubits)
        d = np.zeros(B, dtype=bool)
        for q in qs:
            d |= dirty[q]
            dirty[q] = False
        first_block[d & (first_block > j)] = j
        blocks.qubits.append(qs)
        blocks.ideal.append(ideal)
        blocks.rows.append(rows)

    for i, it in enumerate(program.items):
        qs = it.targets
        if it.matrix is not None and len(qs) == 1:
            q = qs[0]
            pend[q] = it.matrix @ pend[q]
            pend_ideal[q] = it.matrix @ pend_ideal[q]
        elif it.matrix is not None:
            a, b = qs
            ideal = it.matrix @ np.kron(pend_ideal[a], pend_ideal[b])
            rows = it.matrix[None] @ np.einsum("rij,rkl->rikjl", pend[a], pend[b]).reshape(B, 4, 4)
            emit(qs, ideal, rows)
            pend[a] = np.broadcast_to(eye, (B, 2, 2)).copy()
            pend[b] = np.broadcast_to(eye, (B, 2, 2)).copy()
            pend_ideal[a] = eye.copy()
            pend_ideal[b] = eye.copy()
        else:
            k = err_pos[i]
            r = np.nonzero(hit[:, k])[0]
            if r.size == 0:
                continue
            code = pauli[r, k]
            if len(qs) == 1:
                q = qs[0]
                pend[q][r] = PAULIS[code] @ pend[q][r]
                dirty[q, r] = True
            else:
                a, b = qs
                pend[a][r] = PAULIS[code // 4] @ pend[a][r]
                pend[b][r] = PAULIS[code % 4] @ pend[b][r]
                dirty[a, r] = True
                dirty[b, r] = True
    for q in range(n):  # trailing single-qubit gates and errors
        if not np.allclose(pend_ideal[q], eye) or dirty[q].any():
            emit((q,), pend_ideal[q], pend[q])
    return blocks


def _apply(psi: np.ndarray, mats: np.ndarray, nrows: int, qs: tuple[int, ...], n: int) -> None:
    from eqvbench.simulation import kernels

    if len(qs) == 1:
        kernels.apply_1q(psi, mats, nrows, n - 1 - qs[0])
    else:
        kernels.apply_2q(psi, mats, nrows, n - 1 - qs[0], n - 1 - qs[1])


def ideal_state(program: Program) -> np.ndarray:
    """The error-free output state, shape (2^n,)."""
    n = program.n_qubits
    blocks = fuse(program, np.zeros((1, program.rates.size), bool), np.ones((1, program.rates.size), np.int64))
    psi = np.zeros((1, 2**n), dtype=np.complex128)
    psi[0, 0] = 1.0
    for qs, ideal in zip(blocks.qubits, blocks.ideal):
        _apply(psi, np.ascontiguousarray(ideal[None]), 1, qs, n)
    return psi[0]


def single_errors(program: Program, cols: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hit, pauli) rows with exactly one error each: Pauli `codes[r]` at error location `cols[r]`."""
    b = cols.size
    hit = np.zeros((b, program.rates.size), bool)
    hit[np.arange(b), cols] = True
    pauli = np.zeros((b, program.rates.size), np.int64)
    pauli[np.arange(b), cols] = codes
    return hit, pauli


def run_batch(
    program: Program, hit: np.ndarray, pauli: np.ndarray, functional: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Simulate a batch of error patterns exactly; return functional(final states), one value per row."""
    n = program.n_qubits
    blocks = fuse(program, hit, pauli)
    order = np.argsort(blocks.first_block, kind="stable")
    starts = blocks.first_block[order]
    B = order.size
    psi0 = np.zeros((1, 2**n), dtype=np.complex128)
    psi0[0, 0] = 1.0
    psi = np.empty((B, 2**n), dtype=np.complex128)
    active = 0
    for j, qs in enumerate(blocks.qubits):
        while active < B and starts[active] <= j:
            psi[active] = psi0[0]
            active += 1
        if active:
            _apply(psi, np.ascontiguousarray(blocks.rows[j][order[:active]]), active, qs, n)
        _apply(psi0, np.ascontiguousarray(blocks.ideal[j][None]), 1, qs, n)
    while active < B:  # an error with no effect on any block (cannot happen with gate noise)
        psi[active] = psi0[0]
        active += 1
    vals = np.asarray(functional(psi))
    values = np.empty_like(vals)
    values[order] = vals
    return values


def run_batch_qsim(
    program: Program, hit: np.ndarray, pauli: np.ndarray, functional: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """As :func:`run_batch`, but each trajectory's state comes from qsimcirq (complex64, gate fusion in C++)."""
    import os

    import qsimcirq

    n = program.n_qubits
    line = cirq.LineQubit.range(n)
    base = [
        cirq.MatrixGate(it.matrix).on(*(line[k] for k in it.targets)) if it.matrix is not None else None
        for it in program.items
    ]
    err_pos = {item: k for k, item in enumerate(program.error_index)}
    gates = (cirq.I, cirq.X, cirq.Y, cirq.Z)
    sim = qsimcirq.QSimSimulator(qsimcirq.QSimOptions(cpu_threads=os.cpu_count() or 1))
    out = []
    for r in range(hit.shape[0]):
        ops = []
        for i, op in enumerate(base):
            if op is not None:
                ops.append(op)
                continue
            k = err_pos[i]
            if not hit[r, k]:
                continue
            qs = program.items[i].targets
            codes = (pauli[r, k],) if len(qs) == 1 else (pauli[r, k] // 4, pauli[r, k] % 4)
            ops += [gates[c].on(line[q]) for q, c in zip(qs, codes) if c]
        state = sim.simulate(cirq.Circuit(ops), qubit_order=line).final_state_vector
        out.append(np.asarray(functional(np.asarray(state, dtype=np.complex128)[None]))[0])
    return np.array(out)


@dataclass(frozen=True)
class TrajectoryEstimate:
    """L(rho) = w0 * ideal_value + (1 - w0) * error_mean, with the standard error of the mean.

    Scalars for a scalar functional, arrays for a vector-valued one.
    """

    w0: float
    ideal_value: float | np.ndarray
    error_mean: float | np.ndarray
    error_stderr: float | np.ndarray
    n_trajectories: int

    @property
    def value(self):
        return self.w0 * self.ideal_value + (1.0 - self.w0) * self.error_mean

    @property
    def stderr(self):
        return (1.0 - self.w0) * self.error_stderr


def _next_batch(total: int, worst: float, target_stderr: Callable[[float], bool], rows: int) -> int:
    """Trajectories still needed: scale the error down by sqrt(n) until the target holds."""
    if not math.isfinite(worst) or worst == 0:
        return rows
    n = total
    while n < 64 * total and not target_stderr(worst * math.sqrt(total / n)):
        n = int(n * 1.25) + 1
    return int(min(rows, max(16, 1.1 * (n - total))))


def batch_rows(n_qubits: int, memory_bytes: int = 2**29) -> int:
    """Rows per batch so that the batch fits in `memory_bytes` (at least 1, at most 1024)."""
    return int(max(1, min(1024, memory_bytes // (16 * 2**n_qubits))))


def estimate(
    program: Program,
    functional: Callable[[np.ndarray], np.ndarray],
    ideal_value: float,
    rng: np.random.Generator,
    *,
    target_stderr: Callable[[float], bool],
    max_trajectories: int,
    min_trajectories: int = 32,
    batch: int | None = None,
    backend: str = "numba",
) -> TrajectoryEstimate:
    """Sample error trajectories in batches until `target_stderr(stderr of L)` holds or the budget is spent."""
    w0 = program.w0
    zero = np.zeros_like(np.asarray(ideal_value, dtype=float))
    if program.rates.size == 0 or w0 >= 1.0:
        return TrajectoryEstimate(1.0, ideal_value, zero, zero, 0)
    rows = batch or batch_rows(program.n_qubits)
    rows = max(1, min(rows, max_trajectories))
    values: list[np.ndarray] = []
    total = 0
    b = min(rows, max(min_trajectories, 2))
    while total < max_trajectories:
        interrupts.check()  # between batches: a Ctrl-C noted during one (eqvbench.interrupts)
        b = min(b, max_trajectories - total)
        hit, pauli = sample_errors(program, b, rng)
        runner = run_batch_qsim if backend == "qsim" else run_batch
        values.append(runner(program, hit, pauli, functional))
        total += b
        v = np.concatenate(values)
        se = v.std(axis=0, ddof=1) / math.sqrt(len(v)) if len(v) > 1 else np.full(v.shape[1:], math.inf)
        worst = float(np.max((1.0 - w0) * se))
        if total >= min_trajectories and target_stderr(worst):
            break
        # next batch: what the error so far says is still needed (stderr ~ 1/sqrt(n)), within limits
        b = _next_batch(total, worst, target_stderr, rows)
    mean = v.mean(axis=0)
    if np.ndim(mean) == 0:
        mean, se = float(mean), float(se)
    return TrajectoryEstimate(w0, ideal_value, mean, se, int(len(v)))
