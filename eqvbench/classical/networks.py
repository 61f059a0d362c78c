"""Tensor networks the families cost and contract: circuits as quimb networks.

Shared by the families (RCS and circuit files cost one amplitude; the OTOC costs its
echo circuit's amplitude; Pauli observables their light cone's sandwich <0|U^dag O U|0>),
so no family imports another for them. Which network a point (or one of its effective
regions) costs is its instance record's `network()` (eqvbench.families.base.Instance).
"""

from __future__ import annotations


def amplitude_network(circuit, qubits, bitstring: str | None = None, open_qubits=()):
    """quimb network for <x|C|0...0> (x = 0...0 by default): one amplitude, no open index.

    With `open_qubits` (some of `qubits`), those qubits' output vectors are left
    off: their indices `k{i}` (i: the qubit's position in `qubits`) stay open, and
    the contraction gives the 2^k amplitudes <x|C|0...0> over every value of the
    open qubits, the others fixed by `bitstring` (whose bits on open qubits are
    not used). Two-qubit gates are split by their Schmidt rank (quimb's
    auto-split-gate, which also uses the SWAP trick for iSWAP-like gates): a
    property of the gate type, not of particular gate values.
    """
    import cirq
    import numpy as np
    import quimb.tensor as qtn

    n = len(qubits)
    index = {q: i for i, q in enumerate(qubits)}
    opened = {index[q] for q in open_qubits}  # a qubit not in `qubits` is a KeyError: a caller's mistake
    circ = qtn.Circuit(n)
    for op in circuit.all_operations():
        if cirq.is_measurement(op):
            continue
        circ.apply_gate_raw(cirq.unitary(op), tuple(index[q] for q in op.qubits), contract="auto-split-gate")
    tn = circ.psi.copy()
    bits = bitstring or "0" * n
    for i, b in enumerate(bits):
        if i not in opened:
            tn &= qtn.Tensor(np.eye(2, dtype=complex)[int(b)], inds=(f"k{i}",), tags=("OUT",))
    return tn


def observable_network(circuit, paulis):
    """The network whose contraction cost is that of <O> for the Pauli strings `paulis` after the
    circuit: the sandwich network of a single string; for a sum (M_z, weighted sums), the terms'
    sandwich networks side by side (disjoint indices), each term's cost counted once."""
    import quimb.tensor as qtn

    if len(paulis) == 1:
        return sandwich_network(circuit, paulis[0])
    return qtn.TensorNetwork([sandwich_network(circuit, ps, prefix=f"t{i}") for i, ps in enumerate(paulis)])


def sandwich_network(circuit, pauli: dict, locations=None, prefix: str = ""):
    """quimb network of <0|U^dag O U|0> for the Pauli string O = `pauli` ({qubit: 'X'|'Y'|'Z'}) of the
    circuit U, restricted to the backward light cone (`locations`: its gates, found if not given).

    Gates outside the cone (and diagonal gates that commute with a diagonal O)
    cancel against their inverses in U^dag and are left out before any
    contraction; qubits outside the cone contribute <0|0> = 1. Diagonal gates
    (the RZZ couplers) are rank-2 tensors on the qubits' wire indices, which
    they share with the other diagonal gates between two RX layers (hyper-
    indices): no new index per gate, as in quimb's diagonal reduction.
    """
    import cirq
    import numpy as np
    import quimb.tensor as qtn

    from eqvbench.circuits.lightcone import backward_cone, structurally_diagonal

    if locations is None:
        locations = backward_cone(circuit, [pauli]).gates
    cone_qubits = sorted({q for _, qs in locations for q in qs} | {q for q in pauli})
    index = {q: i for i, q in enumerate(cone_qubits)}
    n = len(cone_qubits)
    wire = list(range(n))  # current wire label per qubit
    fresh = n
    ket: list[tuple[np.ndarray, tuple[int, ...]]] = [(np.array([1.0 + 0j, 0.0]), (i,)) for i in range(n)]
    for m, moment in enumerate(circuit):
        for op in moment:
            if (m, tuple(op.qubits)) not in locations:
                continue
            u = cirq.unitary(op)
            qs = [index[q] for q in op.qubits]
            if structurally_diagonal(op):  # by gate type, never by value: the network's structure is the cost's key
                ket.append((np.diag(u).reshape([2] * len(qs)), tuple(wire[k] for k in qs)))
                continue
            new = list(range(fresh, fresh + len(qs)))
            fresh += len(qs)
            ket.append((u.reshape([2] * (2 * len(qs))), tuple(new) + tuple(wire[k] for k in qs)))
            for k, w in zip(qs, new):
                wire[k] = w
    ops = {index[q]: p for q, p in pauli.items()}
    # the bra is the ket's conjugate on its own labels, except the final wires of qubits whose O is
    # diagonal (I or Z): there <b|O|k> = delta(b, k) O_kk, so bra and ket share the label
    shared = {wire[i] for i in range(n) if ops.get(i, "I") in ("I", "Z")}
    bra_label = lambda w: f"{prefix}w{w}" if w in shared else f"{prefix}b{w}"  # noqa: E731
    # order: ket in time order, O, bra in reverse time order (contracting them in this order is
    # the state-vector sweep, the cost engine's baseline)
    tensors = [qtn.Tensor(d, inds=tuple(f"{prefix}w{w}" for w in ws)) for d, ws in ket]
    pauli_mats = {"X": np.array([[0, 1], [1, 0]], complex), "Y": np.array([[0, -1j], [1j, 0]])}
    for i in range(n):
        p, w = ops.get(i, "I"), wire[i]
        if p == "Z":
            tensors.append(qtn.Tensor(np.array([1.0 + 0j, -1.0]), inds=(f"{prefix}w{w}",)))
        elif p in pauli_mats:  # <b|P|k>
            tensors.append(qtn.Tensor(pauli_mats[p], inds=(f"{prefix}b{w}", f"{prefix}w{w}")))
    tensors += [qtn.Tensor(d.conj(), inds=tuple(bra_label(w) for w in ws)) for d, ws in reversed(ket)]
    return qtn.TensorNetwork(tensors)
