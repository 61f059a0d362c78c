"""Published figures at the ends of the float range: refused at validation, or ratios that stay finite."""

import json
import math

import pytest

from eqvbench.output.fields import published_ratio
from sweep_util import assert_one_line_error, invoke

SMALL = """\
experiment: rcs
seed: 5
lattice: {kind: grid, rows: 2, cols: 2}
circuit: {cycles: 2, instances: 2}
simulation: {shots: 200}
cost: {max_repeats: 2}
"""


@pytest.mark.parametrize("value", ["1.0e-320", "5e-324", "0", "-0.0", "-2.5", "1.0e+300", ".inf", ".nan", "1e999"])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_extreme_published_figure_is_refused_with_one_line_and_no_store(tmp_path, value, command):
    spec = tmp_path / "p.yaml"
    spec.write_text(SMALL + f"published: {{cost_flops: {value}}}\n")
    r = invoke(command, spec, *(["--workers", 1] if command == "run" else []))
    assert_one_line_error(r, str(spec), "published", "cost_flops")
    assert not list(tmp_path.glob("*.eqvdb")), "a refused spec created a store"


def test_published_figures_at_the_bounds_give_finite_ratios(tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text(SMALL + "published: {cost_flops: 1.0e-200, f_eff: 1.0e+200, v_eff: 3}\n")
    r = invoke("run", spec, "--no-store", "--workers", 1, "--json")
    assert r.exit_code == 0, r.output
    (pt,) = json.loads(r.stdout)["points"]  # the JSON parser would take Infinity: check the values
    for k in ("cost_flops", "f_eff", "v_eff"):
        ratio = pt[f"ratio_{k}"]
        assert ratio is not None and math.isfinite(ratio) and ratio > 0, (k, ratio)
        assert ratio == pytest.approx(pt[k] / pt[f"published_{k}"], rel=1e-12)


@pytest.mark.parametrize(
    "mine,theirs,expected",
    [
        (1e300, 1e-300, None),  # overflows to inf
        (1.0, 5e-324, None),
        (1.0, 0.0, None),
        (None, 2.0, None),
        (True, 2.0, None),
        (float("inf"), 2.0, None),
        (10**400, 3, None),  # an int too large for a float
        (3.0, 2.0, 1.5),
        (1e-300, 1e10, 1e-310),  # subnormal but finite: kept
    ],
)
def test_published_ratio(mine, theirs, expected):
    assert published_ratio(mine, theirs) == expected
