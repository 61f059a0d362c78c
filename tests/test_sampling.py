"""The sampling task's cost (eqvbench.classical.sampling) against independent computations."""

from __future__ import annotations

import dataclasses
import math

import cirq
import cotengra as ctg
import numpy as np
import pytest

from eqvbench.classical.cost import CostSettings, contraction_cost, network_structure
from eqvbench.classical.networks import amplitude_network
from eqvbench.classical.sampling import (
    batch_candidates,
    batch_xeb,
    rejection_acceptance,
    rejection_xeb,
    sampling_task_cost,
)


def grid_circuit(rows=3, cols=3, cycles=4, seed=3):
    from eqvbench.circuits.lattice import build_lattice
    from eqvbench.families import get_family

    fam = get_family("rcs")
    lat = build_lattice({"kind": "grid", "rows": rows, "cols": cols})
    inst = fam.build(lat, {"cycles": cycles, "pattern": "ABCDCDAB", "gate": "syc", "instances": 1}, seed=seed)
    return inst.circuit, list(inst.qubits)


SMALL = CostSettings(max_repeats=2, memory_limit=None, methods=("greedy",))


def test_open_network_gives_the_state_vectors_amplitudes():
    circuit, qubits = grid_circuit(3, 3, 4)
    bits = "101100110"
    opened = [qubits[0], qubits[4], qubits[7]]
    tn = amplitude_network(circuit, qubits, bitstring=bits, open_qubits=opened)
    pos = [qubits.index(q) for q in opened]
    got = tn.contract(output_inds=[f"k{i}" for i in pos]).data
    psi = cirq.final_state_vector(circuit, qubit_order=qubits, dtype=np.complex128).reshape([2] * len(qubits))
    want = psi[tuple(slice(None) if i in pos else int(b) for i, b in enumerate(bits))]
    assert got.shape == (2, 2, 2)
    np.testing.assert_allclose(got, want, atol=1e-6)
    _, output, _ = network_structure(tn)
    assert sorted(output) == sorted(f"k{i}" for i in pos)
    # no open qubit: the closed amplitude, unchanged
    closed = amplitude_network(circuit, qubits, bitstring=bits)
    assert network_structure(closed)[1] == ()
    np.testing.assert_allclose(closed.contract(), want[tuple(int(bits[i]) for i in pos)], atol=1e-6)


def test_open_network_cost_equals_cotengras_optimal_tree():
    # 2x2 grid, two fSim gates: 4 + 4 + (4 - k) tensors, small enough for the exhaustive search
    qs = cirq.GridQubit.rect(2, 2)
    gate = cirq.FSimGate(np.pi / 2, np.pi / 6)
    circuit = cirq.Circuit([gate(qs[0], qs[1]), gate(qs[2], qs[3]), gate(qs[1], qs[3])])
    settings = CostSettings(simplify="none", memory_limit=None)
    for k in (1, 2, 3):
        tn = amplitude_network(circuit, qs, open_qubits=qs[:k])
        inputs, output, sizes = network_structure(tn)
        ours = contraction_cost(inputs, output, sizes, settings)
        tree = ctg.array_contract_tree(inputs, output, sizes, optimize="optimal")
        assert ours.multiply_adds == pytest.approx(float(tree.contraction_cost()))
        assert ours.multiply_adds == pytest.approx(float(tn.contraction_cost(optimize="optimal")))


def test_rejection_and_batch_factors_against_integrals_and_porter_thomas_draws():
    from scipy.integrate import quad

    rng = np.random.default_rng(7)
    for m in (1.0, 3.0, 10.0):

        def integral(g, m=m):  # over q ~ Exp(1), split where min(1, q / M) bends
            return (
                quad(lambda q: g(q) * q / m * math.exp(-q), 0, m)[0] + quad(lambda q: g(q) * math.exp(-q), m, np.inf)[0]
            )

        acc = integral(lambda q: 1.0)
        mean_q = integral(lambda q: q) / acc
        assert rejection_acceptance(m) == pytest.approx(acc, rel=1e-9)
        assert rejection_xeb(m) == pytest.approx(mean_q - 1, rel=1e-9)
    # Markov et al.'s M = 10: ten amplitudes per sample, XEB within 5e-4 of the sampled distribution's
    assert 1 / rejection_acceptance(10) == pytest.approx(10.0, rel=1e-4)
    assert rejection_xeb(10) == pytest.approx(1, abs=5e-4)
    # one draw per batch of B Porter-Thomas probabilities, in proportion to them
    for k in (1, 2, 4):
        q = rng.exponential(size=(200_000, 2**k))
        chosen = (q**2).sum(axis=1) / q.sum(axis=1)  # E[q of the draw | batch]
        sem = chosen.std() / math.sqrt(len(chosen))
        assert abs(chosen.mean() - 1 - batch_xeb(k)) < 4 * sem


