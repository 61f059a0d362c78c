"""Spec format: YAML -> validated pydantic model -> list of sweep points.

Every field declared with :func:`Sweep` accepts a scalar or a list; lists are
swept as a cartesian product (first field outermost). Each point is a plain
nested dict of scalars; stages build their own dataclasses from it.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from eqvbench.errors import SpecError, printable

# Limits on what a spec file may hold: a few hundred bytes of YAML aliases can
# otherwise expand to gigabytes, and deep nesting exhausts the parser's stack.
MAX_SPEC_BYTES = 1_000_000
MAX_YAML_DEPTH = 32  # nested mappings / lists
MAX_YAML_ALIASES = 100  # *name references
MAX_YAML_NODES = 100_000  # values after expanding aliases
MAX_INT_DIGITS = 30
MAX_POINTS = 10_000  # points of one spec (all cases)
MAX_REPR = 80  # characters of an offending value quoted in an error line


def short_repr(value: Any, limit: int = MAX_REPR) -> str:
    """repr of a value read from a spec, cut to `limit` characters (never expands huge inputs fully)."""
    if isinstance(value, (dict, list)):
        text = reprlib_repr(value)
    else:
        text = repr(value) if not isinstance(value, str) or len(value) <= 4 * limit else repr(value[: 4 * limit])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reprlib_repr(value: Any) -> str:
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxdict, r.maxlist, r.maxstring, r.maxother = 3, 6, 6, MAX_REPR, MAX_REPR
    return r.repr(value)


class _SweepMark:
    """Metadata marker: this field may be given as a list and is then swept."""


SWEEP_MARK = _SweepMark()


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


def Sweep(tp: Any) -> Any:
    """Annotate a sweepable field: scalar or non-empty list of `tp`, stored as a list."""
    return Annotated[list[tp], BeforeValidator(_as_list), Field(min_length=1), SWEEP_MARK]


class Section(BaseModel):
    # strict: no silent coercion (`cycles: true` is not 1 cycle, `p2: "0.1"` is not a number)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Probability = Annotated[float, Field(ge=0.0, le=1.0)]

_SIZE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?\d+)?)\s*([kKMGTP]i?B|B)?\s*$")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "kB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "PB": 10**15,
    "KiB": 2**10,
    "kiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
    "PiB": 2**50,
}


MAX_BYTES = 2**80  # a yottabyte: larger sizes are typos


def parse_bytes(value: Any) -> int:
    """'16GiB', '512 MB', 1e9 or 1073741824 -> bytes (kB = 1000, KiB = 1024; 'KB' is refused as ambiguous)."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as '16GiB' or a number of bytes")
    if isinstance(value, (int, float)):
        n = float(value) if isinstance(value, float) or abs(value) < 2**1000 else math.inf
    else:
        m = _SIZE_RE.match(str(value))
        if m and m.group(2) == "KB":
            raise ValueError("'KB' is ambiguous: write kB (1000 bytes) or KiB (1024 bytes)")
        if not m or m.group(2) not in _SIZE_UNITS:
            raise ValueError("expected a size such as '16GiB', '512 MB' or a number of bytes")
        n = float(m.group(1)) * _SIZE_UNITS[m.group(2)]
    if not math.isfinite(n) or n > MAX_BYTES:
        raise ValueError("size too large (at most 2^80 bytes)")
    if n < 1:
        raise ValueError("must be at least 1 byte")
    return int(n)


# --- angles -------------------------------------------------------------------

_ANGLE_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|(pi)|([-+*/()]))")
_ANGLE_HELP = "expected an angle in radians: a number or an expression of numbers, pi, + - * / and ( ), e.g. '3*pi/8'"


def parse_angle(value: Any) -> float:
    """A number, or an expression such as 'pi/4' or '-(3*pi/8 + 0.1)' (radians).

    The expression is parsed, never evaluated as Python: numbers, `pi`, binary
    + - * /, unary minus and parentheses only.
    """
    if isinstance(value, bool):
        raise ValueError(_ANGLE_HELP)
    if isinstance(value, (int, float)):
        x = float(value) if isinstance(value, float) or abs(value) < 2**1000 else math.inf
    elif isinstance(value, str) and 0 < len(value) <= 200:
        x = _AngleParser(value).parse()
    else:
        raise ValueError(_ANGLE_HELP)
    if not math.isfinite(x):
        raise ValueError("angle must be a finite number")
    return x


