"""Belief-propagation tensor networks: <0|U^dag O U|0> from a tensor-network state on the circuit's own graph.

The state starts as |0...0> on the qubits of O's light cone and is evolved
through the cone's gates (Tindall, Fishman, Stoudenmire & Sels, PRX Quantum 5,
010308 (2024); the PEPS column of Begusic, Gray & Chan, arXiv:2308.05077).
There is one tensor per qubit and one bond per pair of qubits that share a
two-qubit gate, so heavy-hex, grid, line or any circuit of one- and two-qubit
gates has its own network (no swaps, no embedding).

Gauge and gates (simple update, Vidal gauge): site tensors Gamma_a (bonds...,
physical) and a positive weight vector lambda_e on every bond. A one-qubit
gate acts on Gamma's physical index (exact). A two-qubit gate on the bond
(a, b): absorb the weights of a's and b's other bonds, QR each side down to
its reduced tensor (bond x physical), contract the reduced tensors through
lambda_e with the gate, SVD, keep at most chi singular values (those above
1e-12 of the largest), renormalise them to a unit vector (the new lambda_e) and
divide the other bonds' weights back out. A diagonal gate (RZZ, CZ, ...) has
operator-Schmidt rank <= 2: the reduced product is then a product of two
matrices with inner dimension <= 2 x bond, and its SVD is taken through that
factorisation (exact: the bond grows by at most x2 before truncation).
`discarded` is the sum over gates of the discarded weight sum(s_dropped^2) /
sum(s^2).

Expectation values (belief propagation): after the evolution, BP runs on the
norm network <psi|psi> (site tensors in the symmetric gauge Gamma sqrt(lambda)
on each bond; messages chi x chi matrices, started from diag(lambda), the
simple-update fixed point, and swept to a change below 1e-8). A Pauli string
is contracted exactly over one cluster (its sites joined by shortest paths of
the graph, the bonds inside kept) with BP messages on the cluster's boundary
bonds, divided by the same contraction without the Paulis. On a tree (a line, a star) BP is
exact, so with chi large enough nothing is truncated and the value is exact;
on a lattice with loops BP neglects correlations around loops: that "loop
error" does not shrink with chi and the chi ladder does not see it.

Convergence (:func:`converge`): chi = 4, 8, 16, ... up to a maximum, each from
scratch, until the error estimate is within the target: the larger of the
change from the previous chi and 2 sqrt(2 x discarded weight) (what the
truncation would do to a Pauli's expectation if the state's fidelity were
1 - discarded weight, exact for the canonical gauge of a tree). It is an
estimate, not a bound. A run without any truncation at all is exact up to BP's
loop error and ends the ladder.

FLOP convention (real FLOP, complex128): a matrix product (m x k)(k x n)
counts 8 m k n; Householder QR of m x n (m >= n) with Q formed 16 (m n^2 - n^3 / 3);
an SVD of m x n (m >= n) with both factors 4 (4 m n^2 + 8 n^3) (a complex
multiply-add is 8 real FLOP; Golub & Van Loan's operation counts). Element-wise
scalings are not counted. Peak memory is estimated as the state's bytes plus
the largest gate's working arrays (not measured by the allocator).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg as sla

_PAULI = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}
_REL_CUT = 1e-12  # singular values below this fraction of the largest are dropped (counted as discarded)
_LAM_FLOOR = 1e-300  # weights are divided back out: guard against an exact zero


class NotApplicable(ValueError):
    """The circuit has a gate this engine does not apply (more than two qubits, not unitary)."""


@dataclass(frozen=True)
class Gate:
    """One gate of a compiled program: site indices and its unitary (2x2 or 4x4; `diag` its diagonal
    when the unitary is diagonal)."""

    sites: tuple[int, ...]
    u: np.ndarray
    diag: np.ndarray | None = None
    factors: tuple[np.ndarray, np.ndarray] | None = None  # (A, B), u = sum_k A_k (x) B_k, rank < d^2


@dataclass
class Program:
    """A circuit as gates on sites 0..n-1, and the qubit-interaction graph's edges."""

    n: int
    gates: list[Gate]
    edges: list[tuple[int, int]]


def compile_circuit(circuit, qubits) -> Program:
    """The circuit's one- and two-qubit gates on `qubits` (their order: sites 0..n-1); measurements skipped.

    NotApplicable for a gate on three or more qubits or without a unitary."""
    import cirq

    index = {q: i for i, q in enumerate(qubits)}
    gates: list[Gate] = []
    edges: dict[tuple[int, int], None] = {}
    cache: dict[Any, tuple[np.ndarray, np.ndarray | None]] = {}
    for moment in circuit:
        for op in moment:
            if cirq.is_measurement(op):
                continue
            if len(op.qubits) > 2:
                raise NotApplicable(f"{op} acts on {len(op.qubits)} qubits (one- and two-qubit gates only)")
            key = op.gate if op.gate is not None else None
            hit = cache.get(key) if key is not None else None
            if hit is None:
                if not cirq.has_unitary(op):
                    raise NotApplicable(f"{op} has no unitary")
                u = np.asarray(cirq.unitary(op), dtype=complex)
                d = np.diag(u).copy() if np.count_nonzero(u - np.diag(np.diag(u))) == 0 else None
                hit = (u, d)
                if key is not None:
                    cache[key] = hit
            sites = tuple(index[q] for q in op.qubits)
            gates.append(Gate(sites, hit[0], hit[1]))
            if len(sites) == 2:
                edges[tuple(sorted(sites))] = None
    return Program(len(qubits), gates, list(edges))


