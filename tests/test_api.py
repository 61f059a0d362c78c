"""The Python API: `eqvbench.run` gives the numbers and the document `eqvbench run` gives."""

import json
import subprocess
import sys

import pytest
import yaml

import eqvbench
from eqvbench.errors import EqvbenchError, SpecError
from sweep_util import SWEEP, invoke, measured

# one 4-qubit kicked-Ising point with a device run: family fields (o_ideal, ...) and a verdict
FLOQUET = {
    "experiment": "floquet_ising",
    "seed": 1,
    "lattice": {"kind": "line", "n": 4},
    "circuit": {"theta_h": "3*pi/8", "steps": 2, "observable": "Z1"},
    "cost": {"max_repeats": 4},
    "device": {"shots": 1000, "repetition_s": 1.0e-5},
}


def _header(doc):
    """The document less its points and what measures time."""
    return {k: v for k, v in doc.items() if k not in ("points", "wall_seconds")}


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """SWEEP run once by the CLI (one process, no store, --out): (spec path, the --out document)."""
    d = tmp_path_factory.mktemp("api")
    spec, out = d / "sweep.yaml", d / "out.json"
    spec.write_text(SWEEP)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EQVBENCH_CACHE_DIR", str(d / "trees"))
        r = invoke("run", spec, "--no-store", "--workers", 1, "--out", out)
    assert r.exit_code == 0, r.output
    return spec, json.loads(out.read_text())


def test_path_yaml_string_and_dict_give_the_cli_numbers(cli):
    spec, doc = cli
    events = []
    by_path = eqvbench.run(spec, workers=1, on_event=lambda kind, i, msg: events.append((kind, i)))
    by_text = eqvbench.run(SWEEP, workers=1)
    by_dict = eqvbench.run(yaml.safe_load(SWEEP), workers=2)  # pool workers rebuild a '<dict>' spec too
    assert _header(by_path.document) == _header(doc)  # the --out document, provenance and resolved spec included
    assert json.loads(by_path.to_json()) == by_path.document
    for results, file in ((by_path, str(spec)), (by_text, "<string>"), (by_dict, "<dict>")):
        assert results.document["spec_file"] == file
        assert measured(results.document["points"]) == measured(doc["points"])
        assert results.n_computed == 4 and results.n_reused == 0
        assert results.how == ("with 2 workers" if results is by_dict else "in this process")
        assert "store" not in results.document and results.store is None
    kinds = [k for k, _ in events]
    assert kinds[:2] == ["planned", "running"] and kinds.count("start") == kinds.count("done") == 4
    assert sorted(i for k, i in events if k == "done") == [0, 1, 2, 3]


def test_points_are_typed_with_every_field(cli):
    spec, doc = cli
    results = eqvbench.run(spec, workers=1)
    assert len(results) == 4 and results[0] is results.points[0]
    for point, want in zip(results.points, results.document["points"]):
        for name in (
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
            "simulated",
            "a_eff",
            "cost_eff_flops",
            "notes",
        ):
            assert getattr(point, name) == want[name], name
        assert point.verdict is None and point.get("verdict") is None  # no device run in SWEEP
        assert point["xeb_exact"] == want["xeb_exact"] and "xeb_exact" in point
        assert point.fields == want
    assert [p.params for p in results] == [p["params"] for p in doc["points"]]
    assert [p.f_eff for p in results] == [p["f_eff"] for p in doc["points"]]


@pytest.mark.slow
def test_family_fields_and_verdict_through_the_api(write_spec):
    """A dict spec of another family: its own fields by name, and the verdict, as the CLI gives them."""
    results = eqvbench.run(FLOQUET, workers=1)
    cli = json.loads(invoke("run", write_spec(yaml.safe_dump(FLOQUET)), "--no-store", "--json").stdout)
    assert measured(results.document["points"]) == measured(cli["points"])
    (point,) = results.points
    (want,) = cli["points"]
    assert point.experiment == "floquet_ising" and point.n_qubits == 4
    assert point["o_ideal"] == want["o_ideal"] and point["o_noisy"] == want["o_noisy"]
    assert point.verdict == want["verdict"] in ("classical", "quantum")
    assert point.classical_seconds == want["classical_seconds"] and point.device_seconds == 1000 * 1.0e-5
    assert point.get("xeb_exact") is None
    # the classical methods as typed entries, the cheapest one named as in the CLI's JSON
    assert [m.method for m in point.methods] == ["contraction", "region", "pauli_propagation", "belief_propagation"]
    assert point.cheapest_method == want["cheapest_method"]
    pp = point.methods[2]
    assert pp.status == "ok" and abs(pp.value - point["o_ideal"]) <= pp.err + 1e-12


def test_store_is_reused_through_the_api(cli, tmp_path):
    spec, doc = cli
    db = tmp_path / "api.eqvdb"
    first = eqvbench.run(spec, store=db, workers=1)
    again = eqvbench.run(SWEEP, store=db, workers=1)  # the same points, given as text: reused
    assert first.document["store"]["computed"] == 4 and first.store == db
    assert again.n_reused == 4 and again.n_computed == 0 and again.document["store"]["reused"] == 4
    assert measured(again.document["points"]) == measured(doc["points"])