class _AngleParser:
    """Recursive descent over: expr = term (('+'|'-') term)*; term = unary (('*'|'/') unary)*;
    unary = ('-'|'+') unary | number | 'pi' | '(' expr ')'."""

    MAX_DEPTH = 20

    def __init__(self, text: str):
        self.tokens: list[tuple[str, Any]] = []
        pos, text = 0, text.rstrip()
        while pos < len(text):
            m = _ANGLE_TOKEN.match(text, pos)
            if not m:
                raise ValueError(_ANGLE_HELP)
            num, pi, op = m.groups()
            self.tokens.append(("num", float(num)) if num else ("num", math.pi) if pi else ("op", op))
            pos = m.end()
        self.i = 0
        self.depth = 0

    def parse(self) -> float:
        x = self._expr()
        if self.i != len(self.tokens):
            raise ValueError(_ANGLE_HELP)
        return x

    def _peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) and self.tokens[self.i][0] == "op" else None

    def _expr(self) -> float:
        x = self._term()
        while self._peek() in ("+", "-"):
            op = self.tokens[self.i][1]
            self.i += 1
            y = self._term()
            x = x + y if op == "+" else x - y
        return x

    def _term(self) -> float:
        x = self._unary()
        while self._peek() in ("*", "/"):
            op = self.tokens[self.i][1]
            self.i += 1
            y = self._unary()
            if op == "/" and y == 0:
                raise ValueError("angle expression divides by zero")
            x = x * y if op == "*" else x / y
        return x

    def _unary(self) -> float:
        self.depth += 1
        if self.depth > self.MAX_DEPTH:
            raise ValueError("angle expression nested too deeply")
        try:
            if self.i >= len(self.tokens):
                raise ValueError(_ANGLE_HELP)
            kind, tok = self.tokens[self.i]
            self.i += 1
            if kind == "num":
                return tok
            if tok in ("-", "+"):
                x = self._unary()
                return -x if tok == "-" else x
            if tok == "(":
                x = self._expr()
                if self._peek() != ")":
                    raise ValueError(_ANGLE_HELP)
                self.i += 1
                return x
            raise ValueError(_ANGLE_HELP)
        finally:
            self.depth -= 1


# --- gates ----------------------------------------------------------------------

FSIM_SYC_NAMES = ("syc", "fsim", "sycamore")  # fSim(theta=pi/2, phi=pi/6), Sycamore's gate: one gate, any name


def gate_name(canonical: str):
    """BeforeValidator: any name of fSim(pi/2, pi/6) becomes the family's own spelling `canonical`."""

    def check(value: Any) -> Any:
        return canonical if isinstance(value, str) and value in FSIM_SYC_NAMES else value

    return BeforeValidator(check)


Bytes = Annotated[int, BeforeValidator(parse_bytes)]


# --- lattices ---------------------------------------------------------------


class GridLattice(Section):
    """rows x cols rectangle of grid qubits with nearest-neighbour couplers."""

    kind: Literal["grid"] = "grid"
    rows: Sweep(Annotated[int, Field(ge=1, le=64)]) = [3]
    cols: Sweep(Annotated[int, Field(ge=1, le=64)]) = [3]


class SycamoreLattice(Section):
    """Google's Sycamore layout: 54 sites, or 53 as in the 2019 experiment."""

    kind: Literal["sycamore"] = "sycamore"
    qubits: Sweep(Literal[53, 54]) = [53]


LatticeSpec = Annotated[Union[GridLattice, SycamoreLattice], Field(discriminator="kind")]


class LineLattice(Section):
    """n qubits in a line."""

    kind: Literal["line"] = "line"
    n: Sweep(Annotated[int, Field(ge=2, le=64)]) = [8]


class RingLattice(Section):
    """n qubits in a ring."""

    kind: Literal["ring"] = "ring"
    n: Sweep(Annotated[int, Field(ge=3, le=64)]) = [8]


class HeavyHex127Lattice(Section):
    """IBM Eagle's 127-qubit heavy-hex device (IBM qubit numbering)."""

    kind: Literal["heavy_hex_127"] = "heavy_hex_127"


class HeavyHexLattice(Section):
    """Ball of `radius` coupler hops around qubit `center` of the 127-qubit heavy-hex map."""

    kind: Literal["heavy_hex"] = "heavy_hex"
    center: Sweep(Annotated[int, Field(ge=0, le=126)]) = [62]
    radius: Sweep(Annotated[int, Field(ge=0, le=40)]) = [2]


# --- pipeline-wide sections -------------------------------------------------


class QubitRates(Section):
    """One qubit's row of a calibration table; a rate left out is the section's uniform one."""

    qubit: Annotated[int, Field(ge=0)]
    p1: Probability | None = None
    readout: Probability | None = None
    idle: Probability | None = None


class PairRates(Section):
    """One coupler's row of a calibration table."""

    qubits: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=2, max_length=2)]
    p2: Probability


class Calibration(Section):
    """`noise.calibration`: per-qubit and per-coupler rates (docs/noise.md), read from `file` (YAML or
    JSON, path relative to the spec) or given inline. Qubits are numbered as observables number them."""

    file: str | None = None
    sha256: str | None = None  # of the file's bytes: a changed file is a different spec (and store key)
    qubits: list[QubitRates] = []
    pairs: list[PairRates] = []

    @model_validator(mode="after")
    def _distinct_rows(self):
        from collections import Counter

        if len(self.qubits) + len(self.pairs) > MAX_CALIBRATION_ROWS:
            raise ValueError(
                f"{len(self.qubits) + len(self.pairs)} rows, more than {MAX_CALIBRATION_ROWS} "
                "(a row per qubit and per coupler)"
            )
        seen = Counter(r.qubit for r in self.qubits)  # counted once: a table of 10^4 rows is checked at once
        dup = next((q for q in seen if seen[q] > 1), None)
        if dup is not None:
            raise ValueError(f"qubit {dup} has more than one row in `qubits`")
        pairs = Counter(frozenset(r.qubits) for r in self.pairs)
        bad = next((r.qubits for r in self.pairs if len(set(r.qubits)) != 2), None)
        if bad is not None:
            raise ValueError(f"pair {bad} does not name two qubits")
        dup = next((sorted(p) for p in pairs if pairs[p] > 1), None)
        if dup is not None:
            raise ValueError(f"pair {dup} has more than one row in `pairs`")
        return self


