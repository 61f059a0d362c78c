"""The result store: round trip, reuse, show/export, bad store files."""

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from eqvbench import __version__
from eqvbench.sweeps.provenance import code_identity
from eqvbench.sweeps.store import STORE_FORMAT, point_key
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

    # one row per point, each keyed by the hash of its resolved values and the code that computed it
    con = sqlite3.connect(db)
    rows = dict(con.execute("SELECT key, point_json FROM points").fetchall())
    con.close()
    from eqvbench.spec import load_spec

    keys = [point_key(p.values, code_identity()) for p in load_spec(spec).points]
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


def test_store_that_is_not_a_database(write_spec, tmp_path):
    db = tmp_path / "x.eqvdb"
    db.write_bytes(b"results from last week\n")
    r = invoke("run", write_spec(SWEEP), "--store", db)
    assert_one_line_error(r, str(db), "not an eqvbench store")
    assert db.read_bytes() == b"results from last week\n"
    fifo = tmp_path / "fifo.eqvdb"
    os.mkfifo(fifo)  # refused at once, not read (which would wait for a writer forever)
    for cmd in (["run", write_spec(SWEEP), "--store", fifo], ["show", fifo], ["export", fifo]):
        r = invoke(*cmd)
        assert r.exit_code == 2 and "not a regular file" in r.output and "Traceback" not in r.output, r.output


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
    for cmd in (
        ["run", write_spec(SWEEP), "--store", db],
        ["show", db],
        ["export", db],
        ["plot", db, "-o", tmp_path / "p.png"],
    ):
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
    assert_one_line_error(
        invoke("export", db, "-o", tmp_path / "no" / "x.csv", "--format", "csv"), "--out", "does not exist"
    )
    assert_one_line_error(invoke("run", write_spec(SWEEP), "--store", db, "--no-store"), "--no-store")


# -- what computed a stored point: code identity, provenance --------------------------------


def test_fingerprint_moves_with_computing_code_only(tmp_path):
    import shutil

    import eqvbench
    from eqvbench.sweeps.provenance import code_fingerprint, fingerprint_of

    src = Path(eqvbench.__file__).parent
    copy = tmp_path / "eqvbench"
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert fingerprint_of(copy) == code_fingerprint()
    for name, moves in (
        ("circuits/noise.py", True),
        ("families/rcs.py", True),
        ("data/ibm_eagle_127_heavy_hex.json", True),
        ("output/report.py", False),
        ("cli.py", False),
        ("output/plots.py", False),
    ):
        f = copy / name
        before = f.read_bytes()
        f.write_bytes(before + b"\n")
        assert (fingerprint_of(copy) != code_fingerprint()) is moves, name
        f.write_bytes(before)


def test_presentation_modules_name_modules_that_exist():
    """PRESENTATION_MODULES are paths under the package: a module moved without updating the list
    would be hashed again (and the stale name excluded nothing)."""
    import eqvbench
    from eqvbench.sweeps.provenance import PRESENTATION_MODULES

    root = Path(eqvbench.__file__).parent
    assert not [p for p in PRESENTATION_MODULES if not (root / p).is_file()]


def test_points_of_other_code_are_computed_again(write_spec, tmp_path, monkeypatch):
    spec = write_spec(SWEEP)
    db = tmp_path / "s.eqvdb"
    doc = json.loads(invoke("run", spec, "--store", db, "--json", "--workers", 1).stdout)
    # the document says what computed it
    assert doc["eqvbench_version"] == __version__ and doc["code_identity"] == code_identity()
    assert set(doc["versions"]) >= {"python", "cirq", "cotengra", "quimb", "numpy", "numba"}
    assert doc["versions"]["numpy"] == __import__("numpy").__version__
    shown = invoke("show", db)
    assert shown.exit_code == 0 and "computed by" not in shown.stderr

    # an update that changes computing code, with the version number unchanged
    import eqvbench.sweeps.provenance as prov

    monkeypatch.setattr(prov, "code_identity", lambda uses=frozenset(): f"{__version__}+0123456789ab")
    shown = invoke("show", db)
    assert shown.exit_code == 0
    assert f"computed by other code or libraries ({code_identity()})" in shown.stderr
    assert "running the spec again computes them anew" in shown.stderr
    assert "points of runs by other code are computed anew" in invoke("show", db, "--runs").stderr
    r = invoke("run", spec, "--store", db, "--json", "--workers", 1)
    assert r.exit_code == 0, r.output
    assert "reusing" not in r.stderr and json.loads(r.stdout)["store"]["computed"] == 4
    assert "computed by" not in invoke("show", db).stderr  # the latest run is this code's


def test_show_says_when_points_predate_fingerprints(write_spec, tmp_path):
    db = tmp_path / "s.eqvdb"
    assert invoke("run", write_spec(SWEEP), "--store", db, "--workers", 1).exit_code == 0
    con = sqlite3.connect(db)
    head = json.loads(con.execute("SELECT header_json FROM runs").fetchone()[0])
    for k in ("code_identity", "code_fingerprint", "versions"):
        head.pop(k)  # as eqvbench wrote it before the fingerprint
    con.execute("UPDATE runs SET header_json = ?", (json.dumps(head),))
    con.commit()
    con.close()
    shown = invoke("show", db)
    assert shown.exit_code == 0
    assert f"computed by eqvbench {__version__}, before code fingerprints were recorded" in shown.stderr


