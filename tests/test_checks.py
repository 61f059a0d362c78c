"""CI mode: a spec's `checks:` make `eqvbench run` exit 1 with a table of what failed."""

import json

import pytest

from sweep_util import SWEEP, assert_one_line_error, invoke


@pytest.fixture
def stored(write_spec, tmp_path):
    """The sweep computed once into a store; each test then runs its checks against the stored points."""
    db = tmp_path / "s.eqvdb"
    r = invoke("run", write_spec(SWEEP), "--store", db, "--workers", 1, "--json")
    assert r.exit_code == 0, r.output
    points = json.loads(r.stdout)["points"]

    def run(checks: str, *args):
        spec = write_spec(SWEEP + checks, "checked.yaml")
        return invoke("run", spec, "--store", db, *args)

    return points, run


def f_eff(points, cycles, p2):
    return next(p["f_eff"] for p in points if p["params"] == {"circuit.cycles": cycles, "noise.p2": p2})


def test_passing_checks_exit_0(stored):
    points, run = stored
    low = min(p["f_eff"] for p in points)
    r = run(f"checks:\n  - 'f_eff >= {low - 0.01}'\n  - {{metric: cost_log10, max: 12}}\n")
    assert r.exit_code == 0, r.output
    assert "checks: all 8 passed" in r.stdout
    doc = json.loads(run(f"checks:\n  - 'f_eff >= {low - 0.01}'\n", "--json").stdout)
    assert doc["checks_passed"] is True and len(doc["checks"]) == 4


def test_failing_check_exits_1_with_a_table(stored):
    points, run = stored
    bound = f_eff(points, 4, 0.01) + 0.001  # just above the value at cycles 4, p2 0.01
    checks = (
        f"checks:\n  - {{metric: f_eff, min: {bound}, where: {{circuit.cycles: 4, noise.p2: 0.01}}}}\n"
        "  - 'cost_log10 <= 12'\n"
    )
    r = run(checks)
    assert r.exit_code == 1, r.output
    assert "Failed checks: 1 of 5" in r.stdout and "FAIL" in r.stdout
    assert "checks: 4 of 5 passed - FAILED" in r.stderr
    doc = json.loads(run(checks, "--json").stdout)
    assert doc["checks_passed"] is False
    failed = [c for c in doc["checks"] if not c["passed"]]
    assert failed == [
        {
            "check": f"f_eff >= {bound:g} at circuit.cycles=4, noise.p2=0.01",
            "metric": "f_eff",
            "params": {"circuit.cycles": 4, "noise.p2": 0.01},
            "value": f_eff(points, 4, 0.01),
            "passed": False,
        }
    ]


def test_strict_bounds_and_null_values_fail(write_spec):
    """A check on a value that was not computed (f_eff of an unsimulated point) fails; > and < are strict."""
    spec = write_spec(
        SWEEP.replace("simulation: {shots: 500}", "simulation: {simulate: never}")
        + "checks:\n  - 'f_eff > 0'\n  - 'n_qubits < 6'\n  - 'n_qubits <= 6'\n"
    )
    doc = json.loads(invoke("run", spec, "--no-store", "--json", "--workers", 1).stdout)
    by = {}
    for c in doc["checks"]:
        by.setdefault(c["check"], set()).add(c["passed"])
    assert by == {"f_eff > 0": {False}, "n_qubits < 6": {False}, "n_qubits <= 6": {True}}
    assert all(c["value"] is None for c in doc["checks"] if c["metric"] == "f_eff")


