"""The simulation engine against cirq's simulators (exact methods: agreement to 1e-8)."""

import cirq
import numpy as np
import pytest

from eqvbench.families.rcs import FAMILY
from eqvbench.circuits.lattice import build_lattice
from eqvbench.circuits.noise import NoiseModel
from eqvbench.simulation.simulate import apply_readout_error, density_matrix, noisy_probabilities, state_vector


def rcs_instance(rows, cols, cycles, gate="syc", pattern="ABCDCDAB", seed=1):
    lat = build_lattice({"kind": "grid", "rows": rows, "cols": cols})
    return FAMILY.build(lat, {"cycles": cycles, "pattern": pattern, "gate": gate, "instances": 1}, seed)


@pytest.mark.parametrize("gate", ["syc", "sqrt_iswap", "iswap", "cz"])
def test_state_vector_matches_cirq(gate):
    inst = rcs_instance(2, 3, 5, gate=gate)
    ours = state_vector(inst.circuit, inst.qubits)
    ref = cirq.Simulator(dtype=np.complex128).simulate(inst.circuit, qubit_order=inst.qubits).final_state_vector
    np.testing.assert_allclose(ours, ref, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_density_matrix_matches_cirq(seed):
    rng = np.random.default_rng(seed)
    noise = NoiseModel(p1=rng.uniform(0, 0.05), p2=rng.uniform(0, 0.1), readout=0.0, idle=rng.uniform(0, 0.02))
    inst = rcs_instance(2, 2 + seed % 2, 4, seed=seed)
    ours = density_matrix(inst.circuit, inst.qubits, noise).reshape(2 ** len(inst.qubits), -1)
    noisy = noise.to_cirq(inst.circuit, inst.qubits)
    ref = cirq.DensityMatrixSimulator(dtype=np.complex128).simulate(noisy, qubit_order=inst.qubits).final_density_matrix
    np.testing.assert_allclose(ours, ref, atol=1e-8)


def test_readout_error_matches_cirq_bit_flip():
    noise = NoiseModel(p1=0.01, p2=0.02, readout=0.07)
    inst = rcs_instance(2, 2, 3)
    ours = noisy_probabilities(inst.circuit, inst.qubits, noise)
    noisy = noise.to_cirq(inst.circuit, inst.qubits, measured=inst.qubits)
    rho = cirq.DensityMatrixSimulator(dtype=np.complex128).simulate(noisy, qubit_order=inst.qubits).final_density_matrix
    np.testing.assert_allclose(ours, np.real(np.diag(rho)), atol=1e-8)


def test_full_depolarizing_gives_maximally_mixed_qubit():
    # p = 3/4 on one qubit is the completely depolarizing channel: rho -> I/2 (worked by hand)
    q = cirq.LineQubit.range(1)
    rho = density_matrix(cirq.Circuit(cirq.H(q[0])), q, NoiseModel(p1=0.75)).reshape(2, 2)
    np.testing.assert_allclose(rho, np.eye(2) / 2, atol=1e-12)


def test_readout_flip_by_hand():
    # P(0)=1 on two bits, flip prob r: P(00)=(1-r)^2, P(01)=P(10)=r(1-r), P(11)=r^2
    r = 0.1
    p = apply_readout_error(np.array([1.0, 0, 0, 0]), 2, r)
    np.testing.assert_allclose(p, [(1 - r) ** 2, r * (1 - r), r * (1 - r), r**2])
