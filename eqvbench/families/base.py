"""The interface every experiment family implements, and the data it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import cirq
    import numpy as np
    from pydantic import BaseModel

    from eqvbench.lattice import Lattice
    from eqvbench.noise import Location, NoiseModel


@dataclass(frozen=True)
class Instance:
    """One concrete circuit of a point (without measurements)."""

    circuit: cirq.Circuit
    qubits: tuple[cirq.Qid, ...]
    measured: tuple[cirq.Qid, ...]
    seed: int
    data: dict[str, Any] = field(default_factory=dict)  # family-specific extras


@dataclass(frozen=True)
class LightCone:
    """The part of a circuit that can influence the measured quantity.

    `locations` are the error locations inside the cone (None: the whole circuit).
    `term_locations`: for a sum of Pauli strings, each term's own locations; the
    digital model is then the mean of the terms' models. `readout_is_volume`:
    whether readout error counts in f_model and eps (RCS: yes; observables: no,
    readout attenuates a Pauli string by exactly (1 - 2r)^w and is divided out).
    """

    v_light: int  # two-qubit gates in the cone
    qubits: tuple[cirq.Qid, ...]
    locations: frozenset[Location] | None = None
    term_locations: tuple[frozenset[Location], ...] | None = None
    readout_is_volume: bool = True


@dataclass(frozen=True)
class Measurement:
    """Effective fidelity from noisy simulation, plus family-specific fields."""

    f_eff: float | None
    f_eff_err: float | None
    fields: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Region:
    """Effective region: the smallest part of the circuit that reproduces the measured value
    within the experiment's error bar (docs/physics.md, "Effective region"). `network` is what gets costed."""

    a_eff: int | None  # qubits
    n_gates_2q: int | None  # two-qubit gates in the region's light cone
    network: Any  # quimb TensorNetwork, or None
    fields: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # the region's network is the point's whole cost network (costed once); None: the pipeline
    # decides by n_gates_2q == v_light
    whole: bool | None = None
    # classical methods the family ran besides contraction and the region (eqvbench.methods.MethodResult),
    # e.g. Pauli propagation of the whole cone
    methods: list[Any] = field(default_factory=list)


class Family(Protocol):
    """An experiment family: what it builds, what it measures, what it costs."""

    name: str
    lattice_spec: Any  # pydantic type of the `lattice:` section
    circuit_spec: type[BaseModel]  # pydantic model of the `circuit:` section

    def default_lattice(self) -> BaseModel: ...

    def n_instances(self, circuit: dict[str, Any]) -> int: ...

    def check_point(self, lattice: Lattice, values: dict[str, Any]) -> list[tuple[str, str]]:
        """Problems a point has on its lattice, as (field, message); empty when fine."""
        ...

    def build(self, lattice: Lattice, circuit: dict[str, Any], seed: int) -> Instance: ...

    def light_cone(self, instance: Instance) -> LightCone: ...

    def measure(
        self, instances: list[Instance], noise: NoiseModel, simulation: dict[str, Any], rng: np.random.Generator
    ) -> Measurement: ...

    def effective_region(
        self, instance: Instance, values: dict[str, Any], f_eff: float | None, noise: NoiseModel, rng: np.random.Generator
    ) -> Region | None:
        """The effective region, or None when it is the whole circuit (e.g. RCS: all qubits measured)."""
        ...

    def cost_network(self, instance: Instance) -> Any:
        """A quimb TensorNetwork whose full contraction gives the measured quantity."""
        ...

    def structure_key(self, values: dict[str, Any]) -> dict[str, Any]:
        """The parts of a point that fix its circuits' structure.

        Circuit instances are seeded from it (so sweeping noise reuses the same
        circuits) and the cost, which depends on structure only, is cached by it.
        """
        ...

    def table_columns(self) -> list[tuple[str, str]]:
        """Extra (field, header) columns this family adds to the table."""
        ...

    # Optional: `summary(points) -> dict` fits something across all points of a run
    # (points as JSON dicts); its `lines` are printed under the table and the dict
    # goes into the JSON document as "summary". The OTOC family fits v_B with it.
    # Optional: `not_applicable: dict[str, str]` says, per classical method of eqvbench.methods the
    # family does not run, why (shown in the point's `methods` list).
    # Optional: `cost_key(values) -> dict` when the costed network depends on more than
    # structure_key (OTOC: the butterfly's cone); costs are cached by it instead.
