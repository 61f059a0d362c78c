"""`eqvbench plot`: every figure renders to a valid, non-empty PNG; bad input is one line."""

import struct
import zlib

import pytest

from sweep_util import SWEEP, assert_one_line_error, invoke

pytest.importorskip("matplotlib")

FLOQUET = """\
experiment: floquet_ising
seed: 3
lattice: {kind: heavy_hex, center: 62, radius: 2}
circuit: {theta_h: [0.3, 0.8], steps: 3, observable: Z62}
noise: {p1: 0.001, p2: 0.01, readout: 0.01}
simulation: {shots: 1000, target_err: 0.01}
cost: {max_repeats: 4}
"""


def png_size(path):
    """(width, height) of a PNG after checking its signature and every chunk's CRC."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    idat = b"".join(body for kind, body in chunks if kind == b"IDAT")
    pixels = zlib.decompress(idat)
    w, h = struct.unpack(">II", chunks[0][1][:8])
    assert len(pixels) > h  # one filter byte per row and then the pixels
    assert len(set(pixels[1:4096])) > 1, "blank image"
    return w, h


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("plots")
    out = {}
    for name, text in (("rcs", SWEEP), ("floquet", FLOQUET)):
        spec = d / f"{name}.yaml"
        spec.write_text(text)
        r = invoke("run", spec, "--store", d / f"{name}.eqvdb", "--workers", 1, "--out", d / f"{name}.json")
        assert r.exit_code == 0, r.output
        out[name] = d / f"{name}.eqvdb"
    return out


@pytest.mark.parametrize(
    "store,kind,panels",
    [
        ("rcs", "cost", "cost"),
        ("rcs", "fidelity", "fidelity"),
        ("rcs", "all", "cost, fidelity"),
        ("floquet", "butterfly", "butterfly"),
        ("floquet", "all", "cost, fidelity, butterfly"),
    ],
)
def test_each_plot_is_a_valid_png(stores, tmp_path, store, kind, panels):
    out = tmp_path / f"{store}-{kind}.png"
    r = invoke("plot", stores[store], "-o", out, "--kind", kind)
    assert r.exit_code == 0, r.output
    assert f"{out}: {panels} (" in r.stderr
    w, h = png_size(out)
    assert w > 300 and h > 300


def test_plot_reads_a_json_document(stores, tmp_path):
    out = tmp_path / "from-json.png"
    r = invoke("plot", stores["rcs"].with_suffix(".json"), "-o", out)
    assert r.exit_code == 0, r.output
    png_size(out)


def test_plot_curves_and_butterfly_grid(stores):
    """The figures draw what the store holds: one curve per noise rate, the map as qubit x moment."""
    from eqvbench.output.plots import butterfly_grid, curves
    from eqvbench.sweeps.store import load_results

    groups = curves(load_results(stores["rcs"])["points"])
    assert sorted(groups) == ["p2=0.005", "p2=0.01"]
    assert all([p["params"]["circuit.cycles"] for p in g] == [2, 4] for g in groups.values())
    point = load_results(stores["floquet"])["points"][0]
    labels, n_moments, grid = butterfly_grid(point)
    assert grid.shape == (len(labels), n_moments)
    gate = point["butterfly_map"][0]
    assert grid[labels.index(gate["qubits"][0]), gate["moment"]] == gate["s"]


def test_plot_bad_input(stores, tmp_path):
    assert_one_line_error(invoke("plot", stores["rcs"], "-o", tmp_path / "x.png", "--kind", "pie"), "--kind pie")
    assert_one_line_error(
        invoke("plot", stores["rcs"], "-o", tmp_path / "x.png", "--kind", "butterfly"),
        "--kind butterfly",
        "no point has a butterfly map",
    )
    assert_one_line_error(invoke("plot", stores["rcs"], "-o", tmp_path / "x.jpg"), "--out", ".png, .pdf or .svg")
    assert_one_line_error(invoke("plot", stores["rcs"], "-o", tmp_path / "no" / "x.png"), "--out", "does not exist")
    assert_one_line_error(invoke("plot", tmp_path / "missing.eqvdb", "-o", tmp_path / "x.png"), "file not found")
    assert not (tmp_path / "x.png").exists()


def test_plot_without_matplotlib_says_what_to_install(stores, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails as if not installed
    r = invoke("plot", stores["rcs"], "-o", tmp_path / "x.png")
    assert_one_line_error(r, "matplotlib", "pip install 'eqvbench[plot]'")


OTOC = """\
experiment: otoc
seed: 1
lattice: {kind: grid, rows: 2, cols: 3}
circuit: {cycles: [2, 4], butterfly_distance: 2, measurement_qubit: "0,0", instances: 1}
noise: {p1: 0.001, p2: 0.005, readout: 0.01}
simulation: {shots: 2000, target_err: 0.02}
cost: {max_repeats: 2}
"""
# kicked Ising on a grid: qubits are [row, col] in the JSON (plotting it once raised TypeError)
FLOQUET_GRID = """\
experiment: floquet_ising
seed: 3
lattice: {kind: grid, rows: 2, cols: 3}
circuit: {theta_h: [0.3, pi/4], steps: [2, 3], observable: Z0}
noise: {p1: 0.001, p2: 0.01, readout: 0.01}
simulation: {shots: 1000, target_err: 0.02}
cost: {max_repeats: 2}
"""


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    """OTOC and grid kicked-Ising runs, as JSON documents on disk."""
    d = tmp_path_factory.mktemp("plotdocs")
    out = {}
    for name, text in (("otoc", OTOC), ("floquet_grid", FLOQUET_GRID)):
        spec = d / f"{name}.yaml"
        spec.write_text(text)
        r = invoke("run", spec, "--no-store", "--workers", 1, "--out", d / f"{name}.json")
        assert r.exit_code == 0, r.output
        out[name] = d / f"{name}.json"
    return out


def _axes(draw, points):
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    draw(ax, points)
    return ax


def test_plot_floquet_on_a_grid(docs, tmp_path):
    import json

    import numpy as np

    from eqvbench.output.plots import butterfly_grid

    out = tmp_path / "grid.png"
    r = invoke("plot", docs["floquet_grid"], "-o", out)
    assert r.exit_code == 0, r.output
    assert f"{out}: cost, fidelity, butterfly (" in r.stderr
    png_size(out)
    point = json.loads(docs["floquet_grid"].read_text())["points"][0]
    labels, _, grid = butterfly_grid(point)
    gate = point["butterfly_map"][0]
    # grid qubits are labelled 'row,col' in every family (eqvbench.circuits.lattice.qubit_label)
    assert isinstance(gate["qubits"][0], str) and gate["qubits"][0].count(",") == 1
    assert grid[labels.index(gate["qubits"][0]), gate["moment"]] == gate["s"]
    # documents of earlier versions hold [row, col] lists: they still plot, the same grid
    old = dict(
        point,
        butterfly_map=[
            dict(g, qubits=[[int(x) for x in q.split(",")] for q in g["qubits"]]) for g in point["butterfly_map"]
        ],
    )
    old_labels, _, old_grid = butterfly_grid(old)
    assert [",".join(map(str, q)) for q in old_labels] == labels
    assert np.array_equal(old_grid, grid, equal_nan=True)


@pytest.mark.parametrize("suffix,magic", [(".pdf", b"%PDF-"), (".svg", b"<?xml")])
def test_vector_output_by_extension(stores, tmp_path, suffix, magic):
    import xml.etree.ElementTree as ET

    out = tmp_path / f"fig{suffix}"
    r = invoke("plot", stores["floquet"], "-o", out)
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert data.startswith(magic)
    if suffix == ".pdf":
        assert data.rstrip().endswith(b"%%EOF")
    else:
        root = ET.fromstring(data)
        assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 50
    again = tmp_path / f"again{suffix}"
    assert invoke("plot", stores["floquet"], "-o", again).exit_code == 0
    assert again.read_bytes() == data  # no creation date: the same results give the same file


def test_otoc_f_eff_is_plotted_at_its_measurement_volume(docs):
    """OTOC's f_eff is the B = I run's fidelity: its filled marker sits at eps x V_meas, not eps x V_light."""
    import json

    import numpy as np

    from eqvbench.output.plots import draw_fidelity

    points = json.loads(docs["otoc"].read_text())["points"]
    assert all(p["v_measurement"] != p["v_light"] for p in points)
    ax = _axes(draw_fidelity, points)
    filled = [
        ln
        for ln in ax.lines
        if ln.get_marker() == "o" and ln.get_markerfacecolor() != "none" and ln.get_linestyle() == "None"
    ]
    xs = sorted(float(x) for ln in filled for x in ln.get_xdata())
    assert np.allclose(xs, sorted(p["eps"] * p["v_measurement"] for p in points))
    assert "V = V_meas" in ax.get_xlabel()


def test_fidelity_axis_has_plain_tick_labels_and_depth_labels(stores):
    from matplotlib.ticker import FixedLocator

    from eqvbench.output.plots import draw_cost, draw_fidelity
    from eqvbench.sweeps.store import load_results

    points = load_results(stores["rcs"])["points"]
    ax = _axes(draw_fidelity, points)
    ticks = ax.yaxis.get_major_locator()
    assert isinstance(ticks, FixedLocator) and len(ticks.locs) >= 2
    formatter = ax.yaxis.get_major_formatter()
    labels = [formatter(t, i) for i, t in enumerate(ticks.locs)]
    assert all(float(t) == float(lab) and "$" not in lab and "10^" not in lab for t, lab in zip(ticks.locs, labels))
    depths = sorted(str(p["params"]["circuit.cycles"]) for p in points)
    assert sorted(t.get_text() for t in ax.texts) == depths
    cost = _axes(draw_cost, points)
    assert sorted(t.get_text() for t in cost.texts) == depths
    assert (
        cost.get_title().startswith("Resource against cost")
        and "resource" in cost.get_ylabel()
        and "cost" in cost.get_xlabel()
    )


def test_no_gate_and_zero_sensitivity_differ(docs):
    """'No gate' cells are masked and drawn grey; s_g = 0 gets the colour map's own colour."""
    import json

    import numpy as np
    from matplotlib.figure import Figure

    from eqvbench.output.plots import butterfly_grid, draw_butterfly

    point = json.loads(docs["floquet_grid"].read_text())["points"][0]
    _, _, grid = butterfly_grid(point)
    assert np.isnan(grid).any() and (grid == 0).any()
    fig = Figure()
    ax = fig.add_subplot()
    draw_butterfly(fig, ax, point)
    (im,) = ax.images
    arr = im.get_array()
    assert np.array_equal(np.ma.getmaskarray(arr), np.isnan(grid))
    cmap, norm = im.get_cmap(), im.norm

    def on_white(rgba):  # what the figure shows: the colour composited over the white background
        rgba = np.array(rgba)
        return rgba[3] * rgba[:3] + (1 - rgba[3])

    bad, zero = on_white(cmap(np.ma.masked_invalid([np.nan]))[0]), on_white(cmap(norm(0.0)))
    assert np.abs(bad - zero).max() > 0.3  # (magma_r with transparent 'bad' once gave white beside pale yellow)