def test_show_reads_the_document_of_run_out_with_a_store(write_spec, tmp_path):
    out = tmp_path / "res.json"
    table = invoke("run", write_spec(SWEEP), "--out", out, "--workers", 1)
    assert table.exit_code == 0, table.output
    assert json.loads(out.read_text())["store"]["computed"] == 4
    shown = invoke("show", out)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == table.stdout


def test_reused_point_gets_the_verdict_of_its_machine(write_spec, tmp_path):
    base = SWEEP + "device: {shots: 1000, repetition_s: 1.0e-3}\n"
    db = tmp_path / "s.eqvdb"
    first = json.loads(invoke("run", write_spec(base), "--store", db, "--json", "--workers", 1).stdout)
    assert {p["verdict_machine"] for p in first["points"]} == {"frontier"}
    other = write_spec(base + "report: {machine: a100}\n", "a100.yaml")
    r = invoke("run", other, "--store", db, "--json")
    assert r.exit_code == 0 and "reusing 4 of 4" in r.stderr
    reused = json.loads(r.stdout)["points"]
    fresh = json.loads(invoke("run", other, "--no-store", "--json", "--workers", 1).stdout)["points"]
    assert measured(reused) == measured(fresh)  # the verdict is a100's, as a fresh run gives it
    assert {p["verdict_machine"] for p in reused} == {"a100"}
    assert [p["classical_seconds"] for p in reused] != [p["classical_seconds"] for p in first["points"]]


# -- kills: during a commit, during the store's creation ---------------------------------


