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

import errno
import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

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
from eqvbench.io import read_regular
from eqvbench.spec import Section, Sweep, short_repr

MAX_CIRCUIT_BYTES = 50_000_000
MAX_CIRCUIT_QUBITS = 4096
# the most one- and two-qubit gates a file may expand to (definitions and repetitions unrolled): a
# cirq circuit costs about 200 bytes and a few microseconds a gate, so this keeps a load under about
# 1 GB and a minute; circuit.max_gates raises it for a circuit that really is that large
MAX_CIRCUIT_GATES = 4_000_000
FORMATS = {".qasm": "OpenQASM 2", ".json": "Cirq JSON"}


# called with (file name, fraction loaded) while a large circuit file loads (at most every 65536
# statements; 1.0 when done); the CLI shows it on a terminal
load_progress: Callable[[str, float], None] | None = None
_loading: list[str] = [""]  # the name of the file being loaded, for load_progress


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
    qubits: tuple = ()  # the LineQubits some gate acts on (a file's idle declared qubits are not among them)


# --- reading files ------------------------------------------------------------------------------


def resolve_path(value: str, base_dir: Path | None) -> Path:
    """`value` as an absolute path: relative paths start at `base_dir` (the spec file's directory)."""
    path = Path(value)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return Path(path.absolute())


def load_circuit(path: str | Path, max_gates: int | None = None) -> LoadedCircuit:
    """Read and check a circuit file (cached by content); CircuitFileError says what is wrong.

    `max_gates` (default MAX_CIRCUIT_GATES): the most one- and two-qubit gates the file may expand to
    (gate definitions, CircuitOperation repetitions unrolled), counted before anything is expanded."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        if path.suffix.lower() == ".qasm3":
            raise CircuitFileError(
                "OpenQASM 3 (.qasm3) is not read yet: eqvbench reads OpenQASM 2.0 (.qasm) and Cirq JSON (.json); "
                "convert the file (qiskit.qasm2.dumps) or write it with cirq.to_json"
            )
        raise CircuitFileError(
            f"unknown format {path.suffix or '(no extension)'!r}: "
            f"use {', '.join(f'{k} ({v})' for k, v in FORMATS.items())}"
        )
    if not path.exists():
        raise CircuitFileError("file not found")
    if not path.is_file():
        raise CircuitFileError("is not a regular file")
    try:
        data = read_regular(path, MAX_CIRCUIT_BYTES)
    except OSError as e:
        if e.errno == errno.EFBIG:
            raise CircuitFileError(f"larger than {MAX_CIRCUIT_BYTES // 10**6} MB") from None
        raise CircuitFileError(f"cannot read: {e.strerror or e.__class__.__name__}") from None
    limit = MAX_CIRCUIT_GATES if max_gates is None else int(max_gates)
    _loading[0] = path.name
    try:
        return _load_bytes(data, path.suffix.lower(), hashlib.sha256(data).hexdigest(), limit)
    finally:
        if load_progress is not None and len(data) > _PROGRESS_BYTES:
            load_progress(path.name, 1.0)


_PROGRESS_BYTES = 2_000_000  # files smaller than this load in well under a second: no progress


def _progress(fraction: float) -> None:
    if load_progress is not None:
        load_progress(_loading[0], fraction)


@lru_cache(maxsize=32)
def _load_bytes(data: bytes, suffix: str, sha: str, max_gates: int = MAX_CIRCUIT_GATES) -> LoadedCircuit:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CircuitFileError(f"not UTF-8 text (byte {e.start})") from None
    import numpy as np

    try:
        with np.errstate(all="ignore"):  # an angle computed as inf is refused below, not warned about
            if suffix == ".qasm":
                circuit, labels, qubits = _from_qasm(text, max_gates)
            else:
                circuit, labels, qubits = _from_cirq_json(text, max_gates)
    except CircuitFileError:
        raise
    except MemoryError:
        raise CircuitFileError("the circuit is too large for the memory available") from None
    except Exception as e:  # noqa: BLE001 - whatever else a malformed file trips: one line, no traceback
        raise CircuitFileError(f"cannot be read: {e.__class__.__name__}: {_first_line(e)}") from None
    return LoadedCircuit(circuit, len(qubits), tuple(labels), sha, FORMATS[suffix], tuple(qubits))


def _from_qasm(text: str, max_gates: int):
    """The file's circuit on LineQubit(k), k the qubit's number in the file's order; only the qubits
    some gate acts on are the circuit's (declared but idle ones are left out)."""
    import cirq

    from eqvbench.circuits import qasm2

    try:
        read = qasm2.read(
            text, max_gates, MAX_CIRCUIT_QUBITS, progress=_progress if len(text) > _PROGRESS_BYTES else None
        )
    except qasm2.QasmError as e:
        raise CircuitFileError(e.message, e.line) from None
    except RecursionError:
        raise CircuitFileError("gate definitions nested too deeply") from None
    if not read.n_gates or not read.used:
        raise CircuitFileError("the circuit has no gates")
    circuit = cirq.Circuit.from_moments(*(cirq.Moment.from_ops(*ops) for ops in read.moments))
    return circuit, read.labels, [cirq.LineQubit(k) for k in read.used]


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else e.__class__.__name__


