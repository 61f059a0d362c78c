"""The circuit representation both simulation engines run: unitaries and noise locations in order.

Its own module so that the state-vector / density-matrix engine (:mod:`eqvbench.simulation.simulate`) and
the trajectory engine (:mod:`eqvbench.simulation.trajectories`) both depend on it and not on each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cirq
import numpy as np

from eqvbench.circuits.noise import NoiseModel


@dataclass(frozen=True)
class Instruction:
    """One step of a compiled circuit: a unitary, or depolarizing noise of rate p."""

    targets: tuple[int, ...]
    matrix: np.ndarray | None = None  # unitary (2^k x 2^k), None for noise
    p: float = 0.0


def compile_circuit(
    circuit: cirq.Circuit, qubits: Sequence[cirq.Qid], noise: NoiseModel | None = None
) -> list[Instruction]:
    """Flatten a circuit into unitaries and (optionally) the noise after each of them."""
    index = {q: i for i, q in enumerate(qubits)}
    errors: dict[int, list] = {}
    if noise is not None:
        for (m, qs), p in noise.error_locations(circuit, qubits):
            if p:
                errors.setdefault(m, []).append((qs, p))
    program: list[Instruction] = []
    for m, moment in enumerate(circuit):
        for op in moment:
            if cirq.is_measurement(op):
                continue
            program.append(Instruction(tuple(index[q] for q in op.qubits), cirq.unitary(op).astype(np.complex128)))
        for qs, p in errors.get(m, ()):
            program.append(Instruction(tuple(index[q] for q in qs), None, p))
    return program