def test_per_sample_is_f_shots_factor_and_one_amplitude():
    circuit, qubits = grid_circuit(3, 3, 4)
    structure = network_structure(amplitude_network(circuit, qubits))
    amp = contraction_cost(*structure, SMALL)
    # f = 1: every path, no cut needed; the factor is frugal rejection's amplitudes per sample
    task = sampling_task_cost(circuit, qubits, 1000, 1.0, SMALL, 1e15, k_values=(2,))
    way = task.per_sample
    assert way.path_fraction == 1.0
    assert way.task_flops == pytest.approx(1000 / rejection_acceptance(10) * amp.cost_flops, rel=1e-12)
    assert way.task_seconds == pytest.approx(way.task_flops / 1e15)
    # a given amplitude cost with enough slices is reused: f x shots x factor / x_M x its cost, no search
    circuit, qubits = grid_circuit(3, 3, 8)
    structure = network_structure(amplitude_network(circuit, qubits))
    sliced = dataclasses.replace(SMALL, memory_limit=2**4 * 8)
    amp_sliced = contraction_cost(*structure, sliced)
    assert amp_sliced.n_slices >= 16
    f = 1 / amp_sliced.n_slices * 2
    task = sampling_task_cost(circuit, qubits, 500, f, sliced, 1e15, amplitude_cost=amp_sliced, k_values=())
    way = task.per_sample
    assert task.searches == 0 and task.batched is None
    assert way.cost == amp_sliced
    assert way.task_flops == pytest.approx(
        f * 500 * (1 / rejection_acceptance(10)) / rejection_xeb(10) * amp_sliced.cost_flops, rel=1e-12
    )


def test_paths_are_cut_where_the_tree_has_too_few_slices():
    circuit, qubits = grid_circuit(3, 4, 8)
    f = 0.05
    task = sampling_task_cost(circuit, qubits, 100, f, SMALL, 1e15, k_values=(4,))
    for way in (task.per_sample, task.batched):
        # every path fraction is backed by as many slices: a fraction phi of them needs 1/phi
        assert way.path_fraction * way.paths >= 1 - 1e-9
        assert way.path_fraction >= f / way.sampler_xeb * (1 - 1e-12)
        assert way.task_flops == pytest.approx(way.contractions * way.path_fraction * way.cost.cost_flops)
    # the unsliced amplitude has one path: the per-sample way was costed again, cut into 1/phi paths
    need = math.ceil(rejection_xeb(10) / f)
    amp = contraction_cost(*network_structure(amplitude_network(circuit, qubits)), SMALL)
    assert amp.n_slices == 1
    width = math.floor(amp.width_log2_unsliced - math.log2(need))
    cut = contraction_cost(
        *network_structure(amplitude_network(circuit, qubits)), dataclasses.replace(SMALL, memory_limit=2**width * 8)
    )
    assert cut.n_slices > 1
    phi = f / rejection_xeb(10)
    want = min(amp.cost_flops, cut.cost_flops * max(phi, 1 / cut.n_slices))
    assert task.per_sample.task_flops == pytest.approx(100 / rejection_acceptance(10) * want, rel=1e-12)


