"""Figures from a result document (store or JSON): matplotlib, imported only here (eqvbench[plot]).

- cost: resource (f_eff x cost) against cost, log-log, one curve per experiment
  and per setting of the swept parameters other than the depth (cycles /
  steps), points in order of depth and labelled with it; the largest resource
  of each curve is starred (the rise-then-fall of the paper's
  cost-versus-resource figure).
- fidelity: f_eff against the noise-weighted volume eps x V, one colour per
  curve as above: filled markers at the volume f_eff was measured on (with
  f_eff's error bar): V_light, or for OTOC V_meas, the sensitivity-weighted
  volume of the B = I run that gives f_eff; open markers at V = V_eff, joined.
  The digital error model exp(-eps V) is then one line for all points (eps,
  dressed with single-qubit and readout error, differs from point to point).
  V_eff lies on the line by its definition; a filled marker above the line
  means the noise acts on fewer gates than that volume holds.
- butterfly: for observable families, the per-gate error sensitivity s_g as a
  qubit x moment heat map (each qubit coloured by the gate that acts on it in
  that moment; grey where none does, so that s_g = 0 and "no gate" differ),
  up to three points: the first, the last and one between (or the points asked for).

Curves whose points coincide (OTOC's f_eff is the B = I run's, the same for every
butterfly position) are drawn once, with one legend entry naming all their settings.
Figures are written as PNG, PDF or SVG (by the output file's extension), at the size,
font size and resolution asked for (:func:`render`). The drawing functions
:func:`draw_cost`, :func:`draw_fidelity` and :func:`draw_butterfly` draw into a
matplotlib Axes of your own figure from the points of a result document
(``results.document["points"]``).
"""

from __future__ import annotations

import io
import math
from typing import Any

from eqvbench.errors import EqvbenchError

KINDS = ["all", "cost", "fidelity", "butterfly"]  # a list: a kind drawn by another module may be added
FORMATS = ("png", "pdf", "svg")
PANEL_SIZE = (5.6, 4.4)  # inches per panel
FONT_SIZE = 10.0  # points; labels, legends and ticks are relative to it ('small' = 0.833x)
DPI = 110


def _depth_params() -> tuple[str, ...]:
    """The swept parameters families plot as depth (their `depth_param`)."""
    from eqvbench.families import family_names, get_family

    return tuple(dict.fromkeys(p for n in family_names() if (p := get_family(n).depth_param)))


DEPTH_PARAMS = _depth_params()
MAX_MAPS = 3
# the volume f_eff belongs to, per family (default V_light): OTOC's f_eff is the B = I run's
# fidelity, which sees the gates of Q_m's measurement cone weighted by their sensitivity
FIDELITY_VOLUME = {"otoc": ("v_measurement", "V_meas")}
NO_GATE_COLOR = "0.82"  # light grey: no gate acts on the qubit in that moment


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


def _depth_text(p: dict[str, Any]) -> str | None:
    for k in DEPTH_PARAMS:
        if k in p["params"]:
            return str(p["params"][k])
    return None


def _plain(text: str) -> str:
    """Text from a spec or store as matplotlib shows it literally: '$' starts no formula (an
    unbalanced one stops the plot), control characters are escaped."""
    from eqvbench.errors import printable

    return printable(text).replace("$", r"\$")


def _label(params: dict[str, Any], skip: tuple[str, ...] = ()) -> str:
    from eqvbench.output.report import fmt_param

    return _plain(", ".join(f"{k.rsplit('.', 1)[-1]}={fmt_param(v, k)}" for k, v in params.items() if k not in skip))


def _volume(p: dict[str, Any]) -> float | None:
    """The volume f_eff was measured on (V_light, or the family's own: OTOC's V_meas)."""
    fld = FIDELITY_VOLUME.get(p["experiment"], ("v_light", "V_light"))[0]
    return p.get(fld)


def _annotate_depth(ax, x: float, y: float, p: dict[str, Any], color: str) -> None:
    text = _depth_text(p)
    if text is not None:
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 3), fontsize="small", color=color)


