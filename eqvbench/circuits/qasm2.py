"""A small, bounded OpenQASM 2 reader: statements to cirq operations, placed as early as their qubits allow.

Why not cirq's reader (``cirq.contrib.qasm_import``): it unrolls a gate definition into nested
``CircuitOperation``s before anything can count them (a 2 KB file of definitions that call each
other twice expands to 2^40 gates and runs for ever), it appends every gate to one growing
moment (quadratic in a wide register), it places a custom gate as one block, and it reads a 4 MB
file in about 30 s. This reader keeps a definition as a definition and knows, from the
definitions alone, how many gates every statement expands to, so a file past ``max_gates`` is
refused at the statement that crosses the limit, before anything is expanded. It caches what
repeats (parameters, argument lists, operations), so a large legal file costs a few microseconds
a gate.

The gates themselves are cirq's: the ``qelib1.inc`` table of cirq's reader
(``QasmParser.qelib_gates``, ``U`` and ``CX``), so a file reads to the same cirq gates as before.
Gates on three or more qubits (``ccx``, ``cswap``, ``c3x``, ...) are decomposed by
``cirq.decompose`` into one- and two-qubit gates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable


# gate counts saturate here (a chain of definitions that each double would otherwise build integers
# of millions of digits); any count this large is far past every limit
COUNT_CAP = 1 << 62


class QasmError(ValueError):
    """A file this reader refuses; `line` is the file's line where known."""

    def __init__(self, message: str, line: int | None = None):
        self.message, self.line = message, line
        super().__init__(f"line {line}: {message}" if line else message)


# --- parameter expressions ------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|([A-Za-z_]\w*)|(\S))")
_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "exp": math.exp,
    "ln": math.log,
    "sqrt": math.sqrt,
}


def _finite(value: Any, what: str) -> float:
    if isinstance(value, complex) or not math.isfinite(value):
        raise ArithmeticError(f"a gate parameter's {what} is not a finite real number")
    return float(value)


def _binary(op: str, a: float, b: float) -> float:
    try:
        if op == "+":
            v = a + b
        elif op == "-":
            v = a - b
        elif op == "*":
            v = a * b
        elif op == "/":
            v = a / b
        else:
            v = a**b
    except (OverflowError, ZeroDivisionError):
        v = math.inf
    return _finite(v, f"'{op}'")


def _call(fn: str, a: float) -> float:
    try:
        v = _FUNCTIONS[fn](a)
    except (OverflowError, ValueError):
        v = math.nan
    return _finite(v, f"{fn}()")


def parse_expr(text: str, names: frozenset[str] = frozenset()) -> tuple:
    """An OpenQASM 2 parameter expression as a tree of tuples; ValueError for anything else.
    `names` are the parameters of the gate definition it is in."""
    tokens = []
    for m in _TOKEN.finditer(text):
        if m.group(0).strip():
            tokens.append(
                ("num", float(m.group(1))) if m.group(1) else ("id", m.group(2)) if m.group(2) else ("op", m.group(3))
            )
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else ("end", None)

    def take(kind=None, value=None):
        nonlocal pos
        t = peek()
        if (kind and t[0] != kind) or (value is not None and t[1] != value):
            raise ValueError(
                f"unexpected {t[1]!r} in parameter {text.strip()!r}"
                if t[1]
                else f"parameter {text.strip()!r} ends early"
            )
        pos += 1
        return t

    def expr():  # + and -, left to right
        node = term()
        while peek() in (("op", "+"), ("op", "-")):
            op = take()[1]
            node = ("bin", op, node, term())
        return node

    def term():  # * and /
        node = unary()
        while peek() in (("op", "*"), ("op", "/")):
            op = take()[1]
            node = ("bin", op, node, unary())
        return node

    def unary():  # -x^2 is -(x^2)
        if peek() == ("op", "-"):
            take()
            return ("neg", unary())
        if peek() == ("op", "+"):
            take()
            return unary()
        return power()

    def power():  # right-associative: 9^9^9 is 9^(9^9)
        base = atom()
        if peek() == ("op", "^"):
            take()
            return ("bin", "^", base, unary())
        return base

    def atom():
        t = take()
        if t[0] == "num":
            return ("num", t[1])
        if t == ("op", "("):
            node = expr()
            take("op", ")")
            return node
        if t[0] == "id":
            if t[1] == "pi":
                return ("num", math.pi)
            if t[1] in _FUNCTIONS:
                take("op", "(")
                node = expr()
                take("op", ")")
                return ("fn", t[1], node)
            if t[1] in names:
                return ("var", t[1])
            raise ValueError(f"unknown parameter {t[1]!r}")
        raise ValueError(f"unexpected {t[1]!r} in parameter {text.strip()!r}")

    node = expr()
    if pos != len(tokens):
        raise ValueError(f"unexpected {tokens[pos][1]!r} in parameter {text.strip()!r}")
    return node


