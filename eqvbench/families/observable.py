"""What the families that measure an expectation value share: the instance record of a Pauli observable
and how its terms combine (floquet_ising, circuit), and the per-gate error sensitivity behind the
butterfly map (those two and the OTOC)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eqvbench.families.base import Instance

if TYPE_CHECKING:
    import cirq
    import numpy as np

    from eqvbench.circuits.lattice import Lattice
    from eqvbench.circuits.noise import NoiseModel
    from eqvbench.simulation.trajectories import Program

PauliString = dict  # {qubit: 'X' | 'Y' | 'Z'}


@dataclass(frozen=True, kw_only=True)
class ObservableInstance(Instance):
    """A circuit and the observable measured after it: the Pauli strings `paulis` ({qubit: 'X'|'Y'|'Z'}),
    their mean (`coefficients` None: M_z, or a single string) or their weighted sum sum_i c_i P_i; the
    lattice the effective region's balls grow on. `measured` is the observable's support."""

    paulis: tuple[PauliString, ...]
    lattice: Lattice
    coefficients: tuple[float, ...] | None = None

    @classmethod
    def of(
        cls, circuit: cirq.Circuit, qubits, paulis, lattice: Lattice, seed: int = 0, coefficients=None, **extra
    ) -> ObservableInstance:
        """An instance measuring `paulis` (their support is `measured`)."""
        paulis = tuple(paulis)
        support = tuple(sorted({q for ps in paulis for q in ps}))
        return cls(
            circuit=circuit,
            qubits=tuple(qubits),
            measured=support,
            seed=seed,
            paulis=paulis,
            lattice=lattice,
            coefficients=None if coefficients is None else tuple(coefficients),
            **extra,
        )

    @property
    def weighted(self) -> bool:
        """Whether the observable is a weighted sum (else the mean of its strings)."""
        return self.coefficients is not None

    def term_sum(self, values) -> float:
        """The observable from its terms' values: their mean, or sum_i c_i values_i."""
        import numpy as np

        if self.coefficients is None:
            return float(np.mean(values))
        return float(np.dot(self.coefficients, values))

    def term_weights(self):
        """Each term's weight in the observable: 1 / terms (the mean), or the coefficients."""
        import numpy as np

        n = len(self.paulis)
        return np.full(n, 1.0 / n) if self.coefficients is None else np.asarray(self.coefficients, dtype=float)

    def propagation_terms(self) -> list:
        """The observable as Pauli propagation takes it: the list of strings (their mean), or
        (coefficient, string) pairs."""
        if self.coefficients is None:
            return list(self.paulis)
        return list(zip(self.coefficients, self.paulis))

    def network(self):
        """<O>'s light-cone sandwich network (a sum: its terms' side by side,
        :func:`eqvbench.classical.networks.observable_network`)."""
        from eqvbench.classical.networks import observable_network

        return observable_network(self.circuit, self.paulis)

    def restrict(self, qubits) -> ObservableInstance:
        """The circuit on `qubits` alone: the gates with every qubit among them (the rest as if they did
        not exist), and the observable's terms that lie within them."""
        import cirq

        keep = set(qubits)
        c = cirq.Circuit(cirq.Moment(op for op in m if all(q in keep for q in op.qubits)) for m in self.circuit)
        kept = [i for i, ps in enumerate(self.paulis) if all(q in keep for q in ps)]
        coefficients = None if self.coefficients is None else [self.coefficients[i] for i in kept]
        return ObservableInstance.of(
            c,
            (q for q in self.qubits if q in keep),
            [self.paulis[i] for i in kept],
            self.lattice.restrict(keep),
            0,
            coefficients,
        )


def error_sensitivities(
    program: Program,
    locations: Iterable[int],
    ideal: float,
    evaluate: Callable[[np.ndarray, np.ndarray], np.ndarray],
    rows: int,
) -> np.ndarray:
    """s_k = 1 - mean over the non-identity Paulis P of value(P at error location k) / `ideal`, per error
    location k of `program` (docs/physics.md, `v_butterfly`); 0 at locations not in `locations`.

    Every (location, Pauli) pair is one exactly simulated circuit with that single error:
    `evaluate(hit, pauli)` gets `rows` of them at a time as :func:`eqvbench.simulation.trajectories.single_errors`
    writes them and returns the family's value for each (a Pauli string's expectation, the OTOC's
    overlap of two echoes). Compile `program` with every gate an error location (e.g.
    ``NoiseModel(p1=0.5, p2=0.5)``): location k is then the k-th gate in moment order.
    """
    import numpy as np

    from eqvbench.simulation import trajectories as tr

    size = program.rates.size
    cols: list[int] = []
    codes: list[int] = []
    for k in locations:
        n_codes = 3 if len(program.items[program.error_index[k]].targets) == 1 else 15
        cols += [k] * n_codes
        codes += list(range(1, n_codes + 1))
    col, code = np.array(cols, int), np.array(codes, int)
    values = np.empty(col.size)
    for start in range(0, col.size, rows):
        sl = slice(start, start + rows)
        hit, pauli = tr.single_errors(program, col[sl], code[sl])
        values[sl] = evaluate(hit, pauli)
    sens = np.zeros(size)
    if col.size:
        np.add.at(sens, col, 1.0 - values / ideal)
        counts = np.bincount(col, minlength=size)
        sens = np.divide(sens, counts, out=np.zeros_like(sens), where=counts > 0)
    return sens


def first_order(ops, sens, noise: NoiseModel) -> tuple[float, float]:
    """(v, f) of per-gate sensitivities `sens` of the operations `ops`: v = sum of s_g over the two-qubit
    gates, f = prod over gates of (1 - p_g s_g), the first-order fidelity prediction (gate errors only)."""
    v, log_f = 0.0, 0.0
    for op, s in zip(ops, sens):
        p = noise.gate_error_on(op.qubits)
        log_f += math.log1p(-p * s) if p * s < 1 else -math.inf
        if len(op.qubits) == 2:
            v += s
    return v, math.exp(log_f)