def _qr_flops(m: int, n: int) -> float:
    k = min(m, n)
    return 16.0 * (max(m, n) * k * k - k**3 / 3.0)


def _svd_flops(m: int, n: int) -> float:
    lo, hi = min(m, n), max(m, n)
    return 4.0 * (4.0 * hi * lo * lo + 8.0 * lo**3)


def _svd(m: np.ndarray):
    try:
        return sla.svd(m, full_matrices=False, check_finite=False, lapack_driver="gesdd")
    except np.linalg.LinAlgError:  # gesdd can fail to converge where gesvd does not
        return sla.svd(m, full_matrices=False, check_finite=False, lapack_driver="gesvd")


class SimpleUpdateState:
    """A tensor-network state in the Vidal gauge on an arbitrary graph (one tensor per site).

    `tensors[a]` has one axis per neighbour of a (in `nbrs[a]` order) and the physical axis last;
    `lam[(a, b)]` (a < b) is the bond's weight vector.
    """

    def __init__(
        self,
        n: int,
        edges: list[tuple[int, int]],
        max_chi: int,
        phys: int = 2,
        dtype=complex,
        init: list[np.ndarray] | None = None,
    ):
        self.n, self.max_chi, self.d = n, int(max_chi), int(phys)
        self.dtype = np.dtype(dtype)
        # real FLOP per multiply-add: 8 complex, 2 real; QR / SVD counts scale the same way
        self._fm = 8.0 if self.dtype.kind == "c" else 2.0
        self.nbrs: list[list[int]] = [[] for _ in range(n)]
        for a, b in edges:
            self.nbrs[a].append(b)
            self.nbrs[b].append(a)
        self.tensors = []
        for a in range(n):
            t = np.zeros((1,) * len(self.nbrs[a]) + (self.d,), dtype=self.dtype)
            if init is None:
                t[(0,) * len(self.nbrs[a]) + (0,)] = 1.0
            else:
                t[(0,) * len(self.nbrs[a])] = init[a]
            self.tensors.append(t)
        self.lam = {(min(a, b), max(a, b)): np.ones(1) for a, b in edges}
        self.discarded = 0.0
        self.max_discarded = 0.0
        self.flops = 0.0
        self.peak_bytes = 0.0
        self.truncations = 0  # gates where chi limited the bond (singular values above the cut dropped)
        self.log_kept = 0.0  # sum over gates of log sqrt(1 - discarded weight): the norm the truncations kept

    # --- helpers -------------------------------------------------------------------------------------
    def _weights(self, a: int, b: int) -> np.ndarray:
        return self.lam[(a, b) if a < b else (b, a)]

    def bond_dims(self) -> dict[tuple[int, int], int]:
        return {e: len(v) for e, v in self.lam.items()}

    def state_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors) + sum(v.nbytes for v in self.lam.values())

    def _scaled(self, a: int, skip: int | None, power: float) -> np.ndarray:
        """Gamma_a times lambda^power on every bond except the one to `skip`."""
        t = self.tensors[a]
        nd = t.ndim
        for k, c in enumerate(self.nbrs[a]):
            if c == skip:
                continue
            w = self._weights(a, c)
            if power < 0:
                w = np.maximum(w, _LAM_FLOOR)
            shape = [1] * nd
            shape[k] = len(w)
            t = t * (w**power).reshape(shape)
        return t

    # --- gates ---------------------------------------------------------------------------------------
    def apply_1q(self, a: int, u: np.ndarray) -> None:
        t = self.tensors[a]
        self.tensors[a] = np.tensordot(t, u, axes=([t.ndim - 1], [1]))
        self.flops += self._fm * t.size * self.d

    def _reduce(self, a: int, b: int):
        """(Q, R, shape) of site a towards b: Gamma_a with the other weights absorbed, bond to b and the
        physical index last, as Q (rest, k) R (k, chi_e, d); Q None when no reduction pays."""
        d = self.d
        k = self.nbrs[a].index(b)
        t = self._scaled(a, b, 1.0)
        t = np.moveaxis(t, k, -2)
        shape = t.shape
        chi_e = shape[-2]
        rest = int(np.prod(shape[:-2], dtype=np.int64))
        m = t.reshape(rest, chi_e * d)
        if rest <= chi_e * d:
            return None, m.reshape(rest, chi_e, d), shape
        q, r = sla.qr(m, mode="economic", check_finite=False)
        self.flops += _qr_flops(rest, chi_e * d) * self._fm / 8
        return q, r.reshape(r.shape[0], chi_e, d), shape

    def _restore(self, a: int, b: int, q, x: np.ndarray, shape) -> None:
        """Site a from its reduced tensor x (k, d, new): Q x, bond moved back, other weights divided out."""
        k_a, d, new = x.shape
        if q is not None:
            self.flops += self._fm * q.shape[0] * k_a * d * new
            x = (q @ x.reshape(k_a, d * new)).reshape(q.shape[0], d, new)
        x = np.swapaxes(x, 1, 2)  # (rest, new, d)
        t = x.reshape(tuple(shape[:-2]) + (new, d))
        t = np.moveaxis(t, -2, self.nbrs[a].index(b))
        self.tensors[a] = t
        self.tensors[a] = self._scaled(a, b, -1.0)

    def apply_2q(
        self,
        a: int,
        b: int,
        u: np.ndarray,
        diag: np.ndarray | None = None,
        factors: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """A two-qubit gate (d^2 x d^2, site a the first factor) by simple update, truncated to max_chi.

        `diag` (a diagonal 4x4 gate's diagonal) or `factors` (A, B of shapes (r, d, d) with
        u = sum_k A_k (x) B_k) route the update through the gate's operator-Schmidt factorisation."""
        d, fm = self.d, self._fm
        qa, ra, sa = self._reduce(a, b)
        qb, rb, sb = self._reduce(b, a)
        lam_e = self._weights(a, b)
        ka, chi_e, _ = ra.shape
        kb = rb.shape[0]
        ra = ra * lam_e[None, :, None]
        if diag is not None or factors is not None:
            if diag is not None:
                # g[p, q] = sum_k x_k[p] y_k[q] (rank <= 2): theta = Ma Mb^T with inner dimension chi_e * rank
                g = diag.reshape(2, 2)
                uu, ss, vv = np.linalg.svd(g)
                rank = int(np.sum(ss > 1e-14 * ss[0]))
                xk = uu[:, :rank] * ss[:rank]  # (p, k)
                yk = vv[:rank, :].T  # (q, k)
                ma = (ra[:, :, :, None] * xk[None, None, :, :]).transpose(0, 2, 1, 3).reshape(ka * d, chi_e * rank)
                mb = (rb[:, :, :, None] * yk[None, None, :, :]).transpose(0, 2, 1, 3).reshape(kb * d, chi_e * rank)
            else:
                fa, fb = factors
                rank = fa.shape[0]
                ma = np.einsum("iep,kPp->iPek", ra, fa).reshape(ka * d, chi_e * rank)
                mb = np.einsum("iep,kPp->iPek", rb, fb).reshape(kb * d, chi_e * rank)
                self.flops += fm * (ka + kb) * chi_e * rank * d * d
            inner = chi_e * rank
            if inner < min(ka, kb) * d:
                q1, r1 = sla.qr(ma, mode="economic", check_finite=False)
                q2, r2 = sla.qr(mb, mode="economic", check_finite=False)
                core = r1 @ r2.T
                uc, s, vc = _svd(core)
                self.flops += (
                    fm / 8 * (_qr_flops(ka * d, inner) + _qr_flops(kb * d, inner) + _svd_flops(inner, inner))
                    + fm * inner**3
                    + fm * (ka * d + kb * d) * inner * inner
                )
                u_m, vh = q1 @ uc, vc @ q2.T
                work = (ma.size + mb.size + 3 * inner * inner) * ma.itemsize
            else:
                theta = ma @ mb.T
                self.flops += fm * ka * d * inner * kb * d + fm / 8 * _svd_flops(ka * d, kb * d)
                u_m, s, vh = _svd(theta)
                work = 3 * theta.size * theta.itemsize
        else:
            theta = np.einsum("iep,jeq->ipjq", ra, rb)
            theta = np.einsum("ipjq,PQpq->iPjQ", theta, u.reshape(d, d, d, d)).reshape(ka * d, kb * d)
            self.flops += fm * ka * kb * chi_e * d * d + fm * ka * kb * d**4 * d * d
            u_m, s, vh = _svd(theta)
            self.flops += fm / 8 * _svd_flops(ka * d, kb * d)
            work = 3 * theta.size * theta.itemsize
        total = float(np.sum(s * s))
        above = int(np.sum(s > _REL_CUT * s[0])) if s.size and s[0] > 0 else 1
        keep = max(1, min(above, self.max_chi))
        dropped = float(np.sum(s[keep:] ** 2)) / total if total > 0 else 0.0
        if above > self.max_chi:  # chi, not the 1e-12 cut, limited the bond
            self.truncations += 1
        self.discarded += dropped
        self.max_discarded = max(self.max_discarded, dropped)
        self.log_kept += 0.5 * math.log1p(-min(dropped, 1.0 - 1e-300))
        s = s[:keep]
        s = s / np.linalg.norm(s)
        self.lam[(a, b) if a < b else (b, a)] = s
        self._restore(a, b, qa, u_m[:, :keep].reshape(ka, d, keep), sa)
        self._restore(b, a, qb, vh[:keep, :].T.reshape(kb, d, keep), sb)
        self.peak_bytes = max(self.peak_bytes, self.state_bytes() + work)

    def statevector(self) -> np.ndarray:
        """The full state (2^n amplitudes, site 0 the most significant bit) by exact contraction of the
        network with its weights: for checks on small graphs."""
        import cotengra as ctg

        if self.n > 24:
            raise ValueError(f"{self.n} sites: too many for a state vector")
        tens = self.symmetric_tensors()
        bond = {e: i for i, e in enumerate(self.lam)}
        inputs = []
        for a in range(self.n):
            inputs.append(tuple(bond[(min(a, c), max(a, c))] for c in self.nbrs[a]) + (len(bond) + a,))
        out = tuple(len(bond) + a for a in range(self.n))
        return ctg.array_contract(tens, inputs, out, optimize="greedy").reshape(-1)

    # --- belief propagation -------------------------------------------------------------------------
    def symmetric_tensors(self) -> list[np.ndarray]:
        return [self._scaled(a, None, 0.5) for a in range(self.n)]

    def run_bp(self, tol: float = 1e-8, max_iters: int = 100) -> BPEnvironment:
        """Belief propagation on the norm network to convergence (messages from diag(lambda), updated in
        sequential sweeps until no entry of a trace-normalised message changes by more than `tol`)."""
        tens = self.symmetric_tensors()
        msgs: dict[tuple[int, int], np.ndarray] = {}
        for (a, b), w in self.lam.items():
            m = np.diag(w).astype(complex)
            msgs[(a, b)] = m / np.trace(m)
            msgs[(b, a)] = m / np.trace(m)
        change, it = math.inf, 0
        while change > tol and it < max_iters:
            it += 1
            change = 0.0
            for a in range(self.n):  # sequential sweeps: each message uses the newest ones
                for b in self.nbrs[a]:
                    m, fl = _message(tens[a], self.nbrs[a], msgs, a, b)
                    self.flops += fl
                    tr = np.trace(m)
                    m = m / tr if abs(tr) > 0 else m
                    m = 0.5 * (m + m.conj().T)  # Hermitian up to rounding
                    change = max(change, float(np.max(np.abs(m - msgs[(a, b)]))))
                    msgs[(a, b)] = m
        return BPEnvironment(self, tens, msgs, it, change)


def _message(t: np.ndarray, nbrs: list[int], msgs, a: int, b: int) -> tuple[np.ndarray, float]:
    """BP message a -> b: <t| (messages into a from all but b) |t> over the physical index."""
    flops = 0.0
    x = t
    # absorb incoming messages on every bond except to b (ket side)
    for k, c in enumerate(nbrs):
        if c == b:
            continue
        m = msgs[(c, a)]  # (ket, bra)
        x = np.moveaxis(np.tensordot(x, m, axes=([k], [0])), -1, k)
        flops += 8.0 * x.size * m.shape[0]
    kb = nbrs.index(b)
    axes = [i for i in range(t.ndim) if i != kb]
    out = np.tensordot(x, t.conj(), axes=(axes, axes))
    flops += 8.0 * x.size * t.shape[kb]
    return out, flops


@dataclass
class BPEnvironment:
    """A state's BP messages, for expectation values of Pauli strings."""

    state: SimpleUpdateState
    tensors: list[np.ndarray]
    msgs: dict[tuple[int, int], np.ndarray]
    iterations: int
    change: float

    def expectation(self, string: dict[int, str]) -> complex:
        """<P> of a Pauli string {site: 'X'|'Y'|'Z'}: each connected cluster of its sites contracted
        exactly with BP messages on its boundary, divided by the same without the Paulis."""
        sites = [s for s, p in string.items() if p != "I"]
        value = 1.0 + 0j
        for cluster in _clusters(_joined(sites, self.state.nbrs), self.state.nbrs):
            ops = {s: _PAULI[string[s]] for s in cluster if s in string}
            num = self._contract(cluster, ops)
            den = self._contract(cluster, {})
            value *= num / den
        return value

    def _contract(self, cluster: list[int], ops: dict[int, np.ndarray]) -> complex:
        import cotengra as ctg

        nbrs = self.state.nbrs
        inside = set(cluster)
        counter = iter(range(10**9))
        bond_ket: dict[tuple[int, int], int] = {}
        bond_bra: dict[tuple[int, int], int] = {}
        inputs, operands = [], []
        for a in cluster:
            ket, bra = [], []
            for c in nbrs[a]:
                e = (min(a, c), max(a, c)) if c in inside else (a, c)
                if e not in bond_ket:
                    bond_ket[e], bond_bra[e] = next(counter), next(counter)
                ket.append(bond_ket[e])
                bra.append(bond_bra[e])
                if c not in inside:
                    inputs.append((bond_ket[e], bond_bra[e]))
                    operands.append(self.msgs[(c, a)])
            pk, pb = next(counter), next(counter)
            t = self.tensors[a]
            inputs.append(tuple(ket) + (pk,))
            operands.append(t)
            inputs.append(tuple(bra) + (pb,))
            operands.append(t.conj())
            op = ops.get(a)
            inputs.append((pb, pk))  # <bra| O |ket>: O[bra, ket]
            operands.append(np.eye(2, dtype=complex) if op is None else op)
        sizes = {i: d for ix, x in zip(inputs, operands) for i, d in zip(ix, x.shape)}
        tree = ctg.array_contract_tree(inputs, (), sizes, optimize="greedy")
        self.state.flops += 8.0 * float(tree.contraction_cost())  # cost: complex multiply-adds
        return complex(tree.contract(operands))


MAX_CLUSTER = 48  # sites of a joined cluster; beyond, a string's far-apart parts are contracted apart


def _joined(sites: list[int], nbrs: list[list[int]]) -> list[int]:
    """The string's sites and shortest paths joining its connected parts into one cluster (the part
    holding the first site grows towards the nearest other part until all are one), so that the
    correlations between the parts along those paths are contracted exactly: on a tree that makes
    the value exact. Unjoined (the sites alone) when the cluster would exceed MAX_CLUSTER sites."""
    from collections import deque

    parts = _clusters(sites, nbrs)
    if len(parts) <= 1:
        return list(sites)
    joined = set(parts[0])
    rest = set(sites) - joined
    while rest:
        prev = {s: None for s in joined}
        queue = deque(joined)
        hit = None
        while queue and hit is None:
            s = queue.popleft()
            for c in nbrs[s]:
                if c not in prev:
                    prev[c] = s
                    if c in rest:
                        hit = c
                        break
                    queue.append(c)
        if hit is None:  # disconnected graph: the parts cannot be joined
            return list(sites)
        s = hit
        while s is not None and s not in joined:
            joined.add(s)
            s = prev[s]
        for part in _clusters(list(rest), nbrs):
            if hit in part:
                joined |= set(part)
        rest -= joined
        if len(joined) > MAX_CLUSTER:
            return list(sites)
    return sorted(joined)


def _clusters(sites: list[int], nbrs: list[list[int]]) -> list[list[int]]:
    left, out = set(sites), []
    while left:
        start = left.pop()
        comp, stack = [start], [start]
        while stack:
            s = stack.pop()
            for c in nbrs[s]:
                if c in left:
                    left.remove(c)
                    comp.append(c)
                    stack.append(c)
        out.append(sorted(comp))
    return out


# --- the Heisenberg picture: the observable as a tensor-network operator (PEPO) ---------------------

_PTM_INDEX = {"I": 0, "X": 1, "Z": 2, "Y": 3}  # eqvbench.classical.pauli_propagation's local Pauli order
_ZERO_VECTOR = np.array([1.0, 0.0, 1.0, 0.0])  # <0|P|0> for P = I, X, Z, Y


def heisenberg_program(program: Program) -> Program:
    """The program for O -> U^dag O U: its gates in reverse order as real Pauli transfer matrices
    (physical index I, X, Z, Y), a two-qubit gate with its operator-Schmidt factors when their rank
    is below 16 (RZZ: 4)."""
    from eqvbench.classical.pauli_propagation import ptm

    cache: dict[int, Gate] = {}
    gates = []
    for g in reversed(program.gates):
        hit = cache.get(id(g.u))
        if hit is None:
            r = ptm(g.u)
            if len(g.sites) == 1:
                hit = Gate(g.sites, r)
            else:
                # ptm's two-qubit index is p_a + 4 p_b: reorder to (o_a, o_b, i_a, i_b), a the first factor
                r4 = r.reshape(4, 4, 4, 4).transpose(1, 0, 3, 2)
                uu, ss, vv = np.linalg.svd(r4.transpose(0, 2, 1, 3).reshape(16, 16))
                rank = int(np.sum(ss > 1e-12 * ss[0]))
                factors = None
                if rank < 16:
                    factors = ((uu[:, :rank] * ss[:rank]).T.reshape(rank, 4, 4), vv[:rank].reshape(rank, 4, 4))
                hit = Gate(g.sites, r4.reshape(16, 16), None, factors)
            cache[id(g.u)] = hit
        gates.append(Gate(g.sites, hit.u, None, hit.factors))
    return Program(program.n, gates, program.edges)


def evolve_operator(
    hprog: Program, string: dict[int, str], max_chi: int, memory_bytes: float | None = None
) -> SimpleUpdateState:
    """The Pauli string {site: 'X'|'Y'|'Z'} through a :func:`heisenberg_program` by simple update at
    bond dimension max_chi (real float64, physical dimension 4)."""
    init = []
    for a in range(hprog.n):
        v = np.zeros(4)
        v[_PTM_INDEX[string.get(a, "I")]] = 1.0
        init.append(v)
    st = SimpleUpdateState(hprog.n, hprog.edges, max_chi, phys=4, dtype=float, init=init)
    for g in hprog.gates:
        if len(g.sites) == 1:
            st.apply_1q(g.sites[0], g.u)
        else:
            st.apply_2q(g.sites[0], g.sites[1], g.u, None, g.factors)
            if memory_bytes is not None and st.peak_bytes > memory_bytes:
                raise MemoryError(
                    f"chi = {max_chi}: operator and working arrays reached {st.peak_bytes:.3g} B "
                    f"(cap {memory_bytes:.3g} B)"
                )
    return st


def zero_state_value(
    st: SimpleUpdateState, tol: float = 1e-10, max_iters: int = 200, damping: float = 0.0
) -> tuple[float, int, float]:
    """<0...0| O |0...0> of an operator network: every site's Pauli vector contracted with
    (1, 0, 1, 0), the resulting network of bond tensors contracted by belief propagation (vector
    messages, sequential sweeps; the Bethe product of site and bond factors, exact on a tree).
    Returns (value, sweeps, last change)."""
    tens = []
    for a in range(st.n):
        t = st._scaled(a, None, 0.5)
        tens.append(np.tensordot(t, _ZERO_VECTOR, axes=([t.ndim - 1], [0])))
        st.flops += 2.0 * t.size
    msgs: dict[tuple[int, int], np.ndarray] = {}
    for (a, b), w in st.lam.items():
        m = np.sqrt(w)
        msgs[(a, b)] = m / np.linalg.norm(m)
        msgs[(b, a)] = m / np.linalg.norm(m)

    change, it = math.inf, 0
    while change > tol and it < max_iters:
        it += 1
        change = 0.0
        for a in range(st.n):
            for b in st.nbrs[a]:
                m = _vector_message(tens[a], st.nbrs[a], msgs, a, b)
                st.flops += 2.0 * tens[a].size
                nrm = np.linalg.norm(m)
                if nrm > 0:
                    m = m / nrm
                old = msgs[(a, b)]
                if float(np.dot(m, old)) < 0:  # the message's overall sign is free: keep it continuous
                    m = -m
                if damping:
                    m = (1 - damping) * m + damping * old
                    m = m / max(np.linalg.norm(m), 1e-300)
                change = max(change, float(np.max(np.abs(m - old))))
                msgs[(a, b)] = m
    log_abs, sign = 0.0, 1.0
    for a in range(st.n):
        z = _vector_message(tens[a], st.nbrs[a], msgs, a, None)
        z = float(z)
        sign *= np.sign(z)
        log_abs += math.log(abs(z)) if z != 0 else -math.inf
    for a, b in st.lam:
        z = float(np.dot(msgs[(a, b)], msgs[(b, a)]))
        sign *= np.sign(z)
        log_abs -= math.log(abs(z)) if z != 0 else -math.inf
    return float(sign * math.exp(log_abs)), it, change


def _vector_message(t: np.ndarray, nbrs: list[int], msgs, a: int, b: int | None) -> np.ndarray:
    """t (one axis per neighbour of a) contracted with the messages into a from all neighbours but b."""
    x = t
    ax = 0
    for c in nbrs:
        if c == b:
            ax += 1
            continue
        x = np.tensordot(x, msgs[(c, a)], axes=([ax], [0]))
    return x


@dataclass
class BPResult:
    """One evolution at one chi: the observable's value and what it cost."""

    chi: int
    value: float
    terms: list[float]
    discarded: float  # sum over gates of the discarded weight
    max_discarded: float
    max_bond: int
    truncations: int
    bp_iterations: int
    bp_change: float
    flops: float
    seconds: float  # CPU seconds of this process
    wall_seconds: float
    peak_memory_bytes: float


def evolve(program: Program, max_chi: int, memory_bytes: float | None = None) -> SimpleUpdateState:
    """|0...0> through the program's gates by simple update at bond dimension max_chi.

    MemoryError when the estimated peak exceeds `memory_bytes`."""
    st = SimpleUpdateState(program.n, program.edges, max_chi)
    for g in program.gates:
        if len(g.sites) == 1:
            st.apply_1q(g.sites[0], g.u)
        else:
            st.apply_2q(g.sites[0], g.sites[1], g.u, g.diag)
            if memory_bytes is not None and st.peak_bytes > memory_bytes:
                raise MemoryError(
                    f"chi = {max_chi}: state and working arrays reached {st.peak_bytes:.3g} B "
                    f"(cap {memory_bytes:.3g} B)"
                )
    return st


def expectation(
    program: Program, strings: list[dict[int, str]], weights, max_chi: int, memory_bytes: float | None = None
) -> BPResult:
    """sum_i weights_i <P_i> after the program at bond dimension max_chi, BP environments."""
    c0, t0 = time.process_time(), time.perf_counter()
    st = evolve(program, max_chi, memory_bytes)
    env = st.run_bp()
    terms = [float(env.expectation(s).real) for s in strings]
    value = float(np.dot(weights, terms))
    return BPResult(
        max_chi,
        value,
        terms,
        st.discarded,
        st.max_discarded,
        max(st.bond_dims().values(), default=1),
        st.truncations,
        env.iterations,
        env.change,
        st.flops,
        time.process_time() - c0,
        time.perf_counter() - t0,
        st.peak_bytes,
    )


DEFAULT_CHIS = (4, 8, 16, 32, 64, 128, 256)


@dataclass
class BPLadder:
    """The chi ladder's outcome: `value`/`err` (err the last change, an estimate) when status is 'ok'."""

    value: float | None
    err: float | None
    chi: int | None
    status: str  # 'ok' | 'over_budget'
    reason: str
    history: list[BPResult] = field(default_factory=list)
    seconds: float = 0.0  # CPU seconds in all
    wall_seconds: float = 0.0
    exact_tree: bool = False  # nothing truncated on a graph without loops: exact
    picture: str = "schrodinger"  # the ladder's picture: 'schrodinger' (state) or 'heisenberg' (operator)
    tried: list[BPLadder] = field(default_factory=list)  # 'auto': the other picture's unconverged ladder

    @property
    def flops(self) -> float:
        """Counted FLOP of every run, the other picture's ('auto') included."""
        return float(sum(r.flops for x in self.tried + [self] for r in x.history))

    @property
    def discarded(self) -> float | None:
        return self.history[-1].discarded if self.history else None

    @property
    def peak_memory_bytes(self) -> float:
        return max((r.peak_memory_bytes for r in self.history), default=0.0)


def is_tree(n: int, edges) -> bool:
    """Whether the graph on n sites has no loop (a forest)."""
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra == rb:
            return False
        parent[ra] = rb
    return True


def truncation_estimate(discarded: float) -> float:
    """2 sqrt(2 x discarded weight): |<P>_truncated - <P>| for a Pauli P if the truncated state's fidelity
    with the untruncated one were 1 - (sum of the gates' discarded weights), as it is for the exact
    canonical gauge of a loop-free graph (|<a|P|a> - <b|P|b>| <= 2 ||a - b||). An estimate on a graph
    with loops, where the simple-update gauge is not exactly canonical."""
    return 2.0 * math.sqrt(2.0 * max(discarded, 0.0))


PICTURES = ("auto", "schrodinger", "heisenberg")


class _OverBudget(Exception):
    pass


def heisenberg_expectation(
    hprog: Program,
    strings: list[dict[int, str]],
    weights,
    max_chi: int,
    memory_bytes: float | None = None,
    deadline: float | None = None,
) -> BPResult:
    """sum_i weights_i <P_i> with each P_i evolved backwards as an operator network at bond dimension
    max_chi (:func:`evolve_operator`, :func:`zero_state_value`); one evolution per string.
    _OverBudget when the process's CPU time passes `deadline` between strings."""
    c0, t0 = time.process_time(), time.perf_counter()
    terms, disc, maxd, bond, trunc, its, change, flops, peak = [], 0.0, 0.0, 1, 0, 0, 0.0, 0.0, 0.0
    for string in strings:
        if deadline is not None and terms and time.process_time() > deadline:
            raise _OverBudget(f"chi = {max_chi}: the CPU budget ran out after {len(terms)} of {len(strings)} strings")
        st = evolve_operator(hprog, string, max_chi, memory_bytes)
        v, it, ch = zero_state_value(st)
        terms.append(v)
        disc, maxd = max(disc, st.discarded), max(maxd, st.max_discarded)
        bond, trunc = max(bond, max(st.bond_dims().values(), default=1)), trunc + st.truncations
        its, change, flops, peak = max(its, it), max(change, ch), flops + st.flops, max(peak, st.peak_bytes)
    value = float(np.dot(weights, terms))
    return BPResult(
        max_chi,
        value,
        terms,
        disc,
        maxd,
        bond,
        trunc,
        its,
        change,
        flops,
        time.process_time() - c0,
        time.perf_counter() - t0,
        peak,
    )


def converge(
    circuit,
    qubits,
    terms,
    target: float,
    chis=DEFAULT_CHIS,
    max_chi: int | None = None,
    max_seconds: float | None = None,
    memory_bytes: float | None = None,
    picture: str = "auto",
) -> BPLadder:
    """Raise chi until the value's error estimate is within `target`.

    `terms` are (weight, {qubit: 'X'|'Y'|'Z'}) pairs. Each chi of `chis` (up to `max_chi`) is run from
    scratch. `picture` 'schrodinger' evolves |0...0> (:func:`expectation`); its error estimate is the
    larger of the change from the previous chi and :func:`truncation_estimate` of the run's discarded
    weight (the change alone is fooled by a value that drifts slowly with chi while most of the state
    is thrown away). 'heisenberg' evolves each string backwards as an operator network
    (:func:`heisenberg_expectation`); its discarded (Frobenius) weight says nothing about <0|O|0>, so
    its estimate is the larger of the last two changes (three chis agreeing). 'auto' runs the
    Schrodinger ladder and, when it stops unconverged, the Heisenberg one with what is left of the
    budget. No estimate is a bound, and neither sees BP's loop error. A run that truncates nothing
    ends the ladder with err 0 (exact on a graph without loops). The budget (`max_seconds` CPU seconds
    of this process in all: a run predicted from the last two to exceed what is left is not started;
    `memory_bytes` the estimated peak) stops it with status 'over_budget'. BLAS runs on one thread
    (bit-for-bit repeatable, and many-threaded small SVDs crawl on a loaded machine).
    """
    if target <= 0:
        raise ValueError("target must be positive")
    if picture not in PICTURES:
        raise ValueError(f"picture must be one of {PICTURES}, not {picture!r}")
    c0, t0 = time.process_time(), time.perf_counter()
    prog = compile_circuit(circuit, qubits)
    index = {q: i for i, q in enumerate(qubits)}
    weights = np.array([w for w, _ in terms], dtype=float)
    strings = [{index[q]: p for q, p in ps.items()} for _, ps in terms]
    ladder = [c for c in chis if max_chi is None or c <= max_chi]
    if max_chi is not None and (not ladder or ladder[-1] < max_chi):
        ladder.append(int(max_chi))
    if picture != "auto":
        return _ladder(picture, prog, strings, weights, target, ladder, max_seconds, memory_bytes, c0, t0)
    first = _ladder("schrodinger", prog, strings, weights, target, ladder, max_seconds, memory_bytes, c0, t0)
    if first.status == "ok":
        return first
    second = _ladder("heisenberg", prog, strings, weights, target, ladder, max_seconds, memory_bytes, c0, t0)
    second.tried = [first]
    second.reason = f"{second.reason} (Schrodinger picture: {first.reason})"
    if second.status != "ok" and second.err is None and first.value is not None:
        first.tried, first.reason = [second], f"{first.reason} (Heisenberg picture: {second.reason})"
        return first
    return second


def _ladder(picture, prog, strings, weights, target, ladder, max_seconds, memory_bytes, c0, t0) -> BPLadder:
    from threadpoolctl import threadpool_limits

    tree = is_tree(prog.n, prog.edges)
    history: list[BPResult] = []
    hprog = heisenberg_program(prog) if picture == "heisenberg" else None
    deadline = None if max_seconds is None else c0 + max_seconds

    def done(status, reason, value=None, err=None, chi=None, exact=False) -> BPLadder:
        return BPLadder(
            value, err, chi, status, reason, history, time.process_time() - c0, time.perf_counter() - t0, exact, picture
        )

    for chi in ladder:
        spent = time.process_time() - c0
        if max_seconds is not None:
            left = max_seconds - spent
            need = 0.0
            if len(history) >= 2:
                ratio = min(16.0, max(2.0, history[-1].seconds / max(history[-2].seconds, 1e-6)))
                need = history[-1].seconds * ratio
            if left <= 0 or need > left:
                why = (
                    f"chi = {chi} predicted to need {need:.3g} CPU s, {max(left, 0):.3g} left of {max_seconds:g}"
                    if left > 0
                    else f"over {max_seconds:g} CPU s before chi = {chi}"
                )
                return _stopped(history, why, done)
        try:
            with threadpool_limits(limits=1, user_api="blas"):
                if hprog is None:
                    r = expectation(prog, strings, weights, chi, memory_bytes)
                else:
                    r = heisenberg_expectation(hprog, strings, weights, chi, memory_bytes, deadline)
        except (MemoryError, _OverBudget) as e:
            return _stopped(history, str(e), done)
        history.append(r)
        if r.truncations == 0:
            why = "nothing truncated" + (" on a graph without loops: exact" if tree else " (BP's loop error remains)")
            return done("ok", why, r.value, 0.0, chi, exact=tree)
        if len(history) >= 2:
            err = _estimate(history, picture)
            if err is not None and err <= target:
                span = 3 if picture == "heisenberg" else 2
                changes = ", ".join(
                    f"{abs(b.value - a.value):.3g}" for a, b in zip(history[-span:], history[-span + 1 :])
                )
                return done(
                    "ok",
                    f"{picture}: chi {history[-span].chi} -> {chi} "
                    f"changed the value by {changes}, discarded weight {r.discarded:.3g}",
                    r.value,
                    err,
                    chi,
                )
    return _stopped(history, f"not converged within {target:g} by chi = {ladder[-1] if ladder else None}", done)


def _estimate(history: list[BPResult], picture: str = "schrodinger") -> float | None:
    if picture == "heisenberg":
        if len(history) < 3:
            return None
        return max(abs(history[-1].value - history[-2].value), abs(history[-2].value - history[-3].value))
    return max(abs(history[-1].value - history[-2].value), truncation_estimate(history[-1].discarded))


def _stopped(history, reason, done) -> BPLadder:
    if len(history) >= 2:
        lad = done("over_budget", reason, history[-1].value, None, history[-1].chi)
        lad.err = _estimate(history, lad.picture)
        return lad
    if history:
        return done("over_budget", reason, history[-1].value, None, history[-1].chi)
    return done("over_budget", reason)


# --- the observable families' reference and method ---------------------------------------------------


def bp_reference(instance, reg, delta: float | None, notes: list[str]):
    """The whole light cone's <O> by belief propagation, converged within delta / 2 (delta 0.01 when no
    fidelity sets it), as a region reference (None, with the reason in `notes`, when the ladder stops
    unconverged within `region.bp_max_seconds` / `bp_max_chi` / `bp_memory_bytes`) and as the point's
    `belief_propagation` method. The reference is `exact` only on a loop-free graph with nothing
    truncated; otherwise its err is the ladder's estimate, which does not include BP's loop error."""
    from eqvbench.circuits.lightcone import backward_cone, restrict_to_cone
    from eqvbench.classical.methods import not_applicable
    from eqvbench.classical.region import ConeRun

    paulis = instance.paulis
    cone = backward_cone(instance.circuit, paulis)
    target = (delta if delta else 0.01) / 2
    picture = getattr(reg, "bp_picture", "auto")
    budget = {
        "target_err": target,
        "max_seconds": reg.bp_max_seconds,
        "max_chi": reg.bp_max_chi,
        "memory_bytes": reg.bp_memory_bytes,
        "picture": picture,
    }
    weights = instance.term_weights()
    try:
        lad = converge(
            restrict_to_cone(instance.circuit, cone),
            list(cone.qubits),
            list(zip(weights, paulis)),
            target,
            max_chi=reg.bp_max_chi,
            max_seconds=reg.bp_max_seconds,
            memory_bytes=reg.bp_memory_bytes,
            picture=picture,
        )
    except NotApplicable as e:
        return None, not_applicable("belief_propagation", str(e))
    last = lad.history[-1] if lad.history else None
    detail = {
        "chi": lad.chi,
        "picture": lad.picture,
        "discarded_weight": lad.discarded,
        "truncation_estimate": None if last is None else truncation_estimate(last.discarded),
        "max_bond": None if last is None else last.max_bond,
        "bp_iterations": None if last is None else last.bp_iterations,
        "ladder": [
            {
                "picture": x.picture,
                "chi": r.chi,
                "value": r.value,
                "discarded_weight": r.discarded,
                "seconds": round(r.seconds, 3),
                "flops": r.flops,
            }
            for x in lad.tried + [lad]
            for r in x.history
        ],
        "peak_memory_bytes": lad.peak_memory_bytes,
        "cpu_seconds": lad.seconds,
        "loop_free": lad.exact_tree,
    }

    run = ConeRun("belief_propagation", lad.flops, lad.wall_seconds, budget)
    if lad.status != "ok":
        settings = "bp_max_seconds / bp_max_chi / bp_memory_bytes"
        return run.not_converged("belief propagation", target, lad.reason, settings, notes, detail)
    if lad.exact_tree:
        method = f"belief_propagation ({lad.picture}, chi {lad.chi}, loop-free graph, nothing truncated: exact)"
        return run.converged(lad.value, 0.0, method, "loop-free graph and nothing truncated: exact", detail)
    method = (
        f"belief_propagation ({lad.picture}, chi {lad.chi}, discarded weight {lad.discarded:.2g}; "
        "error estimated from the chi ladder, BP's loop error not included)"
    )
    # the chi ladder's change: an estimate that leaves out BP's loop error; the entry's err is set only
    # where an independent computation certifies the value (eqvbench.classical.certify)
    detail["ladder_err"] = lad.err
    note = "error estimated from the chi ladder and the discarded weight; BP's loop error is not included"
    return run.converged(lad.value, lad.err, method, note, detail, exact=False, alone=False)
