"""Figures from a result document (store or JSON): matplotlib, imported only here (eqvbench[plot]).

- cost: resource (f_eff x cost) against cost, log-log, one curve per experiment
  and per setting of the swept parameters other than the depth (cycles /
  steps), points in order of depth; the largest resource of each curve is
  starred (the rise-then-fall of the paper's cost-versus-resource figure).
- fidelity: f_eff against the noise-weighted volume eps x V, one colour per
  curve as above: filled markers at V = V_light (with f_eff's error bar), open
  markers at V = V_eff, joined; the digital error model exp(-eps V) is then one
  line for all points (eps, dressed with single-qubit and readout error,
  differs from point to point). V_eff lies on the line by its definition; a
  filled marker above the line means the noise acts on fewer gates than the
  light cone holds (V_eff < V_light).
- butterfly: for observable families, the per-gate error sensitivity s_g as a
  qubit x moment heat map (each qubit coloured by the gate that acts on it in
  that moment; blank where none does), up to three points.
"""

from __future__ import annotations

import io
import math
from typing import Any

from eqvbench.errors import EqvbenchError

KINDS = ("all", "cost", "fidelity", "butterfly")
DEPTH_PARAMS = ("circuit.cycles", "circuit.steps")
MAX_MAPS = 3


def _mpl():
    try:
        from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend
    except ImportError:
        raise EqvbenchError("plotting needs matplotlib: pip install 'eqvbench[plot]'") from None

    return Figure


