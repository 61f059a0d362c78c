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
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
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


@pytest.mark.parametrize("store,kind,panels", [
    ("rcs", "cost", "cost"),
    ("rcs", "fidelity", "fidelity"),
    ("rcs", "all", "cost, fidelity"),
    ("floquet", "butterfly", "butterfly"),
    ("floquet", "all", "cost, fidelity, butterfly"),
])
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
    from eqvbench.plots import butterfly_grid, curves
    from eqvbench.store import load_results

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
    assert_one_line_error(invoke("plot", stores["rcs"], "-o", tmp_path / "x.png", "--kind", "butterfly"),
                          "--kind butterfly", "no point has a butterfly map")
    assert_one_line_error(invoke("plot", stores["rcs"], "-o", tmp_path / "x.pdf"), "--out", ".png")
    assert_one_line_error(invoke("plot", stores["rcs"], "-o", tmp_path / "no" / "x.png"), "--out", "does not exist")
    assert_one_line_error(invoke("plot", tmp_path / "missing.eqvdb", "-o", tmp_path / "x.png"), "file not found")
    assert not (tmp_path / "x.png").exists()


def test_plot_without_matplotlib_says_what_to_install(stores, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails as if not installed
    r = invoke("plot", stores["rcs"], "-o", tmp_path / "x.png")
    assert_one_line_error(r, "matplotlib", "pip install 'eqvbench[plot]'")