def evaluate(node: tuple, env: dict[str, float] | None = None) -> float:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "var":
        return env[node[1]]  # type: ignore[index]
    if kind == "neg":
        return -evaluate(node[1], env)
    if kind == "fn":
        return _call(node[1], evaluate(node[2], env))
    return _binary(node[1], evaluate(node[2], env), evaluate(node[3], env))


def _split_params(text: str) -> list[str]:
    """Comma-separated expressions (commas inside parentheses kept)."""
    out, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(text[start:i])
            start = i
            start = i + 1
    out.append(text[start:])
    if len(out) == 1 and not out[0].strip():
        return []
    return out


# --- gates ----------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Gate:
    """A gate a statement may call: a library gate (`make` builds it from its parameters) or a
    definition (`body`: calls of earlier gates on positions of its qubits). `count`: how many
    one- and two-qubit gates one call expands to, known from the definitions alone."""

    name: str
    n_params: int
    n_args: int
    count: int
    make: Callable[[tuple[float, ...]], Any] | None = None
    params: tuple[str, ...] = ()
    body: list = field(default_factory=list)  # [(gate, parameter trees, positions)]
    templates: dict = field(default_factory=dict)  # parameters -> [(key, cirq gate, positions)]

    def __post_init__(self) -> None:
        self.simple = self.make is not None and self.n_args <= 2

    def template(self, values: tuple[float, ...]) -> list:
        t = self.templates.get(values)
        if t is not None:
            return t
        if self.make is not None:
            gate = self.make(values)
            if self.n_args <= 2:
                t = [((self.name, values), gate, tuple(range(self.n_args)))]
            else:
                t = [((self.name, values, j), g, p) for j, (g, p) in enumerate(_decomposed(gate, self.n_args))]
        else:
            env = dict(zip(self.params, values))
            t = []
            for sub, trees, positions in self.body:
                sub_values = tuple(evaluate(tr, env) for tr in trees)
                t += [(k, g, tuple(positions[i] for i in p)) for k, g, p in sub.template(sub_values)]
        if len(self.templates) < 4096:
            self.templates[values] = t
        return t


_PLAIN_ON: dict[type, bool] = {}
_IDENTITY = [tuple(range(k)) for k in range(64)]


def _operation(gate, qubits: tuple):
    """`gate.on(*qubits)`, without cirq's per-call argument check where `on` is cirq's own: the
    reader has checked the count, and every qubit is a LineQubit (dimension 2)."""
    import cirq

    plain = _PLAIN_ON.get(type(gate))
    if plain is None:
        plain = _PLAIN_ON[type(gate)] = type(gate).on is cirq.Gate.on and cirq.qid_shape(gate) == (2,) * len(qubits)
    if not plain:
        return gate.on(*qubits)
    op = object.__new__(cirq.GateOperation)
    op._gate, op._qubits = gate, qubits
    return op


