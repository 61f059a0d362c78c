"""Rendering results: the cost-versus-resource table."""

from __future__ import annotations

from typing import Any

from rich.table import Table

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
    return f"{x:.{digits}g}" if abs(x) < 10 ** digits else f"{x:.0f}"


def fmt_param(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    for unit, size in (("y", 3.156e7), ("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.2g} s"


def param_headers(params: list[str]) -> dict[str, str]:
    """Short column names for swept parameters (last path part unless ambiguous)."""
    params = list(dict.fromkeys(params))
    short = [p.rsplit(".", 1)[-1] for p in params]
    return {p: (s if short.count(s) == 1 else p) for p, s in zip(params, short)}


def _fmt_any(v: Any) -> str:
    if v is None:
        return "-"
    return fmt_num(v) if isinstance(v, float) else str(v)


def points_table(doc: dict[str, Any], machine: str) -> Table:
    """Cost-versus-resource table of a result document."""
    points = doc["points"]
    params: list[str] = []
    for p in points:
        params += [k for k in p["params"] if k not in params]
    heads = param_headers(params)
    title = doc["spec"].get("report", {}).get("title") or f"eqvbench: {doc['spec_file']}"
    table = Table(title=title, title_justify="left")
    for p in params:
        table.add_column(heads[p], justify="right", style="cyan", no_wrap=True)
    cols = [
        ("qubits", "n_qubits"), ("2q gates", "n_gates_2q"), ("V_light", "v_light"), ("eps", "eps"),
        ("F_model", "f_model"), ("F_eff", "f_eff"), ("V_eff", "v_eff"), ("cost", "cost_flops"),
        ("width", "width_log2"), ("resource", "resource_flops"), (f"t_{machine}", f"seconds_on_{machine}"),
    ]
    extra = [tuple(c) for c in doc.get("columns", [])]
    cols = cols[:6] + extra + cols[6:]
    chosen = doc["spec"].get("report", {}).get("columns") if "cases" not in doc["spec"] else \
        doc["spec"]["cases"][0].get("report", {}).get("columns")
    if chosen:
        return _chosen_table(table, points, params, chosen)
    verdicts = any(p.get("verdict") for p in points)
    if verdicts:
        cols += [("t_device", "device_seconds"), ("t_classical", "classical_seconds"), ("verdict", "verdict")]
    for head, _ in cols:
        table.add_column(head, justify="right", no_wrap=True)
    for p in points:
        row = [fmt_param(p["params"].get(k, "")) for k in params]
        f_eff = p["f_eff"]
        if f_eff is not None and p["f_eff_err"] is not None:
            f_txt = f"{fmt_num(f_eff)} ± {p['f_eff_err']:.1g}"
        else:
            f_txt = fmt_num(f_eff)
        resource = fmt_sci(p["resource_flops"])
        if p["resource_flops"] is not None and not p["simulated"]:
            resource += "*"
        row += [
            str(p["n_qubits"]), str(p["n_gates_2q"]), str(p["v_light"]), fmt_num(p["eps"]),
            fmt_num(p["f_model"]), f_txt,
            *[_fmt_any(p.get(key)) for _, key in extra],
            fmt_num(p["v_eff"]),
            fmt_sci(p["cost_flops"]), fmt_num(p["width_log2"]),
            resource, fmt_seconds(p.get(f"seconds_on_{machine}")),
        ]
        if verdicts:
            row += [fmt_seconds(p.get("device_seconds")), fmt_seconds(p.get("classical_seconds")), p.get("verdict") or "-"]
        table.add_row(*row)
    return table


def _chosen_table(table: Table, points, params, chosen) -> Table:
    """The table with the columns `report.columns` names: field names, or {header: field}."""
    cols = []
    for c in chosen:
        cols += list(c.items()) if isinstance(c, dict) else [(c, c)]
    for head, _ in cols:
        table.add_column(head, justify="right", no_wrap=True)
    for p in points:
        row = [fmt_param(p["params"].get(k, "")) for k in params]
        for _, key in cols:
            v = p.get(key)
            if key.startswith("seconds_on_") or key in ("device_seconds", "classical_seconds"):
                row.append(fmt_seconds(v))
            elif key.startswith("ratio_"):
                row.append(f"{v:.3g}" if isinstance(v, (int, float)) else "-")
            else:
                row.append(_fmt_any(v))
        table.add_row(*row)
    return table


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
    else:
        text = search
    return text + (", cached tree" if cost.get("cached") else "")


def footer_lines(doc: dict[str, Any]) -> list[str]:
    lines = [RESOURCE_DEFINITION, UNITS]
    budgets = sorted({_budget_text(p["cost"]) for p in doc["points"] if p.get("cost")})
    if budgets:
        lines.append("cost search budget: " + "; ".join(budgets))
    notes = sorted({n for p in doc["points"] for n in p["notes"]})
    lines += [f"note: {n}" for n in notes]
    lines += doc.get("summary", {}).get("lines", [])
    return lines



def checks_table(rows: list[dict[str, Any]], title: str) -> Table:
    """Check results (eqvbench.checks.evaluate rows): which check, at which point, the value."""
    params: list[str] = []
    for r in rows:
        params += [k for k in r["params"] if k not in params]
    heads = param_headers(params)
    table = Table(title=title, title_justify="left")
    table.add_column("check")
    for p in params:
        table.add_column(heads[p], justify="right", style="cyan", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("result")
    for r in rows:
        value = r["value"]
        table.add_row(
            r["check"],
            *[fmt_param(r["params"].get(k, "")) for k in params],
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

    rows, cols = [], {}
    for p in points:
        row: dict[str, Any] = {}
        flat("params", p["params"], row)
        for k, v in p.items():
            if k != "params":
                flat(k, v, row)
        rows.append(row)
        cols.update(dict.fromkeys(row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(cols), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
