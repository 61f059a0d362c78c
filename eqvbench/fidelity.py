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