def _python(code: str) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_kill_during_a_commit_leaves_a_store_that_recovers(write_spec, tmp_path):
    spec = write_spec(SWEEP)
    db = tmp_path / "s.eqvdb"
    table = invoke("run", spec, "--store", db, "--workers", 1)
    assert table.exit_code == 0
    # a writer killed mid-transaction after SQLite began writing pages (a small cache spills them)
    killed = _python(
        "import os, signal, sqlite3\n"
        f"con = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "con.execute('PRAGMA cache_size=1'); con.execute('BEGIN IMMEDIATE')\n"
        "for i in range(300):\n"
        "    con.execute('INSERT INTO costs(key, cost_json) VALUES (?, ?)', (f'k{i}', 'x' * 3000))\n"
        "con.execute(\"UPDATE points SET point_json = 'half'\")\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert killed.returncode == -signal.SIGKILL
    assert Path(f"{db}-journal").stat().st_size > 0  # a hot journal
    shown = invoke("show", db)  # read-only commands roll it back too
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == table.stdout
    assert not Path(f"{db}-journal").exists()
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM costs WHERE key LIKE 'k%'").fetchone()[0] == 0
    con.close()
    assert "reusing 4 of 4" in invoke("run", spec, "--store", db).stderr


@pytest.mark.parametrize("when", ["before", "after"])
def test_kill_while_the_store_is_created(write_spec, tmp_path, when):
    spec = write_spec(SWEEP)
    db = tmp_path / "s.eqvdb"
    killed = _python(
        "import os, signal\n"
        "import eqvbench.sweeps.store as st\n"
        "place = st._place\n"
        "def kill(tmp, path):\n"
        f"    if {when == 'after'}: place(tmp, path)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "st._place = kill\n"
        f"s = st.Store({str(db)!r})\n"
        "s.begin_run('v', 'spec.yaml', {}, [])\n"
        "s.finish_run(0)\n"
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if when == "before":
        assert not db.exists()  # no half-made store at the path
    else:
        assert db.stat().st_size > 0 and invoke("show", db, "--runs").exit_code == 0
    r = invoke("run", spec, "--store", db, "--json", "--workers", 1)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["store"]["computed"] == 4


def test_empty_file_from_an_older_eqvbench_is_an_empty_store(write_spec, tmp_path):
    db = tmp_path / "s.eqvdb"
    db.write_bytes(b"")  # what a kill while an older eqvbench created the store left
    r = invoke("run", write_spec(SWEEP), "--store", db, "--json", "--workers", 1)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["store"]["computed"] == 4
    assert invoke("show", db).exit_code == 0


# -- damaged rows -------------------------------------------------------------------------


def _damage(db, sql, *args):
    con = sqlite3.connect(db)
    con.execute(sql, args)
    con.commit()
    con.close()


@pytest.mark.parametrize(
    "damage,words",
    [
        ('\'{"experiment": "rcs", "f_eff\'', "not valid JSON"),
        ("'[1, 2]'", "not a JSON object"),
        ("json_set(point_json, '$.f_eff', 'lots')", "f_eff is not a number"),
        ("json_set(point_json, '$.notes', 3)", "notes is not a list"),
        ('replace(point_json, \'"f_model": 0\', \'"f_model": NaN, "x": 0\')', "NaN"),
        ("CAST(x'ff00' AS BLOB)", "damaged"),
    ],
)
def test_damaged_point_row(write_spec, tmp_path, damage, words):
    spec = write_spec(SWEEP)
    db = tmp_path / "s.eqvdb"
    table = invoke("run", spec, "--store", db, "--workers", 1)
    assert table.exit_code == 0
    con = sqlite3.connect(db)
    key = con.execute("SELECT point_key FROM run_points WHERE idx = 2").fetchone()[0]
    con.close()
    _damage(db, f"UPDATE points SET point_json = {damage} WHERE key = ?", key)
    for cmd in (["show", db], ["export", db], ["export", db, "-f", "csv"], ["plot", db, "-o", tmp_path / "p.png"]):
        assert_one_line_error(invoke(*cmd), str(db), "run 1, point 2", "damaged", words)
    # run: the damaged point is computed again (and its row repaired), the others reused
    r = invoke("run", spec, "--store", db, "--json", "--workers", 1)
    assert r.exit_code == 0, r.output
    assert "1 stored row(s) damaged: computing them again" in r.stderr
    assert json.loads(r.stdout)["store"] == {"path": str(db), "run": 2, "reused": 3, "computed": 1}
    assert invoke("show", db).stdout == table.stdout


def test_damaged_cost_and_run_rows(write_spec, tmp_path):
    spec = write_spec(SWEEP)
    db = tmp_path / "s.eqvdb"
    first = json.loads(invoke("run", spec, "--store", db, "--json", "--workers", 1).stdout)
    _damage(db, "UPDATE costs SET cost_json = json_set(cost_json, '$.cost_flops', 1.0e30)")
    _damage(db, "DELETE FROM points")
    r = invoke("run", spec, "--store", db, "--json", "--workers", 1)
    assert r.exit_code == 0, r.output
    assert "2 stored row(s) damaged" in r.stderr  # both cost rows: searched again, not believed
    assert measured(json.loads(r.stdout)["points"]) == measured(first["points"])
    _damage(db, "UPDATE runs SET header_json = '{\"spec\": 3' WHERE id = 2")
    assert_one_line_error(invoke("show", db), str(db), "run 2", "record is damaged")
    _damage(db, "UPDATE run_points SET params_json = 'x' WHERE run_id = 1 AND idx = 0")
    assert_one_line_error(invoke("export", db, "--run", 1), str(db), "run 1, point 0", "damaged")


def test_damaged_json_document(write_spec, tmp_path):
    out = tmp_path / "res.json"
    assert invoke("run", write_spec(SWEEP), "--out", out, "--no-store", "--workers", 1).exit_code == 0
    doc = json.loads(out.read_text())
    doc["points"][1]["width_log2"] = "wide"
    out.write_text(json.dumps(doc))
    for cmd in (["show", out], ["export", out], ["plot", out, "-o", tmp_path / "p.png"]):
        assert_one_line_error(invoke(*cmd), str(out), "points[1]", "width_log2 is not a number")
    out.write_text(json.dumps({**doc, "spec": None}))
    assert_one_line_error(invoke("show", out), str(out), "damaged", "spec")


def test_optional_library_a_point_does_not_use_keeps_its_points(write_spec, tmp_path, monkeypatch):
    """Installing (or upgrading) qsimcirq, as the test extra does, keeps the stored points that do not
    simulate with qsim; a point of `simulation.method: qsim` and any upgrade of a library every point
    uses are computed again (issue 27 item 3)."""
    import eqvbench.sweeps.provenance as prov

    spec = write_spec(SWEEP)
    qsim = write_spec(SWEEP.replace("simulation: {shots: 500}", "simulation: {shots: 500, method: qsim}"), "q.yaml")
    db, dbq = tmp_path / "s.eqvdb", tmp_path / "q.eqvdb"
    for s, d in ((spec, db), (qsim, dbq)):
        assert invoke("run", s, "--store", d, "--workers", 1).exit_code == 0

    def installed(**versions):
        real = prov.library_versions()
        monkeypatch.setattr(prov, "library_versions", lambda: {**real, **versions})
        prov.code_identity.cache_clear()

    try:
        installed(qsimcirq="99.0.0" if prov.library_versions()["qsimcirq"] != "99.0.0" else "98.0.0")
        r = invoke("run", spec, "--store", db, "--json", "--workers", 1)
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["store"] == {"path": str(db), "run": 2, "reused": 4, "computed": 0}
        r = invoke("run", qsim, "--store", dbq, "--json", "--workers", 1)
        assert json.loads(r.stdout)["store"]["computed"] == 4, r.output  # these ran (or fell back) on qsim

        installed(numpy="0.0.1")  # a library that computes every point
        r = invoke("run", spec, "--store", db, "--json", "--workers", 1)
        assert json.loads(r.stdout)["store"]["computed"] == 4, r.output
    finally:
        monkeypatch.undo()
        prov.code_identity.cache_clear()