def test_batched_k_respects_the_memory_limit_and_the_task_is_the_cheaper():
    circuit, qubits = grid_circuit(3, 3, 4)
    limited = dataclasses.replace(SMALL, memory_limit=2**7 * 8)  # 128 complex64 elements
    assert batch_candidates(9, limited, k_values=(2, 4, 6, 8, 9)) == [2, 4, 6]
    assert batch_candidates(9, SMALL) == [2, 4, 6, 8]
    assert batch_candidates(5, SMALL, max_k_searches=10) == [2, 4]
    task = sampling_task_cost(circuit, qubits, 10_000, 0.002, limited, 1e15, k_values=(2, 4, 6, 8, 9))
    assert [s["k"] for s in task.scan] == [2, 4, 6]
    assert all(s["width_log2"] <= 7 for s in task.scan if "width_log2" in s)
    assert task.batched.batch_qubits <= 7 and task.batched.cost.width_log2 <= 7
    ways = [task.per_sample, task.batched]
    cheaper = min(ways, key=lambda w: w.task_flops)
    assert task.task_flops == cheaper.task_flops == min(w.task_flops for w in ways)
    assert (task.task_method, task.task_batch_qubits) == (cheaper.method, cheaper.batch_qubits)
    assert task.task_seconds == pytest.approx(task.task_flops / 1e15)
    # the batched way's contraction is the open network's, with the way's k qubits open
    k = task.batched.batch_qubits
    open_cost = contraction_cost(
        *network_structure(amplitude_network(circuit, qubits, open_qubits=qubits[:k])), limited
    )
    assert [s["cost_flops"] for s in task.scan if s["k"] == k] == [open_cost.cost_flops]
    js = task.to_json()
    assert js["task_method"] in ("per_sample", "batched") and js["batched"]["amplitudes_per_contraction"] == 2**k


def test_a_fidelity_a_batch_cannot_reach_skips_that_batch():
    circuit, qubits = grid_circuit(3, 3, 4)
    task = sampling_task_cost(circuit, qubits, 10, 0.95, SMALL, 1e15, k_values=(2, 6), full_state=False)
    skipped = [s for s in task.scan if "skipped" in s]
    assert [s["k"] for s in skipped] == [2]  # (4 - 1) / (4 + 1) = 0.6 < 0.95
    assert task.batched.batch_qubits == 6


def test_the_full_state_gives_every_shot_from_one_contraction_where_it_fits():
    circuit, qubits = grid_circuit(3, 3, 4)
    everything = amplitude_network(circuit, qubits, open_qubits=qubits)
    psi = cirq.final_state_vector(circuit, qubit_order=qubits, dtype=np.complex128)
    got = everything.contract(output_inds=[f"k{i}" for i in range(9)]).data.reshape(-1)
    np.testing.assert_allclose(got, psi, atol=1e-6)
    full = contraction_cost(*network_structure(everything), SMALL)
    task = sampling_task_cost(circuit, qubits, 10_000, 1.0, SMALL, 1e15, k_values=(4,))
    assert [s["k"] for s in task.scan] == [4, 9]
    way = task.batched
    assert (way.batch_qubits, way.contractions, way.samples_per_contraction, way.sampler_xeb) == (9, 1, 10_000, 1)
    assert way.task_flops == full.cost_flops  # f = 1: every path, once
    assert task.task_method == "batched" and task.task_flops == way.task_flops
    # not where 2^n amplitudes exceed the memory limit, nor when asked not to
    limited = dataclasses.replace(SMALL, memory_limit=2**8 * 8)
    assert [s["k"] for s in sampling_task_cost(circuit, qubits, 10, 1.0, limited, 1e15, k_values=(4,)).scan] == [4]
    no_full = sampling_task_cost(circuit, qubits, 10, 1.0, SMALL, 1e15, k_values=(4,), full_state=False)
    assert [s["k"] for s in no_full.scan] == [4]


@pytest.mark.parametrize(
    "kwargs, field",
    [({"shots": 0}, "shots"), ({"f": 0.0}, "f"), ({"f": 1.5}, "f"), ({"rate_flops": 0.0}, "rate_flops")],
)
def test_bad_arguments_name_the_argument(kwargs, field):
    circuit, qubits = grid_circuit(2, 2, 2)
    args = {"shots": 10, "f": 0.1, "rate_flops": 1e15, **kwargs}
    with pytest.raises(ValueError, match=field):
        sampling_task_cost(circuit, qubits, args["shots"], args["f"], SMALL, args["rate_flops"])
