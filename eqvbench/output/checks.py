"""CI mode: the `checks:` section of a spec.

Each check bounds one numeric field of the points it applies to:

    checks:
      - "cost_log10 <= 12"                                   # every point
      - {metric: f_eff, min: 0.3, where: {circuit.cycles: 8}} # points whose params match
      - {check: "v_eff < 40", where: {noise.p2: 0.005}}

A check may bound any numeric field the spec's families report (see
eqvbench.output.fields: the pipeline's fields, each family's own such as OTOC's
`otoc_norm` or `v_measurement`, `seconds_on_<machine>`, ...); a name no family
of the spec reports is refused before anything runs.

Bounds are inclusive for `min`/`max` and `>=`/`<=`, strict for `>`/`<`. A
point whose field is null (e.g. f_eff of a point too large to simulate) fails
the check: a CI threshold on a number that was not computed must not pass
silently. `eqvbench run` exits 1 when any check fails.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from eqvbench.output.fields import is_number

_OPS = {">=": "min", "<=": "max", ">": "gt", "<": "lt"}
_CHECK_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<)\s*(\S+)\s*$")


def _parse_short(value: Any) -> Any:
    """'f_eff >= 0.3' -> {metric: f_eff, min: 0.3}; {check: '...', where: ...} likewise."""
    if isinstance(value, dict) and "check" in value:
        rest = {k: v for k, v in value.items() if k != "check"}
        return {**_parse_short(value["check"]), **rest}
    if not isinstance(value, str):
        return value
    m = _CHECK_RE.match(value)
    if not m:
        raise ValueError("expected 'METRIC OP NUMBER' with OP one of >=, <=, >, <")
    metric, op, num = m.groups()
    try:
        bound = float(num)
    except ValueError:
        raise ValueError(f"bound {num!r} is not a number") from None
    return {"metric": metric, _OPS[op]: bound}


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    min: float | None = None
    max: float | None = None
    gt: float | None = None
    lt: float | None = None
    where: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None

    @model_validator(mode="after")
    def _valid(self):
        # which names exist depends on the spec's families: validate_checks checks them
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.metric):
            raise ValueError(f"metric {self.metric[:40]!r} is not a field name")
        bounds = [b for b in (self.min, self.max, self.gt, self.lt) if b is not None]
        if not bounds:
            raise ValueError("a check needs a bound: min, max, gt or lt")
        if any(not math.isfinite(b) for b in bounds):
            raise ValueError("bounds must be finite numbers")
        return self

    def label(self) -> str:
        if self.name:
            return self.name
        parts = []
        for attr, op in (("min", ">="), ("gt", ">"), ("max", "<="), ("lt", "<")):
            v = getattr(self, attr)
            if v is not None:
                parts.append(f"{self.metric} {op} {v:g}")
        text = " and ".join(parts)
        if self.where:
            text += " at " + ", ".join(f"{k}={v}" for k, v in self.where.items())
        return text

    def passes(self, value: float) -> bool:
        return (
            (self.min is None or value >= self.min)
            and (self.max is None or value <= self.max)
            and (self.gt is None or value > self.gt)
            and (self.lt is None or value < self.lt)
        )


CheckSpec = Annotated[Check, BeforeValidator(_parse_short)]


def _matches(params: dict[str, Any], where: dict[str, Any]) -> bool:
    for k, want in where.items():
        if k not in params:
            return False
        got = params[k]
        if isinstance(got, (int, float)) and isinstance(want, (int, float)) and not isinstance(want, bool):
            if not math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif got != want:
            return False
    return True


def validate_checks(spec) -> None:
    """Every metric must be a numeric field the spec's families report, every `where` must name swept
    parameters and select at least one point (SpecError otherwise)."""
    from eqvbench.errors import SpecError
    from eqvbench.output.fields import closest, spec_fields

    checks = spec.model.checks
    allowed = spec_fields(spec) if checks else []
    for i, c in enumerate(checks):
        if c.metric not in allowed:
            raise SpecError(
                spec.file,
                f"checks[{i}].metric",
                f"unknown metric {c.metric!r}{closest(c.metric, allowed)}: "
                f"{'/'.join(spec.experiments)} points report {', '.join(allowed)}",
            )
        swept = {k for p in spec.points for k in p.params}
        for k in c.where:
            if k not in swept:
                raise SpecError(
                    spec.file,
                    f"checks[{i}].where.{k}",
                    f"not a swept parameter (swept: {', '.join(sorted(swept)) or 'none'})",
                )
        if not any(_matches(p.params, c.where) for p in spec.points):
            raise SpecError(spec.file, f"checks[{i}].where", f"matches no point of the sweep ({c.where})")
    for j, m in enumerate(spec.models[1:], start=1):
        if m.checks != checks:
            raise SpecError(spec.file, f"cases[{j}].checks", "checks apply to the whole spec: give them at top level")


def evaluate(checks: list[Check], points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (check, point it applies to): the value and whether it passed."""
    rows = []
    for c in checks:
        for p in points:
            if not _matches(p["params"], c.where):
                continue
            value = p.get(c.metric)
            ok = is_number(value) and math.isfinite(value) and c.passes(value)
            rows.append(
                {"check": c.label(), "metric": c.metric, "params": p["params"], "value": value, "passed": bool(ok)}
            )
    return rows