def _depth(p: dict[str, Any]) -> float:
    for k in DEPTH_PARAMS:
        if k in p["params"]:
            return float(p["params"][k])
    return 0.0


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def curves(points: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Points grouped by experiment and every swept parameter but the depth, each in depth order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    experiments = {p["experiment"] for p in points}
    for p in points:
        parts = [p["experiment"]] if len(experiments) > 1 else []
        parts += [f"{k.rsplit('.', 1)[-1]}={_fmt(v)}" for k, v in p["params"].items() if k not in DEPTH_PARAMS]
        groups.setdefault(", ".join(parts) or p["experiment"], []).append(p)
    for g in groups.values():
        g.sort(key=lambda p: (_depth(p), p.get("cost_flops") or 0.0))
    return groups


def _colors(points) -> dict[str, str]:
    """The same colour for a curve in every panel."""
    return {label: f"C{i % 10}" for i, label in enumerate(curves(points))}


def _cost_points(points):
    return [p for p in points if p.get("cost_flops") and p.get("resource_flops")]


def _fid_points(points):
    return [p for p in points if p.get("f_eff") is not None and p["f_eff"] > 0 and p.get("eps")]


def _map_points(points):
    return [p for p in points if p.get("butterfly_map")]


def draw_cost(ax, points: list[dict[str, Any]]) -> None:
    colors = _colors(points)
    for label, g in curves(_cost_points(points)).items():
        x = [p["cost_flops"] for p in g]
        y = [p["resource_flops"] for p in g]
        (line,) = ax.plot(x, y, "-o", ms=4, lw=1.2, label=label, color=colors[label])
        hollow = [(a, b) for a, b, p in zip(x, y, g) if not p["simulated"]]
        if hollow:  # resource from f_model: not simulated
            ax.plot(*zip(*hollow), "o", ms=7, mfc="white", mec=line.get_color())
        k = max(range(len(y)), key=y.__getitem__)
        ax.plot([x[k]], [y[k]], "*", ms=13, color=line.get_color(), mec="black", mew=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cost of an exact contraction [FLOP]")
    ax.set_ylabel("resource = f_eff x cost [FLOP]")
    ax.set_title("Cost versus resource (star: largest resource)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def draw_fidelity(ax, points: list[dict[str, Any]]) -> None:
    """f_eff against the noise-weighted volume eps x V, where the digital model is one line exp(-eps V)
    for every point (eps, dressed with single-qubit and readout error, differs from point to point)."""
    import numpy as np

    x_max = 0.1
    colors = _colors(points)
    for label, g in curves(_fid_points(points)).items():
        xl = [p["eps"] * p["v_light"] for p in g]
        f = [p["f_eff"] for p in g]
        err = [p.get("f_eff_err") or 0.0 for p in g]
        color = colors[label]
        ax.errorbar(xl, f, yerr=err, fmt="o", ms=4, capsize=2, label=f"{label}", color=color)
        for p, x0 in zip(g, xl):
            if p.get("v_eff") is not None:
                x1 = p["eps"] * p["v_eff"]
                ax.plot([x0, x1], [p["f_eff"]] * 2, "-", lw=0.8, color=color, alpha=0.6)
                ax.plot([x1], [p["f_eff"]], "o", ms=6, mfc="none", mec=color)
                x_max = max(x_max, x1)
        x_max = max(x_max, *xl)
    x = np.linspace(0.0, 1.05 * x_max, 200)
    ax.plot(x, np.exp(-x), "k-", lw=1.2, label="digital model exp(-eps V)")
    ax.set_yscale("log")
    ax.set_xlim(0, 1.05 * x_max)
    ax.set_xlabel("eps x V   (filled: V = V_light, open: V = V_eff)")
    ax.set_ylabel("effective fidelity f_eff")
    ax.set_title("f_eff against effective volume; line: exp(-eps V)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def butterfly_grid(point: dict[str, Any]):
    """(qubit labels, moments, array[qubit, moment] of s_g; NaN where no gate acts)."""
    import numpy as np

    gates = point["butterfly_map"]
    labels = sorted({q for g in gates for q in g["qubits"]}, key=_qubit_order)
    n_moments = 1 + max(g["moment"] for g in gates)
    row = {q: i for i, q in enumerate(labels)}
    grid = np.full((len(labels), n_moments), np.nan)
    for g in gates:
        for q in g["qubits"]:
            grid[row[q], g["moment"]] = g["s"]
    return labels, n_moments, grid


def _qubit_order(label: str):
    digits = "".join(c if c.isdigit() else " " for c in str(label)).split()
    return (tuple(int(d) for d in digits), str(label))


def draw_butterfly(fig, ax, point: dict[str, Any]) -> None:
    import numpy as np

    labels, n_moments, grid = butterfly_grid(point)
    finite = grid[np.isfinite(grid)]
    vmax = max(1.0, float(finite.max())) if finite.size else 1.0
    vmin = min(0.0, float(finite.min())) if finite.size else 0.0
    im = ax.imshow(grid, aspect="auto", origin="lower", interpolation="nearest", cmap="magma_r", vmin=vmin, vmax=vmax)
    step = max(1, math.ceil(len(labels) / 16))
    ax.set_yticks(range(0, len(labels), step))
    ax.set_yticklabels([labels[i] for i in range(0, len(labels), step)], fontsize=6)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("moment (gate layer)")
    ax.set_ylabel("qubit")
    params = ", ".join(f"{k.rsplit('.', 1)[-1]}={_fmt(v)}" for k, v in point["params"].items()) or point["experiment"]
    vb = point.get("v_butterfly")
    ax.set_title(f"butterfly cone s_g: {params}" + (f" (V_b={vb:.3g})" if vb is not None else ""), fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, label="s_g")


def render(doc: dict[str, Any], kind: str = "all", source: str = "results") -> tuple[bytes, list[str]]:
    """PNG bytes of the figures `kind` asks for, and their names."""
    Figure = _mpl()
    points = doc["points"]
    have = {
        "cost": bool(_cost_points(points)),
        "fidelity": bool(_fid_points(points)),
        "butterfly": bool(_map_points(points)),
    }
    why = {
        "cost": "no point has both a cost and a resource (cost.enabled false, or nothing finished)",
        "fidelity": "no point has a positive f_eff (simulate some points)",
        "butterfly": "no point has a butterfly map (observable families such as floquet_ising)",
    }
    if not points:
        raise EqvbenchError(f"{source}: no finished point to plot")
    if kind != "all" and not have[kind]:
        raise EqvbenchError(f"--kind {kind}: {source}: {why[kind]}")
    wanted = [k for k in ("cost", "fidelity", "butterfly") if (kind in ("all", k)) and have[k]]
    if not wanted:
        raise EqvbenchError(f"{source}: nothing to plot ({why['cost']}; {why['fidelity']})")
    maps = _map_points(points)[:MAX_MAPS] if "butterfly" in wanted else []
    top = [k for k in wanted if k != "butterfly"]
    n_rows = (1 if top else 0) + (1 if maps else 0)
    n_cols = max(len(top), len(maps), 1)
    fig = Figure(figsize=(5.6 * n_cols, 4.4 * n_rows), dpi=90, layout="constrained")
    gs = fig.add_gridspec(n_rows, n_cols)
    r = 0
    if top:
        for c, k in enumerate(top):
            ax = fig.add_subplot(gs[0, c]) if len(top) == n_cols or c < len(top) - 1 else fig.add_subplot(gs[0, c:])
            (draw_cost if k == "cost" else draw_fidelity)(ax, points)
        r = 1
    for c, p in enumerate(maps):
        draw_butterfly(fig, fig.add_subplot(gs[r, c]), p)
    title = doc.get("spec", {}).get("report", {}).get("title") or doc.get("spec_file", "")
    if title:
        fig.suptitle(title, fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue(), wanted