def _decomposed(gate, n: int) -> list:
    """A gate on three or more qubits as cirq decomposes it: [(gate, positions)] of one- and two-qubit gates."""
    import cirq

    qs = cirq.LineQubit.range(n)
    ops = cirq.decompose(gate.on(*qs), keep=lambda op: len(op.qubits) <= 2)
    return [(op.gate, tuple(q.x for q in op.qubits)) for op in ops if op.qubits]


@lru_cache(maxsize=1)
def _library() -> dict[str, _Gate]:
    """qelib1.inc as cirq's reader has it (its gate objects: a file reads to the gates it read to)."""
    from cirq.contrib.qasm_import._parser import QasmParser

    out = {}
    for name, st in QasmParser.qelib_gates.items():
        out[name] = _library_gate(name, st)
    return out


def _library_gate(name: str, st) -> _Gate:
    import cirq

    g = st.cirq_gate
    fixed = isinstance(g, cirq.Gate)

    def make(values, g=g):
        return g if fixed else g(list(values))

    return _Gate(name, st.num_params, st.num_args, 1 if st.num_args <= 2 else _UNCOUNTED, make)


_UNCOUNTED = -2  # a library gate on 3+ qubits whose decomposition is not made yet (it takes a second for all)


def _counted(gate: _Gate) -> int:
    """The gate's count, decomposing a 3+-qubit library gate on first use (-1: cirq cannot)."""
    if gate.count == _UNCOUNTED:
        try:
            gate.count = len(gate.template((0.0,) * gate.n_params))
        except ValueError:  # a matrix gate (rc3x): cirq has no decomposition of it
            gate.count = -1
    return gate.count


def _basic() -> dict[str, _Gate]:
    from cirq.contrib.qasm_import._parser import QasmParser

    return {name: _library_gate(name, st) for name, st in QasmParser.basic_gates.items()}


# --- the reader -----------------------------------------------------------------------------------

# possessive quantifiers (*+, ++): nothing is tried twice, so a 50 MB line that is not a statement is
# refused in one pass (with backtracking, a long name without ';' took time quadratic in its length)
_STATEMENT = re.compile(
    r"\s*+(?:(?P<kw>gate|opaque)\s++(?P<gname>[A-Za-z_]\w*+)\s*+(?:\((?P<gparams>[^)]*+)\))?+\s*+"
    r"(?P<gargs>[^{;]*+)(?P<body>\{[^}]*+\}|;)"
    r"|(?P<name>[A-Za-z_]\w*+)\s*+(?:\((?P<params>[^;{}]*)\))?+\s*+(?P<args>[^;{}()]*+);)"
)
_BODY = re.compile(r"\s*+(?P<name>[A-Za-z_]\w*+)\s*+(?:\((?P<params>[^;{}]*)\))?+\s*+(?P<args>[^;{}()]*+);")
_SPACE = re.compile(r"\s*+")
_NUMBER = r"[-+]?+(?:\d++\.?+\d*+|\.\d++)(?:[eE][-+]?+\d++)?+"
_NUMBERS = re.compile(rf"\s*+{_NUMBER}\s*+(?:,\s*+{_NUMBER}\s*+)*+")
_ARG = re.compile(r"\s*+([A-Za-z_]\w*+)\s*+(?:\[\s*+(\d++)\s*+\])?+\s*+")
_REGISTER = re.compile(r"\s*+([A-Za-z_]\w*+)\s*+\[\s*+(\d++)\s*+\]\s*+")
_NAME = re.compile(r"\s*+([A-Za-z_]\w*+)\s*+")
_NOT_GATES = re.compile(r"\b(?:OPENQASM|include|qreg|creg|barrier|measure|reset|if|opaque|qubit|bit)\b")
_QASM3 = {
    "qubit",
    "bit",
    "input",
    "output",
    "def",
    "let",
    "const",
    "int",
    "uint",
    "float",
    "angle",
    "bool",
    "for",
    "while",
}
QASM3_MESSAGE = (
    "OpenQASM 3 is not read yet: eqvbench reads OpenQASM 2.0 ('OPENQASM 2.0;', qreg/creg, qelib1.inc); "
    "convert the file (qiskit.qasm2.dumps) or write it as Cirq JSON"
)
_MEASURED = (
    "a measurement before the end of the circuit (eqvbench measures at the end: every qubit, or circuit.observable)"
)
_REFUSED = {
    "reset": "reset is not supported (eqvbench starts every qubit in |0>)",
    "if": "classically controlled gates are not supported",
    "opaque": "opaque gates are not supported (no unitary)",
}


