"""The effective region's certificate on synthetic ball values (no physics: the rule itself)."""

import pytest

from eqvbench.circuits.lattice import build_lattice
from eqvbench.classical.region import BallValue, Reference, RegionSpec, RegionTooCostly, grow_region

LINE = build_lattice({"kind": "line", "n": 21})
CENTRE = [LINE.qubits[10]]
REG = RegionSpec(f_eff=0.37)  # delta = 1 / (0.37 x 100) = 0.027 with 10^4 shots


def balls(values, fail_at=None):
    """evaluate(qs) returning values[radius] (radius read from the ball's size on the line)."""

    def evaluate(qs):
        r = (len(qs) - 1) // 2
        if fail_at is not None and r >= fail_at:
            raise RegionTooCostly("over budget")
        return BallValue(values[r], "statevector", 10 * r, lambda: None)

    return evaluate


def test_neighbouring_balls_that_agree_are_not_a_certificate():
    """Values oscillate: r = 3 and 4 agree within delta (0.137, 0.151) far from the true 0.27."""
    vals = [1.0, 0.42, 0.35, 0.137, 0.151, 0.30, 0.262, 0.271, 0.2705]
    region = grow_region(
        LINE, CENTRE, REG, 10_000, None, None, balls(vals), reference=lambda delta: Reference(0.27, 0.0, "exact", 1.0)
    )
    assert region.fields["region_radius"] == 6  # the first ball within delta of 0.27, not r = 3
    assert region.fields["region_err"] == pytest.approx(abs(0.262 - 0.27))
    assert region.fields["reproduced_value"] == 0.262 and region.a_eff == 13


def test_reference_error_counts_against_delta():
    vals = [1.0, 0.5, 0.29, 0.28, 0.275]
    ref = Reference(0.27, 0.015, "pauli_propagation", 1.0, exact=False)
    region = grow_region(LINE, CENTRE, REG, 10_000, None, None, balls(vals), reference=lambda d: ref)
    # r = 2: 0.02 + 0.015 > 0.027; r = 3: 0.01 + 0.015 <= 0.027, corroborated by r = 4
    assert region.fields["region_radius"] == 3
    assert region.fields["region_err"] == pytest.approx(0.025)
    assert region.fields["region_certificate"] == "estimate"
    assert [h["radius"] for h in region.fields["region_history"]] == [0, 1, 2, 3, 4]


def test_against_an_estimated_reference_a_transient_agreement_is_not_claimed():
    """Against a reference that is only an estimate (Pauli propagation), a ball counts when the larger
    balls evaluated after it agree too: Z_62 after 20 steps at pi/8 had a 4-qubit ball 0.824 within
    delta of the reference 0.843 +- 0.006, a 7-qubit one at 0.905, while converged methods give 0.850."""
    ref = Reference(0.843, 0.006, "pauli_propagation", 1.0, exact=False)
    vals = [0.0, 0.824, 0.905, 0.862, 0.842, 0.845]
    region = grow_region(LINE, CENTRE, REG, 10_000, None, None, balls(vals), reference=lambda d: ref)
    assert region.fields["region_radius"] == 3 and region.fields["reproduced_value"] == 0.862
    assert region.fields["region_err"] == pytest.approx(0.019 + 0.006)
    assert [h["radius"] for h in region.fields["region_history"]] == [0, 1, 2, 3, 4]
    # the same values against an exact reference: the first ball within delta is the region
    exact = grow_region(
        LINE, CENTRE, REG, 10_000, None, None, balls(vals), reference=lambda d: Reference(0.843, 0.0, "exact", 1.0)
    )
    assert exact.fields["region_radius"] == 1
    # no larger ball to corroborate it: no region, the reference is the reproduction, a note says why
    alone = grow_region(LINE, CENTRE, REG, 10_000, None, None, balls(vals, fail_at=4), reference=lambda d: ref)
    assert alone.a_eff is None and alone.fields["reproduced_value"] == 0.843
    assert any("corroborate" in n for n in alone.notes)


def test_no_reference_no_region():
    """Without a value of the whole cone the balls prove nothing: no region, the history kept, a note."""
    vals = [1.0, 0.5, 0.3, 0.3, 0.3]
    region = grow_region(LINE, CENTRE, REG, 10_000, None, None, balls(vals, fail_at=4), reference=lambda d: None)
    assert region.a_eff is None and region.fields["reproduced_value"] is None
    assert [h["value"] for h in region.fields["region_history"]] == [1.0, 0.5, 0.3, 0.3]
    assert any("not certified" in n for n in region.notes)


def test_ball_holding_the_cone_is_its_own_reference():
    vals = [1.0, 0.5, 0.31, 0.3]
    cone = set(LINE.ball(CENTRE, 3))
    region = grow_region(LINE, CENTRE, REG, 10_000, None, None, balls(vals), cone_qubits=cone)
    assert region.fields["reference_value"] == 0.3 and region.fields["reference_err"] == 0.0
    assert region.fields["region_radius"] == 2 and region.fields["region_err"] == pytest.approx(0.01)


def test_no_fidelity_no_region_but_a_reproduction():
    vals = [1.0, 0.5, 0.31, 0.3]
    reg = RegionSpec()  # f_eff 'auto' and nothing to simulate
    region = grow_region(LINE, CENTRE, reg, 10_000, None, None, balls(vals), cone_qubits=set(LINE.ball(CENTRE, 3)))
    assert region.a_eff is None and region.fields["reproduced_value"] == 0.3
    assert region.fields["reproduced_err"] == 0.0


