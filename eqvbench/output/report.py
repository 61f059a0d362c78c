"""Rendering results: the cost-versus-resource table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.table import Table

from eqvbench.errors import printable

RESOURCE_DEFINITION = (
    "resource = f_eff x cost [FLOP]: the classical work needed to reproduce the noisy result at the "
    "fidelity the device reached (f_model where the point is not simulated, marked *)."
)
UNITS = (
    "V_light, V_eff: two-qubit gates; eps: error per two-qubit gate; cost: FLOP of one exact "
    "contraction (8 x multiply-adds, all slices); width: log2 of the largest tensor per slice."
)


def fmt_sci(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    return f"{x:.2e}"


def fmt_num(x: float | None, digits: int = 3) -> str:
    """`digits` significant figures; '-' for null."""
    if x is None:
        return "-"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e6):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}" if abs(x) < 10**digits else f"{x:.0f}"


ANGLE_PREFIXES = ("theta", "phi")  # swept parameters named so are angles in radians


def is_angle(param: str) -> bool:
    return param.rsplit(".", 1)[-1].startswith(ANGLE_PREFIXES)


def fmt_angle(x: float) -> str:
    """Radians as a multiple of pi where one with a denominator up to 16 matches ('π/4', '-3π/8'),
    else 4 significant digits."""
    if x == 0:
        return "0"
    r = x / math.pi
    for q in range(1, 17):
        n = round(r * q)
        if n and abs(r * q - n) < 1e-9 * abs(n):
            sign, n = ("-" if n < 0 else ""), abs(n)
            return sign + ("π" if n == 1 else f"{n}π") + ("" if q == 1 else f"/{q}")
    return f"{x:.4g}"


def fmt_param(v: Any, name: str | None = None) -> str:
    """A swept value; angles (parameters named theta*, phi*) as multiples of pi."""
    if name is not None and is_angle(name) and isinstance(v, (int, float)) and not isinstance(v, bool):
        return fmt_angle(float(v))
    return f"{v:.4g}" if isinstance(v, float) else printable(str(v))  # a string from a spec or store


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    for unit, size in (("y", 3.156e7), ("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.2g} s"


def eta_seconds(elapsed: float, last_done: float, completed: int, total: int) -> float | None:
    """Seconds left of a sweep, `elapsed` seconds in, whose `completed` th point finished at `last_done`.

    The points still to come take the mean interval between finished points so
    far, or the time since the last one finished where that is longer (a slow
    point raises the estimate); the time already spent on them counts down.
    None when nothing has finished, nothing is left, or the estimate has run out.
    """
    left_points = total - completed
    if completed <= 0 or left_points <= 0:
        return None
    since = max(elapsed - last_done, 0.0)
    left = max(last_done / completed, since) * left_points - since
    return left if left > 0 else None


def param_headers(params: list[str]) -> dict[str, str]:
    """Short column names for swept parameters (last path part unless ambiguous)."""
    params = list(dict.fromkeys(params))
    short = [p.rsplit(".", 1)[-1] for p in params]
    return {p: (s if short.count(s) == 1 else p) for p, s in zip(params, short)}


def point_label(params: dict[str, Any], heads: dict[str, str] | None = None) -> str:
    """'theta_h=π/4, steps=5': a point by its swept values."""
    heads = heads or param_headers(list(params))
    return ", ".join(f"{heads.get(k, k)}={fmt_param(v, k)}" for k, v in params.items())


def _fmt_any(v: Any) -> str:
    if v is None:
        return "-"
    return fmt_num(v) if isinstance(v, float) else printable(str(v))


@dataclass(frozen=True)
class Column:
    """A table column: header, the point field it shows, and its priority when the table must narrow
    (the highest number goes first, the rightmost of equals first; 0: never left out)."""

    head: str
    field: str
    priority: int = 5


# the default columns around the family's own (priority: what a reader needs most stays longest;
# 1, kept longest, is the family's own result: ResultField.priority = HEADLINE)
_BEFORE = (
    Column("qubits", "n_qubits", 7),
    Column("2q gates", "n_gates_2q", 8),
    Column("V_light", "v_light", 3),
    Column("eps", "eps", 5),
    Column("F_model", "f_model", 4),
    Column("F_eff", "f_eff", 2),
)
_AFTER = (
    Column("V_eff", "v_eff", 3),
    Column("cost", "cost_flops", 2),
    Column("width", "width_log2", 8),
    Column("resource", "resource_flops", 2),
)
_VERDICT = (
    Column("t_device", "device_seconds", 7),
    Column("t_classical", "classical_seconds", 7),
    Column("cheapest", "cheapest_method", 4),
    Column("verdict", "verdict", 2),
)
FAMILY_PRIORITY = 6
MACHINE_PRIORITY = 7


def cell(p: dict[str, Any], fld: str) -> str:
    """One point's value of one field as the table shows it."""
    v = p.get(fld)
    if fld == "f_eff":
        err = p.get("f_eff_err")
        return f"{fmt_num(v)} ± {err:.1g}" if v is not None and err is not None else fmt_num(v)
    if fld == "resource_flops":
        return fmt_sci(v) + ("*" if v is not None and not p.get("simulated") else "")
    if fld == "cost_flops":
        return fmt_sci(v)
    if fld.startswith("seconds_on_") or fld in ("seconds_here", "device_seconds", "classical_seconds"):
        return fmt_seconds(v)
    if fld.startswith("ratio_"):
        return f"{v:.3g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "-"
    return _fmt_any(v)


