"""What :func:`eqvbench.run` returns: the run's JSON document, its points as objects, a DataFrame."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

PANDAS_MISSING = "Results.to_pandas() needs pandas: pip install 'eqvbench[pandas]'"


@dataclass(frozen=True)
class SweepPoint:
    """One point of a run: its common fields as attributes, every field of its JSON in `fields`.

    ``point["o_ideal"]`` (or ``point.fields["o_ideal"]``) reads any field, the family-specific
    ones included; ``point.get(name)`` gives None for a field the point lacks. Fields are those
    of the JSON document (docs/output.md, "JSON output"); null is None.
    """

    experiment: str
    params: dict[str, Any]
    n_qubits: int
    n_gates_2q: int
    v_light: int
    v_eff: float | None
    eps: float | None
    f_eff: float | None
    f_eff_err: float | None
    f_model: float
    cost_flops: float | None
    cost_log10: float | None
    width_log2: float | None
    resource_flops: float | None
    simulated: bool
    a_eff: int | None
    cost_eff_flops: float | None
    device_seconds: float | None
    classical_seconds: float | None
    cheapest_method: str | None
    verdict: str | None
    notes: list[str]
    methods: list[Any]  # eqvbench.classical.methods.MethodResult, one per classical method
    fields: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, point: dict[str, Any]) -> SweepPoint:
        from eqvbench.classical.methods import MethodResult

        names = [f for f in cls.__dataclass_fields__ if f not in ("fields", "methods")]
        methods = [MethodResult.from_json(m) for m in point.get("methods") or []]
        return cls(**{n: point.get(n) for n in names}, methods=methods, fields=point)

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


# SweepPoint's attributes: columns of to_pandas() and `eqvbench export --format csv` in every run
COMMON_COLUMNS = tuple(f for f in SweepPoint.__dataclass_fields__ if f not in ("fields", "params"))


class Results:
    """The outcome of a sweep.

    Attributes
    ----------
    document : dict
        The JSON document `eqvbench run --out` writes (provenance, resolved spec, points, and
        `summary`, `store`, `checks` where they apply).
    points : list of SweepPoint
        The points in sweep order.
    checks : list of dict
        The rows of the spec's `checks:` (empty without checks); `checks_passed` is None then.
    n_reused, n_computed : int
        Points taken from the store and points computed by this run.
    how : str
        Where the points ran ('in this process', 'with 4 workers', 'on the Dask cluster at ...').
    store : Path or None
        The result store the run used.
    """

    def __init__(
        self,
        document: dict[str, Any],
        *,
        spec: Any = None,
        n_reused: int = 0,
        n_computed: int | None = None,
        how: str = "",
        store: Path | None = None,
        saved: str = "nothing written",
    ):
        self.document = document
        self.spec = spec
        self.points = [SweepPoint.from_json(p) for p in document["points"]]
        self.n_reused = n_reused
        self.n_computed = len(self.points) - n_reused if n_computed is None else n_computed
        self.how = how
        self.store = store
        self.saved = saved

    @property
    def checks(self) -> list[dict[str, Any]]:
        return self.document.get("checks", [])

    @property
    def checks_passed(self) -> bool | None:
        return self.document.get("checks_passed")

    @property
    def wall_seconds(self) -> float:
        return self.document["wall_seconds"]

    def __len__(self) -> int:
        return len(self.points)

    def __iter__(self) -> Iterator[SweepPoint]:
        return iter(self.points)

    def __getitem__(self, i: int) -> SweepPoint:
        return self.points[i]

    def __repr__(self) -> str:
        experiments = ", ".join(dict.fromkeys(p.experiment for p in self.points))
        return f"<Results: {len(self.points)} point(s) of {experiments or 'no experiment'}, {self.wall_seconds} s>"

    def to_json(self, indent: int | None = 2) -> str:
        """The document as JSON text: with the default indent, what `eqvbench run --out` writes
        (less its final newline)."""
        return json.dumps(self.document, indent=indent, allow_nan=False)

    def to_pandas(self):
        """One row per point: `params.<swept field>` columns, then every field of the point, nested
        mappings flattened with dots (`cost.search_seconds`); the columns of `eqvbench export
        --format csv`. Lists (notes, per-gate maps) stay Python lists; null is None (NaN in
        numeric columns). Needs pandas (``pip install 'eqvbench[pandas]'``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(PANDAS_MISSING) from None
        rows = [flat_point(p) for p in self.document["points"]]
        # every SweepPoint attribute is a column even where no point carries it (a run without a
        # `device:` section, a stored run of an older version): df["verdict"] is None, not a KeyError
        for row in rows:
            for c in COMMON_COLUMNS:
                row.setdefault(c, None)
        columns = list(dict.fromkeys(c for row in rows for c in row))
        return pd.DataFrame(rows, columns=columns)


def flat_point(point: dict[str, Any]) -> dict[str, Any]:
    """A point's JSON as one flat row: params first as `params.<key>`, nested mappings dotted."""
    row: dict[str, Any] = {}

    def flat(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                flat(f"{prefix}.{k}" if prefix else k, v)
        else:
            row[prefix] = value

    flat("params", point["params"])
    for k, v in point.items():
        if k != "params":
            flat(k, v)
    return row