@dataclass
class Read:
    """What a file reads to: moments of operations on LineQubit(k), k the qubit's number in the
    file's order; `labels[k]` its name; `used` the numbers some gate acts on, in order."""

    moments: list[list[Any]]
    labels: list[str]
    used: list[int]
    n_gates: int


def read(
    text: str,
    max_gates: int,
    max_qubits: int,
    limit_name: str = "max_gates",
    progress: Callable[[float], None] | None = None,
) -> Read:
    """Read an OpenQASM 2 program; QasmError (with the line) for what it refuses, at the statement
    that crosses `max_gates` (gates after unrolling definitions) or `max_qubits`, before expanding it."""
    import cirq

    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # Windows (and old Mac) line endings
    text = re.sub(r"//[^\n]*", "", text)
    if "{" not in text and text.count(";") > max_gates:
        # no definitions: every statement but these is a gate (or more), so the statements alone are a
        # lower bound on the count; 50 MB of `x q[0];` is refused at once, not after 4 million of them
        statements = text.count(";") - len(_NOT_GATES.findall(text))
        if statements > max_gates:
            raise QasmError(
                f"the circuit has at least {statements} gate statements, more than the limit of {max_gates} "
                f"(circuit.{limit_name})"
            )

    def line_at(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    gates = _basic()
    regs: dict[str, tuple[int, int]] = {}
    cregs: dict[str, int] = {}
    labels: list[str] = []
    free: list[int] = []  # the first moment each qubit is free in
    moments: list[list[Any]] = []
    floor = 0  # no gate before the last barrier's moment
    measured: dict[int, int] = {}  # qubit -> position of its measurement
    total = 0
    line_qubits: list[Any] = []
    op_cache: dict = {}
    app_cache: dict = {}
    param_cache: dict = {}
    arg_cache: dict = {}
    seen_header = False

    def place(op, qs: tuple[int, ...]) -> None:
        """Put `op` (on file qubits `qs`, one or two) in the earliest moment its qubits and the last
        barrier allow."""
        if measured and any(q in measured for q in qs):
            raise QasmError(_MEASURED, line_at(measured[next(q for q in qs if q in measured)]))
        t = max(floor, *(free[q] for q in qs))
        for q in qs:
            free[q] = t + 1
        if t == len(moments):
            moments.append([op])
        else:
            moments[t].append(op)

    def args_of(args: str, pos: int, n_args: int | None, what: str) -> list[tuple[int, ...]]:
        """The qubits of each application (a register argument broadcasts)."""
        hit = arg_cache.get(args)
        if hit is not None and (n_args is None or len(hit[1]) == n_args):
            return hit[0]
        lists = []
        pieces = args.split(",") if args.strip() else []
        offset = 0
        for piece in pieces:
            m = _ARG.fullmatch(piece)
            if not m:
                bad = _ARG.match(piece)
                at = pos + offset + (bad.end() if bad else len(piece) - len(piece.lstrip()))
                token = text[at : at + 20].split()[0] if text[at : at + 20].split() else piece.strip()
                raise QasmError(f"unexpected {token!r} (a missing ';'?)", line_at(at))
            reg, index = m.group(1), m.group(2)
            if reg not in regs:
                raise QasmError(f'Undefined quantum register "{reg}"', line_at(pos))
            start, size = regs[reg]
            if index is None:
                lists.append(list(range(start, start + size)))
            else:
                if int(index) >= size:
                    raise QasmError(
                        f"{reg}[{index}]: index out of range (register {reg} has {size} qubits)", line_at(pos)
                    )
                lists.append([start + int(index)])
            offset += len(piece) + 1
        if n_args is not None and len(lists) != n_args:
            raise QasmError(f"{what} acts on {n_args} qubit(s), got {len(lists)}", line_at(pos))
        sizes = {len(x) for x in lists if len(x) != 1}
        if len(sizes) > 1:
            raise QasmError(f"{what}: registers of different sizes {sorted(sizes)}", line_at(pos))
        r = sizes.pop() if sizes else 1
        apps = [tuple(x[k] if len(x) > 1 else x[0] for x in lists) for k in range(r)]
        if any(len(set(a)) != len(a) for a in apps):
            raise QasmError(f"{what}: the same qubit twice in one gate", line_at(pos))
        if len(arg_cache) < 1 << 16:
            arg_cache[args] = (apps, lists)
        return apps

    def values_of(params: str | None, pos: int, gate: _Gate) -> tuple[float, ...]:
        key = params or ""
        v = param_cache.get(key)
        if v is None:
            try:
                if _NUMBERS.fullmatch(key):  # plain numbers: most parameters of a large file
                    v = tuple(map(float, key.split(",")))
                    if not all(map(math.isfinite, v)):
                        raise ArithmeticError("a gate parameter's value is not a finite real number")
                else:
                    pieces = _split_params(key)
                    if len(pieces) != gate.n_params:  # before evaluating any of them
                        raise ValueError(f"{gate.name} takes {gate.n_params} parameter(s), got {len(pieces)}")
                    v = tuple(evaluate(parse_expr(p)) for p in pieces)
            except (ValueError, ArithmeticError) as e:
                raise QasmError(str(e), line_at(pos)) from None
            if len(param_cache) < 1 << 16:
                param_cache[key] = v
        if len(v) != gate.n_params:
            raise QasmError(f"{gate.name} takes {gate.n_params} parameter(s), got {len(v)}", line_at(pos))
        return v

    pos, n = 0, len(text)
    statement = _STATEMENT.match
    done = 0
    while True:
        done += 1
        if not done & 0xFFFF and progress is not None:  # every 65536 statements: the fraction read
            progress(pos / n)
        m = statement(text, pos)
        if m is None:
            pos = _SPACE.match(text, pos).end()
            if pos >= n:
                break
            token = text[pos : pos + 30].split()[0]
            raise QasmError(f"cannot parse {token!r} (statements end with ';')", line_at(pos))
        pos = m.end()
        name = m.group("name")
        start = m.start("name") if name is not None else m.start("kw")
        gate = gates.get(name) if name is not None else None
        if gate is not None and seen_header:
            if gate.count < 0 and _counted(gate) < 0:
                raise QasmError(_undecomposable(gate), line_at(start))
            params, args = m.group("params"), m.group("args")
            if gate.simple:  # a library gate on one or two qubits: the statement of most large files
                v = param_cache.get(params or "")
                if v is None or len(v) != gate.n_params:
                    v = values_of(params, start, gate)
                t = gate.templates.get(v)
                if t is None:  # parameters seen for the first time: their operations are not cached
                    g = gate.make(v)
                    if len(gate.templates) < 4096:
                        gate.templates[v] = [((name, v), g, _IDENTITY[gate.n_args])]
                    else:
                        t = False
                else:
                    g = t[0][1]
                a = arg_cache.get(args)
                apps = (
                    a[0]
                    if a is not None and len(a[1]) == gate.n_args
                    else args_of(args, m.start("args"), gate.n_args, name)
                )
                total += len(apps)
                if total > max_gates:
                    raise QasmError(
                        f"the circuit expands to at least {total} gates by this statement, more than the limit "
                        f"of {max_gates} (circuit.{limit_name})",
                        line_at(start),
                    )
                for qs in apps:
                    if t:
                        op = op_cache.get((name, v, qs))
                        if op is None:
                            op = _operation(g, tuple(map(line_qubits.__getitem__, qs)))
                            if len(op_cache) < 1 << 20:
                                op_cache[(name, v, qs)] = op
                    else:
                        op = _operation(g, tuple(map(line_qubits.__getitem__, qs)))
                    place(op, qs)
                continue
            key = (name, params, args)
            hit = app_cache.get(key)
            if hit is None:
                values = values_of(m.group("params"), start, gate)
                apps = args_of(m.group("args"), m.start("args"), gate.n_args, name)
                count = min(len(apps) * gate.count, COUNT_CAP)
                if total + count > max_gates:
                    raise QasmError(
                        f"the circuit expands to at least {total + count} gates by this statement "
                        f"(gate definitions unrolled), more than the limit of {max_gates} (circuit.{limit_name})",
                        line_at(start),
                    )
                try:
                    tmpl = gate.template(values)
                except ArithmeticError as e:
                    raise QasmError(str(e), line_at(start)) from None
                except RecursionError:
                    raise QasmError("gate definitions nested too deeply", line_at(start)) from None
                ops = []
                for app in apps:
                    for k, g, p in tmpl:
                        qs = app if p == _IDENTITY[len(app)] else tuple(app[i] for i in p)
                        op = op_cache.get((k, qs))
                        if op is None:
                            op = _operation(g, tuple(line_qubits[i] for i in qs))
                            if len(op_cache) < 1 << 20:
                                op_cache[(k, qs)] = op
                        ops.append((op, qs))
                hit = (count, ops)
                if count <= 1 << 16 and len(app_cache) < 1 << 18:
                    app_cache[key] = hit
            count, ops = hit
            total += count
            if total > max_gates:
                raise QasmError(
                    f"the circuit expands to at least {total} gates by this statement, more than the limit of "
                    f"{max_gates} (circuit.{limit_name})",
                    line_at(start),
                )
            for op, qs in ops:
                place(op, qs)
            continue

        if not seen_header:
            if name == "OPENQASM":
                version = m.group("args").strip()
                if version.split(".")[0] == "3":
                    raise QasmError(QASM3_MESSAGE, line_at(start))
                if version not in ("2.0", "2"):
                    raise QasmError(f"OPENQASM {version}: eqvbench reads OpenQASM 2.0", line_at(start))
                seen_header = True
                continue
            raise QasmError("the file does not start with 'OPENQASM 2.0;'", line_at(start))
        if m.group("kw") is not None:  # gate or opaque definition
            if m.group("kw") == "opaque":
                raise QasmError(_REFUSED["opaque"], line_at(start))
            gates[m.group("gname")] = _definition(m, gates, line_at(start))
            app_cache.clear()  # a redefinition changes what a cached statement expands to
            continue
        args = m.group("args")
        if name in ("qreg", "creg"):
            r = _REGISTER.fullmatch(args)
            if r is None or m.group("params") is not None:
                raise QasmError(f"{name} needs a name and a size: '{name} q[5];'", line_at(start))
            reg, size = r.group(1), int(r.group(2))
            if reg in regs or reg in cregs:
                raise QasmError(f"register {reg} is declared twice", line_at(start))
            if name == "creg":
                cregs[reg] = size
                continue
            if len(labels) + size > max_qubits:
                raise QasmError(
                    f"qreg {reg}[{size}] brings the circuit to {len(labels) + size} qubits, more than {max_qubits}",
                    line_at(start),
                )
            regs[reg] = (len(labels), size)
            labels += [f"{reg}[{i}]" for i in range(size)]
            line_qubits += [cirq.LineQubit(k) for k in range(len(free), len(free) + size)]
            free += [0] * size
        elif name == "include":
            lib = args.strip()
            if lib == '"qelib1.inc"':
                gates.update({k: v for k, v in _library().items() if k not in gates})
            else:
                raise QasmError(
                    f'include {lib}: only "qelib1.inc" is read (put the included gate definitions in the file)',
                    line_at(start),
                )
        elif name == "barrier":
            args_of(args, m.start("args"), None, "barrier")
            floor = len(moments)
        elif name == "measure":
            quantum, arrow, classical = args.partition("->")
            c = _ARG.fullmatch(classical) if arrow else None
            if c is None or c.group(1) not in cregs:
                raise QasmError("measure needs 'measure q[i] -> c[j];' with a declared creg", line_at(start))
            for app in args_of(quantum, m.start("args"), 1, "measure"):
                measured.setdefault(app[0], start)
        elif name in _REFUSED:
            raise QasmError(_REFUSED[name], line_at(start))
        elif name in _QASM3 or name == "OPENQASM":
            raise QasmError(QASM3_MESSAGE if name != "OPENQASM" else "a second OPENQASM header", line_at(start))
        else:
            raise QasmError(f'Unknown gate "{name}"', line_at(start))
    if not seen_header:
        raise QasmError("the file does not start with 'OPENQASM 2.0;'")
    used = [k for k in range(len(free)) if free[k] > 0]
    return Read(moments, labels, used, total)


def _definition(m, gates: dict[str, _Gate], line: int) -> _Gate:
    """A `gate name(params) qubits { body }` statement as a _Gate of earlier gates."""
    name = m.group("gname")
    params = tuple(p.strip() for p in (m.group("gparams") or "").split(",") if p.strip())
    qubits = tuple(q.strip() for q in m.group("gargs").split(",") if q.strip())
    if not qubits or not all(_NAME.fullmatch(x) for x in params + qubits):
        raise QasmError(f"gate {name}: cannot read its parameters or qubits", line)
    if len(set(qubits)) != len(qubits):
        raise QasmError(f"gate {name}: a qubit named twice", line)
    body_text = m.group("body")[1:-1]
    body, count, pos = [], 0, 0
    names = frozenset(params)
    while True:
        pos = _SPACE.match(body_text, pos).end()
        if pos >= len(body_text):
            break
        b = _BODY.match(body_text, pos)
        where = line + body_text.count("\n", 0, pos)
        if b is None:
            raise QasmError(f"gate {name}: cannot parse its body near {body_text[pos : pos + 20].split()[0]!r}", where)
        pos = b.end()
        callee_name = b.group("name")
        if callee_name == "barrier":
            continue
        callee = gates.get(callee_name)
        if callee is None:
            raise QasmError(f'Unknown gate "{callee_name}"', where)
        if callee.count < 0 and _counted(callee) < 0:
            raise QasmError(_undecomposable(callee), where)
        try:
            trees = tuple(parse_expr(p, names) for p in _split_params(b.group("params") or ""))
        except ValueError as e:
            raise QasmError(f"gate {name}: {e}", where) from None
        if len(trees) != callee.n_params:
            raise QasmError(f"{callee_name} takes {callee.n_params} parameter(s), got {len(trees)}", where)
        args = [a.strip() for a in b.group("args").split(",") if a.strip()]
        if len(args) != callee.n_args or any(a not in qubits for a in args) or len(set(args)) != len(args):
            raise QasmError(f"gate {name}: {callee_name} needs {callee.n_args} distinct qubits of {name}", where)
        body.append((callee, trees, tuple(qubits.index(a) for a in args)))
        count = min(count + callee.count, COUNT_CAP)  # definitions that multiply: a number, never a huge one
    return _Gate(name, len(params), len(qubits), count, params=params, body=body)


def _undecomposable(gate: _Gate) -> str:
    return (
        f"unsupported gate {gate.name} on {gate.n_args} qubits: eqvbench simulates one- and two-qubit gates "
        "and cirq has no decomposition of this one (write it as a gate definition)"
    )
