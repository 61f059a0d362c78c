"""XEB fidelity: known limits, cirq cross-check, and the digital error model."""

import math

import cirq
import numpy as np
import pytest

from eqvbench.families.base import PointSettings
from eqvbench.simulation.fidelity import sample_bitstrings, xeb_exact, xeb_sampled
from eqvbench.families.rcs import FAMILY
from eqvbench.circuits.lattice import build_lattice
from eqvbench.circuits.noise import NoiseModel

from eqvbench.spec import SimulationSpec


def sim(**kw):
    """The settings a point's hooks get: the `simulation:` section (exact density matrix unless told otherwise)."""
    return PointSettings(simulation=SimulationSpec(**{"method": "density_matrix", "max_qubits": 12, "shots": 0, **kw}))


SIM = sim()


def instances(rows, cols, cycles, n, gate="syc", pattern="ABCDCDAB", seed=0):
    lat = build_lattice({"kind": "grid", "rows": rows, "cols": cols})
    params = {"cycles": cycles, "pattern": pattern, "gate": gate, "instances": n}
    return [FAMILY.build(lat, params, seed + i) for i in range(n)]


@pytest.mark.parametrize(
    "gate,pattern", [("syc", "ABCDCDAB"), ("sqrt_iswap", "EFGH"), ("cz", "ABCD"), ("iswap", "ABCD")]
)
def test_noiseless_xeb_is_one(gate, pattern):
    # p_noisy comes from the density-matrix engine with zero noise, p_ideal from the state vector
    insts = instances(2, 3, 6, 2, gate=gate, pattern=pattern)
    m = FAMILY.measure(insts, NoiseModel(), SIM, np.random.default_rng(0))
    assert m.f_eff == pytest.approx(1.0, abs=1e-6)


def test_uniform_distribution_has_zero_xeb():
    p = np.random.default_rng(1).dirichlet(np.ones(64))
    assert xeb_exact(p, np.full(64, 1 / 64)) == pytest.approx(0.0, abs=1e-12)


def test_f_eff_matches_cirq_density_matrix_6q_6cycles():
    """Independent computation: cirq's density-matrix simulator on the cirq noise channels."""
    noise = NoiseModel(p1=0.005, p2=0.02, readout=0.01, idle=0.002)
    insts = instances(2, 3, 6, 2, seed=11)
    ours = FAMILY.measure(insts, noise, SIM, np.random.default_rng(0)).f_eff
    ref = []
    for inst in insts:
        p_ideal = np.abs(cirq.final_state_vector(inst.circuit, qubit_order=inst.qubits, dtype=np.complex128)) ** 2
        noisy = noise.to_cirq(inst.circuit, inst.qubits, measured=inst.qubits)
        rho = (
            cirq.DensityMatrixSimulator(dtype=np.complex128)
            .simulate(noisy, qubit_order=inst.qubits)
            .final_density_matrix
        )
        ref.append(xeb_exact(p_ideal, np.real(np.diag(rho))))
    # the issue asks for 0.01; both are exact computations, so they agree to rounding
    assert ours == pytest.approx(np.mean(ref), abs=1e-6)
    assert 0.2 < ours < 0.9  # and noise did act


@pytest.mark.slow
def test_f_eff_follows_digital_model_and_falls_with_cycles():
    """f_eff ~ f_model = prod(1 - p) on a scrambling 3x3 grid.

    Tolerance: 15% relative. The digital model ignores errors that do not
    decorrelate the output (e.g. Z errors just before measurement) and finite
    size (D = 512) Porter-Thomas corrections; both make f_eff slightly larger
    than f_model, by a few percent at these depths.
    """
    insts12 = instances(3, 3, 12, 3, seed=5)
    for p2 in (0.005, 0.01, 0.02):
        noise = NoiseModel(p1=p2 / 10, p2=p2)
        f_eff = FAMILY.measure(insts12, noise, SIM, np.random.default_rng(0)).f_eff
        f_model = noise.f_model(insts12[0].circuit, insts12[0].qubits, insts12[0].qubits)
        assert f_eff == pytest.approx(f_model, rel=0.15), (p2, f_eff, f_model)
    noise = NoiseModel(p1=0.002, p2=0.01, readout=0.01)
    f = [
        FAMILY.measure(instances(3, 3, c, 3, seed=5), noise, SIM, np.random.default_rng(0)).f_eff
        for c in (4, 8, 12, 16)
    ]
    assert all(a > b for a, b in zip(f, f[1:])), f


