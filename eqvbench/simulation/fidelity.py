"""Fidelity estimators: linear cross-entropy (XEB) for sampling experiments."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A value with its standard error (None where it has no statistical error)."""

    value: float
    stderr: float | None = None


def xeb_exact(p_ideal: np.ndarray, p_noisy: np.ndarray) -> float:
    """Unbiased linear XEB from exact distributions.

    F = (D sum p_ideal p_noisy - 1) / (D sum p_ideal^2 - 1), D = 2^n. Equals 1
    when p_noisy = p_ideal and 0 for the uniform distribution.
    """
    d = p_ideal.size
    return float((d * np.dot(p_ideal, p_noisy) - 1.0) / (d * np.dot(p_ideal, p_ideal) - 1.0))


def xeb_sampled(p_ideal: np.ndarray, samples: np.ndarray) -> Estimate:
    """Linear XEB from sampled bitstrings, with its standard error.

    F = (D mean p_ideal(x) - 1) / (D sum p_ideal^2 - 1). The denominator is 1
    for Porter-Thomas outputs (D sum p^2 = 2), where this is the familiar
    D mean p_ideal(x) - 1; for shallow circuits it normalises the estimate so
    that it estimates the same quantity as :func:`xeb_exact`.
    """
    if samples.size < 2:
        raise ValueError("need at least two samples for a sampled XEB and its error")
    d = p_ideal.size
    norm = d * float(np.dot(p_ideal, p_ideal)) - 1.0
    vals = d * p_ideal[samples]
    return Estimate(float((vals.mean() - 1.0) / norm), float(vals.std(ddof=1) / math.sqrt(samples.size) / norm))


def sample_bitstrings(probs: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Draw `shots` bitstrings (as integers, qubit 0 most significant) from a distribution."""
    cdf = np.cumsum(probs)
    cdf /= cdf[-1]
    return np.searchsorted(cdf, rng.random(shots), side="right").clip(0, probs.size - 1)


def mean_estimate(values: list[Estimate]) -> Estimate:
    """Average over circuit instances.

    The error combines the instance-to-instance spread (standard error of the
    mean) with each instance's own statistical error, whichever dominates.
    """
    x = np.array([v.value for v in values])
    mean = float(x.mean())
    spread = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else 0.0
    own = [v.stderr for v in values if v.stderr is not None]
    stat = math.sqrt(sum(s * s for s in own)) / x.size if own else 0.0
    return Estimate(mean, max(spread, stat))


@dataclass(frozen=True)
class XEBResult:
    """XEB of one circuit: from the output distribution and from sampled bitstrings."""

    exact: Estimate  # from distributions (stderr: trajectory sampling error, None if exact)
    sampled: Estimate | None
    method: str
    n_trajectories: int = 0
    contrast: float | None = None  # D sum p_ideal^2 - 1 (1 for Porter-Thomas, 0 for the uniform distribution)


def xeb_contrast(p_ideal: np.ndarray) -> float:
    """D sum p_ideal^2 - 1, the linear XEB's denominator: how far the ideal output is from uniform (0),
    1 for a Porter-Thomas output."""
    return float(p_ideal.size * np.dot(p_ideal, p_ideal) - 1.0)


def readout_flip_samples(samples: np.ndarray, n: int, r, rng: np.random.Generator) -> np.ndarray:
    """Flip each of the n bits of each sample independently with probability r (one rate, or one per
    bit in qubit order, the first qubit the most significant bit)."""
    if np.isscalar(r) and not r:
        return samples
    flips = rng.random((samples.size, n)) < (r if np.isscalar(r) else np.asarray(r, dtype=float)[None, :])
    mask = (flips * (1 << np.arange(n - 1, -1, -1))).sum(axis=1)
    return samples ^ mask


def xeb_of_circuit(circuit, qubits, noise, sim, shots: int, rng: np.random.Generator) -> XEBResult:
    """Noisy simulation of one circuit and its XEB, with the method `sim.method` resolves to."""
    from eqvbench.simulation.simulate import noisy_probabilities, resolve_method, state_vector

    n = len(qubits)
    method = resolve_method(sim.method, n)
    if method == "density_matrix":
        p_ideal = np.abs(state_vector(circuit, qubits)) ** 2
        p_noisy = noisy_probabilities(circuit, qubits, noise)
        c = xeb_contrast(p_ideal)
        if c <= 0:  # uniform ideal output: 0/0
            return XEBResult(Estimate(float("nan")), None, method, contrast=c)
        sampled = xeb_sampled(p_ideal, sample_bitstrings(p_noisy, shots, rng)) if shots >= 2 else None
        return XEBResult(Estimate(xeb_exact(p_ideal, p_noisy)), sampled, method, contrast=c)
    return _xeb_trajectories(circuit, qubits, noise, sim, shots, rng, method)


def _xeb_trajectories(circuit, qubits, noise, sim, shots, rng, method) -> XEBResult:
    """XEB = (D sum p_ideal R p_noisy - 1) / (D sum p_ideal^2 - 1), the overlap from trajectories.

    Readout error R (symmetric) is moved onto the ideal side: q = R p_ideal.
    Bitstrings for the sampled XEB: error-free shots (Binomial(shots, w0))
    from p_ideal, the others from the simulated error trajectories, then
    readout flips.
    """
    from eqvbench.simulation import trajectories as tr
    from eqvbench.simulation.simulate import apply_readout_error

    n = len(qubits)
    d = 2**n
    program = tr.compile_program(circuit, qubits, noise)
    p_ideal = np.abs(tr.ideal_state(program)) ** 2
    q = apply_readout_error(p_ideal, n, noise.readout_rates(qubits))
    denom = xeb_contrast(p_ideal)
    if denom <= 1e-12:  # uniform ideal output: the XEB is 0/0, nothing to estimate
        return XEBResult(Estimate(float("nan")), None, method, 0, contrast=denom)
    per_row = max(1, -(-shots // 32)) if shots >= 2 else 0
    pool: list[np.ndarray] = []

    def overlap(psi: np.ndarray) -> np.ndarray:
        probs = np.abs(psi) ** 2
        # every row of a batch, or none: rows arrive sorted by where their first error is
        if per_row and sum(p.size for p in pool) < shots:
            pool.extend(sample_bitstrings(row, per_row, rng) for row in probs)
        return probs @ q

    est = tr.estimate(
        program,
        overlap,
        float(np.dot(q, p_ideal)),
        rng,
        target_stderr=lambda se: d * se / denom <= sim.target_err,
        max_trajectories=sim.max_trajectories,
        batch=sim.batch,
        backend="qsim" if method == "qsim" else "numba",
    )
    exact = Estimate((d * est.value - 1.0) / denom, d * est.stderr / denom)
    sampled = None
    if shots >= 2:
        n_err = int(rng.binomial(shots, 1.0 - est.w0)) if pool else 0
        err_pool = np.concatenate(pool) if pool else np.zeros(0, dtype=np.int64)
        picks = [sample_bitstrings(p_ideal, shots - n_err, rng)]
        if n_err:
            picks.append(rng.choice(err_pool, size=n_err, replace=n_err > err_pool.size))
        samples = readout_flip_samples(np.concatenate(picks), n, noise.readout_rates(qubits), rng)
        sampled = xeb_sampled(p_ideal, samples)
    return XEBResult(exact, sampled, method, est.n_trajectories, contrast=denom)