class NoiseSpec(Section):
    """Digital noise model. Defaults: Sycamore 2019 error rates; `calibration` overrides them per
    qubit and per coupler."""

    p1: Sweep(Probability) = [0.0016]
    p2: Sweep(Probability) = [0.0062]
    readout: Sweep(Probability) = [0.038]
    idle: Sweep(Probability) = [0.0]
    calibration: Calibration | None = None


class SimulationSpec(Section):
    simulate: Literal["auto", "always", "never"] = "auto"
    method: Literal["auto", "density_matrix", "trajectories", "qsim"] = "auto"
    max_qubits: Annotated[int, Field(ge=1, le=28)] = 20
    shots: Annotated[int, Field(ge=0, le=10**8)] = 2000
    estimator: Literal["exact", "sampled"] = "exact"
    target_err: Annotated[float, Field(gt=0, le=1)] = 0.005
    max_trajectories: Annotated[int, Field(ge=2, le=10**7)] = 20000
    batch: Annotated[int, Field(ge=1, le=100_000)] | None = None

    @model_validator(mode="after")
    def _sampled_needs_shots(self):
        if self.estimator == "sampled" and self.shots < 2:
            raise ValueError("estimator 'sampled' needs shots >= 2")
        if self.method == "density_matrix" and self.max_qubits > 14:
            if "max_qubits" in self.model_fields_set:
                raise ValueError("method 'density_matrix' holds at most 14 qubits: set max_qubits <= 14")
            object.__setattr__(self, "max_qubits", 14)  # the default (20) is the state-vector engines'
        return self


class CostSpec(Section):
    enabled: bool = True
    max_repeats: Annotated[int, Field(ge=1, le=100_000)] = 32
    search_max_tensors: Annotated[int, Field(ge=1, le=10**7)] = 4000  # above: no search, the in-order sweep
    cache: bool = True  # store found trees on disk ($EQVBENCH_CACHE_DIR or ~/.cache/eqvbench/trees)
    max_time: Annotated[float, Field(gt=0, le=86_400)] | None = None
    # processes for the hyper-optimiser's trials; > 1 makes the tree depend on timing, like max_time
    processes: Annotated[int, Field(ge=1, le=1024)] = 1
    methods: Annotated[
        list[Literal["greedy", "kahypar", "labels", "spinglass", "betweenness"]], Field(min_length=1)
    ] = Field(default_factory=lambda: default_methods())
    optlib: Literal["optuna", "cmaes", "random", "sbplx"] = "optuna"
    minimize: Literal["flops", "combo", "size", "write"] = "flops"
    memory_limit: Bytes | None = 16 * 2**30  # null: no limit (the tree is not sliced)
    dtype: Literal["complex64", "complex128"] = "complex64"
    simplify: Literal["rank", "none"] = "rank"
    machines: dict[str, Annotated[float, Field(ge=1e3, le=1e30)]] = {}  # FLOP/s
    # the sampling task (rcs, a circuit without an observable, with device.shots): the open output qubits
    # k the batched way searches, one cost search each (docs/sampling.md), and whether the full state
    # (every qubit open, where 2^n amplitudes fit memory_limit) is tried as one more batch
    sampling_batch_qubits: Annotated[list[Annotated[int, Field(ge=1, le=30)]], Field(max_length=8)] = [4, 8]
    sampling_full_state: bool = True

    @field_validator("methods")
    @classmethod
    def _installed(cls, methods):
        for m in methods:
            module, hint = METHOD_NEEDS.get(m, (None, ""))
            if module is not None and not _importable(module):
                raise ValueError(f"method {m!r} needs the Python package {module!r}, which is not installed ({hint})")
        return methods


# cotengra methods that need a package eqvbench does not require everywhere: (module, how to get it)
METHOD_NEEDS = {
    "kahypar": ("kahypar", "pip install kahypar; no wheels for Windows: use methods: [greedy, labels] there"),
    "spinglass": ("igraph", "pip install igraph"),
    "betweenness": ("igraph", "pip install igraph"),
}


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def default_methods() -> list[str]:
    """greedy and kahypar where kahypar is installed, else greedy and labels (both pure Python)."""
    return ["greedy", "kahypar"] if _importable("kahypar") else ["greedy", "labels"]


class ReportSpec(Section):
    title: str | None = None
    machine: str = "frontier"
    # the table's columns (after the swept values): JSON field names, or {header: field};
    # empty: the default columns of the spec's families
    columns: list[Union[str, dict[str, str]]] = []
    # the depth at which f x cost peaks, for families with a depth parameter (costed, not simulated):
    # off by default, since it runs a cost search per depth tried (up to 24)
    resource_peak: bool = False
    resource_peak_max_depth: Annotated[int, Field(ge=1, le=1000)] = 200


PUBLISHED_MIN, PUBLISHED_MAX = 1e-200, 1e200  # a published figure's bounds


