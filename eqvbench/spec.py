"""Spec format: YAML -> validated pydantic model -> list of sweep points.

Every field declared with :func:`Sweep` accepts a scalar or a list; lists are
swept as a cartesian product (first field outermost). Each point is a plain
nested dict of scalars; stages build their own dataclasses from it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model, model_validator

from eqvbench.errors import SpecError


class _SweepMark:
    """Metadata marker: this field may be given as a list and is then swept."""


SWEEP_MARK = _SweepMark()


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


def Sweep(tp: Any) -> Any:
    """Annotate a sweepable field: scalar or non-empty list of `tp`, stored as a list."""
    return Annotated[list[tp], BeforeValidator(_as_list), Field(min_length=1), SWEEP_MARK]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Probability = Annotated[float, Field(ge=0.0, le=1.0)]

_SIZE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([kKMGTP]i?B|B)?\s*$")
_SIZE_UNITS = {
    None: 1, "B": 1,
    "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15,
    "KiB": 2**10, "kiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50,
}


def parse_bytes(value: Any) -> int:
    """'16GiB', '512 MB', 1e9 or 1073741824 -> bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as '16GiB' or a number of bytes")
    if isinstance(value, (int, float)):
        n = float(value)
    else:
        m = _SIZE_RE.match(str(value))
        if not m or m.group(2) not in _SIZE_UNITS:
            raise ValueError(f"expected a size such as '16GiB' or a number of bytes, got {value!r}")
        n = float(m.group(1)) * _SIZE_UNITS[m.group(2)]
    if n <= 0:
        raise ValueError(f"must be positive, got {value!r}")
    return int(n)


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

class NoiseSpec(Section):
    """Digital noise model. Defaults: Sycamore 2019 error rates."""

    p1: Sweep(Probability) = [0.0016]
    p2: Sweep(Probability) = [0.0062]
    readout: Sweep(Probability) = [0.038]
    idle: Sweep(Probability) = [0.0]


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
            raise ValueError("method 'density_matrix' holds at most 14 qubits: set max_qubits <= 14")
        return self


class CostSpec(Section):
    enabled: bool = True
    max_repeats: Annotated[int, Field(ge=1, le=100_000)] = 32
    search_max_tensors: Annotated[int, Field(ge=1)] = 4000  # above: no search, the in-order sweep
    cache: bool = True  # store found trees on disk ($EQVBENCH_CACHE_DIR or ~/.cache/eqvbench/trees)
    max_time: Annotated[float, Field(gt=0, le=86_400)] | None = None
    # processes for the hyper-optimiser's trials; > 1 makes the tree depend on timing, like max_time
    processes: Annotated[int, Field(ge=1, le=1024)] = 1
    methods: list[Literal["greedy", "kahypar", "labels", "spinglass", "betweenness"]] = ["greedy", "kahypar"]
    optlib: Literal["optuna", "cmaes", "random", "sbplx"] = "optuna"
    minimize: Literal["flops", "combo", "size", "write"] = "flops"
    memory_limit: Bytes | None = 16 * 2**30  # null: no limit (the tree is not sliced)
    dtype: Literal["complex64", "complex128"] = "complex64"
    simplify: Literal["rank", "none"] = "rank"
    machines: dict[str, Annotated[float, Field(gt=0)]] = {}


class ReportSpec(Section):
    title: str | None = None
    machine: str = "frontier"
    # the table's columns (after the swept values): JSON field names, or {header: field};
    # empty: the default columns of the spec's families
    columns: list[Union[str, dict[str, str]]] = []


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
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"published.{k} must be a positive number, got {v!r}")
        return self


class DeviceSpec(Section):
    """The device's own run, for the verdict: shots x repetition time against the classical time."""

    shots: Annotated[int, Field(ge=1)] | None = None
    repetition_s: Annotated[float, Field(gt=0)] | None = None  # seconds per shot, all overheads included


# --- whole spec ---------------------------------------------------------------

def spec_model(family) -> type[BaseModel]:
    """Pydantic model of a whole spec for one experiment family."""
    from eqvbench.checks import CheckSpec

    return create_model(
        f"{family.name.capitalize()}Spec",
        __base__=Section,
        experiment=(Literal[family.name], ...),  # type: ignore[valid-type]
        description=(str | None, None),
        seed=(Annotated[int, Field(ge=0, lt=2**63)], 0),
        lattice=(family.lattice_spec, family.default_lattice()),
        circuit=(family.circuit_spec, family.circuit_spec()),
        noise=(NoiseSpec, NoiseSpec()),
        simulation=(SimulationSpec, SimulationSpec()),
        cost=(CostSpec, CostSpec()),
        report=(ReportSpec, ReportSpec()),
        device=(DeviceSpec, DeviceSpec()),
        published=(PublishedSpec, PublishedSpec()),
        checks=(list[CheckSpec], []),  # CI mode: eqvbench.checks
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


def _error_message(err: dict) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required field is missing"
    msg = err.get("msg", "invalid value")
    msg = msg.removeprefix("Value error, ")
    if "input" in err and kind not in ("union_tag_invalid",):
        return f"{msg} (got {err['input']!r})"
    return msg


def raise_validation(file: str, raw: Any, exc: ValidationError) -> None:
    errors = exc.errors()
    first = errors[0]
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise SpecError(file, _field_path(raw, first["loc"]), _error_message(first) + more) from None


def load_yaml(path: Path) -> dict:
    """Read a spec file into a dict, or raise SpecError naming the file and line."""
    file = str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(file, None, "file not found") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise SpecError(file, None, f"cannot read spec: {e.__class__.__name__}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(file, where, f"malformed YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise SpecError(file, None, "spec must be a YAML mapping with at least an 'experiment' key")
    return raw


def parse_spec(raw: dict, file: str) -> Spec:
    """Validate a raw spec dict and expand its sweep."""
    from eqvbench.families import get_family, family_names

    name = raw.get("experiment")
    if name is None:
        raise SpecError(file, "experiment", f"required field is missing (one of: {', '.join(family_names())})")
    if not isinstance(name, str) or name not in family_names():
        raise SpecError(file, "experiment", f"unknown experiment {name!r} (one of: {', '.join(family_names())})")
    family = get_family(name)
    cases = raw.get("cases")
    if cases is None:
        try:
            model = spec_model(family).model_validate(raw)
        except ValidationError as e:
            raise_validation(file, raw, e)
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
            raise SpecError(file, f"cases[{i}].experiment",
                            f"unknown experiment {case_name!r} (one of: {', '.join(family_names())})")
        case_family = get_family(case_name)
        case_base = base if case_name == name else {k: v for k, v in base.items() if k not in ("lattice", "circuit")}
        merged = _merge(case_base, case)
        try:
            model = spec_model(case_family).model_validate(merged)
        except ValidationError as e:
            err = SpecError(file, None, "")
            try:
                raise_validation(file, merged, e)
            except SpecError as inner:
                err = inner
            in_case = err.field and err.field.split(".")[0].split("[")[0] in case
            raise SpecError(file, f"cases[{i}].{err.field}" if in_case else err.field, err.message) from None
        models.append(model)
        points += expand(model, start=len(points), case=i)
    if len({m.experiment for m in models}) > 1:  # say which family each row is
        points = [Point(p.index, {"case": p.params["case"], "experiment": p.values["experiment"],
                                  **{k: v for k, v in p.params.items() if k != "case"}}, p.values) for p in points]
    return Spec(file=file, experiment=name, models=models, points=points)


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    return parse_spec(load_yaml(path), str(path))
