"""Bring your own circuit: an OpenQASM 2 or Cirq JSON file, measured by XEB or a Pauli observable.

`circuit.file` is read once (by content) into a circuit on qubits numbered in the
file's order (QASM: registers in declaration order, then index; Cirq JSON: the
circuit's qubits sorted); no `circuit.observable` means every qubit is measured
and the fidelity is the XEB (as :mod:`eqvbench.families.rcs`); an observable is a
Pauli string or a weighted sum of them on those numbers, measured as in
:mod:`eqvbench.families.floquet_ising`, whose light cone, noisy simulation,
effective region, Pauli propagation and butterfly map it reuses. The effective
region grows on the coupling graph of the circuit's two-qubit gates.

Nothing read from a file runs code: QASM is parsed by cirq's grammar, Cirq JSON
is decoded into registered cirq types only, and anything but a `cirq.Circuit` of
one- and two-qubit unitary gates is refused.
"""

from __future__ import annotations

import dataclasses

import hashlib
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ValidationInfo, field_validator

from eqvbench.families.base import (
    BUTTERFLY_FIELDS,
    REGION_COLUMNS,
    SAMPLING_FIELDS,
    SIM_FIELDS,
    XEB_FIELDS,
    Family,
    Instance,
    LightCone,
    Measurement,
    PointSettings,
    Region,
    observable_fields,
    reproduction_columns,
)
from eqvbench.families.floquet_ising import IsingRegionSpec, parse_pauli_sum
from eqvbench.families.observable import ObservableInstance
from eqvbench.spec import Section, Sweep, short_repr

MAX_CIRCUIT_BYTES = 50_000_000
MAX_CIRCUIT_QUBITS = 4096
FORMATS = {".qasm": "OpenQASM 2", ".json": "Cirq JSON"}