def json_gate_count(obj: Any) -> tuple[int, int]:
    """(gates, qubits) of decoded-but-not-built Cirq JSON: how many operations the circuit expands to
    with every CircuitOperation unrolled (repetitions times its circuit's count, nesting multiplied;
    a circuit written once and referred to again counted from its one copy) and how many distinct
    qubits its operations name. Nothing is unrolled: a 1 KB file of nested repetitions is counted at once."""
    values: dict[Any, Any] = {}
    legacy: dict[Any, Any] = {}
    counted: dict[Any, int] = {}
    qubits: set = set()

    def circuit_count(node: Any) -> int:
        key = None
        for _ in range(16):  # a reference to a circuit written elsewhere in the file
            if not isinstance(node, dict):
                return 0
            t, k = node.get("cirq_type"), node.get("key")
            if t == "VAL":
                values[k] = node.get("val")
                key, node = key or ("key", k), node.get("val")
            elif t == "REF":
                key, node = key or ("key", k), values.get(k)
            elif t == "_SerializedKey":  # cirq's older format: circuits written once in a context list
                key, node = key or ("legacy", k), legacy.get(k)
            else:
                break
        key = key or ("id", id(node))
        if key in counted:
            return counted[key]
        total = 0
        if isinstance(node, dict):
            for moment in node.get("moments") or []:
                for op in (moment.get("operations") or []) if isinstance(moment, dict) else []:
                    total = min(total + op_count(op), 1 << 62)  # past every limit: no huge integers
        counted[key] = total
        return total

    def op_count(op: Any) -> int:
        if not isinstance(op, dict):
            return 1
        for q in op.get("qubits") or () if isinstance(op.get("qubits"), list) else ():
            if isinstance(q, dict):
                qubits.add((q.get("cirq_type"), q.get("x"), q.get("row"), q.get("col"), q.get("name")))
        t = op.get("cirq_type")
        if t == "CircuitOperation":
            reps = op.get("repetitions", 1)
            reps = abs(int(reps)) if isinstance(reps, (int, float)) and math.isfinite(reps) else 1
            return min(reps * circuit_count(op.get("circuit")), 1 << 62)
        if isinstance(op.get("sub_operation"), dict):
            return op_count(op["sub_operation"])
        return 1

    if isinstance(obj, dict) and obj.get("cirq_type") == "_ContextualSerialization":
        dag = obj.get("object_dag") if isinstance(obj.get("object_dag"), list) else []
        for entry in dag:
            if isinstance(entry, dict) and entry.get("cirq_type") == "_SerializedContext":
                legacy[entry.get("key")] = entry.get("obj")
        obj = dag[-1] if dag else None
    return (circuit_count(obj) if isinstance(obj, dict) else 0), len(qubits)


def expanded_count(circuit) -> int:
    """How many operations a cirq circuit expands to with its CircuitOperations unrolled (each
    sub-circuit counted once): the check on the built circuit, whatever JSON form it came from."""
    import cirq

    memo: dict[int, int] = {}

    def count(c) -> int:
        if id(c) in memo:
            return memo[id(c)]
        total = 0
        for op in c.all_operations():
            sub = op.untagged
            if isinstance(sub, cirq.CircuitOperation):
                total += abs(int(sub.repetitions)) * count(sub.circuit)
            else:
                total += 1
            total = min(total, 1 << 62)
        memo[id(c)] = total
        return total

    return count(circuit)


