"""The numeric fields a point reports: what a `checks:` entry may bound and `--columns` may show.

A point's JSON holds the pipeline's fields (every family), the effective-region
fields, `seconds_on_<machine>` per machine, the verdict's times when the spec
gives a device run, `published_<key>` and `ratio_<key>` per published figure,
and the fields its family declares (`Family.result_fields`). The tests run every
family and check that each numeric field of its JSON is listed, so the
declarations follow what the families write.
"""

from __future__ import annotations

from typing import Any, Iterable

PIPELINE_FIELDS = (
    "n_qubits",
    "n_gates_2q",
    "v_light",
    "v_eff",
    "v_eff_model",
    "eps",
    "f_eff",
    "f_eff_err",
    "f_model",
    "cost_flops",
    "cost_log10",
    "width_log2",
    "resource_flops",
    "seconds_here",
)
REGION_FIELDS = (
    "a_eff",
    "region_gates_2q",
    "region_radius",
    "region_f",
    "region_delta",
    "region_value",
    "region_err",
    "reference_value",
    "reference_err",
    "reference_seconds",
    "reproduced_value",
    "reproduced_err",
    "reproduced_seconds",
    "cost_eff_flops",
)
VERDICT_FIELDS = ("device_seconds", "classical_seconds")
# eqvbench.classical.breakeven: the distance to the other side
BREAK_EVEN_FIELDS = (
    "break_even_eps",
    "break_even_p2",
    "break_even_scale",
    "break_even_f",
    "break_even_classical_seconds",
)
RESOURCE_PEAK_FIELDS = ("resource_peak_depth", "resource_peak_flops", "resource_peak_f", "resource_peak_cost_flops")


def family_fields(name: str) -> list[str]:
    """Numeric fields family `name` adds to its points (its `result_fields`), table columns first."""
    from eqvbench.families import get_family

    return get_family(name).field_names(numeric_only=True)


def numeric_fields(experiments: Iterable[str], machines: Iterable[str], published: Iterable[str] = ()) -> list[str]:
    """Every numeric field a point of these families can carry, in report order."""
    out = list(PIPELINE_FIELDS)
    out += [f"seconds_on_{m}" for m in machines]
    for name in experiments:
        out += family_fields(name)
    out += REGION_FIELDS + VERDICT_FIELDS + BREAK_EVEN_FIELDS + RESOURCE_PEAK_FIELDS
    for k in published:
        out += [f"published_{k}", f"ratio_{k}"]
    return list(dict.fromkeys(out))


def spec_fields(spec) -> list[str]:
    """`numeric_fields` for a loaded spec (its families, machines and published figures)."""
    from eqvbench.pipeline import machines_of

    published = [k for p in spec.points for k in p.values.get("published", {}) if k != "source"]
    return numeric_fields(spec.experiments, machines_of(spec), dict.fromkeys(published))


def closest(name: str, allowed: Iterable[str]) -> str:
    """' (did you mean X?)' for the nearest allowed name, or ''."""
    import difflib

    match = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {match[0]}?)" if match else ""


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def published_ratio(mine: Any, theirs: Any) -> float | None:
    """``mine / theirs`` (ours against a published figure), or None where either is no number or it is not finite.

    A figure near the ends of the float range (a spec's ``published:`` value is bounded, a stored
    document's may not be) would otherwise give ``inf``, which JSON cannot hold.
    """
    import math

    if not (is_number(mine) and is_number(theirs)) or not theirs:
        return None
    try:
        r = mine / theirs
    except (OverflowError, ZeroDivisionError):
        return None
    return r if math.isfinite(r) else None
