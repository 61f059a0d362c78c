"""Noisy simulation engine: ideal state vectors and noisy output distributions.

Conventions: qubit order is the order given (qubit 0 is the most significant
bit, as in cirq); noise as in :mod:`eqvbench.circuits.noise`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cirq
import numpy as np

from eqvbench.circuits.instructions import Instruction, compile_circuit  # noqa: F401  (the engines' shared representation)
from eqvbench.circuits.noise import NoiseModel

DENSITY_MATRIX_MAX_QUBITS = 14  # 4^14 complex128 entries = 4.3 GB
AUTO_DENSITY_MATRIX_MAX_QUBITS = 8  # `auto` uses the exact density matrix up to here, trajectories above
METHODS = ("auto", "density_matrix", "trajectories", "qsim")


@dataclass(frozen=True)
class SimSettings:
    """How to simulate: method and the trajectory budget."""

    method: str = "auto"
    target_err: float = 0.005  # stop sampling trajectories once the estimate's standard error is below this
    max_trajectories: int = 20000
    batch: int | None = None  # trajectories per batch (default: as many as fit in 1 GiB)

    @classmethod
    def from_section(cls, section: dict) -> SimSettings:
        return cls(section["method"], section["target_err"], section["max_trajectories"], section["batch"])


def resolve_method(method: str, n_qubits: int) -> str:
    """The concrete method `auto` stands for at this size; qsim falls back to trajectories if absent."""
    if method == "auto":
        return "density_matrix" if n_qubits <= AUTO_DENSITY_MATRIX_MAX_QUBITS else "trajectories"
    if method == "qsim" and not qsim_available():
        return "trajectories"
    return method


def qsim_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("qsimcirq") is not None


def _apply_matrix(tensor: np.ndarray, matrix: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Left-multiply `matrix` (2^k x 2^k) onto the given axes of a (2,)*N tensor."""
    k = len(axes)
    mat = matrix.reshape((2,) * (2 * k))
    out = np.tensordot(mat, tensor, axes=(list(range(k, 2 * k)), list(axes)))
    return np.moveaxis(out, list(range(k)), list(axes))


def state_vector(circuit: cirq.Circuit, qubits: Sequence[cirq.Qid]) -> np.ndarray:
    """Ideal output state from |0...0>, shape (2^n,)."""
    n = len(qubits)
    psi = np.zeros((2,) * n, dtype=np.complex128)
    psi[(0,) * n] = 1.0
    for ins in compile_circuit(circuit, qubits):
        psi = _apply_matrix(psi, ins.matrix, ins.targets)
    return psi.reshape(-1)


def _depolarize_rho(rho: np.ndarray, n: int, targets: Sequence[int], p: float) -> np.ndarray:
    """rho -> (1-p) rho + p/(4^k-1) sum_{P != I} P rho P, in place.

    Uses sum over all 4^k Paulis of P rho P = 2^k I_S (x) Tr_S rho.
    """
    k = len(targets)
    a = 1.0 - p - p / (4**k - 1)
    b = p * 2**k / (4**k - 1)
    axes = list(targets) + [n + t for t in targets]
    view = np.moveaxis(rho, axes, list(range(2 * k)))  # a view: writes go to rho
    trace = sum(view[idx + idx] for idx in np.ndindex(*(2,) * k))
    rho *= a
    for idx in np.ndindex(*(2,) * k):
        view[idx + idx] += b * trace
    return rho


def density_matrix(circuit: cirq.Circuit, qubits: Sequence[cirq.Qid], noise: NoiseModel) -> np.ndarray:
    """Exact noisy density matrix from |0...0><0...0|, as a (2,)*2n tensor."""
    n = len(qubits)
    if n > DENSITY_MATRIX_MAX_QUBITS:
        raise ValueError(f"density matrix of {n} qubits is too large (max {DENSITY_MATRIX_MAX_QUBITS})")
    rho = np.zeros((2,) * (2 * n), dtype=np.complex128)
    rho[(0,) * (2 * n)] = 1.0
    for ins in compile_circuit(circuit, qubits, noise):
        if ins.matrix is not None:
            rho = _apply_matrix(rho, ins.matrix, ins.targets)
            rho = _apply_matrix(rho, ins.matrix.conj(), [n + t for t in ins.targets])
        else:
            rho = _depolarize_rho(np.ascontiguousarray(rho), n, ins.targets, ins.p)
    return rho


def apply_readout_error(probs: np.ndarray, n: int, r) -> np.ndarray:
    """Flip each bit of a distribution over n bits independently with probability r (one rate, or one
    per bit in qubit order, the first qubit the most significant bit)."""
    rates = [r] * n if np.isscalar(r) else list(r)
    if not any(rates):
        return probs
    p = probs.reshape((2,) * n)
    for axis, ra in enumerate(rates):
        if ra:
            p = (1.0 - ra) * p + ra * np.flip(p, axis=axis)
    return p.reshape(-1)


