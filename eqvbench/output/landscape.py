"""The landscape and resource figures (`eqvbench plot RESULTS --kind landscape | resource`).

landscape
    Every point with a device run: the classical time on `report.machine` (y) against the
    device's time (x), log-log, with the break-even diagonal y = x; coloured by verdict; an
    arrow from each point to where its break-even error rate (`break_even_eps`) would put it.
resource
    R = f x cost against depth for points with a `resource_peak_ladder`, the peak marked.
"""

from __future__ import annotations

import io
import math
from typing import Any

from eqvbench.errors import EqvbenchError

KINDS = ["landscape", "resource"]
COLORS = {"classical": "#1f77b4", "quantum": "#d62728", "open": "#7f7f7f", None: "#7f7f7f"}
FONT = 11  # talk size: readable on a projected slide


def _label(p: dict[str, Any]) -> str:
    """Short point label: case (or index), family, swept values."""
    params = p.get("params") or {}
    bits = [f"{k.split('.')[-1]}={v}" for k, v in params.items() if k not in ("case", "experiment")]
    head = p.get("experiment", "")
    if "case" in params:
        head = f"{params['case']}: {head}"
    return head + (f" ({', '.join(bits)})" if bits else "")


def classical_time(p: dict[str, Any]) -> tuple[float | None, bool]:
    """(seconds, reproduces): the cheapest reproduction, else the least cost estimate in the evidence."""
    if p.get("classical_seconds") is not None:
        return p["classical_seconds"], True
    ev = [e["seconds"] for e in p.get("verdict_evidence") or [] if e.get("counts") and e.get("seconds") is not None]
    return (min(ev), False) if ev else (None, False)


def landscape_points(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in points if p.get("device_seconds") and (classical_time(p)[0] or 0) > 0]


def peak_points(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in points if any(r.get("resource_flops") for r in p.get("resource_peak_ladder") or [])]