def _from_cirq_json(text: str, max_gates: int):
    import json

    import cirq

    big = len(text) > _PROGRESS_BYTES
    if big:
        _progress(0.0)
    try:
        raw = json.loads(text)
        gates, n_qubits = json_gate_count(raw)
    except json.JSONDecodeError as e:
        raise CircuitFileError(f"malformed JSON: {e.msg} (column {e.colno})", e.lineno) from None
    except RecursionError:
        raise CircuitFileError("JSON nested too deeply") from None
    del raw
    if n_qubits > MAX_CIRCUIT_QUBITS:
        raise CircuitFileError(f"{n_qubits} qubits, more than {MAX_CIRCUIT_QUBITS}")
    if gates > max_gates:
        raise CircuitFileError(
            f"the circuit expands to {gates if gates < 1 << 62 else 'more than 10^18'} gates "
            "(CircuitOperation repetitions unrolled), more than the limit "
            f"of {max_gates} (circuit.max_gates)"
        )
    if big:
        _progress(0.2)
    try:
        obj = cirq.read_json(json_text=text)
    except RecursionError:
        raise CircuitFileError("JSON nested too deeply") from None
    except Exception as e:  # noqa: BLE001 - unknown cirq_type, bad fields: a bad file, said in one line
        raise CircuitFileError(f"not Cirq JSON that cirq can read: {_first_line(e)}") from None
    if not isinstance(obj, cirq.Circuit):
        raise CircuitFileError(f"holds a {type(obj).__name__}, not a cirq.Circuit")
    if big:
        _progress(0.7)
    return _checked(obj, max_gates)


def _checked(circuit, max_gates: int = MAX_CIRCUIT_GATES):
    """The circuit on LineQubit(0..n-1) (its qubits sorted), sub-circuits unrolled and terminal
    measurements removed, with its labels and qubits; CircuitFileError for what eqvbench cannot
    simulate (mid-circuit measurement, gates on 3+ qubits, non-unitary or symbolic operations,
    angles that are not finite). Each distinct gate is checked once, and each operation is rebuilt
    on its new qubits without cirq's per-call check (a large file costs microseconds a gate)."""
    import cirq

    if any(isinstance(op.untagged, cirq.CircuitOperation) for op in circuit.all_operations()):
        gates = expanded_count(circuit)  # again on what cirq built, before unrolling it
        if gates > max_gates:
            raise CircuitFileError(
                f"the circuit expands to {gates if gates < 1 << 62 else 'more than 10^18'} gates "
                f"(CircuitOperation repetitions unrolled), more than the limit of {max_gates} (circuit.max_gates)"
            )
        circuit = cirq.unroll_circuit_op(circuit, deep=True, tags_to_check=None)
    qubits = sorted(circuit.all_qubits())
    if len(qubits) > MAX_CIRCUIT_QUBITS:
        raise CircuitFileError(f"{len(qubits)} qubits, more than {MAX_CIRCUIT_QUBITS}")
    mapping = {q: cirq.LineQubit(i) for i, q in enumerate(qubits)}
    checked: dict[Any, str] = {}
    measured: set = set()
    moments = []
    seen: dict[int, tuple] = {}  # id(op) -> (op, kind, op on the new qubits): unrolled repetitions repeat ops
    for moment in circuit:
        ops = []
        for op in moment:
            hit = seen.get(id(op))
            if hit is not None and hit[0] is op:
                kind, new = hit[1], hit[2]
            else:
                kind, new = _checked_op(op, checked, mapping)
                if len(seen) < 1 << 21:
                    seen[id(op)] = (op, kind, new)
            if kind == "skip":
                continue
            if kind == "measure":
                measured.update(op.qubits)
                continue
            if measured and not measured.isdisjoint(op.qubits):
                raise CircuitFileError(
                    "a measurement before the end of the circuit (eqvbench measures at the end: "
                    "every qubit, or circuit.observable)"
                )
            ops.append(new)
        if ops:
            moments.append(cirq.Moment.from_ops(*ops))
    if not moments:
        raise CircuitFileError("the circuit has no gates")
    return cirq.Circuit.from_moments(*moments), [str(q) for q in qubits], cirq.LineQubit.range(len(qubits))


