"""Every published exact value the project ships, against what eqvbench certifies.

Data: Begušić, Gray & Chan, arXiv:2308.05077 (Sci. Adv. 10, eadk4321, 2024), public repository
tbegusic/arxiv-2308.05077-data, file exact.csv (MIT licence, tests/data/begusic_gray_chan_LICENSE),
copied as tests/data/begusic_gray_chan_exact.csv: at theta_h = k pi/32, k = 0..16, columns 4a
(M_z), 4b (W_10), 4c (W_17), 4d (the weight-17 observable of Kim et al. Fig. 4d with a final RX
layer), all after 5 steps, and 5a (Z_62 after 9 steps).

The rule checked: a value eqvbench shows as certified (`reproduced_value` with its
`reproduced_err`, and the whole cone's `reference_value` with `reference_err`) lies within its
stated error of the exact one. A value may be null (not certified); it may never be wrong. The
budgets are smaller than the defaults (CPU seconds, so the same on a busy machine; the cost
search's trials, which the whole cone's exact contraction shares) and the angles a sample
(the Clifford points, the near-Clifford pi/32, 8pi/32 and 12pi/32), to keep the sweep to minutes; the rule holds
whatever the budget. `benchmarks/bench_verdict_z62.py` counts what the default budgets certify.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from eqvbench.circuits.lattice import build_lattice
from eqvbench.circuits.noise import NoiseModel
from eqvbench.families.base import PointSettings
from eqvbench.families.floquet_ising import FAMILY
from eqvbench.spec import parse_spec

DATA = Path(__file__).parent / "data" / "begusic_gray_chan_exact.csv"
# column: (observable, steps, final_rx)
COLUMNS = {
    "4a": ("M_z", 5, False),
    "4b": ("W_10", 5, False),
    "4c": ("W_17", 5, False),
    "4d": ("X37 X41 X52 X56 X57 X58 X62 X79 Y38 Y40 Y42 Y63 Y72 Y80 Y90 Y91 Z75", 5, True),
    "5a": ("Z62", 9, False),
}
BUDGET = {
    "pauli_max_seconds": 2.0,
    "pauli_method_max_seconds": 1.0,
    "bp_max_seconds": 2.0,
    "tn_max_flops": 1e10,
    "tn_max_repeats": 2,
}
ANGLES = (0, 1, 8, 12, 16)  # k of theta_h = k pi / 32
# the float64 rounding of exact.csv's values and of the state vector: far below any stated error.
# Column 5a (9 steps) is not exact to that: at k = 8 it reads 0.4783481, eqvbench's exact
# complex128 contraction of the 65-qubit cone 0.4783415 (6.6e-6 apart; eqvbench's belief
# propagation, an independent computation, also lands 7e-6 from it at k = 6)
ROUNDING = {"5a": 1e-5}


def exact_values() -> list[tuple[str, int, float]]:
    with DATA.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 17 and all(math.isclose(float(r["theta_h"]), k * math.pi / 32) for k, r in enumerate(rows))
    return [(col, k, float(r[col])) for col in COLUMNS for k, r in enumerate(rows)]


def certified_fields(column: str, k: int, budget: dict | None = None) -> dict:
    observable, steps, final_rx = COLUMNS[column]
    spec = parse_spec(
        {
            "experiment": "floquet_ising",
            "lattice": {"kind": "heavy_hex_127"},
            "circuit": {
                "theta_h": f"{k}*pi/32",
                "steps": steps,
                "observable": observable,
                "final_rx": final_rx,
                "region": {"f_eff": 0.37, **(BUDGET if budget is None else budget)},
            },
            "simulation": {"shots": 10000, "simulate": "never"},
            "cost": {"max_repeats": 4} if budget is None else {},
        },
        "test_published_sweep",
    )
    v = spec.points[0].values
    inst = FAMILY.build(build_lattice(v["lattice"]), v["circuit"], 0)
    region = FAMILY.effective_region(
        inst, PointSettings.from_values(v, FAMILY), None, NoiseModel(), np.random.default_rng(0)
    )
    return region.fields


def test_the_shipped_data_is_the_published_file():
    values = exact_values()
    assert len(values) == 85
    # spot values of exact.csv as published (Z_62 after 9 steps at pi/32; W~17 at the Clifford point pi/2)
    by = {(c, k): x for c, k, x in values}
    assert by[("5a", 1)] == pytest.approx(0.9953126311302185, abs=1e-15)
    assert by[("4d", 16)] == pytest.approx(-1.0, abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("column", list(COLUMNS))
def test_no_certified_value_lies_outside_its_error(column):
    wrong, certified = [], 0
    for col, k, exact in exact_values():
        if col != column or k not in ANGLES:
            continue
        f = certified_fields(col, k)
        for value_key, err_key in (("reproduced_value", "reproduced_err"), ("reference_value", "reference_err")):
            value, err = f.get(value_key), f.get(err_key)
            if value is None:
                continue
            certified += value_key == "reproduced_value"
            assert err is not None, (col, k, value_key, f)
            if abs(value - exact) > err + ROUNDING.get(col, 1e-9):
                wrong.append(f"{col} k={k} {value_key} {value:+.6f} +- {err:.2g}, exact {exact:+.6f}")
    assert not wrong, wrong
    # the sweep is not vacuous: the Clifford points (k = 0, 16) at least are certified in every column
    # (at these budgets the other angles of W~17 are not: see the next test for the default ones)
    assert certified >= 2, certified


@pytest.mark.slow
def test_the_whole_cone_of_the_weight_17_observable_is_contracted_exactly():
    """Issue 24's first case: W~17 with the final RX layer at 13pi/32 (published -0.2216198098681),
    where the region's own tree is 2e13 FLOP: the cone's 68 qubits are contracted along a tree
    within the default budget (1e11 FLOP), and the value reproduced is exact, not BP's near-zero."""
    by = {(c, k): x for c, k, x in exact_values()}
    f = certified_fields("4d", 13, budget={})
    assert f["reference_err"] == 0 and f["reference_method"].startswith("whole light cone")
    assert f["reference_value"] == pytest.approx(by[("4d", 13)], abs=1e-9)
    assert abs(f["reproduced_value"] - by[("4d", 13)]) <= f["reproduced_err"] + 1e-9
