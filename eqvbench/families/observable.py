"""What the families that measure a Pauli observable share (floquet_ising, circuit): the instance record
that carries the observable's Pauli strings and how its terms combine."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eqvbench.families.base import Instance

if TYPE_CHECKING:
    import cirq

    from eqvbench.lattice import Lattice

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
    def of(cls, circuit: cirq.Circuit, qubits, paulis, lattice: Lattice, seed: int = 0,
           coefficients=None, **extra) -> ObservableInstance:
        """An instance measuring `paulis` (their support is `measured`)."""
        paulis = tuple(paulis)
        support = tuple(sorted({q for ps in paulis for q in ps}))
        return cls(circuit=circuit, qubits=tuple(qubits), measured=support, seed=seed, paulis=paulis,
                   lattice=lattice, coefficients=None if coefficients is None else tuple(coefficients), **extra)

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

    def term(self, i: int) -> ObservableInstance:
        """The instance measuring the i-th Pauli string alone."""
        return dataclasses.replace(self, measured=tuple(sorted(self.paulis[i])), seed=0,
                                   paulis=(self.paulis[i],), coefficients=None)

    def restrict(self, qubits) -> ObservableInstance:
        """The circuit on `qubits` alone: the gates with every qubit among them (the rest as if they did
        not exist), and the observable's terms that lie within them."""
        import cirq

        keep = set(qubits)
        c = cirq.Circuit(cirq.Moment(op for op in m if all(q in keep for q in op.qubits)) for m in self.circuit)
        kept = [i for i, ps in enumerate(self.paulis) if all(q in keep for q in ps)]
        coefficients = None if self.coefficients is None else [self.coefficients[i] for i in kept]
        return ObservableInstance.of(c, (q for q in self.qubits if q in keep), [self.paulis[i] for i in kept],
                                     self.lattice.restrict(keep), 0, coefficients)