def test_angles_are_fractions_of_pi_in_labels(docs):
    import json

    from eqvbench.output.plots import curves

    points = json.loads(docs["floquet_grid"].read_text())["points"]
    assert sorted(curves(points)) == ["theta_h=0.3", "theta_h=π/4"]


def test_coincident_curves_are_one_legend_entry(docs):
    """OTOC's f_eff is the B = I run's: butterfly positions with the same values are one entry, not four."""
    import json

    from eqvbench.output.plots import draw_fidelity

    points = json.loads(docs["otoc"].read_text())["points"]
    same = []
    for d in (1, 2, 3):
        for p in points:
            same.append({**p, "params": {**p["params"], "circuit.butterfly_distance": d}})
    legend = [t.get_text() for t in _axes(draw_fidelity, same).get_legend().get_texts()]
    assert legend == ["digital model exp(-eps V)", "butterfly_distance=1/2/3 (same values)"], legend
    other = [dict(p, f_eff=p["f_eff"] * 0.9) for p in same[-2:]]  # a curve with values of its own stays
    legend = [t.get_text() for t in _axes(draw_fidelity, same[:2] + other).get_legend().get_texts()]
    assert legend == ["digital model exp(-eps V)", "butterfly_distance=1", "butterfly_distance=3"], legend