def _place_labels(fig, ax, items: list[tuple[float, float, str, str]]) -> None:
    """Label each (x, y) point with its text at the first offset whose box overlaps no label placed
    before it, no marker and stays inside the axes (greedy, in display coordinates); where none does,
    the offset with the fewest clashes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw_without_rendering()
    frame = ax.get_window_extent(renderer)
    marks = [ax.transData.transform((x, y)) for x, y, _, _ in items]
    placed: list[Any] = []
    offsets = [(8, 6), (8, -16), (-8, 6), (-8, -16), (10, 24), (10, -34), (-10, 24), (-10, -34), (24, 44), (24, -54)]
    for x, y, text, color in items:
        best = None
        for dx, dy in offsets:
            t = ax.annotate(
                text,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                fontsize=FONT - 2,
                color=color,
                ha="left" if dx > 0 else "right",
                va="bottom" if dy > 0 else "top",
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
            )
            bb = t.get_window_extent(renderer).expanded(1.04, 1.1)
            clashes = sum(bb.overlaps(o) for o in placed) + sum(bb.contains(mx, my) for mx, my in marks)
            clashes += 10 * (bb.x0 < frame.x0 or bb.x1 > frame.x1 or bb.y0 < frame.y0 or bb.y1 > frame.y1)
            if best is None or clashes < best[0]:
                if best is not None:
                    best[1].remove()
                best = (clashes, t, bb)
            else:
                t.remove()
            if clashes == 0:
                break
        placed.append(best[2])


def draw_landscape(fig, ax, points: list[dict[str, Any]]) -> None:
    """Classical time against device time, log-log, with the diagonal and break-even arrows."""
    pts = landscape_points(points)
    xs = [p["device_seconds"] for p in pts]
    ys = [classical_time(p)[0] for p in pts]
    ends = [p.get("break_even_classical_seconds") for p in pts]
    vals = [v for v in xs + ys + [e for e in ends if e] if v and v > 0]
    lo, hi = min(vals), max(vals)
    lo, hi = 10 ** (math.floor(math.log10(lo)) - 1), 10 ** (math.ceil(math.log10(hi)) + 1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.plot([lo, hi], [lo, hi], color="black", lw=1, ls="--", zorder=1)
    ax.fill_between([lo, hi], [lo, hi], [hi, hi], color=COLORS["quantum"], alpha=0.06, zorder=0)
    ax.fill_between([lo, hi], [lo, lo], [lo, hi], color=COLORS["classical"], alpha=0.06, zorder=0)
    ax.text(lo * 3, hi / 3, "beyond classical\n(classical slower)", fontsize=FONT - 1, va="top", color="#8c1c1c")
    ax.text(hi / 3, lo * 3, "classical faster", fontsize=FONT - 1, ha="right", va="bottom", color="#174a7c")
    seen = set()
    items = []
    for p, x, y, end in zip(pts, xs, ys, ends):
        v = p.get("verdict")
        color = COLORS.get(v, COLORS[None])
        repro = classical_time(p)[1]
        ax.scatter(
            [x],
            [y],
            s=70,
            color=color if repro else "white",
            edgecolor=color,
            linewidth=1.8,
            zorder=3,
            label=(v or "no verdict") if v not in seen else None,
        )
        seen.add(v)
        text = _label(p)
        if p.get("break_even_eps") is not None and end:
            ax.annotate(
                "",
                (x, end),
                (x, y),
                arrowprops={"arrowstyle": "->", "color": color, "lw": 1.4, "shrinkA": 5, "shrinkB": 2},
                zorder=2,
            )
            has = p.get("eps")
            text += f"\neps {p['break_even_eps']:.2g}" + (f" (has {has:.2g})" if has else "")
        items.append((x, y, text, color))
    _place_labels(fig, ax, items)
    ax.set_xlabel("device time (s)", fontsize=FONT)
    machine = next((p.get("verdict_machine") for p in pts if p.get("verdict_machine")), "report.machine")
    ax.set_ylabel(f"classical time on {machine} (s)", fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    ax.legend(fontsize=FONT - 2, loc="lower right", bbox_to_anchor=(1.0, 0.08), framealpha=0.9)
    ax.set_title(
        "arrows: classical time at the break-even error rate; hollow: cost estimate, not a reproduction",
        fontsize=FONT - 3,
    )


def draw_resource(fig, ax, points: list[dict[str, Any]]) -> None:
    """R = f x cost against depth per point, its peak marked."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    items = []
    for i, p in enumerate(peak_points(points)):
        rows = [r for r in p["resource_peak_ladder"] if r.get("resource_flops")]
        color = cmap(i % 10)
        d, r = p.get("resource_peak_depth"), p.get("resource_peak_flops")
        tail = f": peak at depth {d}" if d is not None else f": no peak up to depth {rows[-1]['depth']}"
        ax.plot(
            [r["depth"] for r in rows],
            [r["resource_flops"] for r in rows],
            "o-",
            ms=3.5,
            color=color,
            lw=1.4,
            label=_label(p) + tail,
        )
        if d is not None and r:
            ax.scatter([d], [r], marker="*", s=220, color=color, edgecolor="black", zorder=4)
            items.append((d, r, f"peak: depth {d}\nR {r:.2g} FLOP", color))
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("depth (cycles / steps)", fontsize=FONT)
    ax.set_ylabel("R = f x cost (FLOP)", fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    ax.set_title("resource against depth (digital-model f, searched cost; no simulation)", fontsize=FONT - 2)
    ax.legend(fontsize=FONT - 2, loc="lower right", framealpha=0.9)
    _place_labels(fig, ax, items)


def render(
    doc: dict[str, Any],
    kind: str,
    source: str = "results",
    fmt: str = "png",
    *,
    size: tuple[float, float] | None = None,
    font_size: float = 10.0,
    dpi: float = 110.0,
    maps: list[int] | None = None,
) -> tuple[bytes, list[str]]:
    """The figure `kind` (one of :data:`KINDS`) as `fmt` bytes, and its name; `size` (inches, default
    9 x 7), `font_size` (points) and `dpi` as for :func:`eqvbench.output.plots.render` (`maps` is not
    used: these figures have no butterfly maps)."""
    from eqvbench.output.plots import FORMATS, _mpl

    if fmt not in FORMATS:
        raise EqvbenchError(f"plot format {fmt!r}: must be one of {', '.join(FORMATS)}")
    Figure = _mpl()
    points = doc.get("points") or []
    if kind == "landscape" and not landscape_points(points):
        raise EqvbenchError(
            f"--kind landscape: {source}: no point has a device run (device.shots, device.repetition_s) "
            "and a classical time"
        )
    if kind == "resource" and not peak_points(points):
        raise EqvbenchError(
            f"--kind resource: {source}: no point has a resource-peak ladder (report.resource_peak: true)"
        )
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "eqvbench", "font.size": font_size}):
        fig = Figure(figsize=size or (9, 7), dpi=dpi, layout="constrained")
        ax = fig.add_subplot()
        (draw_landscape if kind == "landscape" else draw_resource)(fig, ax, points)
        fig.savefig(
            buf,
            format=fmt,
            metadata={"CreationDate": None} if fmt == "pdf" else ({"Date": None} if fmt == "svg" else None),
        )
    return buf.getvalue(), [kind]
