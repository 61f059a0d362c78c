"""The result store: round trip, reuse, show/export, bad store files."""

import csv
import io
import json
import sqlite3

import pytest

from eqvbench import __version__
from eqvbench.store import STORE_FORMAT, point_key
from sweep_util import SWEEP, assert_one_line_error, invoke, measured, reference_run


@pytest.fixture(scope="module")
def direct(tmp_path_factory):
    """The sweep run once without a store: the reference every stored result must equal."""
    return reference_run(tmp_path_factory, "direct")


def test_store_round_trip_and_reuse(write_spec, tmp_path, direct):
    spec = write_spec(SWEEP)
    first = invoke("run", spec, "--json", "--workers", 1)
    assert first.exit_code == 0, first.output
    db = tmp_path / "spec.eqvdb"  # default: <spec stem>.eqvdb in the working directory
    assert db.is_file()
    doc1 = json.loads(first.stdout)
    assert doc1["store"]["computed"] == 4 and doc1["store"]["reused"] == 0
    assert measured(doc1["points"]) == measured(direct["points"])

    # one row per point, each keyed by the hash of its resolved values and the version
    con = sqlite3.connect(db)
    rows = dict(con.execute("SELECT key, point_json FROM points").fetchall())
    con.close()
    from eqvbench.spec import load_spec

    keys = [point_key(p.values, __version__) for p in load_spec(spec).points]
    assert sorted(rows) == sorted(keys)

    second = invoke("run", spec, "--json")
    assert second.exit_code == 0, second.output
    assert "reusing 4 of 4 point(s)" in second.stderr
    doc2 = json.loads(second.stdout)
    assert doc2["store"] == {"path": "spec.eqvdb", "run": 2, "reused": 4, "computed": 0}
    assert doc2["points"] == doc1["points"]  # reused points are the stored ones, timings included

    exported = json.loads(invoke("export", db, "--format", "json").stdout)
    assert exported["points"] == doc1["points"]
    assert exported["spec"] == direct["spec"] and exported["eqvbench_version"] == __version__


def test_extending_the_sweep_computes_only_new_points(write_spec, direct):
    spec = write_spec(SWEEP)
    assert invoke("run", spec, "--workers", 1).exit_code == 0
    wider = write_spec(SWEEP.replace("p2: [0.005, 0.01]", "p2: [0.005, 0.01, 0.02]"))
    r = invoke("run", wider, "--json", "--workers", 1)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["store"]["reused"] == 4 and doc["store"]["computed"] == 2
    # the reused points carry the params of the new sweep and the numbers of the old one
    old = {(p["params"]["circuit.cycles"], p["params"]["noise.p2"]): p for p in measured(direct["points"])}
    for p in measured(doc["points"]):
        key = (p["params"]["circuit.cycles"], p["params"]["noise.p2"])
        if key in old:
            assert p == old[key]
    # the new p2 = 0.02 points reuse the cost their structure already has in the store
    assert [p["cost_cached"] for p in doc["points"] if p["params"]["noise.p2"] == 0.02] == [True, True]


def test_changed_seed_or_title(write_spec):
    spec = write_spec(SWEEP)
    assert invoke("run", spec, "--workers", 1).exit_code == 0
    retitled = write_spec(SWEEP + "report: {title: another title}\n")
    assert "reusing 4 of 4" in invoke("run", retitled, "--json").stderr  # the title changes no number
    reseeded = write_spec(SWEEP.replace("seed: 5", "seed: 6"))
    r = invoke("run", reseeded, "--json", "--workers", 1)
    assert "reusing" not in r.stderr and json.loads(r.stdout)["store"]["computed"] == 4


def test_show_and_csv_export(write_spec, tmp_path):
    spec = write_spec(SWEEP)
    db = tmp_path / "res.eqvdb"
    table = invoke("run", spec, "--store", db, "--workers", 1)
    assert table.exit_code == 0
    shown = invoke("show", db)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == table.stdout  # the same table again
    assert "4 of 4 point(s) finished" in shown.stderr
    runs = invoke("show", db, "--runs")
    assert runs.exit_code == 0 and "spec.yaml" in runs.stdout

    out = tmp_path / "points.csv"
    r = invoke("export", db, "--format", "csv", "-o", out)
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    doc = json.loads(invoke("export", db).stdout)
    assert len(rows) == 4
    for row, p in zip(rows, doc["points"]):
        assert float(row["params.noise.p2"]) == p["params"]["noise.p2"]
        assert float(row["f_eff"]) == p["f_eff"] and float(row["cost_flops"]) == p["cost_flops"]
        assert int(row["cost.n_slices"]) == p["cost"]["n_slices"]

    # show and export read a JSON document as well
    jdoc = tmp_path / "doc.json"
    jdoc.write_text(json.dumps(doc))
    assert invoke("show", jdoc).stdout == table.stdout