def _checked_op(op, checked: dict, mapping: dict) -> tuple[str, Any]:
    """(kind, the operation on its new qubits) of one operation: see :func:`_kind`."""
    import cirq

    from eqvbench.circuits.qasm2 import _operation

    plain = type(op) is cirq.GateOperation
    kind = None
    if plain and len(op.qubits) <= 2:
        numbers = _gate_numbers(op)  # a rotation: unitary whenever its numbers are finite
        if numbers is not None and all(map(math.isfinite, numbers)):
            kind = "gate"
    if kind is None and plain:
        try:
            kind = checked.get(op.gate)
        except TypeError:  # an unhashable gate: checked on its own
            plain = False
    if kind is None:
        kind = _kind(op)
        if plain and len(checked) < 1 << 16:
            checked[op.gate] = kind
    if kind != "gate":
        return kind, None
    if plain:
        return kind, _operation(op.gate, tuple(map(mapping.__getitem__, op.qubits)))
    return kind, op.transform_qubits(mapping)


def _kind(op) -> str:
    """'measure', 'skip' (a global phase) or 'gate' for an operation eqvbench can simulate;
    CircuitFileError for any other."""
    import cirq
    import numpy as np

    if cirq.is_measurement(op):
        return "measure"  # terminal measurements: eqvbench decides what is measured
    if not op.qubits:
        return "skip"
    if cirq.is_parameterized(op):
        raise CircuitFileError(
            f"symbolic parameters {sorted(map(str, cirq.parameter_names(op)))} have no values (write numbers)"
        )
    if len(op.qubits) > 2:
        raise CircuitFileError(
            f"unsupported gate {_op_name(op)} on {len(op.qubits)} qubits: eqvbench "
            "simulates one- and two-qubit gates (decompose it)"
        )
    numbers = _gate_numbers(op)
    if numbers is not None:  # a rotation: unitary whenever its numbers are finite (no matrix needed)
        if not all(math.isfinite(x) for x in numbers):
            raise CircuitFileError(f"gate {_op_name(op, True)} has a parameter that is not a finite number")
        return "gate"
    try:
        unitary = None if isinstance(op, cirq.ClassicallyControlledOperation) else cirq.unitary(op, None)
    except (ArithmeticError, ValueError) as e:  # an angle such as 3^(9^9), computed as inf
        raise CircuitFileError(
            f"gate {_op_name(op, True)}: its unitary cannot be computed "
            f"({_first_line(e)}); is a parameter not a finite number?"
        ) from None
    if unitary is None:
        raise CircuitFileError(f"unsupported operation {_op_name(op)}: not a unitary gate")
    if not np.isfinite(unitary).all():  # an infinite or NaN angle (Infinity in Cirq JSON)
        raise CircuitFileError(f"gate {_op_name(op, True)} has a parameter that is not a finite number")
    return "gate"


def _gate_numbers(op) -> list[float] | None:
    """The real numbers that fix a plain rotation's unitary (an EigenGate's exponent and global
    shift, OpenQASM's U angles), or None for any other operation (its unitary is computed)."""
    import cirq
    from cirq.contrib.qasm_import._parser import QasmUGate

    if type(op) is not cirq.GateOperation:
        return None
    g = op.gate
    try:
        if isinstance(g, cirq.EigenGate):
            return [float(g.exponent), float(g.global_shift)]
        if isinstance(g, QasmUGate):
            return [float(g.theta), float(g.phi), float(g.lmda)]
    except (TypeError, ValueError):
        return None
    return None


def _op_name(op, safe: bool = False) -> str:
    """The gate as cirq prints it (`safe`: its type, where printing an infinite angle would fail)."""
    if safe:
        return type(op.gate if op.gate is not None else op).__name__
    return short_repr(str(op.gate if op.gate is not None else op), 60)


# --- the coupling graph ------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _coupling(sha: str, path: str, max_gates: int | None = None):
    from eqvbench.circuits.lattice import Lattice

    loaded = load_circuit(path, max_gates)
    pairs = sorted({tuple(sorted(op.qubits)) for op in loaded.circuit.all_operations() if len(op.qubits) == 2})
    return Lattice("circuit", loaded.qubits, tuple(pairs), ())


