"""Tensor networks the families cost and contract: circuits as quimb networks.

Shared by the families (RCS and circuit files cost one amplitude; the OTOC costs its
echo circuit's amplitude), so no family imports another for them.
"""

from __future__ import annotations


def amplitude_network(circuit, qubits, bitstring: str | None = None):
    """quimb network for <x|C|0...0> (x = 0...0 by default): one amplitude, no open index.

    Two-qubit gates are split by their Schmidt rank (quimb's auto-split-gate,
    which also uses the SWAP trick for iSWAP-like gates): a property of the
    gate type, not of particular gate values.
    """
    import cirq
    import numpy as np
    import quimb.tensor as qtn

    n = len(qubits)
    index = {q: i for i, q in enumerate(qubits)}
    circ = qtn.Circuit(n)
    for op in circuit.all_operations():
        if cirq.is_measurement(op):
            continue
        circ.apply_gate_raw(cirq.unitary(op), tuple(index[q] for q in op.qubits), contract="auto-split-gate")
    tn = circ.psi.copy()
    bits = bitstring or "0" * n
    for i, b in enumerate(bits):
        tn &= qtn.Tensor(np.eye(2, dtype=complex)[int(b)], inds=(f"k{i}",), tags=("OUT",))
    return tn
