"""Qubit lattices: qubits and their couplers (edges)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cirq

# Sycamore, row by row, columns 0..9 ('-' is an empty site); FRAMEWORK.md section 3.
SYCAMORE_ROWS = (
    "-----AB---",
    "----ABCD--",
    "---ABCDEF-",
    "--ABCDEFGH",
    "-ABCDEFGHI",
    "ABCDEFGHI-",
    "-CDEFGHI--",
    "--EFGHI---",
    "---GHI----",
    "----I-----",
)
# The 2019 experiment ran 53 of the 54 sites. Which site was inoperable is not
# fixed by FRAMEWORK.md; we drop a boundary site of the top row, which leaves
# the bulk (and so the contraction cost) as in the 54-site layout.
SYCAMORE_53_DROPPED = cirq.GridQubit(0, 6)


@dataclass(frozen=True)
class Lattice:
    """Qubits (sorted) and nearest-neighbour couplers between them."""

    kind: str
    qubits: tuple[cirq.Qid, ...]
    edges: tuple[tuple[cirq.Qid, cirq.Qid], ...]

    @property
    def n_qubits(self) -> int:
        return len(self.qubits)


def _grid_edges(qubits: list[cirq.GridQubit]) -> tuple[tuple[cirq.GridQubit, cirq.GridQubit], ...]:
    present = set(qubits)
    edges = []
    for q in qubits:
        for nb in (cirq.GridQubit(q.row + 1, q.col), cirq.GridQubit(q.row, q.col + 1)):
            if nb in present:
                edges.append((q, nb))
    return tuple(edges)


def sycamore_qubits(n: int = 53) -> list[cirq.GridQubit]:
    qubits = [
        cirq.GridQubit(r, c)
        for r, row in enumerate(SYCAMORE_ROWS)
        for c, ch in enumerate(row)
        if ch != "-"
    ]
    if n == 53:
        qubits.remove(SYCAMORE_53_DROPPED)
    return sorted(qubits)


def build_lattice(section: dict[str, Any]) -> Lattice:
    """Build a lattice from a resolved `lattice:` section of one point."""
    kind = section["kind"]
    if kind == "grid":
        qubits = cirq.GridQubit.rect(section["rows"], section["cols"])
    elif kind == "sycamore":
        qubits = sycamore_qubits(section["qubits"])
    else:  # pragma: no cover - the spec model rejects other kinds
        raise ValueError(f"unknown lattice kind {kind!r}")
    qubits = sorted(qubits)
    return Lattice(kind=kind, qubits=tuple(qubits), edges=_grid_edges(qubits))