def _plain_log_ticks(axis, lo: float, hi: float) -> None:
    """Plain tick labels (0.5, 0.7, 1) on a log axis, whatever decades it spans."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    cands = sorted({round(m * 10.0**e, 12) for e in range(-12, 1) for m in (1, 2, 3, 4, 5, 6, 7, 8, 9)})
    ticks = [t for t in cands if lo <= t <= hi]
    for keep in ((1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 5), (1, 3), (1,)):
        chosen = [t for t in ticks if round(t / 10.0 ** math.floor(math.log10(t) + 1e-9)) in keep]
        if len(chosen) <= 8:
            ticks = chosen
            break
    if len(ticks) > 8:
        ticks = ticks[:: math.ceil(len(ticks) / 8)]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _log_ticks(axis, lo: float, hi: float) -> None:
    """Labels on a log axis that never overlap: decades only (10^3, 10^4) where the axis spans two or
    more, else at most six plain values (200, 500, 1000) with no minor labels. Matplotlib's default
    labels every minor tick of a short axis (2x10^3, 3x10^3, ... run into each other)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogFormatterSciNotation, LogLocator, NullFormatter

    axis.set_minor_formatter(NullFormatter())
    if not (0 < lo < hi) or math.log10(hi / lo) >= 2:
        axis.set_major_locator(LogLocator(base=10))
        axis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=True))
        return
    e0, e1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for subs in ((1,), (1, 5), (1, 2, 5), (1, 2, 3, 5, 7), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [m * 10.0**e for e in range(e0, e1 + 1) for m in subs if lo <= m * 10.0**e <= hi]
        if len(ticks) >= 2:
            break
    if len(ticks) < 2:  # a narrow range (638 to 642): evenly spaced round values
        from matplotlib.ticker import MaxNLocator

        ticks = [t for t in MaxNLocator(4).tick_values(lo, hi) if lo <= t <= hi]
    if len(ticks) > 6:
        ticks = ticks[:: math.ceil(len(ticks) / 6)]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))