def default_columns(doc: dict[str, Any], machine: str) -> list[Column]:
    """The table's columns after the swept values when neither report.columns nor --columns chooses."""
    points = doc["points"]
    declared = _declared(points)
    # a family column no point has a value for (an XEB-only circuit's observable columns, a field an
    # older run did not write), or the result of a method that applies to no point (the region of an
    # XEB-only circuit), is left out: it would say nothing, or restate the whole circuit
    extra = [
        Column(h, f, declared[f].priority if f in declared and declared[f].priority else FAMILY_PRIORITY)
        for h, f in doc.get("columns", [])
        if any(p.get(f) is not None for p in points)
        and (f not in declared or declared[f].method is None or _applies(points, declared[f].method))
    ]
    cols = [
        *_BEFORE,
        *extra,
        *_AFTER,
        Column(f"t_{machine}", f"seconds_on_{machine}", MACHINE_PRIORITY),
        Column("t_here", "seconds_here", MACHINE_PRIORITY + 1),
    ]
    if any(p.get("verdict") for p in doc["points"]):
        cols += _VERDICT
    return cols


def _declared(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Field -> its declaration (ResultField) by the points' families: table priority, method."""
    from eqvbench.families import get_family

    out: dict[str, Any] = {}
    for name in dict.fromkeys(p.get("experiment") for p in points):
        try:
            family = get_family(name)
        except Exception:  # a stored run of a family this version does not know: the defaults
            continue
        for f in family.result_fields:
            out.setdefault(f.name, f)
    return out


def _applies(points: list[dict[str, Any]], method: str) -> bool:
    """Whether classical `method` applies to some point (a point without `methods`: assumed so)."""
    for p in points:
        entries = [m for m in p.get("methods") or [] if m.get("method") == method]
        if not p.get("methods") or any(m.get("status") != "not_applicable" for m in entries):
            return True
    return False


def default_title(doc: dict[str, Any]) -> str:
    """The table's title without `report.title`: the spec's description up to its first stop, else
    its families and points; the spec file by name only (never an install path)."""
    import re
    from pathlib import PurePath

    spec = doc.get("spec") or {}
    first = spec["cases"][0] if "cases" in spec else spec
    description = " ".join(str(spec.get("description") or first.get("description") or "").split())
    head = re.split(r"(?<=[^.\s]{2})[.:;](?:\s|$)", description, maxsplit=1)[0].strip()
    points = doc["points"]
    experiments = ", ".join(dict.fromkeys(str(p.get("experiment")) for p in points)) or "no points"
    name = PurePath(str(doc.get("spec_file", ""))).name
    files = (first.get("circuit") or {}).get("file") if isinstance(first.get("circuit"), dict) else None
    files = [] if files is None else files if isinstance(files, list) else [files]
    names = ", ".join(dict.fromkeys(PurePath(str(f)).name for f in files))
    what = f"{experiments} of {names}" if names else experiments
    if head and len(head) <= 100:
        return f"{head} ({name}, {len(points)} point(s))"
    return f"{what}: {len(points)} point(s) of {name}"


def header_of(doc: dict[str, Any], fld: str) -> str:
    """The default table's header for a field (the field's own name where it has none)."""
    if fld.startswith("seconds_on_"):
        return "t_" + fld[len("seconds_on_") :]
    known = {c.field: c.head for c in (*_BEFORE, *_AFTER, *_VERDICT)}
    known["seconds_here"] = "t_here"
    known.update({f: h for h, f in doc.get("columns", [])})
    return known.get(fld, fld)


def allowed_columns(doc: dict[str, Any]) -> list[str]:
    """Field names `--columns` accepts for a result document: every numeric field its families report
    (eqvbench.output.fields) and the verdict."""
    from eqvbench.output.fields import numeric_fields

    points = doc["points"]
    experiments = list(dict.fromkeys(p["experiment"] for p in points if p))
    keys = dict.fromkeys(k for p in points if p for k in p)
    machines = [k[len("seconds_on_") :] for k in keys if k.startswith("seconds_on_")]
    published = [k[len("published_") :] for k in keys if k.startswith("published_")]
    return numeric_fields(experiments, machines, published) + ["cheapest_method", "verdict"]


def parse_columns(text: str, allowed: list[str]) -> list[str]:
    """`--columns a,b,c` as field names; EqvbenchError (one line, the allowed names) on an unknown one."""
    from eqvbench.errors import EqvbenchError
    from eqvbench.output.fields import closest

    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise EqvbenchError(f"--columns: give field names separated by commas, from: {', '.join(allowed)}")
    for n in names:
        if n not in allowed:
            shown = n if len(n) <= 40 else n[:40] + "..."
            raise EqvbenchError(
                f"--columns: unknown column {shown!r}{closest(n, allowed)}; columns: {', '.join(allowed)}"
            )
    return list(dict.fromkeys(names))


def _chosen_columns(doc: dict[str, Any]) -> list[Column] | None:
    """The columns `report.columns` names (field names, or {header: field}), priority by position."""
    spec = doc["spec"]
    chosen = (spec["cases"][0] if "cases" in spec else spec).get("report", {}).get("columns")
    if not chosen:
        return None
    pairs = []
    for c in chosen:
        pairs += list(c.items()) if isinstance(c, dict) else [(header_of(doc, c), c)]
    return [Column(h, f, i + 1) for i, (h, f) in enumerate(pairs)]


def _table_width(widths: list[int]) -> int:
    """Characters a rich table with the default box and padding takes for these column widths."""
    return 1 + sum(w + 3 for w in widths)


def points_table(
    doc: dict[str, Any], machine: str, width: int | None = None, columns: list[str] | None = None
) -> tuple[Table, list[str]]:
    """Cost-versus-resource table of a result document, and the headers left out to fit `width`.

    `columns` (field names, e.g. from --columns) replaces the default columns and report.columns.
    Columns are left out by priority until the table fits; a number is never cut.
    """
    points = doc["points"]
    params: list[str] = []
    for p in points:
        params += [k for k in p["params"] if k not in params]
    heads = param_headers(params)
    if columns:
        cols = [Column(header_of(doc, f), f, i + 1) for i, f in enumerate(columns)]
    else:
        cols = _chosen_columns(doc) or default_columns(doc, machine)
    cols = [Column(heads[k], k, 0) for k in params] + cols
    cells = [
        [fmt_param(p["params"].get(c.field, ""), c.field) if c.priority == 0 else cell(p, c.field) for c in cols]
        for p in points
    ]
    widths = [max([cell_len(c.head)] + [cell_len(r[j]) for r in cells]) for j, c in enumerate(cols)]
    keep = list(range(len(cols)))
    while width is not None and _table_width([widths[j] for j in keep]) > width:
        droppable = [j for j in keep if cols[j].priority > 0]
        if not droppable:
            break  # the swept values alone are wider: rich wraps them (never cuts)
        j = max(droppable, key=lambda j: (cols[j].priority, j))
        keep.remove(j)
    if width is not None:  # room left: put back the narrower columns that fit, most needed first
        for j in sorted(set(range(len(cols))) - set(keep), key=lambda j: (cols[j].priority, j)):
            if _table_width([widths[k] for k in keep] + [widths[j]]) <= width:
                keep = sorted(keep + [j])
    spec = doc["spec"]
    title = (spec["cases"][0] if "cases" in spec else spec).get("report", {}).get("title") or default_title(doc)
    table = Table(title=printable(title), title_justify="left")  # no forged line or escape from a spec
    for j in keep:
        c = cols[j]
        table.add_column(c.head, justify="right", style="cyan" if c.priority == 0 else None, overflow="fold")
    for row in cells:
        table.add_row(*[row[j] for j in keep])
    return table, [c.head for j, c in enumerate(cols) if j not in keep]


def _budget_text(cost: dict[str, Any]) -> str:
    b = cost.get("budget") or {}
    search = b.get("search", "?")
    limit = f" within {b.get('max_time_s')} s" if b.get("max_time_s") else " (seeded)"
    if b.get("processes"):
        limit += f" on {b['processes']} processes"
    elif b.get("parallel"):
        limit += f" on a {b['parallel']} cluster"
    trials = f"{b.get('max_repeats')} trials of {'+'.join(b.get('methods', []))}{limit}"
    if search == "hyper":
        text = f"hyper-optimised, {trials}"
    elif search == "linear":
        text = f"in-order sweep (cheaper than {trials})"
    elif search == "optimal":
        text = "optimal (exhaustive search)"
    elif search == "none":
        text = "no search needed (simplification left one tensor)"
    else:
        text = search
    return text + (", cached tree" if cost.get("cached") else "")


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> '1-3, 5'."""
    out, start = [], None
    for k, n in enumerate(numbers):
        if start is None:
            start = n
        if k + 1 == len(numbers) or numbers[k + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(out)


def _which_points(index: list[int], points: list[dict[str, Any]], heads: dict[str, str]) -> str:
    """'point 3 (theta_h=π/4, steps=5)', 'points 2 (...) and 5 (...)', 'points 1-4, 7 (5 of 9)' or
    'all 9 points' (numbers are table rows, from 1)."""
    if len(index) == len(points):
        return f"all {len(points)} points"

    def one(i: int) -> str:
        label = point_label(points[i]["params"], heads)
        return f"{i + 1} ({label})" if label else str(i + 1)

    if len(index) == 1:
        return "point " + one(index[0])
    if len(index) <= 3:
        return "points " + ", ".join(one(i) for i in index[:-1]) + " and " + one(index[-1])
    return f"points {_ranges([i + 1 for i in index])} ({len(index)} of {len(points)})"


def note_lines(points: list[dict[str, Any]]) -> list[str]:
    """One 'note: ...' line per distinct note, naming the points (table rows) it belongs to."""
    params: list[str] = []
    for p in points:
        params += [k for k in p["params"] if k not in params]
    heads = param_headers(params)
    by_text: dict[str, list[int]] = {}
    for i, p in enumerate(points):
        for n in dict.fromkeys(p.get("notes") or []):
            by_text.setdefault(n, []).append(i)
    if len(points) == 1:
        return [f"note: {n}" for n in by_text]
    return [f"note: {_which_points(index, points, heads)}: {n}" for n, index in by_text.items()]


def footer_lines(doc: dict[str, Any], dropped: list[str] | None = None, width: int | None = None) -> list[str]:
    """Lines under the table: definitions, the cost search budgets, columns left out, notes, fits."""
    lines = [RESOURCE_DEFINITION, UNITS]
    if doc.get("flops_here") and any(p.get("seconds_here") is not None for p in doc["points"]):
        from eqvbench.classical.methods import rate_text

        lines.append(
            f"t_here: cost over this machine's complex matrix-multiply rate "
            f"({doc['flops_here'] / 1e9:.3g} GFLOP/s, {rate_text(doc.get('flops_here_measured'))}; "
            "small networks run slower)."
        )
    budgets = sorted({_budget_text(p["cost"]) for p in doc["points"] if p.get("cost")})
    if budgets:
        lines.append("cost search budget: " + "; ".join(budgets))
    if dropped:
        at = f"{width} characters" if width else "this width"
        lines.append(
            f"not shown to fit {at}: {', '.join(dropped)} (--columns picks the columns; --json has every field)"
        )
    lines += note_lines(doc["points"])
    lines += doc.get("summary", {}).get("lines", [])
    return [printable(line) for line in lines]


def run_summary(
    n_points: int,
    seconds: float,
    n_computed: int,
    how: str,
    n_reused: int | None = None,
    store: Any = None,
    out: Any = None,
) -> str:
    """'7 point(s) in 9.1 s: 5 computed with 2 workers, 2 reused from rcs.eqvdb; JSON written to r.json':
    only the parts that apply, so no separator is left hanging."""
    parts = [f"{n_computed} computed {how}"] if n_computed or n_reused is None else []
    if n_reused is not None:
        parts.append(f"{n_reused} reused from {store}")
    text = f"{n_points} point(s) in {seconds:.1f} s" + (": " + ", ".join(parts) if parts else "")
    return text + (f"; JSON written to {out}" if out is not None else "")


def checks_table(rows: list[dict[str, Any]], title: str) -> Table:
    """Check results (eqvbench.output.checks.evaluate rows): which check, at which point, the value."""
    params: list[str] = []
    for r in rows:
        params += [k for k in r["params"] if k not in params]
    heads = param_headers(params)
    table = Table(title=printable(title), title_justify="left")
    table.add_column("check")
    for p in params:
        table.add_column(heads[p], justify="right", style="cyan", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("result")
    for r in rows:
        value = r["value"]
        table.add_row(
            printable(r["check"]),
            *[fmt_param(r["params"].get(k, ""), k) for k in params],
            "null" if value is None else _fmt_any(value),
            "pass" if r["passed"] else "FAIL",
        )
    return table


def points_csv(points: list[dict[str, Any]]) -> str:
    """One row per point: swept params, then every field; nested mappings flattened with dots,
    lists (notes, per-gate maps) as JSON text; null as an empty cell."""
    import csv
    import io
    import json

    def flat(prefix: str, value: Any, row: dict[str, Any]) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                flat(f"{prefix}.{k}" if prefix else k, v, row)
        elif isinstance(value, list):
            row[prefix] = json.dumps(value)
        else:
            row[prefix] = "" if value is None else value

    from eqvbench.output.results import COMMON_COLUMNS

    rows, cols = [], {}
    for p in points:
        row: dict[str, Any] = {}
        flat("params", p["params"], row)
        for k, v in p.items():
            if k != "params":
                flat(k, v, row)
        for c in COMMON_COLUMNS:  # the same columns as Results.to_pandas()
            row.setdefault(c, "")
        rows.append(row)
        cols.update(dict.fromkeys(row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(cols), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