def noisy_probabilities(circuit: cirq.Circuit, qubits: Sequence[cirq.Qid], noise: NoiseModel) -> np.ndarray:
    """Distribution of measured bitstrings under `noise`, readout error included, shape (2^n,)."""
    n = len(qubits)
    rho = density_matrix(circuit, qubits, noise).reshape(2**n, 2**n)
    probs = np.clip(np.real(np.diagonal(rho)), 0.0, None)
    probs = probs / probs.sum()
    return apply_readout_error(probs, n, noise.readout_rates(qubits))


def pauli_masks(pauli: dict[int, str], n: int) -> tuple[int, int, int]:
    """(x_mask, z_mask, number of Y) of a Pauli string {qubit index: 'X'|'Y'|'Z'}."""
    x_mask = z_mask = n_y = 0
    for q, p in pauli.items():
        bit = 1 << (n - 1 - q)
        if p in "XY":
            x_mask |= bit
        if p in "YZ":
            z_mask |= bit
        n_y += p == "Y"
    return x_mask, z_mask, n_y


def pauli_expectation_rows(psi: np.ndarray, pauli: dict[int, str], n: int) -> np.ndarray:
    """<psi_r|P|psi_r> for every row of a batch (rows, 2^n); P as {qubit: 'X'|'Y'|'Z'}."""
    x_mask, z_mask, n_y = pauli_masks(pauli, n)
    idx = np.arange(psi.shape[-1])
    # P|j> = c(j) |j ^ x_mask>, c(j) = i^{n_y} (-1)^{popcount(j & z_mask)}
    vals = np.sum(np.conj(psi[..., idx ^ x_mask]) * (_z_signs(idx, z_mask) * psi), axis=-1) * (1j**n_y)
    return np.real(vals)


def _z_signs(idx: np.ndarray, z_mask: int) -> np.ndarray:
    """(-1)^popcount(j & z_mask) for each basis index j."""
    parity = np.zeros(idx.size, dtype=np.int64)
    z = idx & z_mask
    while z.any():
        parity ^= z & 1
        z >>= 1
    return 1.0 - 2.0 * parity


def pauli_expectations(
    circuit: cirq.Circuit,
    qubits: Sequence[cirq.Qid],
    noise: NoiseModel,
    paulis: Sequence[dict[cirq.Qid, str]],
    settings: SimSettings,
    rng: np.random.Generator,
):
    """Noisy <P> for each Pauli string, as measured (readout error included), with standard errors.

    Readout error r scales a weight-w Pauli by (1 - 2r)^w (each measured bit
    flips with probability r). Returns (values, stderrs, ideal values, info).
    """
    from eqvbench.simulation import trajectories as tr

    n = len(qubits)
    index = {q: i for i, q in enumerate(qubits)}
    strings = [{index[q]: p for q, p in ps.items()} for ps in paulis]
    readout = np.array([noise.readout_factor(ps) for ps in paulis])
    method = resolve_method(settings.method, n)
    psi0 = state_vector(circuit, qubits)
    ideal = np.array([pauli_expectation_rows(psi0[None], s, n)[0] for s in strings])
    if method == "density_matrix":
        rho = density_matrix(circuit, qubits, noise).reshape(2**n, 2**n)
        vals = []
        idx = np.arange(2**n)
        for s in strings:
            x_mask, z_mask, n_y = pauli_masks(s, n)
            # Tr(rho P) = sum_j rho[j, j ^ x] c(j)
            c = (1j**n_y) * _z_signs(idx, z_mask)
            vals.append(float(np.real(np.sum(rho[idx, idx ^ x_mask] * c))))
        return np.array(vals) * readout, np.zeros(len(strings)), ideal, {"method": method, "n_trajectories": 0}
    program = tr.compile_program(circuit, qubits, noise)

    def functional(psi: np.ndarray) -> np.ndarray:
        return np.stack([pauli_expectation_rows(psi, s, n) for s in strings], axis=-1)

    est = tr.estimate(
        program,
        functional,
        ideal,
        rng,
        target_stderr=lambda se: se <= settings.target_err,
        max_trajectories=settings.max_trajectories,
        batch=settings.batch,
        backend="qsim" if method == "qsim" else "numba",
    )
    info = {"method": method, "n_trajectories": est.n_trajectories, "w0": est.w0}
    return np.asarray(est.value) * readout, np.asarray(est.stderr) * readout, ideal, info
