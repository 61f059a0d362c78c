"""The table and the lines under it: readable at 80 and 120 columns, notes that name their points."""

import json
import re

import pytest
from rich.console import Console

from eqvbench.output.report import cell, fmt_angle, footer_lines, note_lines, points_table, run_summary
from sweep_util import SWEEP, invoke

# the sweep with a device run: the verdict's three columns make the default table 16 columns wide
WIDE = SWEEP + "device: {shots: 100000, repetition_s: 0.001}\nreport: {machine: a100}\n"
# one case simulated, the other over its simulation.max_qubits: a note on the second point only
CASES = """\
experiment: rcs
seed: 5
lattice: {kind: grid, rows: 2, cols: 3}
circuit: {cycles: 2, instances: 2}
simulation: {shots: 500}
cost: {max_repeats: 4}
cases: [{}, {simulation: {max_qubits: 4}}]
"""


# a small OTOC sweep and an XEB-only circuit file (every qubit measured, no observable)
OTOC = """\
experiment: otoc
seed: 3
lattice: {kind: grid, rows: 2, cols: 3}
circuit: {cycles: [2, 4], butterfly_distance: 1, measurement_qubit: "1,0", instances: 2}
simulation: {shots: 1000, target_err: 0.05}
cost: {max_repeats: 2}
"""
XEB_CIRCUIT = """\
experiment: circuit
seed: 1
circuit: {file: CONFIGS/circuit_example.qasm}
noise: {p1: 0.001, p2: 0.01, readout: 0.02}
simulation: {shots: 2000}
cost: {max_repeats: 2}
"""


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    from eqvbench.sweeps.sweep import shipped_configs_dir

    d = tmp_path_factory.mktemp("report")
    out = {}
    xeb = XEB_CIRCUIT.replace("CONFIGS", str(shipped_configs_dir()))
    for name, text in (("wide", WIDE), ("cases", CASES), ("otoc", OTOC), ("xeb", xeb)):
        spec = d / f"{name}.yaml"
        spec.write_text(text)
        r = invoke("run", spec, "--no-store", "--workers", 1, "--json")
        assert r.exit_code == 0, r.output
        out[name] = json.loads(r.stdout)
    return out


def render(doc, width, columns=None):
    console = Console(width=width, record=True, color_system=None)
    table, dropped = points_table(doc, "a100", width=width, columns=columns)
    console.print(table)
    return console.export_text(), dropped


@pytest.mark.parametrize("width", [80, 120])
def test_table_fits_the_width_and_cuts_no_number(docs, width):
    doc = docs["wide"]
    text, dropped = render(doc, width)
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= width
    assert "…" not in text
    assert dropped, "the full table is wider than 120 characters: something must be left out"
    header = next(ln for ln in lines if ln.startswith("┃"))
    for head in dropped:
        assert f" {head} " not in header
    # the most needed columns stay, with every number whole
    rows = [ln for ln in lines if ln.startswith("│")]
    assert len(rows) == len(doc["points"])
    for head in ("cycles", "p2", "F_eff", "cost", "resource", "verdict"):
        assert f" {head} " in header, header
    for p, row in zip(doc["points"], rows):
        cells = [c.strip() for c in row.strip("│").split("│")]
        for fld in ("f_eff", "cost_flops", "resource_flops", "verdict"):
            assert cell(p, fld) in cells, (fld, row)
    # what is left out is said under the table
    line = next(ln for ln in footer_lines(doc, dropped, width) if ln.startswith("not shown"))
    assert f"not shown to fit {width} characters: {', '.join(dropped)}" in line


def test_wider_table_drops_less(docs):
    _, d80 = render(docs["wide"], 80)
    _, d120 = render(docs["wide"], 120)
    text, d_all = render(docs["wide"], 400)
    assert d_all == [] and len(d120) < len(d80)
    assert set(d120) <= set(d80)


def test_chosen_columns_replace_the_default(docs):
    text, dropped = render(docs["wide"], 80, columns=["v_eff", "seconds_on_h100"])
    header = next(ln for ln in text.splitlines() if ln.startswith("┃"))
    assert [h.strip() for h in header.strip("┃").split("┃")] == ["cycles", "p2", "V_eff", "t_h100"]
    assert dropped == []


def test_notes_name_their_points(docs):
    doc = docs["cases"]
    lines = note_lines(doc["points"])
    assert lines == [
        "note: point 2 (case=1): not simulated (6 qubits > simulation.max_qubits = 4): "
        "f_eff is null, resource uses f_model"
    ]
    every = {**doc, "points": [{**p, "notes": ["x"]} for p in doc["points"]]}
    assert note_lines(every["points"]) == ["note: all 2 points: x"]


def test_no_unexplained_search_name_in_the_footer(docs):
    """The budget line explains each search kind ('none' once read as a budget of nothing)."""
    doc = docs["wide"]
    p = doc["points"][0]
    for search, words in (("none", "no search needed"), ("optimal", "exhaustive")):
        q = {**p, "cost": {**p["cost"], "budget": {"search": search}, "cached": False}}
        line = next(ln for ln in footer_lines({**doc, "points": [q]}) if ln.startswith("cost search budget"))
        assert words in line and not re.search(r": none\b", line)


