"""Spec parsing, defaults, sweeps and their error messages."""

import pytest

from eqvbench.errors import SpecError
from eqvbench.spec import load_spec, parse_bytes, parse_spec


def test_minimal_spec_gets_defaults():
    spec = parse_spec({"experiment": "rcs"}, "x.yaml")
    assert len(spec.points) == 1
    v = spec.points[0].values
    assert v["lattice"] == {"kind": "grid", "rows": 3, "cols": 3}
    assert v["circuit"]["pattern"] == "ABCDCDAB" and v["circuit"]["gate"] == "syc"
    assert v["noise"]["p2"] == 0.0062
    assert spec.points[0].params == {}


def test_lists_sweep_as_cartesian_product():
    raw = {"experiment": "rcs", "circuit": {"cycles": [2, 4, 6]}, "noise": {"p2": [0.01, 0.02]}}
    spec = parse_spec(raw, "x.yaml")
    assert [p.params for p in spec.points] == [
        {"circuit.cycles": c, "noise.p2": p} for c in (2, 4, 6) for p in (0.01, 0.02)
    ]
    assert spec.resolved()["circuit"]["cycles"] == [2, 4, 6]


@pytest.mark.parametrize(
    "raw,field,words",
    [
        ({"experiment": "rcs", "noise": {"p2": -0.1}}, "noise.p2", "greater than or equal to 0"),
        ({"experiment": "rcs", "noise": {"p2": [0.1, 2]}}, "noise.p2[1]", "less than or equal to 1"),
        ({"experiment": "rcs", "circuit": {"cycles": 0}}, "circuit.cycles", "greater than or equal to 1"),
        ({"experiment": "rcs", "circuit": {"cycles": "many"}}, "circuit.cycles", "valid integer"),
        ({"experiment": "rcs", "circuit": {"depth": 3}}, "circuit.depth", "unknown key"),
        ({"experiment": "rcs", "bogus": 1}, "bogus", "unknown key"),
        ({"experiment": "rcs", "lattice": {"kind": "grid", "rows": 0}}, "lattice.rows", "greater than or equal to 1"),
        ({"experiment": "rcs", "lattice": {"kind": "torus"}}, "lattice", "kind"),
        ({"experiment": "rcs", "circuit": {"pattern": "XYZ"}}, "circuit.pattern", "ABCDCDAB"),
        ({"experiment": "rcs", "cost": {"memory_limit": "lots"}}, "cost.memory_limit", "size"),
        ({"experiment": "rcs", "simulation": {"estimator": "sampled", "shots": 0}}, "simulation", "shots >= 2"),
        ({"experiment": "rcs", "simulation": {"method": "gpu"}}, "simulation.method", "density_matrix"),
        ({"experiment": "rcs", "simulation": {"target_err": 0}}, "simulation.target_err", "greater than 0"),
        (
            {"experiment": "rcs", "simulation": {"method": "density_matrix", "max_qubits": 20}},
            "simulation",
            "at most 14",
        ),
        ({"experiment": "rcs", "simulation": {"batch": 0}}, "simulation.batch", "greater than or equal to 1"),
        ({"experiment": "nope"}, "experiment", "unknown experiment"),
        ({"lattice": {}}, "experiment", "missing"),
    ],
)
def test_bad_values_name_the_field(raw, field, words):
    with pytest.raises(SpecError) as e:
        parse_spec(raw, "bad.yaml")
    assert e.value.field == field
    assert words in e.value.message
    assert str(e.value).startswith(f"bad.yaml: {field}: ")
    assert "\n" not in str(e.value)


def test_malformed_yaml_names_the_line(write_spec):
    p = write_spec("experiment: rcs\ncircuit: {cycles: [1, 2\n")
    with pytest.raises(SpecError) as e:
        load_spec(p)
    assert "malformed YAML" in e.value.message and e.value.field.startswith("line ")


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text,expected", [("16GiB", 16 * 2**30), ("512 MB", 512 * 10**6), (1024, 1024), ("2e3", 2000)])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


def test_points_seed_independent_of_sweep_order():
    from eqvbench.pipeline import derive_seed

    a = parse_spec({"experiment": "rcs", "circuit": {"cycles": [4, 8]}}, "a")
    b = parse_spec({"experiment": "rcs", "circuit": {"cycles": [8, 4]}}, "b")
    fam_key = lambda p: {"lattice": p.values["lattice"], "cycles": p.values["circuit"]["cycles"]}
    assert derive_seed(0, fam_key(a.points[0])) == derive_seed(0, fam_key(b.points[1]))


def test_cases_sweep_separately():
    raw = {
        "experiment": "floquet_ising",
        "noise": {"p2": 0.01},
        "cases": [
            {"lattice": {"kind": "line", "n": 4}, "circuit": {"theta_h": [0.1, 0.2], "observable": "Z1"}},
            {"lattice": {"kind": "heavy_hex_127"}, "circuit": {"steps": 20, "observable": "Z62"}},
        ],
    }
    spec = parse_spec(raw, "c.yaml")
    assert [p.params for p in spec.points] == [
        {"case": 0, "circuit.theta_h": 0.1},
        {"case": 0, "circuit.theta_h": 0.2},
        {"case": 1},
    ]
    assert spec.points[2].values["circuit"]["steps"] == 20 and spec.points[2].values["noise"]["p2"] == 0.01
    assert len(spec.resolved()["cases"]) == 2


