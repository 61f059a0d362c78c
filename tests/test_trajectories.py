"""Every simulation method against cirq.DensityMatrixSimulator on random small circuits.

Exact methods agree to 1e-6. Trajectory estimates agree within 5 of their own
standard errors (a 5-sigma band: with about 300 compared numbers, a
correct engine fails it with probability ~1e-4), plus 1e-9 for components
whose sampled variance is zero.
"""

import cirq
import numpy as np
import pytest

from eqvbench.simulation import trajectories as tr
from eqvbench.circuits.noise import NoiseModel
from eqvbench.simulation.simulate import SimSettings, pauli_expectations, qsim_available

METHODS = ["density_matrix", "trajectories"] + (["qsim"] if qsim_available() else [])


def random_circuit(n, depth, rng):
    """Random 1q rotations and random 2q gates (fSim, CZ, iSWAP-like, random unitary) on a line."""
    qs = cirq.LineQubit.range(n)
    moments = []
    for d in range(depth):
        moments.append(
            cirq.Moment(
                cirq.PhasedXZGate(
                    x_exponent=rng.uniform(0, 1), z_exponent=rng.uniform(0, 2), axis_phase_exponent=rng.uniform(0, 2)
                ).on(q)
                for q in qs
            )
        )
        two = []
        for a in range(d % 2, n - 1, 2):
            kind = rng.integers(4)
            g = [
                cirq.FSimGate(rng.uniform(0, np.pi), rng.uniform(0, np.pi)),
                cirq.CZ,
                cirq.ISWAP**0.5,
                cirq.MatrixGate(cirq.testing.random_unitary(4, random_state=int(rng.integers(2**31)))),
            ][kind]
            two.append(g.on(qs[a], qs[a + 1]))
        if two:
            moments.append(cirq.Moment(two))
    return cirq.Circuit(moments), qs


def cirq_rho(circuit, qs, noise):
    noisy = noise.to_cirq(circuit, qs)
    return cirq.DensityMatrixSimulator(dtype=np.complex128).simulate(noisy, qubit_order=qs).final_density_matrix


CASES = [(n, seed) for n, seed in ((2, 0), (3, 1), (4, 2), (5, 3), (6, 4), (8, 5))]


@pytest.mark.parametrize("n,seed", CASES)
def test_trajectory_probabilities_match_cirq(n, seed):
    rng = np.random.default_rng(seed)
    circuit, qs = random_circuit(n, 5, rng)
    noise = NoiseModel(p1=rng.uniform(0, 0.03), p2=rng.uniform(0.01, 0.08), idle=rng.uniform(0, 0.01))
    ref = np.real(np.diag(cirq_rho(circuit, qs, noise)))
    program = tr.compile_program(circuit, qs, noise)
    p_ideal = np.abs(tr.ideal_state(program)) ** 2
    est = tr.estimate(
        program, lambda psi: np.abs(psi) ** 2, p_ideal, rng, target_stderr=lambda se: False, max_trajectories=4000
    )
    assert est.n_trajectories == 4000
    assert np.all(np.abs(est.value - ref) <= 5 * est.stderr + 1e-9)
    assert est.value.sum() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n,seed", CASES[1:5])
def test_observables_match_cirq(method, n, seed):
    rng = np.random.default_rng(100 + seed)
    circuit, qs = random_circuit(n, 4, rng)
    noise = NoiseModel(
        p1=rng.uniform(0, 0.03), p2=rng.uniform(0.01, 0.08), readout=rng.uniform(0, 0.05), idle=rng.uniform(0, 0.01)
    )
    paulis = [{qs[0]: "Z"}, {qs[0]: "X", qs[1]: "Y"}, {q: "Z" for q in qs}, {qs[-1]: "Y", qs[1]: "Z"}]
    rho = cirq_rho(circuit, qs, noise)
    ref = []
    for ps in paulis:
        op = cirq.PauliString({q: {"X": cirq.X, "Y": cirq.Y, "Z": cirq.Z}[p] for q, p in ps.items()})
        ref.append(np.real(np.trace(rho @ op.matrix(qs))) * (1 - 2 * noise.readout) ** len(ps))
    settings = SimSettings(method=method, target_err=1e-9, max_trajectories=300 if method == "qsim" else 3000)
    vals, errs, ideal, info = pauli_expectations(circuit, qs, noise, paulis, settings, rng)
    assert info["method"] == method
    if method == "density_matrix":
        np.testing.assert_allclose(vals, ref, atol=1e-6)
    else:
        # qsim runs in complex64: allow 1e-5 on top of the statistics
        assert np.all(np.abs(vals - ref) <= 5 * errs + 1e-5), (vals, ref, errs)


def test_noiseless_trajectories_are_exact():
    rng = np.random.default_rng(0)
    circuit, qs = random_circuit(5, 5, rng)
    vals, errs, ideal, info = pauli_expectations(
        circuit, qs, NoiseModel(), [{qs[2]: "Z"}], SimSettings(method="trajectories"), rng
    )
    assert info["n_trajectories"] == 0 and errs[0] == 0
    ref = cirq.final_state_vector(circuit, qubit_order=qs, dtype=np.complex128)
    expected = np.real(cirq.Z(qs[2]).expectation_from_state_vector(ref, {q: i for i, q in enumerate(qs)}))
    assert vals[0] == pytest.approx(expected, abs=1e-10)


def test_error_free_weight_and_first_error_distribution():
    """w0 = prod(1 - p); each sampled pattern has >= 1 error; first-error frequencies follow p_l prod_{j<l}(1-p_j)."""
    rng = np.random.default_rng(7)
    circuit, qs = random_circuit(3, 3, rng)
    noise = NoiseModel(p1=0.05, p2=0.2)
    program = tr.compile_program(circuit, qs, noise)
    assert program.w0 == pytest.approx(np.prod(1 - program.rates))
    hit, _ = tr.sample_errors(program, 200_000, rng)
    assert hit.any(axis=1).all()
    first = hit.argmax(axis=1)
    p = program.rates
    expected = p * np.concatenate([[1.0], np.cumprod(1 - p)[:-1]]) / (1 - program.w0)
    freq = np.bincount(first, minlength=p.size) / first.size
    assert np.all(np.abs(freq - expected) <= 5 * np.sqrt(expected * (1 - expected) / first.size) + 1e-12)


def test_qsim_falls_back_to_trajectories_when_absent(monkeypatch):
    import eqvbench.simulation.simulate as simulate

    monkeypatch.setattr(simulate, "qsim_available", lambda: False)
    assert simulate.resolve_method("qsim", 10) == "trajectories"
    assert simulate.resolve_method("auto", 8) == "density_matrix"
    assert simulate.resolve_method("auto", 9) == "trajectories"
