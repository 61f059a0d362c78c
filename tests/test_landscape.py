"""`eqvbench plot --kind landscape | resource` (eqvbench.output.landscape)."""

import pytest

from eqvbench.errors import EqvbenchError
from eqvbench.output.landscape import render


def _pt(case, verdict, dev, cl, be=None, end=None, ladder=None, peak=None):
    return {
        "experiment": "rcs",
        "params": {"case": case},
        "eps": 0.01,
        "verdict": verdict,
        "verdict_machine": "a100",
        "device_seconds": dev,
        "classical_seconds": cl,
        "break_even_eps": be,
        "break_even_classical_seconds": end,
        "resource_peak_ladder": ladder,
        "resource_peak_depth": peak,
        "resource_peak_flops": None if peak is None else max(r["resource_flops"] for r in ladder),
    }


LADDER = [{"depth": d, "f": 0.9**d, "cost_flops": 2.0**d, "resource_flops": 0.9**d * 2.0**d} for d in (1, 2, 4, 8)]
DOC = {
    "points": [
        _pt(0, "quantum", 200.0, 5e3, be=0.02, end=200.0),
        _pt(1, "classical", 20.0, 1e-3, be=0.002, end=20.0, ladder=LADDER, peak=8),
        _pt(2, "classical", 20.0, 2e-3),
    ]
}


@pytest.mark.parametrize("kind", ["landscape", "resource"])
@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_figures_render(kind, fmt, magic):
    data, drawn = render(DOC, kind, fmt=fmt)
    assert data.startswith(magic) and drawn == [kind]
    if fmt == "svg":
        text = data.decode()
        assert "eps 0.02" in text or kind == "resource"


def test_labels_do_not_overlap():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from eqvbench.output.landscape import draw_landscape

    fig = Figure(figsize=(9, 7), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    draw_landscape(fig, ax, DOC["points"])
    r = FigureCanvasAgg(fig).get_renderer()
    boxes = [t.get_window_extent(r) for t in ax.texts if t.get_text().startswith(("0:", "1:", "2:"))]
    assert len(boxes) == 3
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_nothing_to_draw_is_an_error():
    with pytest.raises(EqvbenchError, match="device run"):
        render({"points": [{"experiment": "rcs", "params": {}}]}, "landscape")
    with pytest.raises(EqvbenchError, match="resource_peak"):
        render({"points": [{"experiment": "rcs", "params": {}}]}, "resource")


def test_cli_kinds(tmp_path):
    import json

    from sweep_util import invoke

    import eqvbench
    from test_breakeven import BASE, NOISE

    spec = {**BASE, "noise": NOISE, "device": {"shots": 100, "repetition_s": 1e-12}}
    spec["report"] = {"machine": "a100", "resource_peak": True, "resource_peak_max_depth": 6}
    res = tmp_path / "r.json"
    res.write_text(json.dumps(eqvbench.run(spec, workers=1).document))
    for kind in ("landscape", "resource"):
        r = invoke("plot", res, "--kind", kind, "--out", tmp_path / f"{kind}.svg")
        assert r.exit_code == 0, r.output
        assert (tmp_path / f"{kind}.svg").read_bytes().startswith(b"<?xml")
    assert "--kind nope: must be one of" in invoke("plot", res, "--kind", "nope", "--out", tmp_path / "x.png").output