def test_no_store_writes_nothing(write_spec, tmp_path):
    spec = write_spec(SWEEP)
    r = invoke("run", spec, "--no-store", "--workers", 1)
    assert r.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


# -- bad input: one line, exit 2, the store untouched ------------------------------


def _bytes(p):
    return p.read_bytes() if p.exists() else None


@pytest.mark.parametrize("content,words", [
    (b"results from last week\n", "not an eqvbench store"),
    (b"", "not an eqvbench store"),
])
def test_store_that_is_not_a_database(write_spec, tmp_path, content, words):
    db = tmp_path / "x.eqvdb"
    db.write_bytes(content)
    r = invoke("run", write_spec(SWEEP), "--store", db)
    assert_one_line_error(r, str(db), words)
    assert db.read_bytes() == content


def _sqlite_file(path, statements):
    con = sqlite3.connect(path)
    for s in statements:
        con.execute(s)
    con.commit()
    con.close()


def test_sqlite_database_of_something_else(write_spec, tmp_path):
    db = tmp_path / "other.db"
    _sqlite_file(db, ["CREATE TABLE t (x)", "INSERT INTO t VALUES (1)"])
    before = db.read_bytes()
    for cmd in (["run", write_spec(SWEEP), "--store", db], ["show", db], ["export", db], ["plot", db, "-o", tmp_path / "p.png"]):
        assert_one_line_error(invoke(*cmd), str(db), "not an eqvbench store")
    assert db.read_bytes() == before


def test_store_of_an_incompatible_format(write_spec, tmp_path):
    spec = write_spec(SWEEP)
    db = tmp_path / "s.eqvdb"
    assert invoke("run", spec, "--store", db, "--workers", 1).exit_code == 0
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = ? WHERE key = 'store_format'", (str(STORE_FORMAT + 1),))
    con.execute("UPDATE meta SET value = '9.9.0' WHERE key = 'created_by'")
    con.commit()
    con.close()
    before = db.read_bytes()
    r = invoke("run", spec, "--store", db)
    assert_one_line_error(r, str(db), f"store format {STORE_FORMAT + 1}", "9.9.0")
    assert_one_line_error(invoke("show", db), str(db), "store format")
    assert db.read_bytes() == before


def test_unwritable_store_path(write_spec, tmp_path):
    r = invoke("run", write_spec(SWEEP), "--store", tmp_path / "no" / "dir" / "s.eqvdb")
    assert_one_line_error(r, "--store", "does not exist")
    r = invoke("run", write_spec(SWEEP), "--store", tmp_path)
    assert_one_line_error(r, str(tmp_path), "directory")


def test_bad_spec_leaves_store_untouched(write_spec, tmp_path):
    spec = write_spec(SWEEP)
    db = tmp_path / "s.eqvdb"
    assert invoke("run", spec, "--store", db, "--workers", 1).exit_code == 0
    before = db.read_bytes()
    bad = write_spec(SWEEP + "checks: ['f_ef >= 0.1']\n", "bad.yaml")
    assert_one_line_error(invoke("run", bad, "--store", db), "checks[0]", "unknown metric")
    failing = write_spec(SWEEP.replace("max_repeats: 8", "max_repeats: 8, memory_limit: 16"), "mem.yaml")
    assert_one_line_error(invoke("run", failing, "--store", db), "cost.memory_limit")
    assert db.read_bytes() == before


def test_show_export_bad_input(write_spec, tmp_path):
    assert_one_line_error(invoke("show", tmp_path / "nope.eqvdb"), "nope.eqvdb", "file not found")
    notes = tmp_path / "notes.json"
    notes.write_text('{"a": 1}')
    assert_one_line_error(invoke("show", notes), "notes.json", "not an eqvbench result document")
    db = tmp_path / "s.eqvdb"
    assert invoke("run", write_spec(SWEEP), "--store", db, "--workers", 1).exit_code == 0
    assert_one_line_error(invoke("show", db, "--run", 7), "--run 7", "no such run")
    assert_one_line_error(invoke("export", db, "--format", "xml"), "--format xml")
    assert_one_line_error(invoke("export", db, "-o", tmp_path / "no" / "x.csv", "--format", "csv"), "--out", "does not exist")
    assert_one_line_error(invoke("run", write_spec(SWEEP), "--store", db, "--no-store"), "--no-store")