def test_checks_do_not_change_the_numbers(stored):
    """Adding checks reuses every stored point: they are not part of a point's key or seeds."""
    _, run = stored
    r = run("checks: ['cost_log10 <= 12']\n", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["store"]["reused"] == 4


@pytest.mark.parametrize(
    "checks,words",
    [
        ("checks: ['f_ef >= 0.3']\n", ["checks[0]", "unknown metric 'f_ef'"]),
        ("checks: ['f_eff => 0.3']\n", ["checks[0]", "METRIC OP NUMBER"]),
        ("checks: ['f_eff >= high']\n", ["checks[0]", "not a number"]),
        ("checks: [{metric: f_eff}]\n", ["checks[0]", "needs a bound"]),
        ("checks: [{metric: f_eff, min: .nan}]\n", ["checks[0]", "finite"]),
        ("checks: [{metric: f_eff, min: 0.3, at: 4}]\n", ["checks[0].at", "unknown key"]),
        (
            "checks: [{metric: f_eff, min: 0.3, where: {circuit.depth: 4}}]\n",
            ["checks[0].where.circuit.depth", "not a swept"],
        ),
        ("checks: [{metric: f_eff, min: 0.3, where: {circuit.cycles: 5}}]\n", ["checks[0].where", "matches no point"]),
        ("checks: {f_eff: 0.3}\n", ["checks"]),
    ],
)
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_checks_one_line_exit_2(write_spec, checks, words, command):
    spec = write_spec(SWEEP + checks)
    assert_one_line_error(invoke(command, spec), str(spec), *words)


def test_checks_in_a_case_are_refused(write_spec):
    spec = write_spec(SWEEP + "cases:\n  - {}\n  - {checks: ['f_eff >= 0.1']}\n")
    assert_one_line_error(invoke("run", spec), "cases[1].checks", "top level")


OTOC = """\
experiment: otoc
seed: 1
lattice: {kind: grid, rows: 2, cols: 3}
circuit: {cycles: 2, butterfly_distance: 2, measurement_qubit: "0,0", instances: 1}
noise: {p1: 0.001, p2: 0.005, readout: 0.01}
simulation: {shots: 2000, target_err: 0.02}
cost: {max_repeats: 2}
"""
FLOQUET = """\
experiment: floquet_ising
seed: 3
lattice: {kind: line, n: 4}
circuit: {theta_h: 0.3, steps: 2, observable: Z1}
noise: {p1: 0.001, p2: 0.01, readout: 0.01}
simulation: {shots: 1000, target_err: 0.02}
cost: {max_repeats: 2}
"""


@pytest.fixture(scope="module")
def family_stores(tmp_path_factory):
    """One small run of every family, kept in a store: {family: (spec text, store, points)}."""
    d = tmp_path_factory.mktemp("families")
    out = {}
    for name, text in (("rcs", SWEEP), ("otoc", OTOC), ("floquet_ising", FLOQUET)):
        spec, db = d / f"{name}.yaml", d / f"{name}.eqvdb"
        spec.write_text(text)
        r = invoke("run", spec, "--store", db, "--workers", 1, "--json")
        assert r.exit_code == 0, r.output
        out[name] = (text, db, json.loads(r.stdout)["points"])
    return out


def test_every_numeric_field_of_every_family_can_be_checked(family_stores):
    """The metrics a check may bound cover every number a family's points carry (and nothing is guessed)."""
    from eqvbench.output.fields import is_number, numeric_fields
    from eqvbench.pipeline import machines_of
    from eqvbench.spec import parse_spec

    import yaml

    for name, (text, _, points) in family_stores.items():
        allowed = numeric_fields([name], machines_of(parse_spec(yaml.safe_load(text), "t.yaml")))
        reported = {k for p in points for k, v in p.items() if is_number(v)}
        assert reported <= set(allowed), (name, sorted(reported - set(allowed)))


def test_checks_bound_otoc_fields(family_stores, write_spec):
    """OTOC's own fields (otoc_norm, v_measurement) can be bounded: a bound they meet passes, one they miss fails."""
    text, db, points = family_stores["otoc"]
    (p,) = points
    assert p["otoc_norm"] is not None and p["v_measurement"] is not None
    ok = write_spec(
        text + f"checks: ['otoc_norm >= {p['otoc_norm'] - 0.01}', "
        f"{{metric: v_measurement, max: {p['v_measurement'] + 1}}}]\n",
        "ok.yaml",
    )
    r = invoke("run", ok, "--store", db, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["checks_passed"] is True and [c["metric"] for c in doc["checks"]] == ["otoc_norm", "v_measurement"]
    bad = write_spec(text + f"checks: ['v_measurement < {p['v_measurement'] - 0.5}']\n", "bad.yaml")
    r = invoke("run", bad, "--store", db)
    assert r.exit_code == 1, r.output
    assert "Failed checks: 1 of 1" in r.stdout and "checks: 0 of 1 passed - FAILED" in r.stderr


@pytest.mark.parametrize("command", ["run", "validate"])
def test_metric_another_family_reports_is_refused(write_spec, command):
    """otoc_norm is an OTOC field: on an RCS spec it is an unknown metric, named in one line with the allowed ones."""
    spec = write_spec(SWEEP + "checks: ['otoc_norm >= 0.5']\n")
    assert_one_line_error(
        invoke(command, spec), f"{spec}: checks[0].metric: unknown metric 'otoc_norm'", "rcs points report", "xeb_exact"
    )
    spec = write_spec(OTOC + "checks: ['otoc_nrom >= 0.5']\n")
    assert_one_line_error(invoke(command, spec), "unknown metric 'otoc_nrom' (did you mean otoc_norm?)")
