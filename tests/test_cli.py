"""The command line through typer's CliRunner: run, validate, --json, --out, bad input."""

import json
import os

import pytest
from typer.testing import CliRunner

from eqvbench import __version__
from eqvbench.cli import app
from sweep_util import assert_one_line_error

runner = CliRunner()

SMALL = """\
experiment: rcs
seed: 5
lattice: {kind: grid, rows: 2, cols: 3}
circuit: {cycles: [2, 4], instances: 2}
simulation: {shots: 500}
cost: {max_repeats: 8}
"""


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and __version__ in r.output


@pytest.mark.parametrize("cmd", [[], ["run"], ["validate"], ["configs"], ["show"], ["export"], ["plot"]])
def test_help_on_every_command(cmd):
    r = invoke(*cmd, "--help")
    assert r.exit_code == 0 and "Usage" in r.output


def test_run_json_document(write_spec):
    r = invoke("run", write_spec(SMALL), "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["eqvbench_version"] == __version__
    assert doc["spec"]["circuit"]["cycles"] == [2, 4]
    assert len(doc["points"]) == 2
    contract = [
        "experiment",
        "params",
        "n_qubits",
        "n_gates_2q",
        "v_light",
        "v_eff",
        "eps",
        "f_eff",
        "f_eff_err",
        "f_model",
        "cost_flops",
        "cost_log10",
        "width_log2",
        "resource_flops",
        "seconds_on_frontier",
        "seconds_on_a100",
        "seconds_on_h100",
    ]
    for p in doc["points"]:
        for k in contract:
            assert k in p, k
        assert p["n_qubits"] == 6 and p["v_light"] == p["n_gates_2q"]
        assert 0 < p["f_eff"] <= 1 and p["resource_flops"] == pytest.approx(p["f_eff"] * p["cost_flops"])
        assert p["v_eff"] == pytest.approx(-__import__("math").log(p["f_eff"]) / p["eps"])
    assert doc["points"][0]["params"] == {"circuit.cycles": 2}


def test_run_is_reproducible(write_spec):
    a = json.loads(invoke("run", write_spec(SMALL), "--json", "--no-store").stdout)
    b = json.loads(invoke("run", write_spec(SMALL), "--json", "--no-store").stdout)
    for pa, pb in zip(a["points"], b["points"]):
        for k in ("f_eff", "f_eff_err", "xeb_sampled", "cost_flops"):
            assert pa[k] == pb[k], k


def test_run_table_and_out_file(write_spec, tmp_path):
    out = tmp_path / "res.json"
    r = invoke("run", write_spec(SMALL), "--out", out)
    assert r.exit_code == 0, r.output
    assert "F_eff" in r.stdout and "resource = f_eff x cost" in r.stdout
    doc = json.loads(out.read_text())
    assert len(doc["points"]) == 2
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_validate_runs_nothing(write_spec):
    r = invoke("validate", write_spec(SMALL))
    assert r.exit_code == 0, r.output
    assert "spec OK" in r.stdout and "2 point(s)" in r.stdout


def test_validate_names_a_time_budget_only_where_one_is_set(write_spec):
    """ "(cost searches at their time budget)" where a point sets cost.max_time, not after every estimate."""
    plain = invoke("validate", write_spec(SMALL)).stdout
    assert "spec OK" in plain and "time budget" not in plain
    timed = invoke("validate", write_spec(SMALL.replace("max_repeats: 8", "max_repeats: 8, max_time: 5"))).stdout
    assert "in all (cost searches at their time budget), peak" in " ".join(timed.split())


def test_bare_name_runs_shipped_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("validate", "rcs.yaml")
    assert r.exit_code == 0, r.output
    assert "using shipped example" in r.stderr


def test_configs_lists_examples():
    r = invoke("configs")
    assert r.exit_code == 0 and "rcs.yaml" in r.output and "sycamore53.yaml" in r.output


BAD = [
    ("experiment: rcs\ncircuit: {cycles: [1, 2\n", "malformed YAML"),
    ("experiment: rcs\ncircuit: {cycles: 3, depth: 4}\n", "circuit.depth: unknown key"),
    ("experiment: rcs\ncircuit: {cycles: three}\n", "circuit.cycles"),
    ("experiment: rcs\nnoise: {p2: -0.01}\n", "noise.p2"),
    ("experiment: rcs\ncircuit: {cycles: 0}\n", "circuit.cycles"),
    (
        "experiment: rcs\nlattice: {kind: grid, rows: 5, cols: 5}\nsimulation: {simulate: always}\n",
        "simulation.simulate",
    ),
    ("- just\n- a list\n", "mapping"),
]


@pytest.mark.parametrize("text,words", BAD)
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_input_one_line_exit_2(write_spec, text, words, command):
    spec = write_spec(text)
    r = invoke(command, spec)
    assert_one_line_error(r, str(spec), words)


def test_missing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke("run", "nope.yaml"), "nope.yaml", "file not found")