def test_to_pandas_has_the_export_columns(cli):
    pd = pytest.importorskip("pandas")
    from eqvbench.output.report import points_csv

    spec, doc = cli
    results = eqvbench.run(spec, workers=1)
    df = results.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == 4
    # the columns of `eqvbench export --format csv`, in its order
    assert list(df.columns) == points_csv(results.document["points"]).splitlines()[0].split(",")
    assert df["params.circuit.cycles"].tolist() == [2, 2, 4, 4]
    assert df["params.noise.p2"].tolist() == [0.005, 0.01, 0.005, 0.01]
    for name in ("f_eff", "cost_flops", "resource_flops", "v_eff"):
        assert df[name].tolist() == [p[name] for p in results.document["points"]], name
    assert df["cost.multiply_adds"].tolist() == [p["cost"]["multiply_adds"] for p in results.document["points"]]
    assert df["cost.budget.search"].tolist() == [p["cost"]["budget"]["search"] for p in results.document["points"]]
    assert df["notes"].tolist() == [p["notes"] for p in results.document["points"]]  # lists stay lists


def test_to_pandas_without_pandas_names_the_extra(cli, monkeypatch):
    from eqvbench.output.results import Results

    results = Results({"points": cli[1]["points"], "wall_seconds": 0.0})
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'eqvbench\[pandas\]'"):
        results.to_pandas()


def test_bad_dict_spec_is_the_cli_error_line(write_spec):
    bad = {"experiment": "rcs", "lattice": {"kind": "grid", "rows": 2, "cols": 3}, "circuit": {"cycles": "many"}}
    with pytest.raises(SpecError) as e:
        eqvbench.run(bad)
    assert e.value.file == "<dict>" and e.value.field == "circuit.cycles"
    path = write_spec(yaml.safe_dump(bad))
    line = invoke("validate", path).output.strip()
    assert line == f"error: {e.value}".replace("<dict>", str(path))


@pytest.mark.parametrize(
    "spec,file,field,words",
    [
        ("experiment: rcs\nlattice: [1,\n", "<string>", "line 3, column 1", "malformed YAML"),
        ("experiment: nosuch\n", "<string>", "experiment", "unknown experiment"),
        (
            {"experiment": "rcs", "lattice": {"kind": "grid", "rows": 2, "cols": 3}, "noise": {"p2": 2}},
            "<dict>",
            "noise.p2",
            "",
        ),
        (
            {"experiment": "rcs", "lattice": {"kind": "grid", "rows": 2, "cols": 3}, "colour": "red"},
            "<dict>",
            "colour",
            "",
        ),
        ("no_such_spec.yaml", "no_such_spec.yaml", None, "file not found"),
    ],
)
def test_bad_specs_raise_spec_errors(spec, file, field, words):
    with pytest.raises(SpecError) as e:
        eqvbench.run(spec)
    assert e.value.file == file and e.value.field == field and words in e.value.message, str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "options,words",
    [
        ({"workers": 0}, "workers=0"),
        ({"executor": "slurm"}, "executor='slurm'"),
        ({"executor": "dask"}, "needs scheduler="),
        ({"scheduler": "tcp://127.0.0.1:8786"}, "executor='dask' only"),
    ],
)
def test_bad_options_raise_before_anything_runs(options, words, tmp_path):
    with pytest.raises(EqvbenchError, match=words.replace("[", r"\[")):
        eqvbench.run(SWEEP, store=tmp_path / "s.eqvdb", **options)
    assert not (tmp_path / "s.eqvdb").exists()


def test_shipped_example_by_bare_name():
    from eqvbench.sweeps.sweep import load

    notes = []
    spec = load("rcs", on_event=lambda kind, i, msg: notes.append((kind, msg)))
    assert spec.experiments == ["rcs"] and spec.file.endswith("rcs.yaml")
    assert notes == [("note", f"rcs is not a file here; using shipped example {spec.file}")]


def test_import_is_cheap():
    """`import eqvbench` loads none of the heavy libraries; `eqvbench.run` is there."""
    code = (
        "import sys, eqvbench; assert callable(eqvbench.run); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'cirq', 'quimb', 'cotengra', "
        "'numba', 'yaml', 'pydantic', 'rich', 'typer', 'pandas'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_interrupt_says_what_the_store_kept(cli, tmp_path):
    """Ctrl-C during an API sweep is a KeyboardInterrupt that says what was saved; a rerun finishes it."""
    from eqvbench.sweeps.sweep import SweepInterrupted

    spec, doc = cli
    db = tmp_path / "cut.eqvdb"

    def stop_after_two(kind, i, msg):
        if kind == "done" and i == 1:
            raise KeyboardInterrupt

    with pytest.raises(SweepInterrupted) as e:
        eqvbench.run(spec, store=db, workers=1, on_event=stop_after_two)
    assert isinstance(e.value, KeyboardInterrupt)
    assert e.value.saved == f"2 of 4 point(s) saved in {db}; run again to finish the sweep"
    rest = eqvbench.run(spec, store=db, workers=1)
    assert (rest.n_reused, rest.n_computed) == (2, 2)
    assert measured(rest.document["points"]) == measured(doc["points"])


def test_to_pandas_has_every_common_column_without_a_device(cli):
    """docs/api.md shows `verdict`: a run without `device:` (or an older stored run) has it, as None."""
    pytest.importorskip("pandas")
    from eqvbench.output.report import points_csv
    from eqvbench.output.results import Results, SweepPoint

    points = [{k: v for k, v in p.items() if k not in ("verdict", "device_seconds")} for p in cli[1]["points"]]
    results = Results({"points": points, "wall_seconds": 0.0})
    df = results.to_pandas()
    assert df["verdict"].tolist() == [None] * 4 and df["device_seconds"].tolist() == [None] * 4
    for name in SweepPoint.__dataclass_fields__:
        if name not in ("fields", "params"):
            assert name in df.columns, name
    assert list(df.columns) == points_csv(points).splitlines()[0].split(",")


def test_dir_lists_the_public_names_only():
    names = dir(eqvbench)
    assert "run" in names and "__version__" in names
    for private in ("Any", "Callable", "os", "TYPE_CHECKING"):
        assert private not in names
    assert set(eqvbench.__all__) <= set(names)
