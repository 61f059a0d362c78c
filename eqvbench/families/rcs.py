"""Random circuit sampling (RCS): Sycamore-style random circuits, measured by XEB."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from eqvbench.classical.networks import amplitude_network  # noqa: F401  (re-exported from where it was first defined)
from eqvbench.families.base import (
    SAMPLING_FIELDS,
    SIM_FIELDS,
    XEB_FIELDS,
    Family,
    Instance,
    LightCone,
    Measurement,
    PointSettings,
)
from eqvbench.spec import GridLattice, LatticeSpec, Section, Sweep, gate_name

PATTERNS = ("ABCDCDAB", "ABCD", "EFGH")
GATES = ("syc", "sqrt_iswap", "iswap", "cz")


class RCSCircuit(Section):
    """`circuit:` section of an RCS spec."""

    cycles: Sweep(Annotated[int, Field(ge=1, le=1000)]) = [8]
    pattern: Sweep(Literal[PATTERNS]) = ["ABCDCDAB"]
    gate: Sweep(Annotated[Literal[GATES], gate_name("syc")]) = ["syc"]  # fsim and sycamore: the same gate
    instances: Annotated[int, Field(ge=1, le=1000)] = 3


def two_qubit_gate(name: str):
    """The cirq gate for a spec name: syc = fSim(theta=pi/2, phi=pi/6)."""
    import cirq
    import numpy as np

    return {
        "syc": cirq.FSimGate(theta=np.pi / 2, phi=np.pi / 6),
        "sqrt_iswap": cirq.SQRT_ISWAP,
        "iswap": cirq.ISWAP,
        "cz": cirq.CZ,
    }[name]


def interaction_pattern(name: str):
    from cirq.experiments import GRID_ALIGNED_PATTERN, GRID_STAGGERED_PATTERN

    return {
        "ABCDCDAB": GRID_STAGGERED_PATTERN,
        "ABCD": GRID_STAGGERED_PATTERN[:4],
        "EFGH": GRID_ALIGNED_PATTERN,
    }[name]


# Linear XEB is read as a fidelity only where the ideal output is far from uniform: its denominator
# D sum p^2 - 1 (1 for Porter-Thomas) at least this. Below it an error-free and a fully depolarised run
# differ in D sum p_ideal p by under a tenth of what they do for a Porter-Thomas output, and the sampled
# estimate's standard error, 1 / sqrt(shots (D sum p^2 - 1)) for a near-uniform output, is over 3x the
# Porter-Thomas one at equal shots (docs/physics.md, "XEB as a fidelity").
XEB_MIN_CONTRAST = 0.1


class RCSFamily(Family):
    name = "rcs"
    result_fields = XEB_FIELDS + SIM_FIELDS + SAMPLING_FIELDS
    depth_param = "circuit.cycles"
    not_applicable = {
        "region": "every qubit is measured: the region is the whole circuit (the contraction)",
        "pauli_propagation": "XEB needs amplitudes of sampled bitstrings, not the expectation of a few Pauli strings",
        "belief_propagation": "XEB needs amplitudes of sampled bitstrings, not the expectation of a few Pauli strings",
    }
    lattice_spec = LatticeSpec
    circuit_spec = RCSCircuit

    def default_lattice(self):
        return GridLattice()

    def n_instances(self, circuit: dict[str, Any]) -> int:
        return circuit["instances"]

    def check_point(self, lattice, values: dict[str, Any]) -> list[tuple[str, str]]:
        return []

    def build(self, lattice, circuit: dict[str, Any], seed: int) -> Instance:
        from cirq.experiments import random_rotations_between_grid_interaction_layers_circuit

        gate = two_qubit_gate(circuit["gate"])
        c = random_rotations_between_grid_interaction_layers_circuit(
            lattice.qubits,
            depth=circuit["cycles"],
            two_qubit_op_factory=lambda a, b, _: gate(a, b),
            pattern=interaction_pattern(circuit["pattern"]),
            seed=seed,
        )
        return Instance(circuit=c, qubits=lattice.qubits, measured=lattice.qubits, seed=seed)

    def samples(self, instance: Instance) -> bool:
        return True

    def light_cone(self, instance: Instance) -> LightCone:
        # all qubits are measured: every gate is in the backward light cone
        n2 = sum(1 for op in instance.circuit.all_operations() if len(op.qubits) == 2)
        return LightCone(v_light=n2, qubits=instance.qubits, locations=None)

    def measure(self, instances, noise, settings: PointSettings, rng) -> Measurement:
        from eqvbench.simulation.fidelity import mean_estimate, xeb_of_circuit

        simulation = settings.simulation
        shots = simulation.shots
        results = [xeb_of_circuit(i.circuit, i.qubits, noise, settings.engine, shots, rng) for i in instances]
        contrast = min(r.contrast for r in results if r.contrast is not None)
        if contrast < XEB_MIN_CONTRAST:
            return self._no_fidelity(results, contrast, shots, simulation)
        f_exact = mean_estimate([r.exact for r in results])
        sampled = [r.sampled for r in results if r.sampled is not None]
        f_sampled = mean_estimate(sampled) if sampled else None
        fields = {
            "xeb_exact": f_exact.value,
            "xeb_exact_err": f_exact.stderr,
            "xeb_sampled": f_sampled.value if f_sampled else None,
            "xeb_sampled_err": f_sampled.stderr if f_sampled else None,
            "shots": shots,
            "estimator": simulation.estimator,
            "sim_method": results[0].method,
            "n_trajectories": sum(r.n_trajectories for r in results),
            "xeb_contrast": contrast,
        }
        chosen = f_sampled if simulation.estimator == "sampled" and f_sampled else f_exact
        notes = []
        if simulation.method == "qsim" and results[0].method != "qsim":
            notes.append("qsimcirq is not installed: simulated with eqvbench's trajectories instead")
        return Measurement(f_eff=chosen.value, f_eff_err=chosen.stderr, fields=fields, notes=notes)

    @staticmethod
    def _no_fidelity(results, contrast: float, shots: int, simulation) -> Measurement:
        """The measurement of a circuit whose ideal output is (nearly) uniform: linear XEB is no fidelity."""
        fields = {
            "xeb_exact": None,
            "xeb_exact_err": None,
            "xeb_sampled": None,
            "xeb_sampled_err": None,
            "shots": shots,
            "estimator": simulation.estimator,
            "sim_method": results[0].method,
            "n_trajectories": sum(r.n_trajectories for r in results),
            "xeb_contrast": contrast,
        }
        note = (
            f"the ideal output is nearly uniform (D sum p^2 - 1 = {contrast:.3g}, under {XEB_MIN_CONTRAST:g}; "
            "Porter-Thomas gives 1): linear XEB is no fidelity here, so f_eff is null and the table uses f_model"
        )
        return Measurement(f_eff=None, f_eff_err=None, fields=fields, notes=[note])

    def effective_region(self, instance, settings, f_eff, noise, rng):
        return None  # every qubit is measured: the whole circuit matters

    def structure_key(self, values: dict[str, Any]) -> dict[str, Any]:
        # the random single-qubit gates do not change the network's structure
        c = values["circuit"]
        return {"lattice": values["lattice"], "cycles": c["cycles"], "pattern": c["pattern"], "gate": c["gate"]}


FAMILY = RCSFamily()
