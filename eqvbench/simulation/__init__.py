"""Noisy simulation: state vectors and density matrices, Pauli trajectories and their numba kernels, XEB fidelity."""