def test_angles_as_fractions_of_pi():
    import math

    assert [fmt_angle(x) for x in (0.0, math.pi / 4, 3 * math.pi / 8, math.pi, -math.pi / 2, 2 * math.pi / 3)] == [
        "0",
        "π/4",
        "3π/8",
        "π",
        "-π/2",
        "2π/3",
    ]
    assert fmt_angle(0.3) == "0.3"


def test_run_summary_has_no_dangling_separator():
    assert run_summary(4, 1.234, 4, "in this process") == "4 point(s) in 1.2 s: 4 computed in this process"
    assert run_summary(4, 0.5, 0, "in this process", 4, "s.eqvdb") == "4 point(s) in 0.5 s: 4 reused from s.eqvdb"
    assert (
        run_summary(4, 2.0, 1, "with 2 workers", 3, "s.eqvdb", "o.json")
        == "4 point(s) in 2.0 s: 1 computed with 2 workers, 3 reused from s.eqvdb; JSON written to o.json"
    )


def test_eta_counts_down_between_finished_points():
    """The progress bar's ETA: 1 of 3 points done at 10 s gives 20 s left, which counts down while
    the next runs (it once grew with the wait: 30 s at 15 s); past its estimate a slow point raises
    it; the last point, overdue, leaves it blank."""
    import io

    from rich.progress import Progress

    from eqvbench.cli import _eta_column
    from eqvbench.output.report import eta_seconds

    assert eta_seconds(10, 10, 1, 3) == 20 and eta_seconds(15, 10, 1, 3) == 15
    assert eta_seconds(30, 10, 1, 3) == 20  # 20 s since the last point: the next two take 20 s each, 20 spent
    assert eta_seconds(5, 0, 0, 3) is None and eta_seconds(40, 20, 2, 2) is None and eta_seconds(31, 20, 2, 3) is None
    now = [0.0]
    progress = Progress(_eta_column(), console=Console(file=io.StringIO()), get_time=lambda: now[0], auto_refresh=False)
    task_id = progress.add_task("points", total=3)
    column, task = progress.columns[0], progress.tasks[0]
    shown = []
    for t, advance in ((5, 0), (10, 1), (12, 0), (15, 0), (19, 0), (24, 1), (26, 0)):
        now[0] = float(t)
        progress.advance(task_id, advance)
        shown.append(column.render(task).plain)
    assert shown == ["", "ETA 20 s", "ETA 18 s", "ETA 15 s", "ETA 11 s", "ETA 12 s", "ETA 10 s"]


def _header(text):
    return [h.strip() for h in next(ln for ln in text.splitlines() if ln.startswith("┃")).strip("┃").split("┃")]


def test_xeb_only_circuit_shows_no_observable_or_region_columns(docs):
    """Every qubit measured: no <O> values and no region (it is the whole circuit), so no such columns."""
    text, dropped = render(docs["xeb"], 400)
    header = _header(text)
    assert dropped == [] and "XEB" in header and "F_eff" in header and "cost" in header
    for head in ("<O> ideal", "<O> noisy", "<O> classical", "+-", "A_eff", "region 2q", "cost_eff"):
        assert head not in header, header


def test_a_family_column_no_point_fills_is_left_out(docs):
    doc = json.loads(json.dumps(docs["otoc"]))
    assert "C ideal" in _header(render(doc, 400)[0])
    for p in doc["points"]:
        p["otoc_ideal"] = None
    header = _header(render(doc, 400)[0])
    assert "C ideal" not in header and "C norm" in header


def test_the_family_result_is_the_last_column_left_out(docs):
    """OTOC at 80 columns keeps C norm; at any width it goes only once nothing else is left to drop."""
    doc = docs["otoc"]
    text, dropped = render(doc, 80)
    assert "C norm" in _header(text) and "C ideal" in dropped
    for width in range(200, 20, -4):
        text, dropped = render(doc, width)
        if "C norm" in dropped:
            assert _header(text) == ["cycles"], (width, _header(text))


def test_default_title_is_the_description_not_a_path(docs):
    from eqvbench.output.report import default_title

    doc = json.loads(json.dumps(docs["otoc"]))
    doc["spec_file"] = "/opt/python/site-packages/eqvbench/configs/otoc.yaml"
    assert default_title(doc) == "otoc: 2 point(s) of otoc.yaml"
    doc["spec"]["description"] = "OTOC on a 2x3 grid: the butterfly at one coupler. More text."
    assert default_title(doc) == "OTOC on a 2x3 grid (otoc.yaml, 2 point(s))"
    assert render(doc, 120)[0].splitlines()[0].strip() == "OTOC on a 2x3 grid (otoc.yaml, 2 point(s))"
    assert default_title(docs["xeb"]) == "circuit of circuit_example.qasm: 1 point(s) of xeb.yaml"
