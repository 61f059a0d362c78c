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
from dataclasses import dataclass, field
from typing import Any

import cirq

# A place where noise acts: (moment index, qubits of the gate or the idle qubit).
Location = tuple[int, tuple[cirq.Qid, ...]]


@dataclass(frozen=True, repr=False)
class NoiseModel:
    """Error rates (probabilities, dimensionless): uniform `p1`, `p2`, `readout`, `idle`, and per-qubit
    and per-coupler rates from a calibration (`qubit_p1`, `qubit_readout`, `qubit_idle` keyed by qubit,
    `pair_p2` keyed by the frozenset of a coupler's two qubits) that take precedence where given."""

    p1: float = 0.0
    p2: float = 0.0
    readout: float = 0.0
    idle: float = 0.0
    qubit_p1: dict[cirq.Qid, float] = field(default_factory=dict, hash=False)
    pair_p2: dict[frozenset, float] = field(default_factory=dict, hash=False)
    qubit_readout: dict[cirq.Qid, float] = field(default_factory=dict, hash=False)
    qubit_idle: dict[cirq.Qid, float] = field(default_factory=dict, hash=False)

    def __repr__(self) -> str:
        # seeds are derived from it (OTOC's B = I signal): a model without calibration keeps the
        # repr it had before calibrations existed
        out = f"NoiseModel(p1={self.p1!r}, p2={self.p2!r}, readout={self.readout!r}, idle={self.idle!r}"
        for name in ("qubit_p1", "pair_p2", "qubit_readout", "qubit_idle"):
            rates = getattr(self, name)
            if rates:
                out += f", {name}={sorted((sorted(map(str, k)) if isinstance(k, frozenset) else str(k), v) for k, v in rates.items())!r}"
        return out + ")"

    @classmethod
    def from_section(cls, section: dict[str, Any], lattice=None) -> NoiseModel:
        """From a spec's `noise:` section; its `calibration` table (qubits numbered as
        :func:`eqvbench.circuits.lattice.qubit_numbers` numbers them) needs the point's `lattice`."""
        uniform = dict(p1=section["p1"], p2=section["p2"], readout=section["readout"], idle=section["idle"])
        cal = section.get("calibration")
        if not cal:
            return cls(**uniform)
        if lattice is None:
            raise ValueError("a calibrated noise model needs the lattice that numbers its qubits")
        from eqvbench.circuits.lattice import qubit_numbers

        by_number = {k: q for q, k in qubit_numbers(lattice).items()}
        per: dict[str, dict] = {"p1": {}, "readout": {}, "idle": {}}
        for row in cal["qubits"]:
            q = by_number.get(row["qubit"])
            if q is None:
                continue  # a row for a qubit this lattice does not have (a whole device's table on a patch)
            for k in per:
                if row.get(k) is not None:
                    per[k][q] = row[k]
        pairs = {}
        for row in cal["pairs"]:
            a, b = (by_number.get(k) for k in row["qubits"])
            if a is not None and b is not None:
                pairs[frozenset((a, b))] = row["p2"]
        return cls(**uniform, qubit_p1=per["p1"], pair_p2=pairs, qubit_readout=per["readout"], qubit_idle=per["idle"])

    @property
    def is_noiseless(self) -> bool:
        rates = [
            *self.qubit_p1.values(),
            *self.pair_p2.values(),
            *self.qubit_readout.values(),
            *self.qubit_idle.values(),
        ]
        return self.p1 == self.p2 == self.readout == self.idle == 0.0 and not any(rates)

    @property
    def calibrated(self) -> bool:
        return bool(self.qubit_p1 or self.pair_p2 or self.qubit_readout or self.qubit_idle)

    def gate_error(self, n_qubits: int) -> float:
        """Uniform depolarizing rate after a gate on `n_qubits` qubits."""
        if n_qubits == 1:
            return self.p1
        if n_qubits == 2:
            return self.p2
        raise ValueError(f"no error rate for {n_qubits}-qubit gates")

    def gate_error_on(self, qubits: Sequence[cirq.Qid]) -> float:
        """Depolarizing rate after a gate on these qubits: the calibrated one, else the uniform one."""
        if len(qubits) == 1:
            return self.qubit_p1.get(qubits[0], self.p1)
        if len(qubits) == 2:
            return self.pair_p2.get(frozenset(qubits), self.p2)
        raise ValueError(f"no error rate for {len(qubits)}-qubit gates")

    def readout_of(self, q: cirq.Qid) -> float:
        return self.qubit_readout.get(q, self.readout)

    def idle_of(self, q: cirq.Qid) -> float:
        return self.qubit_idle.get(q, self.idle)

    def readout_rates(self, qubits: Sequence[cirq.Qid]) -> float | list[float]:
        """Readout flip rate of each measured qubit, in order (one float when uniform)."""
        if not self.qubit_readout:
            return self.readout
        return [self.readout_of(q) for q in qubits]

    def readout_factor(self, qubits: Collection[cirq.Qid]) -> float:
        """What readout error multiplies a Pauli string on these qubits by: prod (1 - 2 r_q)."""
        return math.prod(1.0 - 2.0 * self.readout_of(q) for q in qubits)

    def error_locations(self, circuit: cirq.Circuit, qubits: Sequence[cirq.Qid]) -> Iterator[tuple[Location, float]]:
        """Every place an error can happen, with its rate: gates, then idle qubits, moment by moment."""
        for m, moment in enumerate(circuit):
            busy = set()
            for op in moment:
                if cirq.is_measurement(op):
                    continue
                busy.update(op.qubits)
                yield (m, tuple(op.qubits)), self.gate_error_on(op.qubits)
            for q in qubits:
                if q not in busy:
                    yield (m, (q,)), self.idle_of(q)

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
        for q in measured:
            r = self.readout_of(q)
            if r:
                log_f += math.log1p(-r) if r < 1 else -math.inf
        return math.exp(log_f)

    def to_cirq(
        self, circuit: cirq.Circuit, qubits: Sequence[cirq.Qid], measured: Sequence[cirq.Qid] = ()
    ) -> cirq.Circuit:
        """The same noise as explicit cirq channels (for independent cross-checks)."""
        out = cirq.Circuit()
        for moment in circuit:
            out.append(moment, strategy=cirq.InsertStrategy.NEW_THEN_INLINE)
            channels = []
            busy = set()
            for op in moment:
                busy.update(op.qubits)
                p = self.gate_error_on(op.qubits)
                if p:
                    channels.append(cirq.depolarize(p, n_qubits=len(op.qubits)).on(*op.qubits))
            channels += [cirq.depolarize(self.idle_of(q)).on(q) for q in qubits if q not in busy and self.idle_of(q)]
            if channels:
                out.append(cirq.Moment(channels))
        flips = [cirq.bit_flip(self.readout_of(q)).on(q) for q in measured if self.readout_of(q)]
        if flips:
            out.append(cirq.Moment(flips))
        return out
