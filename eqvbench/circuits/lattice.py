"""Qubit lattices: qubits and their couplers (edges)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cirq

# Sycamore, row by row, columns 0..9 ('-' is an empty site), as in Arute et al. (2019).
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
# part of the published layout; we drop a boundary site of the top row, which leaves
# the bulk (and so the contraction cost) as in the 54-site layout.
SYCAMORE_53_DROPPED = cirq.GridQubit(0, 6)


Edge = tuple[cirq.Qid, cirq.Qid]


@dataclass(frozen=True)
class Lattice:
    """Qubits (sorted), couplers, and an edge colouring into layers of disjoint couplers."""

    kind: str
    qubits: tuple[cirq.Qid, ...]
    edges: tuple[Edge, ...]
    layers: tuple[tuple[Edge, ...], ...] = ()

    @property
    def n_qubits(self) -> int:
        return len(self.qubits)

    def neighbours(self) -> dict[cirq.Qid, set[cirq.Qid]]:
        nb: dict[cirq.Qid, set[cirq.Qid]] = {q: set() for q in self.qubits}
        for a, b in self.edges:
            nb[a].add(b)
            nb[b].add(a)
        return nb

    def ball(self, centre: Sequence[cirq.Qid], radius: int) -> set[cirq.Qid]:
        """Qubits within `radius` coupler hops of any qubit in `centre`."""
        nb = self.neighbours()
        seen = set(centre)
        front = set(centre)
        for _ in range(radius):
            front = {m for q in front for m in nb[q]} - seen
            seen |= front
        return seen

    def restrict(self, qubits: set[cirq.Qid], kind: str | None = None) -> Lattice:
        """The sub-lattice induced by `qubits` (couplers and layers among them)."""
        keep = lambda e: e[0] in qubits and e[1] in qubits  # noqa: E731
        return Lattice(
            kind or self.kind,
            tuple(q for q in self.qubits if q in qubits),
            tuple(e for e in self.edges if keep(e)),
            tuple(tuple(e for e in layer if keep(e)) for layer in self.layers),
        )


def _grid_edges(qubits: list[cirq.GridQubit]) -> tuple[tuple[cirq.GridQubit, cirq.GridQubit], ...]:
    present = set(qubits)
    edges = []
    for q in qubits:
        for nb in (cirq.GridQubit(q.row + 1, q.col), cirq.GridQubit(q.row, q.col + 1)):
            if nb in present:
                edges.append((q, nb))
    return tuple(edges)


def sycamore_qubits(n: int = 53) -> list[cirq.GridQubit]:
    qubits = [cirq.GridQubit(r, c) for r, row in enumerate(SYCAMORE_ROWS) for c, ch in enumerate(row) if ch != "-"]
    if n == 53:
        qubits.remove(SYCAMORE_53_DROPPED)
    return sorted(qubits)


def _grid_layers(edges) -> tuple[tuple[Edge, ...], ...]:
    """Four layers: horizontal couplers from even / odd columns, vertical from even / odd rows."""
    horiz = [e for e in edges if e[0].row == e[1].row]
    vert = [e for e in edges if e[0].col == e[1].col]
    return (
        tuple(e for e in horiz if e[0].col % 2 == 0),
        tuple(e for e in horiz if e[0].col % 2 == 1),
        tuple(e for e in vert if e[0].row % 2 == 0),
        tuple(e for e in vert if e[0].row % 2 == 1),
    )


def line(n: int) -> Lattice:
    q = cirq.LineQubit.range(n)
    edges = tuple((q[i], q[i + 1]) for i in range(n - 1))
    return Lattice("line", tuple(q), edges, (edges[0::2], edges[1::2]))


def ring(n: int) -> Lattice:
    """n >= 3 qubits in a cycle; 2 layers for even n, 3 for odd n."""
    q = cirq.LineQubit.range(n)
    edges = tuple((q[i], q[(i + 1) % n]) for i in range(n))
    if n % 2 == 0:
        layers = (edges[0::2], edges[1::2])
    else:
        layers = (edges[0 : n - 1 : 2], edges[1 : n - 1 : 2], (edges[-1],))
    return Lattice("ring", tuple(q), edges, layers)


@lru_cache(maxsize=1)
def heavy_hex_127() -> Lattice:
    """IBM Eagle's 127-qubit heavy-hex coupling map (IBM numbering), three layers in experiment order."""
    from importlib.resources import files

    data = json.loads((files("eqvbench") / "data" / "ibm_eagle_127_heavy_hex.json").read_text())
    q = cirq.LineQubit.range(data["n_qubits"])
    layers = tuple(tuple((q[a], q[b]) for a, b in edges) for edges in data["layers"].values())
    edges = tuple(e for layer in layers for e in layer)
    return Lattice("heavy_hex_127", tuple(q), edges, layers)


def build_lattice(section: dict[str, Any]) -> Lattice:
    """Build a lattice from a resolved `lattice:` section of one point."""
    kind = section["kind"]
    if kind in ("grid", "sycamore"):
        qubits = (
            cirq.GridQubit.rect(section["rows"], section["cols"])
            if kind == "grid"
            else sycamore_qubits(section["qubits"])
        )
        qubits = sorted(qubits)
        edges = _grid_edges(qubits)
        return Lattice(kind=kind, qubits=tuple(qubits), edges=edges, layers=_grid_layers(edges))
    if kind == "line":
        return line(section["n"])
    if kind == "ring":
        return ring(section["n"])
    if kind == "heavy_hex_127":
        return heavy_hex_127()
    if kind == "heavy_hex":
        full = heavy_hex_127()
        return full.restrict(full.ball([cirq.LineQubit(section["center"])], section["radius"]), "heavy_hex")
    if kind == "circuit":  # the coupling graph of a circuit file's two-qubit gates
        from eqvbench.families.circuit import coupling_lattice

        return coupling_lattice(section["file"], section.get("max_gates"))
    raise ValueError(f"unknown lattice kind {kind!r}")  # pragma: no cover - the spec model rejects others


def qubit_numbers(lattice: Lattice) -> dict[cirq.Qid, int]:
    """How specs number a lattice's qubits (observables, calibration tables): the IBM / line number
    of a LineQubit, else the index in the lattice's sorted qubit order (row-major on a grid)."""
    if lattice.qubits and isinstance(lattice.qubits[0], cirq.LineQubit):
        return {q: q.x for q in lattice.qubits}
    return {q: i for i, q in enumerate(lattice.qubits)}


def qubit_of(lattice: Lattice, ref: int | str) -> cirq.Qid | None:
    """The lattice qubit a spec's reference names, or None: an integer is numbered as in
    :func:`qubit_numbers` (the IBM / line number of a LineQubit, else the index in the lattice's sorted
    qubit order); a string 'row,col' is a grid qubit."""
    if isinstance(ref, str):
        r, c = (int(x) for x in ref.split(","))
        q = cirq.GridQubit(r, c)
        return q if q in set(lattice.qubits) else None
    if lattice.qubits and isinstance(lattice.qubits[0], cirq.LineQubit):
        q = cirq.LineQubit(ref)
        return q if q in set(lattice.qubits) else None
    return lattice.qubits[ref] if 0 <= ref < lattice.n_qubits else None


def qubit_label(q: cirq.Qid) -> int | str:
    """A qubit as the JSON names it: the number of a LineQubit, 'row,col' of a GridQubit (the forms a
    spec refers to qubits by, see :func:`qubit_of`); hashable, so plots and tables can key on it."""
    if isinstance(q, cirq.LineQubit):
        return q.x
    if isinstance(q, cirq.GridQubit):
        return f"{q.row},{q.col}"
    return str(q)