def curves(points: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Points grouped by experiment and every swept parameter but the depth, each in depth order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    experiments = {p["experiment"] for p in points}
    for p in points:
        parts = [p["experiment"]] if len(experiments) > 1 else []
        rest = _label(p["params"], DEPTH_PARAMS)
        parts += [rest] if rest else []
        groups.setdefault(", ".join(parts) or p["experiment"], []).append(p)
    for g in groups.values():
        g.sort(key=lambda p: (_depth(p), p.get("cost_flops") or 0.0))
    return groups


def merged_curves(points: list[dict[str, Any]], drawn) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """:func:`curves` as (legend label, the first curve's own label, points to draw). `drawn(point)` gives
    the marks a point makes (tuples of numbers); a curve whose marks all lie on another's (OTOC's f_eff
    is the B = I run's, the same at every butterfly position) is drawn once, its label naming every
    setting it stands for ('butterfly_distance=1/2 (same values)'), so no legend entry names a hidden curve."""
    from eqvbench.output.report import fmt_param

    def marks(g) -> frozenset:
        return frozenset(tuple(None if v is None else round(float(v), 10) for v in m) for p in g for m in drawn(p))

    groups: list[list[tuple[str, list[dict[str, Any]], frozenset]]] = []
    for label, g in curves(points).items():
        m = marks(g)
        home = next((grp for grp in groups if m <= grp[0][2] or grp[0][2] <= m), None)
        if home is None:
            groups.append([(label, g, m)])
        elif m > home[0][2]:  # the new curve holds the other's marks and more: it is the one drawn
            home.insert(0, (label, g, m))
        else:
            home.append((label, g, m))
    out: list[tuple[str, str, list[dict[str, Any]]]] = []
    for same in groups:
        first_label = min(same, key=lambda c: list(curves(points)).index(c[0]))[0]
        if len(same) == 1:
            out.append((same[0][0], same[0][0], same[0][1]))
            continue
        params = [g[0]["params"] for _, g, _ in sorted(same, key=lambda c: list(curves(points)).index(c[0]))]
        parts = []
        for k in [k for k in params[0] if k not in DEPTH_PARAMS]:
            values = list(dict.fromkeys(fmt_param(q.get(k), k) for q in params))
            parts.append(f"{k.rsplit('.', 1)[-1]}={'/'.join(values)}")
        out.append((_plain(", ".join(parts)) + " (same values)", first_label, same[0][1]))
    return out


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
    """Resource (f_eff x cost) against the exact contraction's cost, log-log, into `ax`.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw (e.g. ``matplotlib.figure.Figure().add_subplot()``).
    points : list of dict
        Points of a result document (``eqvbench.run(...).document["points"]`` or `eqvbench run
        --out`'s JSON); those without `cost_flops` and `resource_flops` are skipped.

    One curve per experiment and setting of the swept parameters other than the depth, labelled with
    its depth, the largest resource starred, hollow markers where the resource uses f_model.
    """
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
        for a, b, p in zip(x, y, g):
            _annotate_depth(ax, a, b, p, line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.autoscale_view()
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        _log_ticks(axis, lo, hi)
    ax.set_xlabel("cost of an exact contraction [FLOP]")
    ax.set_ylabel("resource = f_eff x cost [FLOP]")
    depth = _depth_name(points)
    ax.set_title(
        "Resource against cost (star: largest resource" + (f"; labels: {depth})" if depth else ")"),
        fontsize="medium",
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", loc="best")


def _depth_name(points) -> str | None:
    names = [k.rsplit(".", 1)[-1] for k in DEPTH_PARAMS if any(k in p["params"] for p in points)]
    return "/".join(names) or None


def draw_fidelity(ax, points: list[dict[str, Any]]) -> None:
    """f_eff against the noise-weighted volume eps x V into `ax`, where the digital model is one line
    exp(-eps V) for every point (eps, dressed with single-qubit and readout error, differs from point
    to point).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    points : list of dict
        Points of a result document; those without a positive `f_eff` and an `eps` are skipped.

    Filled markers (with f_eff's error bar) at the volume f_eff was measured on, open ones at V_eff;
    curves with the same values (OTOC's butterfly positions) are one legend entry.
    """
    import numpy as np

    x_max = 0.1
    f_all: list[float] = []
    colors = _colors(points)

    def drawn(p):  # the filled marker with its error bar, the open one at V_eff
        v = _volume(p)
        out = [] if v is None else [(0, p["eps"] * v, p["f_eff"], p.get("f_eff_err") or 0.0)]
        return out + ([] if p.get("v_eff") is None else [(1, p["eps"] * p["v_eff"], p["f_eff"])])

    for label, own, g in merged_curves(_fid_points(points), drawn):
        color = colors[own]
        measured = [p for p in g if _volume(p) is not None]
        xl = [p["eps"] * _volume(p) for p in measured]
        if measured:
            ax.errorbar(
                xl,
                [p["f_eff"] for p in measured],
                yerr=[p.get("f_eff_err") or 0.0 for p in measured],
                fmt="o",
                ms=4,
                capsize=2,
                label=label,
                color=color,
            )
        for p, x0 in zip(measured, xl):
            _annotate_depth(ax, x0, p["f_eff"], p, color)
        for p in g:
            f_all.append(p["f_eff"])
            if p.get("v_eff") is not None:
                x1 = p["eps"] * p["v_eff"]
                v = _volume(p)
                if v is not None:
                    ax.plot([p["eps"] * v, x1], [p["f_eff"]] * 2, "-", lw=0.8, color=color, alpha=0.6)
                ax.plot(
                    [x1],
                    [p["f_eff"]],
                    "o",
                    ms=6,
                    mfc="none",
                    mec=color,
                    label=None if measured or p is not g[0] else label,
                )
                x_max = max(x_max, x1)
        x_max = max(x_max, *xl) if xl else x_max
    x = np.linspace(0.0, 1.05 * x_max, 200)
    ax.plot(x, np.exp(-x), "k-", lw=1.2, label="digital model exp(-eps V)")
    ax.set_yscale("log")
    ax.set_xlim(0, 1.05 * x_max)
    lo = min(f_all + [math.exp(-1.05 * x_max)])
    hi = max(f_all + [1.0])
    ax.set_ylim(lo / 1.1, hi * 1.05)
    _plain_log_ticks(ax.yaxis, lo / 1.1, hi * 1.05)
    vols = sorted({FIDELITY_VOLUME.get(p["experiment"], ("", "V_light"))[1] for p in _fid_points(points)})
    ax.set_xlabel(f"eps x V   (filled: V = {' or '.join(vols)}, open: V = V_eff)")
    ax.set_ylabel("effective fidelity f_eff")
    depth = _depth_name(points)
    ax.set_title(
        "f_eff against effective volume; line: exp(-eps V)" + (f"; labels: {depth}" if depth else ""),
        fontsize="medium",
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", loc="best")


def qubit_key(q: Any) -> Any:
    """A qubit label from the JSON as a hashable key. Labels are :func:`eqvbench.circuits.lattice.qubit_label`'s
    (a number, or 'row,col'); documents written by earlier versions hold grid qubits as [row, col] lists,
    made tuples here."""
    return tuple(qubit_key(x) for x in q) if isinstance(q, list) else q


def qubit_text(q: Any) -> str:
    return ",".join(map(str, q)) if isinstance(q, tuple) else str(q)


def butterfly_grid(point: dict[str, Any]):
    """(qubit labels, moments, array[qubit, moment] of s_g; NaN where no gate acts).

    Labels are as in the JSON, with [row, col] lists (earlier documents) made tuples."""
    import numpy as np

    gates = point["butterfly_map"]
    labels = sorted({qubit_key(q) for g in gates for q in g["qubits"]}, key=_qubit_order)
    n_moments = 1 + max(g["moment"] for g in gates)
    row = {q: i for i, q in enumerate(labels)}
    grid = np.full((len(labels), n_moments), np.nan)
    for g in gates:
        for q in g["qubits"]:
            grid[row[qubit_key(q)], g["moment"]] = g["s"]
    return labels, n_moments, grid


def _qubit_order(label: Any):
    text = qubit_text(label)
    digits = "".join(c if c.isdigit() else " " for c in text).split()
    return (tuple(int(d) for d in digits), text)


def draw_butterfly(fig, ax, point: dict[str, Any]) -> None:
    """One point's butterfly cone into `ax`: s_g per qubit and moment, grey where no gate acts, with
    its colour bar on `fig` (the Figure holding `ax`). `point` needs a `butterfly_map`
    (observable families: floquet_ising, otoc, circuit with an observable)."""
    import numpy as np

    labels, n_moments, grid = butterfly_grid(point)
    finite = grid[np.isfinite(grid)]
    vmax = max(1.0, float(finite.max())) if finite.size else 1.0
    vmin = min(0.0, float(finite.min())) if finite.size else 0.0
    import matplotlib

    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=NO_GATE_COLOR)  # s_g = 0 is dark, no gate grey
    im = ax.imshow(
        np.ma.masked_invalid(grid),
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
    )
    step = max(1, math.ceil(len(labels) / 16))
    ax.set_yticks(range(0, len(labels), step))
    ax.set_yticklabels([qubit_text(labels[i]) for i in range(0, len(labels), step)], fontsize="small")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("moment (gate layer)")
    ax.set_ylabel("qubit")
    params = _label(point["params"]) or point["experiment"]
    vb = point.get("v_butterfly")
    ax.set_title(f"butterfly cone s_g: {params}" + (f" (V_b={vb:.3g})" if vb is not None else ""), fontsize="medium")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, label="s_g (grey: no gate)")


def map_points(points: list[dict[str, Any]], chosen: list[int] | None = None) -> list[dict[str, Any]]:
    """The points whose butterfly maps are drawn: `chosen` (table rows, from 1), else up to
    :data:`MAX_MAPS` spread over the sweep (the first, the last and one between), not its first three."""
    if chosen:
        out = []
        for row in chosen:
            if not 1 <= row <= len(points):
                raise EqvbenchError(f"--points {row}: the run has points 1 to {len(points)}")
            if not points[row - 1].get("butterfly_map"):
                raise EqvbenchError(f"--points {row}: that point has no butterfly map")
            out.append(points[row - 1])
        return out
    have = _map_points(points)
    if len(have) <= MAX_MAPS:
        return have
    return [have[round(i * (len(have) - 1) / (MAX_MAPS - 1))] for i in range(MAX_MAPS)]


def render(
    doc: dict[str, Any],
    kind: str = "all",
    source: str = "results",
    fmt: str = "png",
    *,
    size: tuple[float, float] | None = None,
    font_size: float = FONT_SIZE,
    dpi: float = DPI,
    maps: list[int] | None = None,
) -> tuple[bytes, list[str]]:
    """The figures `kind` asks for as `fmt` (png, pdf or svg) bytes, and their names.

    Parameters
    ----------
    doc : dict
        A result document (a store's run or `eqvbench run --out`'s JSON).
    kind : str
        One of :data:`KINDS`.
    source : str
        What `doc` was read from, for error messages.
    fmt : {'png', 'pdf', 'svg'}
    size : (width, height) in inches, optional
        The whole figure; default :data:`PANEL_SIZE` per panel.
    font_size : float
        Base font size in points; titles, legends, labels and ticks scale with it.
    dpi : float
        Resolution of a PNG (dots per inch).
    maps : list of int, optional
        Table rows (from 1) whose butterfly maps to draw; default :func:`map_points`'s spread.
    """
    import matplotlib

    if fmt not in FORMATS:
        raise EqvbenchError(f"plot format {fmt!r}: must be one of {', '.join(FORMATS)}")
    for name, v in (("font size", font_size), ("dpi", dpi), *(("size", x) for x in size or ())):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v <= (1000 if name != "dpi" else 2400)):
            raise EqvbenchError(f"plot {name} {v!r}: must be a positive number")
    _mpl()
    # no creation date and fixed SVG ids in vector files: the same results give the same bytes
    with matplotlib.rc_context({"svg.hashsalt": "eqvbench", "font.size": font_size}):
        return _render(doc, kind, source, fmt, size, dpi, maps)


def _render(doc, kind, source, fmt, size, dpi, maps) -> tuple[bytes, list[str]]:
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
    maps = map_points(points, maps) if "butterfly" in wanted else []
    top = [k for k in wanted if k != "butterfly"]
    n_rows = (1 if top else 0) + (1 if maps else 0)
    n_cols = max(len(top), len(maps), 1)
    figsize = size or (PANEL_SIZE[0] * n_cols, PANEL_SIZE[1] * n_rows)
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    gs = fig.add_gridspec(n_rows, n_cols)
    r = 0
    if top:
        for c, k in enumerate(top):
            ax = fig.add_subplot(gs[0, c]) if len(top) == n_cols or c < len(top) - 1 else fig.add_subplot(gs[0, c:])
            (draw_cost if k == "cost" else draw_fidelity)(ax, points)
        r = 1
    for c, p in enumerate(maps):
        draw_butterfly(fig, fig.add_subplot(gs[r, c]), p)

    spec = doc.get("spec", {})
    from eqvbench.output.report import default_title

    title = (spec["cases"][0] if "cases" in spec else spec).get("report", {}).get("title") or default_title(doc)
    if title:
        fig.suptitle(_plain(title), fontsize="large")
    buf = io.BytesIO()
    fig.savefig(
        buf,
        format=fmt,
        metadata={"CreationDate": None} if fmt == "pdf" else ({"Date": None} if fmt == "svg" else None),
    )
    return buf.getvalue(), wanted