class PublishedSpec(Section):
    """Published figures to put beside eqvbench's: any numeric JSON field of a point, e.g. cost_flops."""

    model_config = ConfigDict(extra="allow", frozen=True)
    source: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _numeric_strings(cls, data):
        # YAML reads 1.6e19 (no sign in the exponent) as a string
        if isinstance(data, dict):
            data = dict(data)
            for k, v in data.items():
                if k != "source" and isinstance(v, str):
                    try:
                        data[k] = float(v)
                    except ValueError:
                        pass
        return data

    @model_validator(mode="after")
    def _numbers(self):
        for k, v in (self.model_extra or {}).items():
            # bounded away from the float range's ends, so that ours / published stays a finite number
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not PUBLISHED_MIN <= v <= PUBLISHED_MAX:
                raise ValueError(
                    f"published.{k} must be a positive number from {PUBLISHED_MIN:g} to {PUBLISHED_MAX:g}, got {v!r}"
                )
        return self


class DeviceSpec(Section):
    """The device's own run, for the verdict: shots x repetition time against the classical time."""

    shots: Annotated[int, Field(ge=1, le=10**15)] | None = None
    # seconds per shot, all overheads included (at most a day)
    repetition_s: Annotated[float, Field(ge=1e-12, le=86_400)] | None = None
    # the break-even error rate (eqvbench.classical.breakeven): scale every rate with the two-qubit
    # one ('proportional') or hold the others ('hold')
    break_even_rates: Literal["proportional", "hold"] = "proportional"


# --- whole spec ---------------------------------------------------------------


def spec_model(family) -> type[BaseModel]:
    """Pydantic model of a whole spec for one experiment family."""
    from eqvbench.output.checks import CheckSpec

    return create_model(
        f"{family.name.capitalize()}Spec",
        __base__=Section,
        experiment=(Literal[family.name], ...),  # type: ignore[valid-type]
        description=(str | None, None),
        seed=(Annotated[int, Field(ge=0, lt=2**63)], 0),
        lattice=(family.lattice_spec, family.default_lattice()),
        # a family whose circuit section has required fields (a circuit file) has no default section
        circuit=(family.circuit_spec, ... if family.circuit_required else family.circuit_spec()),
        noise=(NoiseSpec, NoiseSpec()),
        simulation=(SimulationSpec, SimulationSpec()),
        cost=(CostSpec, CostSpec()),
        report=(ReportSpec, ReportSpec()),
        device=(DeviceSpec, DeviceSpec()),
        published=(PublishedSpec, PublishedSpec()),
        checks=(list[CheckSpec], []),  # CI mode: eqvbench.output.checks
    )


@dataclass(frozen=True)
class Point:
    """One point of a sweep: `params` holds the swept values, `values` the full section dicts."""

    index: int
    params: dict[str, Any]
    values: dict[str, Any]

    def key(self, *sections: str) -> str:
        """Stable hash of some sections of this point (seeds and caches derive from it)."""
        blob = json.dumps({s: self.values[s] for s in sections}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Spec:
    """A validated spec: its file, family name, one model per case and the expanded sweep."""

    file: str
    experiment: str
    models: list[BaseModel]
    points: list[Point] = field(default_factory=list)

    @property
    def model(self) -> BaseModel:
        """The first (often only) case: report and seed settings are read from it."""
        return self.models[0]

    def resolved(self) -> dict[str, Any]:
        """The spec with every default filled in (JSON-safe); with `cases`, one entry per case."""
        if len(self.models) == 1:
            return self.models[0].model_dump(mode="json")
        return {"experiment": self.experiment, "cases": [m.model_dump(mode="json") for m in self.models]}

    @property
    def experiments(self) -> list[str]:
        """The families the points run, in order of first appearance."""
        return list(dict.fromkeys(m.experiment for m in self.models))


def _sweep_paths(model: BaseModel, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], list]]:
    out = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if any(isinstance(m, _SweepMark) for m in info.metadata):
            out.append(((*prefix, name), list(value)))
        elif isinstance(value, BaseModel):
            out.extend(_sweep_paths(value, (*prefix, name)))
    return out


def expand(model: BaseModel, start: int = 0, case: int | None = None) -> list[Point]:
    """Cartesian product of all sweep fields -> list of points (numbered from `start`)."""
    paths = _sweep_paths(model)
    # checks (CI thresholds) say nothing about how a point runs: keep them out of its values and seeds
    base = model.model_dump(mode="python", exclude={"checks"})
    # a family may derive parts of a point from others (the circuit family: the lattice from the file)
    from eqvbench.families import get_family

    complete = get_family(model.experiment).complete_point
    points = []
    for i, combo in enumerate(itertools.product(*(vals for _, vals in paths)), start=start):
        values = json.loads(json.dumps(base))  # deep copy of plain data
        params = {}
        for (path, vals), v in zip(paths, combo):
            node = values
            for p in path[:-1]:
                node = node[p]
            node[path[-1]] = v
            if len(vals) > 1:
                params[".".join(path)] = v
        if case is not None:
            params = {"case": case, **params}
        values = complete(values)
        points.append(Point(index=i, params=params, values=values))
    return points


