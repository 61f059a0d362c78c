"""Helpers shared by the sweep tests (store, executors, interruption, plots, checks)."""

import json

from typer.testing import CliRunner

from eqvbench.cli import app

# 4 points, 2 cost structures (cycles 2, 4) each shared by two noise rates: about 1 s serially
SWEEP = """\
experiment: rcs
seed: 5
lattice: {kind: grid, rows: 2, cols: 3}
circuit: {cycles: [2, 4], instances: 2}
noise: {p2: [0.005, 0.01]}
simulation: {shots: 500}
cost: {max_repeats: 8}
"""


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def measured(points):
    from eqvbench.pipeline import comparable

    return comparable(points)


def run_json(*args):
    r = invoke("run", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def assert_one_line_error(result, *words):
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for w in words:
        assert w in lines[0], lines[0]


def assert_spec_error(result, spec, field: str, words: str = ""):
    """`eqvbench validate` on a bad spec: exit 2, one line '<file>: <field>: ...' holding `words`."""
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"{spec}: {field}: " in lines[0] and words in lines[0], result.output


def reference_run(tmp_path_factory, name: str):
    """The SWEEP spec run once in one process without a store: the document other runs must equal."""
    d = tmp_path_factory.mktemp(name)
    spec = d / "sweep.yaml"
    spec.write_text(SWEEP)
    return run_json(spec, "--no-store", "--workers", 1)