class CircuitFileError(ValueError):
    """A circuit file that cannot be used; `line` is the file's line where known."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True)
class LoadedCircuit:
    """A circuit file's circuit on LineQubit(0..n-1) in the file's qubit order."""

    circuit: Any  # cirq.Circuit, measurements removed
    n_qubits: int
    labels: tuple[str, ...]  # each qubit's name in the file
    sha256: str
    format: str


# --- reading files ------------------------------------------------------------------------------


def resolve_path(value: str, base_dir: Path | None) -> Path:
    """`value` as an absolute path: relative paths start at `base_dir` (the spec file's directory)."""
    path = Path(value)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return Path(path.absolute())


def load_circuit(path: str | Path) -> LoadedCircuit:
    """Read and check a circuit file (cached by content); CircuitFileError says what is wrong."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CircuitFileError(
            f"unknown format {path.suffix or '(no extension)'!r}: "
            f"use {', '.join(f'{k} ({v})' for k, v in FORMATS.items())}"
        )
    if not path.exists():
        raise CircuitFileError("file not found")
    if not path.is_file():
        raise CircuitFileError("is not a regular file")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CIRCUIT_BYTES + 1)
    except OSError as e:
        raise CircuitFileError(f"cannot read: {e.__class__.__name__}") from None
    if len(data) > MAX_CIRCUIT_BYTES:
        raise CircuitFileError(f"larger than {MAX_CIRCUIT_BYTES // 10**6} MB")
    return _load_bytes(data, path.suffix.lower(), hashlib.sha256(data).hexdigest())


@lru_cache(maxsize=32)
def _load_bytes(data: bytes, suffix: str, sha: str) -> LoadedCircuit:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CircuitFileError(f"not UTF-8 text (byte {e.start})") from None
    import numpy as np

    try:
        with np.errstate(all="ignore"):  # an angle computed as inf is refused below, not warned about
            if suffix == ".qasm":
                circuit, labels = _from_qasm(text)
            else:
                circuit, labels = _from_cirq_json(text)
    except CircuitFileError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever else a malformed file trips: one line, no traceback
        raise CircuitFileError(f"cannot be read: {e.__class__.__name__}: {_first_line(e)}") from None
    if len(labels) > MAX_CIRCUIT_QUBITS:
        raise CircuitFileError(f"{len(labels)} qubits, more than {MAX_CIRCUIT_QUBITS}")
    return LoadedCircuit(circuit, len(labels), tuple(labels), sha, FORMATS[suffix])


@dataclass(frozen=True)
class _Statement:
    line: int
    column: int
    name: str
    n_args: int
    text: str
    start: int  # offsets in the program text: [start, end)
    end: int


def qasm_statements(text: str) -> list[_Statement]:
    """Top-level statements of a QASM program (a gate definition is one statement; comments removed),
    with the line and column each starts at: enough to say where a construct eqvbench refuses is,
    and to cut the program at its barriers."""
    out, buf, depth, line, col = [], [], 0, 1, 1
    start = None

    def emit(end: int) -> None:
        body = "".join(buf).strip()
        if body and start is not None:
            name = re.match(r"[A-Za-z_][\w]*", body)
            rest = re.sub(r"^[A-Za-z_]\w*\s*(\([^)]*\))?", "", body).strip()
            n_args = len([a for a in rest.split(",") if a.strip()]) if rest else 0
            out.append(_Statement(start[0], start[1], name.group(0) if name else "", n_args, body, start[2], end))

    i = 0
    while i < len(text):
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = len(text) if j < 0 else j
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
            if depth == 0:  # the end of a gate definition
                emit(i + 1)
                buf, start = [], None
        elif depth == 0:
            if c == ";":
                emit(i + 1)
                buf, start = [], None
            else:
                if start is None and not c.isspace():
                    start = (line, col, i)
                buf.append(c)
        if c == "\n":
            line, col = line + 1, 1
        else:
            col += 1
        i += 1
    return out


_REFUSED_STATEMENTS = {
    "reset": "reset is not supported (eqvbench starts every qubit in |0>)",
    "if": "classically controlled gates are not supported",
    "opaque": "opaque gates are not supported (no unitary)",
}


def _only(text: str, statements: list[_Statement]) -> str:
    """`text` with everything but `statements` blanked (line breaks kept: lines and columns stay)."""
    out, pos = [], 0
    for st in sorted(statements, key=lambda st: st.start):
        gap = text[pos : st.start]
        out.append(re.sub(r"[^\n]", " ", gap))
        out.append(text[st.start : st.end])
        pos = st.end
    out.append(re.sub(r"[^\n]", " ", text[pos:]))
    return "".join(out)


def _from_qasm(text: str):
    import cirq
    from cirq.contrib.qasm_import import QasmException

    statements = qasm_statements(text)
    for st in statements:
        if st.name in _REFUSED_STATEMENTS:
            raise CircuitFileError(_REFUSED_STATEMENTS[st.name], st.line)
    # a barrier starts a new moment (cirq's grammar lacks it): the program is read in pieces cut at
    # its barriers, each with every declaration, and the pieces' circuits follow one another
    declarations = {"OPENQASM", "include", "qreg", "creg", "qubit", "bit", "gate"}
    pieces: list[list[_Statement]] = [[]]
    for st in statements:
        if st.name == "barrier":
            pieces.append([])
        elif st.name not in declarations:
            pieces[-1].append(st)
    kept = [st for st in statements if st.name in declarations]
    try:
        if len(pieces) == 1:
            circuit = _read_qasm(text)
        else:
            circuit = cirq.Circuit()
            for piece in pieces:
                if piece:
                    circuit += _read_qasm(_only(text, kept + piece))
    except QasmException as e:
        raise _qasm_error(str(getattr(e, "message", e))) from None
    except ImportError as e:  # cirq's QASM reader needs `ply`
        raise CircuitFileError(
            f"reading OpenQASM needs the Python package {e.name or 'ply'!r} (pip install ply)"
        ) from None
    except (ValueError, TypeError, ArithmeticError, RecursionError) as e:
        raise CircuitFileError(f"not a circuit cirq's OpenQASM reader accepts: {_first_line(e)}") from None
    # qubits in declaration order: registers as declared, then index (cirq names them reg_index)
    order: list[tuple[str, str]] = []
    for st in statements:
        m = re.fullmatch(r"qreg\s+([A-Za-z_]\w*)\s*\[\s*(\d+)\s*\]", st.text) or re.fullmatch(
            r"qubit\s*\[\s*(\d+)\s*\]\s*([A-Za-z_]\w*)", st.text
        )
        if m:
            reg, size = (m.group(1), m.group(2)) if st.text.startswith("qreg") else (m.group(2), m.group(1))
            if int(size) > MAX_CIRCUIT_QUBITS:
                raise CircuitFileError(f"register {reg} has {size} qubits, more than {MAX_CIRCUIT_QUBITS}", st.line)
            order += [(f"{reg}_{i}", f"{reg}[{i}]") for i in range(int(size))]
    names = [n for n, _ in order]
    extra = sorted(q for q in circuit.all_qubits() if getattr(q, "name", None) not in set(names))
    order += [(str(q), str(q)) for q in extra]
    mapping = {cirq.NamedQubit(n): cirq.LineQubit(i) for i, (n, _) in enumerate(order)}
    mapping.update({q: cirq.LineQubit(len(names) + k) for k, q in enumerate(extra)})

    def where(kind: str) -> int | None:
        return next((st.line for st in statements if st.name == kind), None)

    def line_of_wide_gate() -> int | None:
        skip = {"qreg", "creg", "qubit", "bit", "measure", "include", "OPENQASM", "gate", "barrier"}
        return next((st.line for st in statements if st.n_args > 2 and st.name not in skip), None)

    circuit = _checked(circuit, where, line_of_wide_gate)
    return circuit.transform_qubits(lambda q: mapping[q]), [label for _, label in order]


def _finite(op, what: str):
    """`op` on floats, refusing a result that is not a finite real number: cirq's reader computes
    integer powers exactly (9^9^9 would not end) and lets exp(1000) or sqrt(-1) through as inf, nan."""
    import numpy as np

    def checked(*args):
        if not all(isinstance(a, (int, float, np.number)) for a in args):
            return op(*args)  # a custom gate's symbolic parameter: its value is checked once applied
        try:
            with np.errstate(all="ignore"):
                value = op(*(float(a) for a in args))
        except OverflowError:
            value = math.inf
        if isinstance(value, complex) or not math.isfinite(value):
            raise ArithmeticError(f"a gate parameter's {what} is not a finite real number")
        return float(value)

    return checked


def _read_qasm(text: str):
    """cirq's OpenQASM 2 reader with its parameter arithmetic in checked floats."""
    from cirq.contrib.qasm_import._parser import QasmParser

    parser = QasmParser()
    parser.binary_operators = {k: _finite(op, f"'{k}'") for k, op in parser.binary_operators.items()}
    parser.functions = {k: _finite(f, f"{k}()") for k, f in parser.functions.items()}
    return parser.parse(text).circuit


def _qasm_error(message: str) -> CircuitFileError:
    """cirq's QasmException as one line: 'line L, column C: what' (its context lines dropped)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    what = lines[0] if lines else "does not parse"
    m = re.search(r"at line (\d+)(?:, column (\d+))?", message)
    if m:
        what = re.sub(r"\s*at line \d+(, column \d+)?'?", "", what).strip()
        where = int(m.group(1))
        err = CircuitFileError(what + (f" (column {m.group(2)})" if m.group(2) else ""), where)
        return err
    return CircuitFileError(what)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else e.__class__.__name__


def _from_cirq_json(text: str):
    import json

    import cirq

    try:
        obj = cirq.read_json(json_text=text)
    except json.JSONDecodeError as e:
        raise CircuitFileError(f"malformed JSON: {e.msg} (column {e.colno})", e.lineno) from None
    except RecursionError:
        raise CircuitFileError("JSON nested too deeply") from None
    except Exception as e:  # noqa: BLE001 - unknown cirq_type, bad fields: a bad file, said in one line
        raise CircuitFileError(f"not Cirq JSON that cirq can read: {_first_line(e)}") from None
    if not isinstance(obj, cirq.Circuit):
        raise CircuitFileError(f"holds a {type(obj).__name__}, not a cirq.Circuit")
    circuit = _checked(obj, lambda kind: None, lambda: None)
    qubits = sorted(circuit.all_qubits())
    if len(qubits) > MAX_CIRCUIT_QUBITS:
        raise CircuitFileError(f"{len(qubits)} qubits, more than {MAX_CIRCUIT_QUBITS}")
    mapping = {q: cirq.LineQubit(i) for i, q in enumerate(qubits)}
    return circuit.transform_qubits(lambda q: mapping[q]), [str(q) for q in qubits]


def _checked(circuit, where, line_of_wide_gate):
    """The circuit with sub-circuits unrolled and terminal measurements removed; CircuitFileError for
    what eqvbench cannot simulate (mid-circuit measurement, gates on 3+ qubits, non-unitary or
    symbolic operations, angles that are not finite)."""
    import cirq
    import numpy as np

    circuit = cirq.unroll_circuit_op(circuit, deep=True, tags_to_check=None)
    if cirq.is_parameterized(circuit):
        raise CircuitFileError(
            f"symbolic parameters {sorted(map(str, cirq.parameter_names(circuit)))} have no values (write numbers)"
        )
    if not circuit.are_all_measurements_terminal():
        raise CircuitFileError(
            "a measurement before the end of the circuit (eqvbench measures at the end: "
            "every qubit, or circuit.observable)",
            where("measure"),
        )
    moments = []
    for moment in circuit:
        ops = []
        for op in moment:
            if cirq.is_measurement(op) or not op.qubits:
                continue  # terminal measurements (eqvbench decides what is measured), global phases
            if len(op.qubits) > 2:
                raise CircuitFileError(
                    f"unsupported gate {_op_name(op)} on {len(op.qubits)} qubits: eqvbench "
                    "simulates one- and two-qubit gates (decompose it)",
                    line_of_wide_gate(),
                )
            try:
                unitary = None if isinstance(op, cirq.ClassicallyControlledOperation) else cirq.unitary(op, None)
            except (ArithmeticError, ValueError) as e:  # an angle such as 3^(9^9), computed as inf
                raise CircuitFileError(
                    f"gate {_op_name(op, True)}: its unitary cannot be computed "
                    f"({_first_line(e)}); is a parameter not a finite number?"
                ) from None
            if unitary is None:
                raise CircuitFileError(
                    f"unsupported operation {_op_name(op)}: not a unitary gate", where("if") or where("reset")
                )
            if not np.isfinite(unitary).all():  # an infinite or NaN angle (Infinity in Cirq JSON)
                raise CircuitFileError(f"gate {_op_name(op, True)} has a parameter that is not a finite number")
            ops.append(op)
        moments.append(cirq.Moment(ops))
    out = cirq.Circuit(m for m in moments if len(m))
    if not any(True for _ in out.all_operations()):
        raise CircuitFileError("the circuit has no gates")
    return out


def _op_name(op, safe: bool = False) -> str:
    """The gate as cirq prints it (`safe`: its type, where printing an infinite angle would fail)."""
    if safe:
        return type(op.gate if op.gate is not None else op).__name__
    return short_repr(str(op.gate if op.gate is not None else op), 60)


# --- the coupling graph ------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _coupling(sha: str, path: str):
    import cirq

    from eqvbench.circuits.lattice import Lattice

    loaded = load_circuit(path)
    qubits = tuple(cirq.LineQubit.range(loaded.n_qubits))
    pairs = sorted({tuple(sorted(op.qubits)) for op in loaded.circuit.all_operations() if len(op.qubits) == 2})
    return Lattice("circuit", qubits, tuple(pairs), ())


def coupling_lattice(path: str):
    """A lattice whose qubits are the file's and whose couplers are the pairs its two-qubit gates
    act on: what the effective region's balls grow on (`.ball`, `.restrict`, `.n_qubits`)."""
    loaded = load_circuit(path)
    return _coupling(loaded.sha256, str(path))


# --- observables ---------------------------------------------------------------------------------


def resolve_terms(text: str, n_qubits: int) -> tuple[list[dict], list[float] | None]:
    """The observable's Pauli strings on LineQubit(k) and their coefficients (None: their mean, for
    M_z and a single string of coefficient 1); ValueError naming a qubit the circuit lacks."""
    import cirq

    terms = parse_pauli_sum(text)
    if any(o.is_mean_z for _, o in terms):
        if len(terms) > 1 or terms[0][0] != 1.0:
            raise ValueError(f"M_z is the mean of Z over all qubits and cannot be part of a sum ({text!r})")
        return [{cirq.LineQubit(k): "Z"} for k in range(n_qubits)], None
    strings = []
    for _, obs in terms:
        for k in obs.paulis:
            if k >= n_qubits:
                raise ValueError(
                    f"qubit {k} of {short_repr(str(text))} is not in the circuit, which has "
                    f"{n_qubits} qubits (numbered 0..{n_qubits - 1} in the file's order)"
                )
        strings.append({cirq.LineQubit(k): p for k, p in sorted(obs.paulis.items())})
    coefficients = [c for c, _ in terms]
    if len(terms) == 1 and coefficients[0] == 1.0:
        return strings, None
    return strings, coefficients


# --- the spec ----------------------------------------------------------------------------------


def _check_file(value: Any, info: ValidationInfo) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected the path of a circuit file (.qasm or .json)")
    base = (info.context or {}).get("base_dir")
    path = resolve_path(value, Path(base) if base else None)
    try:
        load_circuit(path)
    except CircuitFileError as e:
        shown = short_repr(value)
        if not Path(value).is_absolute() and "not found" in str(e):
            raise ValueError(f"{shown}: file not found (looked for {path})") from None
        raise ValueError(f"{shown}: {e}") from None
    return str(path)


def _check_observable_text(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("expected a Pauli string such as 'Z3 X4' or a sum such as '0.5*Z0 + 0.5*Z1'")
    parse_pauli_sum(value)
    return value.strip()


class CircuitSection(Section):
    """`circuit:` section of a circuit spec: the file, and what is measured."""

    file: Sweep(Annotated[str, BeforeValidator(_check_file)])
    # None: every qubit measured, fidelity by XEB
    observable: Sweep(Annotated[str | None, BeforeValidator(_check_observable_text)]) = [None]
    region: IsingRegionSpec = IsingRegionSpec()

    @field_validator("observable")
    @classmethod
    def _on_the_circuit(cls, observables, info: ValidationInfo):
        for path in info.data.get("file") or []:
            n = load_circuit(path).n_qubits
            for text in observables:
                if text is not None:
                    resolve_terms(text, n)
        return observables


class CircuitLattice(Section):
    """The `lattice:` of a circuit spec: always the coupling graph of the file's two-qubit gates."""

    kind: Literal["circuit"] = "circuit"


# --- the family --------------------------------------------------------------------------------


class CircuitFamily(Family):
    name = "circuit"
    # XEB's fields without an observable, an observable's with one; the table shows what a point has
    result_fields = (
        (dataclasses.replace(XEB_FIELDS[0], header="XEB"),)
        + XEB_FIELDS[1:]
        + observable_fields()
        + reproduction_columns()
        + REGION_COLUMNS
        + SIM_FIELDS
        + BUTTERFLY_FIELDS
        + SAMPLING_FIELDS
    )
    depth_param = None
    circuit_required = True  # the file has no default
    not_applicable = {
        "region": "no circuit.observable: every qubit is measured (XEB), the region is the whole circuit",
        "pauli_propagation": "no circuit.observable: XEB needs amplitudes of sampled bitstrings, not the "
        "expectation of a few Pauli strings",
        "belief_propagation": "no circuit.observable: XEB needs amplitudes of sampled bitstrings, not the "
        "expectation of a few Pauli strings",
    }
    lattice_spec = CircuitLattice
    circuit_spec = CircuitSection

    def default_lattice(self):
        return CircuitLattice()

    def complete_point(self, values: dict[str, Any]) -> dict[str, Any]:
        """The point's lattice is its file's coupling graph."""
        values["lattice"] = {"kind": "circuit", "file": values["circuit"]["file"]}
        return values

    def n_instances(self, circuit: dict[str, Any]) -> int:
        return 1  # the file is one circuit

    def check_point(self, lattice, values: dict[str, Any]) -> list[tuple[str, str]]:
        text = values["circuit"]["observable"]
        if text is None:
            return []
        try:
            resolve_terms(text, lattice.n_qubits)
        except ValueError as e:
            return [("circuit.observable", str(e))]
        return []

    def build(self, lattice, circuit: dict[str, Any], seed: int) -> Instance:
        """Without an observable a plain :class:`Instance` (every qubit measured); with one an
        :class:`ObservableInstance` (its regions: the file's gates among a ball's qubits)."""
        loaded = load_circuit(circuit["file"])
        if circuit["observable"] is None:
            return Instance(loaded.circuit, lattice.qubits, lattice.qubits, seed)
        paulis, coefficients = resolve_terms(circuit["observable"], lattice.n_qubits)
        return ObservableInstance.of(loaded.circuit, lattice.qubits, paulis, lattice, seed, coefficients)

    @staticmethod
    def _observable(instance: Instance) -> bool:
        return isinstance(instance, ObservableInstance)

    def samples(self, instance: Instance) -> bool:
        return not self._observable(instance)

    def light_cone(self, instance: Instance) -> LightCone:
        from eqvbench.families import floquet_ising, rcs

        if self._observable(instance):
            return floquet_ising.FAMILY.light_cone(instance)
        return rcs.FAMILY.light_cone(instance)

    def measure(self, instances, noise, settings: PointSettings, rng) -> Measurement:
        from eqvbench.families import floquet_ising, rcs

        if self._observable(instances[0]):
            return floquet_ising.FAMILY.measure(instances, noise, settings, rng)
        return rcs.FAMILY.measure(instances, noise, settings, rng)

    def effective_region(self, instance, settings: PointSettings, f_eff, noise, rng) -> Region | None:
        from eqvbench.families.floquet_ising import find_effective_region

        if not self._observable(instance):
            return None  # every qubit is measured: the whole circuit matters
        return find_effective_region(instance, settings, f_eff, noise, rng)

    def structure_key(self, values: dict[str, Any]) -> dict[str, Any]:
        # by content, not by path: the same circuit anywhere has the same seeds and cost
        c = values["circuit"]
        return {"circuit_sha256": load_circuit(c["file"]).sha256, "observable": c["observable"]}


# --- writing QASM -------------------------------------------------------------------------------


def _angle(x: float) -> str:
    return repr(float(x))


def qasm_of_op(op, name: dict) -> list[str]:
    """One operation as OpenQASM 2 statements on the qubit names `name`: rotations as rx/ry/rz/rzz with
    their angle in full precision (global phases dropped), other gates as cirq writes them."""
    import cirq

    g, qs = op.gate, [name[q] for q in op.qubits]
    exact = {
        cirq.H: "h",
        cirq.X: "x",
        cirq.Y: "y",
        cirq.Z: "z",
        cirq.S: "s",
        cirq.T: "t",
        cirq.CNOT: "cx",
        cirq.CZ: "cz",
        cirq.SWAP: "swap",
    }
    for gate, qasm_name in exact.items():
        if g == gate:
            return [f"{qasm_name} {','.join(qs)};"]
    rotations = {
        cirq.XPowGate: "rx",
        cirq.YPowGate: "ry",
        cirq.ZPowGate: "rz",
        cirq.ZZPowGate: "rzz",
        cirq.XXPowGate: "rxx",
        cirq.YYPowGate: "ryy",
    }
    for kind, qasm_name in rotations.items():
        if isinstance(g, kind):
            if not cirq.is_parameterized(g):
                return [f"{qasm_name}({_angle(g.exponent * math.pi)}) {','.join(qs)};"]
    args = cirq.QasmArgs(qubit_id_map=name)
    text = cirq.qasm(op, args=args, default=None)
    if text is None:
        raise ValueError(f"no OpenQASM 2 form for {op}")
    return [ln for ln in text.splitlines() if ln.strip()]


def to_qasm(circuit, qubits=None, comment: str | None = None) -> str:
    """The circuit as an OpenQASM 2 program on one register q, q[k] the k-th of `qubits` (default:
    the circuit's qubits sorted), gates in moment order, a `barrier q;` between moments (reading it
    back gives the same moments)."""
    qubits = list(qubits) if qubits is not None else sorted(circuit.all_qubits())
    name = {q: f"q[{i}]" for i, q in enumerate(qubits)}
    lines = [f"// {ln}" for ln in (comment or "").splitlines()]
    lines += ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{len(qubits)}];"]
    for m, moment in enumerate(circuit):
        if m:
            lines.append("barrier q;")
        for op in moment:
            lines += qasm_of_op(op, name)
    return "\n".join(lines) + "\n"


FAMILY = CircuitFamily()


def kicked_ising_qasm(theta_h: Any = "pi/4", steps: int = 5) -> str:
    """The kicked Ising circuit of `experiment: floquet_ising` on the 127-qubit heavy-hex lattice as
    OpenQASM 2 (q[k]: IBM qubit k): what `benchmarks/export_kicked_ising_qasm.py` writes."""
    from eqvbench.families.floquet_ising import floquet_circuit
    from eqvbench.circuits.lattice import heavy_hex_127
    from eqvbench.spec import parse_angle

    lattice = heavy_hex_127()
    theta = parse_angle(theta_h)
    circuit = floquet_circuit(lattice, theta, steps)
    comment = (
        f"Kicked Ising on IBM Eagle's 127-qubit heavy-hex lattice: {steps} steps of RX(theta_h = {theta_h}) "
        "on every qubit,\nthen RZZ(-pi/2) on every coupler in three layers; q[k] is IBM qubit k.\n"
        "Written by benchmarks/export_kicked_ising_qasm.py (eqvbench.families.circuit.kicked_ising_qasm)."
    )
    return to_qasm(circuit, lattice.qubits, comment)