def test_region_tree_is_seeded_end_to_end():
    """Every random stream of the region's tree search is seeded (Python's and optuna's sampler):
    the same network and seed give the same tree, so whether a ball fits the FLOP budget (and a
    region is certified) does not change between runs. Unseeded, this 7x7 bond-5 lattice gave
    1.8e9 and 1.5e9 FLOP trees in consecutive calls."""
    import quimb.tensor as qtn

    from eqvbench.classical import region
    from eqvbench.classical.region import RegionTooCostly, contract_within_budget, region_tree

    tn = qtn.TN2D_rand(7, 7, D=5, seed=3, dtype="complex128")
    paths = set()
    for _ in range(3):
        region._TREES.clear()  # searched afresh each time, not the process's kept tree
        paths.add(tuple(map(tuple, region_tree(tn, max_repeats=8, seed=1, max_flops=1e6).get_path())))
    assert len(paths) == 1
    messages = set()
    for _ in range(2):
        with pytest.raises(RegionTooCostly) as err:
            contract_within_budget(tn, 49, max_repeats=8, seed=1, max_flops=1e6)
        messages.add(str(err.value))
    assert len(messages) == 1


def test_a_reference_that_leaves_out_a_known_error_does_not_reproduce_alone():
    """Belief propagation on a graph with loops (`alone=False`: its ladder err leaves out the loop error,
    e.g. W_17 after 5 steps at 3pi/8 reads about 0 against the exact -0.133) certifies a ball only with the
    larger balls' corroboration, like any estimate, and is not the reproduction when no ball is certified."""
    bp = Reference(0.0, 0.0, "belief_propagation (chi 32)", 1.0, exact=False, alone=False)
    vals = [1.0, -0.3, -0.2, -0.14, -0.13, -0.135]  # balls approach the true -0.133, not BP's 0
    region = grow_region(LINE, CENTRE, REG, 10_000, None, None, balls(vals, fail_at=6), reference=lambda d: bp)
    assert region.a_eff is None and region.fields["region_value"] is None
    assert region.fields["reproduced_value"] is None and region.fields["reference_value"] == 0.0
    assert any("is not shown as the reproduction" in n for n in region.notes)
    # corroborated by the balls (two in a row within delta), it certifies a region as any estimate does
    agree = grow_region(
        LINE, CENTRE, REG, 10_000, None, None, balls([1.0, 0.3, 0.01, -0.01, 0.005]), reference=lambda d: bp
    )
    assert agree.fields["region_radius"] == 2 and agree.fields["reproduced_value"] == 0.01
    # the same reference allowed to stand alone (Pauli propagation's kind) is the reproduction
    pp = Reference(0.0, 0.0, "pauli_propagation", 1.0, exact=False)
    alone = grow_region(LINE, CENTRE, REG, 10_000, None, None, balls(vals, fail_at=6), reference=lambda d: pp)
    assert alone.fields["reproduced_value"] == 0.0


@pytest.mark.parametrize("memory_limit", [16 * 2**30, 8 * 2**3])
def test_contraction_along_the_cost_search_tree_is_exact(memory_limit):
    """The cost engine's tree (found on the structurally simplified network, sliced to its memory
    limit) contracts the network's values to quimb's own contraction, to float64 rounding: Z_62 after
    3 kicked-Ising steps on the 127-qubit map at theta_h = 0.3, and the same sliced to 2^3 elements."""
    from eqvbench.circuits.lattice import build_lattice
    from eqvbench.classical.cost import CostSettings, contract_values, network_structure, searched_tree
    from eqvbench.families.floquet_ising import FAMILY

    inst = FAMILY.build(
        build_lattice({"kind": "heavy_hex_127"}),
        {"theta_h": 0.3, "steps": 3, "observable": "Z62", "final_rx": False},
        0,
    )
    tn = inst.network()
    expected = complex(tn.contract(all, output_inds=()))
    settings = CostSettings(max_repeats=2, memory_limit=memory_limit)
    result, tree, on_raw = searched_tree(*network_structure(tn), settings)
    assert (result.n_slices > 1) == (memory_limit < 2**10)
    assert contract_values(tn, tree, on_raw, settings) == pytest.approx(expected, abs=1e-12)
    assert abs(expected - 0.9480502219314) < 1e-12


def test_whole_cone_exact_beyond_the_region_tree(monkeypatch):
    """Where the region's own tree is over the FLOP budget, the whole cone is contracted along the
    cost search's tree: the value is exact, not refused."""
    from eqvbench.circuits.lattice import build_lattice
    from eqvbench.classical import region
    from eqvbench.classical.cost import CostSettings
    from eqvbench.classical.region import RegionTooCostly, contract_within_budget
    from eqvbench.families.floquet_ising import FAMILY

    inst = FAMILY.build(
        build_lattice({"kind": "heavy_hex_127"}),
        {"theta_h": 0.3, "steps": 3, "observable": "Z62", "final_rx": False},
        0,
    )

    class Wide:  # a region tree over any budget
        def contraction_cost(self):
            return 1e30

        def max_size(self):
            return 2**60

    monkeypatch.setattr(region, "region_tree", lambda *a, **k: Wide())
    with pytest.raises(RegionTooCostly, match="2\\^60 elements"):
        contract_within_budget(inst.network(), 20)
    value = contract_within_budget(inst.network(), 20, cost_settings=CostSettings(max_repeats=2))
    assert value.real == pytest.approx(0.9480502219314, abs=1e-12)
