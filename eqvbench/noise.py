"""Digital noise model (docs/physics.md, "Noise model").

A depolarizing rate p on a k-qubit gate means: after the gate, a uniformly
random non-identity k-qubit Pauli happens with probability p
(``cirq.depolarize(p, n_qubits=k)``). Readout error r flips each measured bit
with probability r. Idle error: single-qubit depolarizing with rate `idle` on
every qubit that no gate touches in a moment.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cirq

# A place where noise acts: (moment index, qubits of the gate or the idle qubit).
Location = tuple[int, tuple[cirq.Qid, ...]]


@dataclass(frozen=True)
class NoiseModel:
    """Per-gate error rates (probabilities, dimensionless)."""

    p1: float = 0.0
    p2: float = 0.0
    readout: float = 0.0
    idle: float = 0.0

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> NoiseModel:
        return cls(p1=section["p1"], p2=section["p2"], readout=section["readout"], idle=section["idle"])

    @property
    def is_noiseless(self) -> bool:
        return self.p1 == self.p2 == self.readout == self.idle == 0.0

    def gate_error(self, n_qubits: int) -> float:
        """Depolarizing rate after a gate on `n_qubits` qubits."""
        if n_qubits == 1:
            return self.p1
        if n_qubits == 2:
            return self.p2
        raise ValueError(f"no error rate for {n_qubits}-qubit gates")

    def error_locations(self, circuit: cirq.Circuit, qubits: Sequence[cirq.Qid]) -> Iterator[tuple[Location, float]]:
        """Every place an error can happen, with its rate: gates, then idle qubits, moment by moment."""
        for m, moment in enumerate(circuit):
            busy = set()
            for op in moment:
                if cirq.is_measurement(op):
                    continue
                busy.update(op.qubits)
                yield (m, tuple(op.qubits)), self.gate_error(len(op.qubits))
            for q in qubits:
                if q not in busy:
                    yield (m, (q,)), self.idle

    def f_model(
        self,
        circuit: cirq.Circuit,
        qubits: Sequence[cirq.Qid],
        measured: Collection[cirq.Qid],
        locations: Collection[Location] | None = None,
    ) -> float:
        """Digital error model: prod (1 - p) over the error locations that matter and readouts.

        With `locations=None` every gate and idle slot counts (the whole circuit).
        """
        log_f = 0.0
        for loc, p in self.error_locations(circuit, qubits):
            if p and (locations is None or loc in locations):
                log_f += math.log1p(-p) if p < 1 else -math.inf
        if self.readout:
            log_f += len(measured) * (math.log1p(-self.readout) if self.readout < 1 else -math.inf)
        return math.exp(log_f)

    def to_cirq(self, circuit: cirq.Circuit, qubits: Sequence[cirq.Qid], measured: Sequence[cirq.Qid] = ()) -> cirq.Circuit:
        """The same noise as explicit cirq channels (for independent cross-checks)."""
        out = cirq.Circuit()
        for moment in circuit:
            out.append(moment, strategy=cirq.InsertStrategy.NEW_THEN_INLINE)
            channels = []
            busy = set()
            for op in moment:
                busy.update(op.qubits)
                p = self.gate_error(len(op.qubits))
                if p:
                    channels.append(cirq.depolarize(p, n_qubits=len(op.qubits)).on(*op.qubits))
            if self.idle:
                channels += [cirq.depolarize(self.idle).on(q) for q in qubits if q not in busy]
            if channels:
                out.append(cirq.Moment(channels))
        if self.readout and measured:
            out.append(cirq.Moment(cirq.bit_flip(self.readout).on(q) for q in measured))
        return out