def _merge(base: dict, over: dict) -> dict:
    """Deep merge of `over` into a copy of `base` (mappings merge, anything else replaces)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _field_path(raw: Any, loc: tuple) -> str:
    """Turn a pydantic error location into a dotted path as the user wrote it."""
    parts: list[str] = []
    cur = raw
    for elem in loc:
        if isinstance(elem, int):
            if isinstance(cur, list):
                parts[-1] = f"{parts[-1]}[{elem}]" if parts else f"[{elem}]"
                cur = cur[elem] if elem < len(cur) else None
            continue  # scalar given where a sweep list is stored
        if isinstance(cur, dict) and elem not in cur and cur.get("kind") == elem:
            continue  # discriminator tag of a tagged union
        parts.append(str(elem))
        cur = cur.get(elem) if isinstance(cur, dict) else None
    return ".".join(parts) or "(top level)"


def _models_in(tp: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through Annotated, Optional, Union and list)."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _models_in(get_args(tp)[0])
    if origin in (Union, types.UnionType, list):
        return [m for a in get_args(tp) for m in _models_in(a)]
    return [tp] if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _keys_at(model: type[BaseModel] | None, loc: tuple) -> list[str] | None:
    """The keys allowed in the mapping that holds the last element of `loc`, or None if unknown."""
    if model is None:
        return None
    cands = [model]
    for elem in loc[:-1]:
        if isinstance(elem, int):
            continue
        nxt = [m for c in cands if elem in c.model_fields for m in _models_in(c.model_fields[elem].annotation)]
        if not nxt:  # the tag of a tagged union (lattice kinds)
            nxt = [c for c in cands if "kind" in c.model_fields and c.model_fields["kind"].default == elem]
        if not nxt:
            return None
        cands = nxt
    return sorted(cands[0].model_fields) if len(cands) == 1 else None


def unknown_key_message(key: Any, allowed: list[str] | None) -> str:
    """'unknown key (allowed: a, b, c; did you mean 'b'?)'."""
    if not allowed:
        return "unknown key"
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key (allowed: {', '.join(allowed)}{hint})"


def _error_message(err: dict, model: type[BaseModel] | None = None) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        allowed = _keys_at(model, err["loc"])
        if allowed is not None and len(err["loc"]) == 1:
            allowed = sorted({*allowed, "cases"})
        return unknown_key_message(err["loc"][-1], allowed)
    if kind == "missing":
        return "required field is missing"
    msg = err.get("msg", "invalid value")
    msg = msg.removeprefix("Value error, ")
    if "input" in err and kind not in ("union_tag_invalid",):
        got = short_repr(err["input"])
        if got not in msg:
            return f"{msg} (got {got})"
    return msg


def raise_validation(file: str, raw: Any, exc: ValidationError, model: type[BaseModel] | None = None) -> None:
    errors = exc.errors()
    first = errors[0]
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise SpecError(file, _field_path(raw, first["loc"]), _error_message(first, model) + more) from None


# --- reading YAML safely ---------------------------------------------------------


class _LimitError(yaml.MarkedYAMLError):
    """Well-formed YAML that a spec may not hold (past a limit, or a duplicate key)."""


class _SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader with limits: nesting depth, number of aliases, size after alias
    expansion, integer length; duplicate keys are refused instead of the last one winning;
    1e18 and 5e-3 read as numbers (YAML 1.2), not as strings."""

    def __init__(self, stream, max_nodes: int = MAX_YAML_NODES):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._nodes = 0
        self._max_nodes = max_nodes

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _LimitError(
                    None, None, f"more than {MAX_YAML_ALIASES} aliases (*name)", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        self._depth += 1
        self._nodes += 1
        try:
            if self._nodes > self._max_nodes:  # composing a huge document would take minutes and GBs
                raise _LimitError(None, None, f"more than {self._max_nodes} values", self.peek_event().start_mark)
            if self._depth > MAX_YAML_DEPTH:
                raise _LimitError(
                    None, None, f"nested more than {MAX_YAML_DEPTH} levels deep", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                dup = key in seen
            except TypeError:
                continue  # unhashable: the base class reports it
            if dup:
                raise _LimitError(
                    None,
                    None,
                    f"duplicate key {short_repr(key)} (each key may appear once per mapping)",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise _LimitError(None, None, f"integer with more than {MAX_INT_DIGITS} digits", node.start_mark)
        return super().construct_yaml_int(node)


_SpecLoader.add_constructor("tag:yaml.org,2002:int", _SpecLoader.construct_yaml_int)
_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def _expanded_size(node, memo: dict, active: set, depth: int = 0, max_nodes: int = MAX_YAML_NODES) -> tuple[int, int]:
    """(number of values, depth) of a composed YAML node once its aliases are expanded."""
    key = id(node)
    if key in memo:
        size, height = memo[key]
    else:
        if key in active:
            raise _LimitError(None, None, "an alias refers to a value that contains it", node.start_mark)
        active.add(key)
        size, height = 1, 0
        children = (
            [c for kv in node.value for c in kv]
            if isinstance(node, yaml.MappingNode)
            else node.value
            if isinstance(node, yaml.SequenceNode)
            else []
        )
        for child in children:
            s, h = _expanded_size(child, memo, active, depth + 1, max_nodes)
            size, height = size + s, max(height, h + 1)
            if size > max_nodes:
                break
        active.discard(key)
        memo[key] = (size, height)
    if size > max_nodes:
        raise _LimitError(None, None, f"more than {max_nodes} values once aliases are expanded", node.start_mark)
    if depth + height > MAX_YAML_DEPTH:
        raise _LimitError(
            None, None, f"nested more than {MAX_YAML_DEPTH} levels deep once aliases are expanded", node.start_mark
        )
    return size, height


def safe_load(text: str, max_nodes: int = MAX_YAML_NODES) -> Any:
    """YAML text -> plain data, within the limits above (yaml.YAMLError otherwise)."""
    loader = _SpecLoader(text, max_nodes)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set(), 0, max_nodes)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(path: Path) -> dict:
    """Read a spec file into a dict, or raise SpecError naming the file and line."""
    file = str(path)
    try:
        if not path.is_file():
            raise SpecError(file, None, "file not found" if not path.exists() else "is not a regular file")
        with open(path, "rb") as f:
            data = f.read(MAX_SPEC_BYTES + 1)
        if len(data) > MAX_SPEC_BYTES:
            raise SpecError(file, None, f"spec larger than {MAX_SPEC_BYTES // 1000} kB")
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise SpecError(file, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(file, None, f"cannot read spec: {e.__class__.__name__}") from None
    return parse_yaml(text, file)


def parse_yaml(text: str, file: str) -> dict:
    """Spec YAML text into a dict, or raise SpecError naming `file` (a path, or e.g. '<string>') and line."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise SpecError(file, None, f"spec larger than {MAX_SPEC_BYTES // 1000} kB")
    try:
        raw = safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(file, where, problem if isinstance(e, _LimitError) else f"malformed YAML: {problem}") from None
    except RecursionError:
        raise SpecError(file, None, f"malformed YAML: nested more than {MAX_YAML_DEPTH} levels deep") from None
    if not isinstance(raw, dict):
        raise SpecError(file, None, "spec must be a YAML mapping with at least an 'experiment' key")
    return raw


def _check_numbers(file: str, value: Any, path: str = "") -> None:
    """Every number in the raw spec is finite and of sane size (no inf, nan or 5000-digit integers)."""
    if isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(file, path or None, f"must be a finite number (got {value!r})")
    if isinstance(value, int) and abs(value) >= 10**MAX_INT_DIGITS:
        raise SpecError(file, path or None, f"integer with more than {MAX_INT_DIGITS} digits")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_numbers(file, v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_numbers(file, v, f"{path}[{i}]")


def _count_points(model: BaseModel) -> int:
    return math.prod(len(vals) for _, vals in _sweep_paths(model))


def check_model(file: str, model: BaseModel, where: str = "") -> None:
    """Cross-field check of one validated case: the verdict's machine exists."""
    from eqvbench.classical.cost import REFERENCE_MACHINES

    machines = {**REFERENCE_MACHINES, **model.cost.machines}
    if model.report.machine not in machines:
        close = difflib.get_close_matches(model.report.machine, list(machines), n=1, cutoff=0.6)
        raise SpecError(
            file,
            f"{where}report.machine",
            f"unknown machine {short_repr(model.report.machine)} (known: {', '.join(machines)}; "
            f"add one under cost.machines: {{name: FLOP/s}})" + (f"; did you mean {close[0]!r}?" if close else ""),
        )


def check_columns(file: str, models: list[BaseModel]) -> None:
    """Every `report.columns` entry names a field that some point of the spec reports."""
    fields = set().union(*(point_fields(m) for m in models))
    kinds = " or ".join(dict.fromkeys(m.experiment for m in models))
    for m in models:
        for i, col in enumerate(m.report.columns):
            for name in col.values() if isinstance(col, dict) else [col]:
                if name not in fields:
                    close = difflib.get_close_matches(name, sorted(fields), n=1, cutoff=0.6)
                    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(fields))}"
                    raise SpecError(
                        file, f"report.columns[{i}]", f"{short_repr(name)} is not a field of a {kinds} point ({hint})"
                    )


# Fields of a point's JSON record that every family has, then each family's own
# (tests/test_spec.py runs a point of every family and checks these lists hold).
COMMON_POINT_FIELDS = (
    "experiment",
    "n_qubits",
    "n_gates_2q",
    "v_light",
    "v_eff",
    "v_eff_model",
    "eps",
    "f_eff",
    "f_eff_err",
    "f_model",
    "cost",
    "cost_flops",
    "cost_log10",
    "cost_cached",
    "cost_eff_flops",
    "width_log2",
    "resource_flops",
    "seconds_here",
    "simulated",
    "shots",
    "sim_method",
    "n_trajectories",
    "notes",
    "timings_s",
    "a_eff",
    "region_gates_2q",
    "region_delta",
    "region_f",
    "region_f_source",
    "region_radius",
    "region_history",
    "region_value",
    "region_err",
    "region_certificate",
    "reference_value",
    "reference_err",
    "reference_method",
    "reference_seconds",
    "reference_source",
    "reference_certificate",
    "region_certified",
    "region_certificate_chain",
    "reproduced_value",
    "reproduced_err",
    "reproduced_method",
    "reproduced_seconds",
    "reproduced_certificate",
    "methods",
    "cheapest_method",
    "device_seconds",
    "classical_seconds",
    "verdict_machine",
    "verdict_method",
    "verdict",
    "verdict_note",
    "verdict_evidence",
    "break_even_eps",
    "break_even_p2",
    "break_even_scale",
    "break_even_f",
    "break_even_classical_seconds",
    "break_even_verdict",
    "break_even_rates",
    "break_even_note",
    "break_even_model",
    "resource_peak_depth",
    "resource_peak_flops",
    "resource_peak_f",
    "resource_peak_cost_flops",
    "resource_peak_note",
    "resource_peak_ladder",
)


class _FamilyPointFields(Mapping):
    """Family name -> the fields its points add (its `result_fields`), read from the family."""

    def __getitem__(self, name: str) -> tuple[str, ...]:
        from eqvbench.families import family_names, get_family

        if name not in family_names():
            raise KeyError(name)
        return tuple(get_family(name).field_names())

    def __iter__(self):
        from eqvbench.families import family_names

        return iter(family_names())

    def __len__(self) -> int:
        from eqvbench.families import family_names

        return len(family_names())


FAMILY_POINT_FIELDS = _FamilyPointFields()


def point_fields(model: BaseModel) -> set[str]:
    """Names a `report.columns` entry may use for points of this case."""
    from eqvbench.classical.cost import REFERENCE_MACHINES

    out = set(COMMON_POINT_FIELDS) | set(FAMILY_POINT_FIELDS.get(model.experiment, ()))
    out |= {f"seconds_on_{m}" for m in {**REFERENCE_MACHINES, **model.cost.machines}}
    for k in model.published.model_extra or {}:
        out |= {f"published_{k}", f"ratio_{k}"}
    return out


MAX_CALIBRATION_BYTES = 10_000_000
# rows of a calibration table (qubits and couplers together): a circuit has at most 4096 qubits
# (experiment: circuit), and a lattice of that size has fewer couplers than three per qubit
MAX_CALIBRATION_ROWS = 16_384
_CALIBRATION_NODES = 10 * MAX_CALIBRATION_ROWS  # YAML values of a table of that many rows (about 9 a row)


def read_calibration(path_text: str, spec_file: str, field: str) -> dict:
    """A calibration file named in a spec (relative to the spec's folder) as the `noise.calibration`
    mapping, with its name and SHA-256; SpecError naming the spec, the field and the file otherwise.
    YAML is read with the spec's safe loader (nothing in it can run code); `.json` as JSON."""
    base = Path(spec_file).parent if not spec_file.startswith("<") else Path.cwd()
    path = Path(path_text) if Path(path_text).is_absolute() else base / path_text

    def fail(msg: str):
        raise SpecError(spec_file, field, f"{path_text}: {msg}")

    import errno

    from eqvbench.io import read_regular

    try:  # only a regular file, read without blocking (a FIFO) and never past the limit (/dev/zero)
        data = read_regular(path, MAX_CALIBRATION_BYTES)
    except FileNotFoundError:
        fail("file not found")
    except OSError as e:
        if e.errno == errno.EFBIG:
            fail(f"larger than {MAX_CALIBRATION_BYTES // 1_000_000} MB")
        if e.errno == errno.EINVAL:
            fail("not a regular file (a device, FIFO or socket)")
        fail(f"cannot read: {e.strerror or e.__class__.__name__}")
    try:
        text = data.decode("utf-8")
        # every row names its qubit(s) ("qubit:" / "qubits:"): more names than rows allowed is refused
        # before the parse, which for a table of 300000 rows would take half a minute and a GB
        names = text.count("qubit")
        if names > MAX_CALIBRATION_ROWS + 2:
            fail(
                f"more than {MAX_CALIBRATION_ROWS} rows ({names} mentions of 'qubit'): a table has a row per "
                f"qubit and per coupler, for at most {MAX_CALIBRATION_ROWS} together"
            )
        if path.suffix.lower() == ".json":
            table = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not a number")))
        else:
            table = safe_load(text, _CALIBRATION_NODES)
    except UnicodeDecodeError:
        fail("not UTF-8 text")
    except json.JSONDecodeError as e:
        fail(f"line {e.lineno}: not JSON ({e.msg})")
    except RecursionError:
        fail("not JSON eqvbench reads (nested too deeply)")
    except ValueError as e:  # NaN/Infinity, an integer of thousands of digits
        fail(
            "not JSON eqvbench reads ("
            + ("an integer of thousands of digits" if "digits" in str(e) else printable(str(e), 100))
            + ")"
        )
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        fail(f"{'line ' + str(mark.line + 1) + ': ' if mark else ''}not YAML ({getattr(e, 'problem', None) or e})")
    if not isinstance(table, dict):
        fail("expected a mapping with `qubits` and/or `pairs` tables")
    try:
        _check_numbers(spec_file, table)  # finite numbers, integers of sane size, as in the spec itself
    except SpecError as e:
        fail(f"{e.field}: {e.message}" if e.field else e.message)
    unknown = sorted(set(table) - {"qubits", "pairs"})
    if unknown:
        fail(f"unknown key {unknown[0]!r} (allowed: qubits, pairs)")
    try:
        Calibration.model_validate(table)
    except ValidationError as e:
        first = e.errors()[0]
        loc = "".join(
            f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(first["loc"])
        )
        msg = first["msg"].removeprefix("Value error, ")
        fail(f"{loc}: {msg}" if loc else msg)
    return {"file": path_text, "sha256": hashlib.sha256(data).hexdigest(), **table}


def _inline_calibration(raw: dict, file: str, prefix: str = "") -> dict:
    """`noise.calibration: FILE` replaced by the file's table (so workers and the resolved spec carry
    the rates themselves, and the store keys on them)."""
    noise = raw.get("noise")
    if isinstance(noise, dict) and isinstance(noise.get("calibration"), str):
        cal = read_calibration(noise["calibration"], file, f"{prefix}noise.calibration")
        raw = {**raw, "noise": {**noise, "calibration": cal}}
    return raw


def check_calibration(file: str, values: dict, lattice, field: str = "noise.calibration") -> None:
    """Every qubit and coupler of the point's lattice has a row in its calibration table."""
    from eqvbench.circuits.lattice import qubit_numbers

    cal = values["noise"].get("calibration")
    if not cal:
        return
    where = f"{cal['file']}: " if cal.get("file") else ""
    numbers = qubit_numbers(lattice)
    rows = {r["qubit"] for r in cal["qubits"]}
    missing = sorted(k for k in numbers.values() if k not in rows)
    if missing and cal["qubits"]:
        raise SpecError(
            file,
            field,
            f"{where}qubits: no row for qubit {missing[0]} of the lattice"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
        )
    pairs = {frozenset(r["qubits"]) for r in cal["pairs"]}
    lacking = sorted(
        sorted((numbers[a], numbers[b])) for a, b in lattice.edges if frozenset((numbers[a], numbers[b])) not in pairs
    )
    if lacking and cal["pairs"]:
        raise SpecError(
            file,
            field,
            f"{where}pairs: no row for coupler {lacking[0]} of the lattice"
            + (f" (and {len(lacking) - 1} more)" if len(lacking) > 1 else ""),
        )


def validation_context(file: str) -> dict[str, Any]:
    """What validators may need besides the value: the directory that relative paths in the spec
    (circuit.file) start from: the spec file's, or the current directory for '<dict>' / '<string>'."""
    base = Path.cwd() if file.startswith("<") else Path(file).resolve().parent
    return {"spec_file": file, "base_dir": base}


def parse_spec(raw: dict, file: str) -> Spec:
    """Validate a raw spec dict and expand its sweep."""
    from eqvbench.families import get_family, family_names

    name = raw.get("experiment")
    if name is None:
        raise SpecError(file, "experiment", f"required field is missing (one of: {', '.join(family_names())})")
    if not isinstance(name, str) or name not in family_names():
        raise SpecError(
            file, "experiment", f"unknown experiment {short_repr(name)} (one of: {', '.join(family_names())})"
        )
    family = get_family(name)
    _check_numbers(file, raw)
    raw = _inline_calibration(raw, file)
    cases = raw.get("cases")
    if isinstance(cases, list):
        cases = [
            _inline_calibration(c, file, f"cases[{i}].") if isinstance(c, dict) else c for i, c in enumerate(cases)
        ]
    if cases is None:
        model_cls = spec_model(family)
        try:
            model = model_cls.model_validate(raw, context=validation_context(file))
        except ValidationError as e:
            raise_validation(file, raw, e, model_cls)
        check_model(file, model)
        check_columns(file, [model])
        n = _count_points(model)
        if n > MAX_POINTS:
            raise SpecError(
                file, None, f"the sweep has {n} points, more than {MAX_POINTS}: split it into several specs"
            )
        return Spec(file=file, experiment=name, models=[model], points=expand(model))
    if not isinstance(cases, list) or not cases or not all(isinstance(c, dict) for c in cases):
        raise SpecError(file, "cases", "must be a non-empty list of mappings (each overrides the rest of the spec)")
    base = {k: v for k, v in raw.items() if k != "cases"}
    models, points = [], []
    for i, case in enumerate(cases):
        # a case may run another family (e.g. one table of several published experiments); it then
        # inherits only the family-independent sections of the base (seed, noise, simulation, cost, report)
        case_name = case.get("experiment", name)
        if not isinstance(case_name, str) or case_name not in family_names():
            raise SpecError(
                file,
                f"cases[{i}].experiment",
                f"unknown experiment {short_repr(case_name)} (one of: {', '.join(family_names())})",
            )
        case_family = get_family(case_name)
        case_base = base if case_name == name else {k: v for k, v in base.items() if k not in ("lattice", "circuit")}
        merged = _merge(case_base, case)
        model_cls = spec_model(case_family)
        try:
            model = model_cls.model_validate(merged, context=validation_context(file))
        except ValidationError as e:
            err = SpecError(file, None, "")
            try:
                raise_validation(file, merged, e, model_cls)
            except SpecError as inner:
                err = inner
            in_case = err.field and _top_key(err.field) in {_top_key(printable(str(k), 200)) for k in case}
            raise SpecError(file, f"cases[{i}].{err.field}" if in_case else err.field, err.message) from None
        try:
            check_model(file, model)
        except SpecError as err:
            in_case = err.field and _top_key(err.field) in {_top_key(printable(str(k), 200)) for k in case}
            raise SpecError(file, f"cases[{i}].{err.field}" if in_case else err.field, err.message) from None
        if len(points) + _count_points(model) > MAX_POINTS:
            raise SpecError(
                file, f"cases[{i}]", f"the sweep has more than {MAX_POINTS} points: split it into several specs"
            )
        models.append(model)
        points += expand(model, start=len(points), case=i)
    check_columns(file, models)
    if len({m.experiment for m in models}) > 1:  # say which family each row is
        points = [
            Point(
                p.index,
                {
                    "case": p.params["case"],
                    "experiment": p.values["experiment"],
                    **{k: v for k, v in p.params.items() if k != "case"},
                },
                p.values,
            )
            for p in points
        ]
    return Spec(file=file, experiment=name, models=models, points=points)


def _top_key(field: str) -> str:
    """The top-level key a field path starts with, as error lines print it ('noise.p2' -> 'noise')."""
    return field.split(".")[0].split("[")[0]


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    return parse_spec(load_yaml(path), str(path))