def test_bad_case_names_the_case():
    raw = {"experiment": "rcs", "cases": [{"circuit": {"cycles": 2}}, {"circuit": {"cycles": -1}}]}
    with pytest.raises(SpecError) as e:
        parse_spec(raw, "c.yaml")
    assert e.value.field == "cases[1].circuit.cycles"
    with pytest.raises(SpecError, match="non-empty list"):
        parse_spec({"experiment": "rcs", "cases": []}, "c.yaml")


def test_cases_may_run_different_families(tmp_path):
    import json

    from typer.testing import CliRunner

    from eqvbench.cli import app

    spec = tmp_path / "mixed.yaml"
    spec.write_text(
        "experiment: rcs\nseed: 4\nlattice: {kind: grid, rows: 2, cols: 2}\ncircuit: {cycles: 2, instances: 1}\n"
        "cost: {max_repeats: 2}\n"
        "cases:\n"
        "  - {}\n"
        "  - experiment: floquet_ising\n"
        "    lattice: {kind: line, n: 4}\n"
        "    circuit: {theta_h: [0.2, 0.4], steps: 2, observable: Z1}\n"
    )
    r = CliRunner().invoke(app, ["run", str(spec), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [p["experiment"] for p in doc["points"]] == ["rcs", "floquet_ising", "floquet_ising"]
    assert [p["params"]["experiment"] for p in doc["points"]] == ["rcs", "floquet_ising", "floquet_ising"]
    assert doc["points"][0]["xeb_exact"] is not None and doc["points"][1]["o_ideal"] is not None
    # the floquet case does not inherit the rcs lattice or circuit
    assert doc["spec"]["cases"][1]["lattice"]["kind"] == "line"
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiment: rcs\ncases:\n  - {}\n  - {experiment: qaoa}\n")
    r = CliRunner().invoke(app, ["validate", str(bad)])
    assert r.exit_code == 2 and f"{bad}: cases[1].experiment: unknown experiment 'qaoa'" in r.output


@pytest.mark.parametrize(
    "text,fld",
    [
        ("device: {shots: 0}\n", "device.shots"),
        ("device: {repetition_s: -1}\n", "device.repetition_s"),
        ("device: {clock: 3}\n", "device.clock"),
    ],
)
def test_bad_device_section(tmp_path, text, fld):
    from typer.testing import CliRunner

    from eqvbench.cli import app

    spec = tmp_path / "d.yaml"
    spec.write_text("experiment: rcs\n" + text)
    r = CliRunner().invoke(app, ["validate", str(spec)])
    assert r.exit_code == 2 and f"{spec}: {fld}: " in r.output and len(r.output.strip().splitlines()) == 1, r.output


@pytest.mark.parametrize(
    "text,fld,words",
    [
        ("published: {cost_flops: abc}\n", "published", "positive number"),
        ("published: {cost_flops: -3}\n", "published", "positive number"),
        ("published: {cost_flops: 1.0e-320}\n", "published", "positive number from 1e-200"),
        ("published: {cost_flops: 0}\n", "published", "positive number"),
        ("published: {cost_flops: 1.0e+250}\n", "published", "to 1e+200"),
        ("published: {f_eff: .inf}\n", "published.f_eff", "finite"),
        ("report: {columns: [3]}\n", "report.columns", ""),
        ("cost: {search_max_tensors: 0}\n", "cost.search_max_tensors", "greater than or equal to 1"),
        ("cost: {processes: 0}\n", "cost.processes", "greater than or equal to 1"),
        ("cost: {cache: maybe}\n", "cost.cache", "boolean"),
        ("cost: {memory_limit: lots}\n", "cost.memory_limit", ""),
    ],
)
def test_bad_published_and_columns(tmp_path, text, fld, words):
    from typer.testing import CliRunner

    from eqvbench.cli import app

    spec = tmp_path / "p.yaml"
    spec.write_text("experiment: rcs\n" + text)
    r = CliRunner().invoke(app, ["validate", str(spec)])
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and f"{spec}: {fld}" in lines[0] and words in lines[0], r.output


def test_density_matrix_without_max_qubits_takes_its_own_limit():
    """`method: density_matrix` alone is valid: the default max_qubits (20, the state-vector engines')
    becomes the density matrix's 14; an explicit max_qubits over 14 is still refused (above)."""
    spec = parse_spec(
        {
            "experiment": "rcs",
            "lattice": {"kind": "grid", "rows": 2, "cols": 2},
            "simulation": {"method": "density_matrix"},
        },
        "s.yaml",
    )
    assert spec.model.simulation.method == "density_matrix" and spec.model.simulation.max_qubits == 14
