"""Exact structural light cones of Pauli observables (docs/physics.md, "Light cone").

Walking a circuit backwards (Heisenberg picture) from a Pauli string O, each
qubit carries one of three states of the evolved operator there: identity,
diagonal (I/Z only) or general. The rule, by gate type and never by angle:

- a gate whose qubits are all identity commutes with O: not in the cone;
- a diagonal gate (Z rotations, ZZ, CZ, phases) is in the cone only where one of
  its qubits is general; it then leaves its other qubits at least diagonal;
- a non-diagonal gate acting on a non-identity qubit is in the cone and makes
  all its qubits general.

Every gate left out commutes with the operator evolved through the gates after
it, so cutting it from U and U^dag leaves <O> unchanged (tested). For a sum of
Pauli strings the cone is the union of the terms' cones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import cirq

from eqvbench.circuits.noise import Location

IDENTITY, DIAGONAL, GENERAL = 0, 1, 2

_DIAGONAL_GATES = (
    cirq.ZPowGate,
    cirq.ZZPowGate,
    cirq.CZPowGate,
    cirq.IdentityGate,
    cirq.CCZPowGate,
    cirq.GlobalPhaseGate,
)


def structurally_diagonal(op: cirq.Operation) -> bool:
    """Diagonal by gate type (Z rotations, ZZ, CZ, ...), whatever the angle: keeps the cone structural.

    Gates of other types count as diagonal only when their unitary has no
    off-diagonal element for any parameter: the type decides, so a gate that
    happens to be diagonal at one angle (RX(0)) is not.
    """
    gate = op.gate
    if isinstance(gate, _DIAGONAL_GATES):
        return True
    if isinstance(
        gate,
        (
            cirq.PhasedXPowGate,
            cirq.XPowGate,
            cirq.YPowGate,
            cirq.FSimGate,
            cirq.ISwapPowGate,
            cirq.PhasedISwapPowGate,
            cirq.SwapPowGate,
            cirq.XXPowGate,
            cirq.YYPowGate,
            cirq.PhasedXZGate,
        ),
    ):
        return False
    if isinstance(gate, cirq.MatrixGate) or cirq.has_unitary(op):
        import numpy as np

        u = cirq.unitary(op)
        return bool(np.allclose(u, np.diag(np.diag(u)), atol=0.0))
    return False


def initial_states(term: Mapping[cirq.Qid, str]) -> dict[cirq.Qid, int]:
    """Per-qubit state of a Pauli string: Z diagonal, X/Y general (I omitted)."""
    out = {}
    for q, p in term.items():
        if p == "Z":
            out[q] = DIAGONAL
        elif p in ("X", "Y"):
            out[q] = GENERAL
        elif p != "I":
            raise ValueError(f"not a Pauli: {p!r}")
    return out


@dataclass(frozen=True)
class Cone:
    """The structural backward light cone of an observable in a circuit.

    `gates` are (moment, qubits) of the operations in the cone; `locations` the
    error locations that count for the digital model (the cone's gates, and idle
    slots of qubits whose evolved operator is not the identity); `qubits` every
    qubit the cone touches, the observable's support included; `states` the
    per-qubit state at the start of the circuit.
    """

    gates: frozenset[Location]
    locations: frozenset[Location]
    n_gates_2q: int
    qubits: tuple[cirq.Qid, ...]
    states: dict[cirq.Qid, int]


def _walk(moments: list[cirq.Moment], states: dict[cirq.Qid, int], gates: set, idle: set) -> dict[cirq.Qid, int]:
    s = dict(states)
    for m in range(len(moments) - 1, -1, -1):
        busy = set()
        for op in moments[m]:
            if cirq.is_measurement(op):
                continue
            qs = op.qubits
            busy.update(qs)
            st = [s.get(q, IDENTITY) for q in qs]
            if max(st) == IDENTITY:
                continue
            if structurally_diagonal(op):
                if GENERAL not in st:
                    continue  # commutes with an operator diagonal on all its qubits
                for q in qs:
                    s[q] = max(s.get(q, IDENTITY), DIAGONAL)
            else:
                for q in qs:
                    s[q] = GENERAL
            gates.add((m, tuple(qs)))
        idle.update((m, (q,)) for q, v in s.items() if v != IDENTITY and q not in busy)
    return s


def backward_cone(circuit: cirq.Circuit, terms: Iterable[Mapping[cirq.Qid, str]]) -> Cone:
    """The exact structural backward light cone of a Pauli string or a sum of them (union of the terms')."""
    moments = list(circuit)
    gates: set = set()
    idle: set = set()
    support: set = set()
    final: dict[cirq.Qid, int] = {}
    for term in terms:
        support.update(q for q, p in term.items() if p != "I")
        for q, v in _walk(moments, initial_states(term), gates, idle).items():
            final[q] = max(final.get(q, IDENTITY), v)
    n_2q = sum(1 for _, qs in gates if len(qs) == 2)
    touched = {q for _, qs in gates for q in qs} | support
    return Cone(frozenset(gates), frozenset(gates | idle), n_2q, tuple(sorted(touched)), final)


def restrict_to_cone(circuit: cirq.Circuit, cone: Cone) -> cirq.Circuit:
    """The circuit with every operation outside the cone removed (empty moments kept)."""
    return cirq.Circuit(
        cirq.Moment(op for op in moment if (m, tuple(op.qubits)) in cone.gates) for m, moment in enumerate(circuit)
    )