def coupling_lattice(path: str, max_gates: int | None = None):
    """A lattice whose qubits are the file's (those some gate acts on, numbered in the file's order)
    and whose couplers are the pairs its two-qubit gates act on: what the effective region's balls
    grow on (`.ball`, `.restrict`, `.n_qubits`)."""
    loaded = load_circuit(path, max_gates)
    return _coupling(loaded.sha256, str(path), max_gates)


# --- observables ---------------------------------------------------------------------------------


def resolve_terms(text: str, loaded: LoadedCircuit) -> tuple[list[dict], list[float] | None]:
    """The observable's Pauli strings on LineQubit(k) and their coefficients (None: their mean, for
    M_z and a single string of coefficient 1); ValueError naming a qubit the circuit lacks, or one
    that no gate acts on (its value would be that of |0>, whatever the circuit and the noise)."""
    import cirq

    terms = parse_pauli_sum(text)
    if any(o.is_mean_z for _, o in terms):
        if len(terms) > 1 or terms[0][0] != 1.0:
            raise ValueError(f"M_z is the mean of Z over all qubits and cannot be part of a sum ({text!r})")
        return [{q: "Z"} for q in loaded.qubits], None
    declared, used = len(loaded.labels), {q.x for q in loaded.qubits}
    strings = []
    for _, obs in terms:
        for k in obs.paulis:
            if k >= declared:
                raise ValueError(
                    f"qubit {k} of {short_repr(str(text))} is not in the circuit, which has "
                    f"{declared} qubits (numbered 0..{declared - 1} in the file's order)"
                )
            if k not in used:
                raise ValueError(
                    f"qubit {k} ({loaded.labels[k]}) of {short_repr(str(text))} is idle: no gate of the circuit "
                    "acts on it, so eqvbench leaves it out (its value would be that of |0>); "
                    "measure a qubit the circuit uses"
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
        load_circuit(path, info.data.get("max_gates"))
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

    # before `file`: the file is read (and its size checked) with it
    max_gates: Annotated[int, Field(ge=1, le=10**9)] = MAX_CIRCUIT_GATES
    file: Sweep(Annotated[str, BeforeValidator(_check_file)])
    # None: every qubit measured, fidelity by XEB
    observable: Sweep(Annotated[str | None, BeforeValidator(_check_observable_text)]) = [None]
    region: IsingRegionSpec = IsingRegionSpec()

    @field_validator("observable")
    @classmethod
    def _on_the_circuit(cls, observables, info: ValidationInfo):
        for path in info.data.get("file") or []:
            loaded = load_circuit(path, info.data.get("max_gates"))
            for text in observables:
                if text is not None:
                    resolve_terms(text, loaded)
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
        if values["circuit"].get("max_gates", MAX_CIRCUIT_GATES) != MAX_CIRCUIT_GATES:
            values["lattice"]["max_gates"] = values["circuit"]["max_gates"]
        return values

    def n_instances(self, circuit: dict[str, Any]) -> int:
        return 1  # the file is one circuit

    def check_point(self, lattice, values: dict[str, Any]) -> list[tuple[str, str]]:
        text = values["circuit"]["observable"]
        if text is None:
            return []
        try:
            resolve_terms(text, load_circuit(values["circuit"]["file"], values["circuit"].get("max_gates")))
        except ValueError as e:
            return [("circuit.observable", str(e))]
        return []

    def build(self, lattice, circuit: dict[str, Any], seed: int) -> Instance:
        """Without an observable a plain :class:`Instance` (every qubit measured); with one an
        :class:`ObservableInstance` (its regions: the file's gates among a ball's qubits)."""
        loaded = load_circuit(circuit["file"], circuit.get("max_gates"))
        if circuit["observable"] is None:
            return Instance(loaded.circuit, lattice.qubits, lattice.qubits, seed)
        paulis, coefficients = resolve_terms(circuit["observable"], loaded)
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
        return {"circuit_sha256": load_circuit(c["file"], c.get("max_gates")).sha256, "observable": c["observable"]}


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