def test_butterfly_maps_spread_over_the_sweep_or_as_asked(docs):
    import json

    from eqvbench.errors import EqvbenchError
    from eqvbench.output.plots import map_points

    base = json.loads(docs["floquet_grid"].read_text())["points"]
    points = [dict(base[i % len(base)], params={"k": i}) for i in range(7)]
    assert [p["params"]["k"] for p in map_points(points)] == [0, 3, 6]
    assert [p["params"]["k"] for p in map_points(points, [2, 5])] == [1, 4]
    with pytest.raises(EqvbenchError, match="points 1 to 7"):
        map_points(points, [8])


def test_cost_axes_label_no_minor_ticks_and_text_is_readable(stores, docs):
    """No overlapping minor labels on the log axes; no text under 8 pt at the default font size."""
    import json

    import matplotlib

    from eqvbench.output.plots import FONT_SIZE, draw_butterfly, draw_cost, draw_fidelity
    from eqvbench.sweeps.store import load_results

    rcs = load_results(stores["rcs"])["points"]
    grid = json.loads(docs["floquet_grid"].read_text())["points"]
    with matplotlib.rc_context({"font.size": FONT_SIZE}):
        cost = _axes(draw_cost, rcs)
        cost.figure.draw_without_rendering()
        for axis in (cost.xaxis, cost.yaxis):
            assert all(not t.get_text() for t in axis.get_minorticklabels())
            shown = [t for t in axis.get_majorticklabels() if t.get_text()]
            assert 1 <= len(shown) <= 7
        fid = _axes(draw_fidelity, rcs)
        from matplotlib.figure import Figure

        fig = Figure()
        bfly = fig.add_subplot()
        draw_butterfly(fig, bfly, grid[0])
        for ax in (cost, fid, bfly):
            texts = [*ax.texts, ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_yticklabels()]
            if ax.get_legend():
                texts += ax.get_legend().get_texts()
            assert min(t.get_fontsize() for t in texts) >= 8


def test_plot_size_font_and_dpi_options(stores, tmp_path):
    out = tmp_path / "small.png"
    r = invoke("plot", stores["rcs"], "-o", out, "--kind", "cost", "--size", "8x5", "--dpi", "50", "--font-size", "14")
    assert r.exit_code == 0, r.output
    assert png_size(out) == (400, 250)
    for bad in (["--size", "8"], ["--size", "axb"], ["--dpi", "0"], ["--points", "x"]):
        assert_one_line_error(
            invoke("plot", stores["rcs"], "-o", tmp_path / "b.png", *bad), "--" if bad[0] != "--dpi" else "dpi"
        )