def test_failed_run_leaves_out_file_untouched(write_spec, tmp_path):
    """A memory limit that cannot hold one slice is found during the run: nothing is written."""
    out = tmp_path / "res.json"
    out.write_text("previous results\n")
    spec = write_spec(
        "experiment: rcs\nlattice: {kind: grid, rows: 2, cols: 2}\ncircuit: {cycles: 2, instances: 1}\n"
        "cost: {memory_limit: 16}\n"
    )
    r = invoke("run", spec, "--out", out)
    assert_one_line_error(r, "cost.memory_limit")
    assert out.read_text() == "previous results\n"
    assert sorted(os.listdir(tmp_path)) == ["res.json", "spec.yaml"]


def test_unwritable_out_fails_before_running(write_spec, tmp_path):
    r = invoke("run", write_spec(SMALL), "--out", tmp_path / "no" / "such" / "dir.json")
    assert_one_line_error(r, "--out", "does not exist")


@pytest.mark.slow
def test_reduced_paper_config_runs_end_to_end(tmp_path):
    """configs/paper.yaml at full size with one search trial per network (CI budget)."""
    import json
    from pathlib import Path

    import yaml

    import eqvbench
    from eqvbench.classical.methods import METHODS

    raw = yaml.safe_load((Path(eqvbench.__file__).parent / "configs" / "paper.yaml").read_text())
    raw["cost"]["max_repeats"] = 1
    for case in raw["cases"]:
        case.setdefault("cost", {})["max_repeats"] = 1
        case["cost"]["methods"] = ["greedy"]
        region = case.get("circuit", {}).get("region")
        if region is not None and case.get("experiment") == "floquet_ising":
            # CI budget for the 20-step certificate and for Pauli propagation as a method of its own
            region.update(pauli_max_seconds=10)
            if region.get("enabled", True):
                region.update(max_qubits=20)
    spec = tmp_path / "paper_ci.yaml"
    spec.write_text(yaml.safe_dump(raw))
    out = tmp_path / "paper.json"
    r = CliRunner().invoke(app, ["run", str(spec), "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    pts = doc["points"]
    assert [p["experiment"] for p in pts] == ["rcs", "rcs", "otoc", "floquet_ising", "floquet_ising"]
    assert [p["n_qubits"] for p in pts] == [53, 70, 53, 127, 127]
    # open where a budget ran out with nothing credible projected (docs/physics.md, "Cost and verdict")
    assert all(p["verdict"] in ("classical", "quantum", "open") and p["cost_flops"] > 0 for p in pts)
    assert all(p["verdict_note"] and [e["method"] for e in p["verdict_evidence"]] == list(METHODS) for p in pts)
    assert pts[0]["published_f_model"] == 0.002 and pts[0]["ratio_f_model"] == pts[0]["f_model"] / 0.002
    z62 = pts[3]
    if z62["a_eff"] is None:  # no certified region within the budgets: said, and nothing small claimed
        assert z62["cost_eff_flops"] is None and any("not certified" in n for n in z62["notes"])
    else:
        assert z62["a_eff"] < 127 and z62["cost_eff_flops"] < z62["cost_flops"]
        assert z62["reproduced_err"] <= z62["region_delta"]
    assert all(k in z62 for k in ("reproduced_value", "reproduced_err", "reproduced_method", "reproduced_seconds"))
    assert "verdict" in r.output and "cost paper" in r.output


def test_cost_and_report_settings_do_not_move_sampled_numbers(tmp_path):
    """Random streams are seeded from the physics sections only (pipeline.physics_of)."""
    import json

    base = (
        "experiment: rcs\nseed: 9\nlattice: {kind: grid, rows: 2, cols: 3}\ncircuit: {cycles: 3, instances: 1}\n"
        "simulation: {estimator: sampled, shots: 500}\n"
    )
    f_eff = []
    for extra in (
        "cost: {max_repeats: 2}\n",
        "cost: {max_repeats: 3, cache: false}\nreport: {title: x}\ndevice: {shots: 10, repetition_s: 1.0}\n",
    ):
        spec = tmp_path / f"s{len(f_eff)}.yaml"
        spec.write_text(base + extra)
        r = CliRunner().invoke(app, ["run", str(spec), "--json", "--no-store"])
        assert r.exit_code == 0, r.output
        f_eff.append(json.loads(r.stdout)["points"][0]["xeb_sampled"])
    assert f_eff[0] == f_eff[1]


def test_region_settings_do_not_move_sampled_numbers(tmp_path):
    """circuit.region holds the classical search's settings: changing its budgets (or adding a field
    to it in a later version) leaves the noisy simulation's random streams alone."""
    import json

    base = (
        "experiment: floquet_ising\nseed: 4\nlattice: {kind: line, n: 5}\nnoise: {p2: 0.02}\n"
        "simulation: {method: trajectories, shots: 400, target_err: 0.02}\n"
    )
    noisy = []
    for region in ("{}", "{pauli_max_seconds: 7, tn_max_repeats: 3, pauli_method_max_seconds: 5}"):
        spec = tmp_path / f"r{len(noisy)}.yaml"
        spec.write_text(base + f"circuit: {{theta_h: 0.4, steps: 3, observable: Z2, region: {region}}}\n")
        r = CliRunner().invoke(app, ["run", str(spec), "--json", "--no-store", "--workers", "1"])
        assert r.exit_code == 0, r.output
        p = json.loads(r.stdout)["points"][0]
        noisy.append((p["o_noisy"], p["f_eff"]))
    assert noisy[0] == noisy[1]


def test_out_refuses_what_writing_would_destroy(write_spec, tmp_path):
    import stat

    spec = write_spec(SMALL)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # stands for a device node such as /dev/null: replacing it with a file destroys it
    assert_one_line_error(invoke("run", spec, "--out", fifo), f"--out {fifo}", "not a regular file")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert invoke("run", spec, "--workers", 1).exit_code == 0  # makes the default store, spec.eqvdb
    db = tmp_path / "spec.eqvdb"
    before = db.read_bytes()
    assert_one_line_error(invoke("run", spec, "--out", "spec.eqvdb"), "--out spec.eqvdb", "the run's store")
    assert_one_line_error(invoke("run", spec, "--store", db, "--out", db), "the run's store")
    assert_one_line_error(invoke("run", spec, "--out", spec), "the spec")
    assert_one_line_error(invoke("export", db, "--out", db), "the file being read")
    assert db.read_bytes() == before and spec.read_text() == SMALL


def test_out_write_error_is_one_line(write_spec, tmp_path, monkeypatch):
    import errno

    spec = write_spec(SMALL)
    doc = tmp_path / "doc.json"
    r = invoke("run", spec, "--json", "--no-store", "--workers", 1)
    doc.write_text(r.stdout)
    out = tmp_path / "res.json"
    out.write_text("previous results\n")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    r = invoke("run", spec, "--out", out, "--no-store", "--workers", 1)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert r.output.strip().splitlines()[-1] == (
        f"error: --out {out}: cannot write (No space left on device); nothing was written there"
    )
    assert_one_line_error(invoke("export", doc, "-f", "csv", "-o", out), f"--out {out}", "No space left")
    assert_one_line_error(invoke("plot", doc, "-o", tmp_path / "p.png"), "--out", "No space left")
    assert out.read_text() == "previous results\n"
    assert sorted(os.listdir(tmp_path)) == ["doc.json", "res.json", "spec.yaml"]  # no temporary file left

    monkeypatch.undo()  # a link is written through: its target is replaced, the link kept
    link = tmp_path / "link.json"
    link.symlink_to(out)
    assert invoke("export", doc, "-o", link).exit_code == 0
    assert link.is_symlink() and json.loads(out.read_text())["points"]


def _headers(stdout):
    line = next(ln for ln in stdout.splitlines() if ln.startswith("┃"))
    return [h.strip() for h in line.strip("┃").split("┃")]


def test_columns_option_on_run_and_show(write_spec, tmp_path):
    """--columns picks the table's columns after the swept values, on run and on show."""
    spec, db = write_spec(SMALL), tmp_path / "c.eqvdb"
    r = invoke("run", spec, "--store", db, "--workers", 1, "--columns", "f_eff, cost_flops,v_eff_model")
    assert r.exit_code == 0, r.output
    assert _headers(r.stdout) == ["cycles", "F_eff", "cost", "v_eff_model"]
    r = invoke("show", db, "--columns", "resource_flops,seconds_on_h100")
    assert r.exit_code == 0, r.output
    assert _headers(r.stdout) == ["cycles", "resource", "t_h100"]


@pytest.mark.parametrize("command", ["run", "show"])
def test_columns_typo_is_one_line_listing_the_columns(write_spec, tmp_path, command):
    spec, db = write_spec(SMALL), tmp_path / "c.eqvdb"
    if command == "show":
        assert invoke("run", spec, "--store", db, "--workers", 1).exit_code == 0
        r = invoke("show", db, "--columns", "f_eff,cost_flop")
    else:
        r = invoke("run", spec, "--store", db, "--columns", "f_eff,cost_flop")
        assert not db.exists()  # refused before anything ran
    assert_one_line_error(
        r,
        "--columns: unknown column 'cost_flop' (did you mean cost_flops?)",
        "columns: n_qubits, ",
        "xeb_exact",
        "verdict",
    )
    assert_one_line_error(
        invoke(command, spec if command == "run" else db, "--columns", " , "), "--columns: give field names"
    )


def test_atomic_write_never_replaces_a_node(tmp_path):
    """Writing replaces only a regular file: a FIFO (standing for a device such as /dev/null),
    reached directly or through a link, stays as it was."""
    import stat

    from eqvbench.io import write_atomic

    fifo, link = tmp_path / "node", tmp_path / "link"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    for path, follow in ((fifo, True), (link, True), (fifo, False)):
        with pytest.raises(OSError, match="not a regular file"):
            write_atomic(path, "x", follow_symlinks=follow)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    write_atomic(link, "x", follow_symlinks=False)  # the link itself is replaced
    assert not link.is_symlink() and link.read_text() == "x" and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["link", "node"]  # no temporary file left


def test_text_from_a_spec_is_printed_literally(tmp_path):
    """A title, a file name or a cell holding rich markup ('[/x]' stopped the run with a traceback
    after all its work), matplotlib's '$' (an unbalanced formula stopped `plot`), or a newline and
    an ANSI escape (a forged 'error:' line) is shown as written, escaped where it is not printable."""
    title = "[/x] [bold]T :smile: $\\frac{1 \x1b[31mred\nerror: forged"
    spec = tmp_path / "sp\x1b[31mec\nerror: forged.yaml"
    spec.write_text(SMALL.replace("cycles: [2, 4]", "cycles: 2") + f"report: {{title: {json.dumps(title)}}}\n")
    out = tmp_path / "doc.json"
    for r in (
        invoke("validate", spec),
        invoke("run", spec, "--no-store", "--workers", 1, "--out", out),
        invoke("show", out),
        invoke("plot", out, "-o", tmp_path / "p.png"),
    ):
        assert r.exit_code == 0 and "Traceback" not in r.output, r.output
        assert "\x1b" not in r.output and not any(ln.startswith("error") for ln in r.output.splitlines()), r.output
    assert "sp\\x1b[31mec\\nerror" in invoke("validate", spec).stdout  # (rich wraps a title at the table's width)
    shown = invoke("show", out).stdout
    assert "[/x] [bold]T :smile: $\\frac{1" in shown and "\\x1b[31mred\\nerror" in shown, shown