def test_sampled_xeb_statistics():
    """Sampling the ideal distribution gives F ~ 1, the uniform one F ~ 0, within 4 standard errors."""
    rng = np.random.default_rng(3)
    inst = instances(3, 3, 12, 1, seed=2)[0]
    p = np.abs(cirq.final_state_vector(inst.circuit, qubit_order=inst.qubits, dtype=np.complex128)) ** 2
    est = xeb_sampled(p, sample_bitstrings(p, 20000, rng))
    assert est.stderr == pytest.approx(1 / math.sqrt(20000), rel=0.3)  # Porter-Thomas: std(D p) ~ 1
    assert abs(est.value - 1.0) < 4 * est.stderr
    uni = xeb_sampled(p, rng.integers(0, p.size, 20000))
    assert abs(uni.value) < 4 * uni.stderr


@pytest.mark.parametrize("cycles", [2, 4, 10])
def test_sampled_xeb_agrees_with_exact(cycles):
    """Shallow circuits are far from Porter-Thomas: the sampled estimate must still
    estimate the exact XEB (within 4 standard errors, 20000 shots)."""
    inst = instances(3, 3, cycles, 1, seed=4)[0]
    noise = NoiseModel(p1=0.002, p2=0.01, readout=0.02)
    m = FAMILY.measure([inst], noise, sim(shots=20000), np.random.default_rng(9))
    assert abs(m.fields["xeb_sampled"] - m.fields["xeb_exact"]) < 4 * m.fields["xeb_sampled_err"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "method",
    ["trajectories"]
    + (["qsim"] if __import__("eqvbench.simulation.simulate", fromlist=["x"]).qsim_available() else []),
)
def test_trajectory_xeb_matches_density_matrix(method):
    """XEB from trajectories (error-free branch exact, errors sampled) against the exact
    density matrix: within 5 standard errors, and the requested error is met."""
    insts = instances(3, 3, 10, 2, seed=21)
    noise = NoiseModel(p1=0.002, p2=0.01, readout=0.02, idle=0.001)
    exact = FAMILY.measure(insts, noise, SIM, np.random.default_rng(0))
    m = FAMILY.measure(
        insts, noise, sim(method=method, target_err=0.003, shots=3000, max_trajectories=3000), np.random.default_rng(1)
    )
    assert m.fields["sim_method"] == method
    assert abs(m.f_eff - exact.f_eff) <= 5 * m.fields["xeb_exact_err"] + 1e-4
    assert abs(m.fields["xeb_sampled"] - exact.f_eff) <= 5 * m.fields["xeb_sampled_err"]
    # per circuit, sampling stops once the requested standard error is reached
    from eqvbench.simulation.fidelity import xeb_exact, xeb_of_circuit
    from eqvbench.simulation.simulate import SimSettings, noisy_probabilities, state_vector

    one = xeb_of_circuit(
        insts[0].circuit, insts[0].qubits, noise, SimSettings(method, 0.003, 20000), 0, np.random.default_rng(2)
    )
    if method == "trajectories":
        assert one.exact.stderr <= 0.003 and one.n_trajectories >= 32
    p_ideal = np.abs(state_vector(insts[0].circuit, insts[0].qubits)) ** 2
    ref = xeb_exact(p_ideal, noisy_probabilities(insts[0].circuit, insts[0].qubits, noise))
    assert abs(one.exact.value - ref) <= 5 * one.exact.stderr + 1e-4
