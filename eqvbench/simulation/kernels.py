"""numba kernels: apply per-row 2x2 / 4x4 matrices to a batch of state vectors in place.

A batch is a complex128 array of shape (rows, 2^n); qubit q is bit n-1-q of
the basis index (qubit 0 most significant, as in cirq). Only the first
`nrows` rows are touched. One flat parallel loop over (row, amplitude group)
keeps both cores busy for small states with many rows and for large states
with few rows.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _insert_zero(i, bit):
    low = i & ((1 << bit) - 1)
    return ((i >> bit) << (bit + 1)) | low


@numba.njit(cache=True, parallel=True, fastmath=False)
def apply_1q(psi, mats, nrows, bit):
    """psi[r] <- mats[r] acting on the qubit at `bit`, for r < nrows (mats: (rows, 2, 2))."""
    half = psi.shape[1] >> 1
    total = nrows * half
    stride = 1 << bit
    for t in numba.prange(total):
        r = t // half
        k = t - r * half
        i0 = _insert_zero(k, bit)
        i1 = i0 | stride
        a0 = psi[r, i0]
        a1 = psi[r, i1]
        m = mats[r]
        psi[r, i0] = m[0, 0] * a0 + m[0, 1] * a1
        psi[r, i1] = m[1, 0] * a0 + m[1, 1] * a1


@numba.njit(cache=True, parallel=True, fastmath=False)
def apply_2q(psi, mats, nrows, bit_a, bit_b):
    """psi[r] <- mats[r] acting on qubits (a, b), a the more significant matrix index."""
    quarter = psi.shape[1] >> 2
    total = nrows * quarter
    lo = min(bit_a, bit_b)
    hi = max(bit_a, bit_b)
    sa = 1 << bit_a
    sb = 1 << bit_b
    for t in numba.prange(total):
        r = t // quarter
        k = t - r * quarter
        i00 = _insert_zero(_insert_zero(k, lo), hi)
        i01 = i00 | sb
        i10 = i00 | sa
        i11 = i10 | sb
        a0 = psi[r, i00]
        a1 = psi[r, i01]
        a2 = psi[r, i10]
        a3 = psi[r, i11]
        m = mats[r]
        psi[r, i00] = m[0, 0] * a0 + m[0, 1] * a1 + m[0, 2] * a2 + m[0, 3] * a3
        psi[r, i01] = m[1, 0] * a0 + m[1, 1] * a1 + m[1, 2] * a2 + m[1, 3] * a3
        psi[r, i10] = m[2, 0] * a0 + m[2, 1] * a1 + m[2, 2] * a2 + m[2, 3] * a3
        psi[r, i11] = m[3, 0] * a0 + m[3, 1] * a1 + m[3, 2] * a2 + m[3, 3] * a3


def warm_up() -> None:
    """Compile (or load from cache) both kernels on a tiny input."""
    psi = np.zeros((1, 4), dtype=np.complex128)
    apply_1q(psi, np.eye(2, dtype=np.complex128)[None], 1, 0)
    apply_2q(psi, np.eye(4, dtype=np.complex128)[None], 1, 1, 0)


def compiled_on_disk() -> bool:
    """Whether numba's on-disk cache holds both kernels for this source (then loading them takes
    about a second; compiling them, tens of seconds of CPU)."""
    return _cached(apply_1q, apply_2q)


def _cached(*dispatchers) -> bool:
    """Whether numba's on-disk cache holds compiled code of every one of `dispatchers`."""
    try:
        return all(bool(k._cache._cache_file._load_index()) for k in dispatchers)
    except Exception:  # numba's cache internals moved: compile (or load) as if missing
        return False


@numba.njit(cache=True)
def _networks_warmed():
    """Marker: its cached code says :func:`warm_up_networks` ran with this numba cache (quimb's own
    functions cannot be asked without importing quimb, which compiles some of them)."""
    return 1


# the numba code a run may compile, by the part of eqvbench that runs it
KERNEL_SETS = ("trajectories", "networks", "pauli")


def missing(sets) -> list[str]:
    """Those of `sets` (names from :data:`KERNEL_SETS`) whose numba code is not in the on-disk cache."""
    out = []
    for name in sets:
        if name == "trajectories":
            done = compiled_on_disk()
        elif name == "networks":
            done = _cached(_networks_warmed)
        else:
            from eqvbench.classical import pauli_propagation as pp

            done = _cached(pp._run_block, pp._rebuild_table)
        if not done:
            out.append(name)
    return out


def warm_up_sets(sets) -> None:
    """Compile (or load) the numba code of `sets` once, here, so that workers started next load it
    from numba's on-disk cache instead of each compiling it (tens of seconds of CPU per set)."""
    from eqvbench import interrupts

    for name in sets:
        interrupts.check()  # between sets (compiling one cannot be stopped cleanly: eqvbench.interrupts)
        if name == "trajectories":
            warm_up()
        elif name == "networks":
            warm_up_networks()
        else:
            warm_up_pauli()


def warm_up_networks() -> None:
    """quimb's numba functions that eqvbench's tensor networks run: those quimb.tensor compiles on
    import and the SVD that splits a two-qubit gate (one fSim gate's amplitude network)."""
    import cirq

    from eqvbench.classical.networks import amplitude_network

    q = cirq.LineQubit.range(2)
    amplitude_network(cirq.Circuit(cirq.FSimGate(np.pi / 2, np.pi / 6).on(*q)), q)
    _networks_warmed()


def warm_up_pauli() -> None:
    """The Pauli-propagation kernels, on <Z> after one RX and one ZZ gate on two qubits."""
    import cirq

    from eqvbench.classical.pauli_propagation import propagate

    q = cirq.LineQubit.range(2)
    propagate(cirq.Circuit(cirq.rx(0.3).on(q[0]), cirq.ZZPowGate(exponent=-0.5).on(*q)), q, [{q[1]: "Z"}])
