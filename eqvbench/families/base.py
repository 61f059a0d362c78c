"""The interface every experiment family implements, and the data it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import cirq
    import numpy as np
    from pydantic import BaseModel

    from eqvbench.classical.cost import CostSettings
    from eqvbench.circuits.lattice import Lattice
    from eqvbench.circuits.noise import Location, NoiseModel
    from eqvbench.classical.region import RegionSpec
    from eqvbench.simulation.simulate import SimSettings
    from eqvbench.spec import SimulationSpec


@dataclass(frozen=True)
class Instance:
    """One concrete circuit of a point (without measurements).

    A family whose hooks need more than the circuit subclasses it with typed fields
    (:class:`eqvbench.families.observable.ObservableInstance`: the Pauli strings of an observable;
    :class:`eqvbench.families.otoc.OtocInstance`: U, the measurement, ancilla and butterfly qubits).
    """

    circuit: cirq.Circuit
    qubits: tuple[cirq.Qid, ...]
    measured: tuple[cirq.Qid, ...]
    seed: int

    def network(self) -> Any:
        """The quimb network whose contraction gives the measured quantity: the one place a circuit, or an
        effective region's restriction of it, becomes what is costed. Here every qubit is measured: one
        amplitude <0...0|C|0...0> (:func:`eqvbench.classical.networks.amplitude_network`)."""
        from eqvbench.classical.networks import amplitude_network

        return amplitude_network(self.circuit, self.qubits)


def _default_simulation() -> SimulationSpec:
    from eqvbench.spec import SimulationSpec

    return SimulationSpec()


def _default_cost() -> CostSettings:
    from eqvbench.classical.cost import CostSettings

    return CostSettings()


@dataclass(frozen=True)
class PointSettings:
    """A point's run settings, parsed once per point (:func:`eqvbench.pipeline.point_settings`) into typed
    objects and passed to the family hooks that need them (`measure`, `effective_region`).

    `simulation` is the `simulation:` section (attributes: `shots`, `max_qubits`, `method`, ...),
    `cost` the contraction search's settings (seeded for the point), `cost_enabled` its `cost.enabled`,
    `region` the family's `circuit.region` model (None where the family has none).
    """

    simulation: SimulationSpec = field(default_factory=_default_simulation)
    cost: CostSettings = field(default_factory=_default_cost)
    cost_enabled: bool = True
    region: RegionSpec | None = None

    @property
    def engine(self) -> SimSettings:
        """How the noisy simulation runs: method and trajectory budget (:class:`eqvbench.simulation.simulate.SimSettings`)."""
        from eqvbench.simulation.simulate import SimSettings

        s = self.simulation
        return SimSettings(s.method, s.target_err, s.max_trajectories, s.batch)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], family: Family | None = None, cost_seed: int = 0) -> PointSettings:
        """Parse a point's sections (`values`, as in :class:`eqvbench.spec.Point`; a missing section or key
        takes its default): `simulation`, `cost` (its search seeded with `cost_seed`) and, where `family`'s
        circuit section has a `region` field, `circuit.region` as that field's model."""
        from pydantic import TypeAdapter

        from eqvbench.classical.cost import CostSettings
        from eqvbench.spec import CostSpec, SimulationSpec

        simulation = SimulationSpec.model_validate(values.get("simulation") or {})
        cost = values.get("cost") or CostSpec().model_dump()
        region = None
        spec_field = family.circuit_spec.model_fields.get("region") if family is not None else None
        if spec_field is not None:
            section = (values.get("circuit") or {}).get("region")
            region = (
                spec_field.default if section is None else TypeAdapter(spec_field.annotation).validate_python(section)
            )
        return cls(simulation, CostSettings.from_section(cost, seed=cost_seed), cost["enabled"], region)


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
    # classical methods the family ran besides contraction and the region (eqvbench.classical.methods.MethodResult),
    # e.g. Pauli propagation of the whole cone
    methods: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class ResultField:
    """A field a family adds to its points' JSON: declared once, the table (`header`), the
    document's `definitions` (`meaning`, `unit`), `checks:` metrics and `--columns` (numeric
    ones) and the spec's `report.columns` follow from it."""

    name: str
    meaning: str
    unit: str = ""  # '' dimensionless
    header: str | None = None  # a default table column with this header, in declaration order
    numeric: bool = True  # a number (or null): usable in `checks:` and `--columns`
    # the column's priority when a narrow table leaves columns out (eqvbench.output.report.Column):
    # None the family default; HEADLINE the family's own result, left out last
    priority: int | None = None
    # the classical method (eqvbench.classical.methods.METHODS) whose result this is: its table column is
    # left out where the method applies to no point (the region's columns of an XEB-only circuit)
    method: str | None = None


HEADLINE = 1  # ResultField.priority of a family's own result: the last column a narrow table leaves out


class Family:
    """An experiment family: what it builds, what it measures, what it costs.

    Subclasses set `name`, `lattice_spec`, `circuit_spec` and `result_fields` and implement the
    hooks that raise NotImplementedError; the others have defaults. Checklist: CONTRIBUTING.md.
    """

    name: str
    lattice_spec: Any  # pydantic type of the `lattice:` section
    circuit_spec: type[BaseModel]  # pydantic model of the `circuit:` section
    result_fields: tuple[ResultField, ...] = ()
    # per classical method of eqvbench.classical.methods the family does not run: why (shown in `methods`)
    not_applicable: dict[str, str] = {}
    # the swept parameter plots use as depth (x axis), e.g. 'circuit.cycles'
    depth_param: str | None = None
    circuit_required: bool = False  # the `circuit:` section has no usable default (e.g. a file name)

    def complete_point(self, values: dict[str, Any]) -> dict[str, Any]:
        """A point's values with what the family derives from them filled in (default: as given)."""
        return values

    def default_lattice(self) -> BaseModel:
        raise NotImplementedError

    def n_instances(self, circuit: dict[str, Any]) -> int:
        """Circuit instances per point (random circuits: several)."""
        return 1

    def check_point(self, lattice: Lattice, values: dict[str, Any]) -> list[tuple[str, str]]:
        """Problems a point has on its lattice, as (field, message); empty when fine."""
        return []

    def build(self, lattice: Lattice, circuit: dict[str, Any], seed: int) -> Instance:
        raise NotImplementedError

    def light_cone(self, instance: Instance) -> LightCone:
        raise NotImplementedError

    def measure(
        self, instances: list[Instance], noise: NoiseModel, settings: PointSettings, rng: np.random.Generator
    ) -> Measurement:
        """f_eff and the family's fields from the noisy simulation of `instances` (`settings.simulation`:
        shots, method; `settings.engine`: the engine's settings)."""
        raise NotImplementedError

    def effective_region(
        self,
        instance: Instance,
        settings: PointSettings,
        f_eff: float | None,
        noise: NoiseModel,
        rng: np.random.Generator,
    ) -> Region | None:
        """The effective region, or None when it is the whole circuit (e.g. RCS: all qubits measured)."""
        return None

    def samples(self, instance: Instance) -> bool:
        """Whether the device's task is sampling bitstrings of every qubit (XEB): then the classical side is
        `device.shots` bitstrings at fidelity f (:mod:`eqvbench.classical.sampling`), not one amplitude."""
        return False

    def cost_network(self, instance: Instance) -> Any:
        """A quimb TensorNetwork whose full contraction gives the measured quantity (default: the instance
        record's own, :meth:`Instance.network`, which the effective region's balls use too)."""
        return instance.network()

    def structure_key(self, values: dict[str, Any]) -> dict[str, Any]:
        """The parts of a point that fix its circuits' structure.

        Circuit instances are seeded from it (so sweeping noise reuses the same
        circuits) and the cost, which depends on structure only, is cached by it.
        """
        raise NotImplementedError

    def cost_key(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """What the costed network depends on when more than `structure_key` (OTOC: the butterfly's
        cone); costs are cached by it. None: by `structure_key`."""
        return None

    def summary(self, points: list[dict[str, Any]]) -> dict[str, Any] | None:
        """A fit across all points of a run (points as JSON dicts), or None; its `lines` are printed
        under the table and the dict goes into the JSON document as "summary" (OTOC: v_B)."""
        return None

    def table_columns(self) -> list[tuple[str, str]]:
        """(header, field) columns this family adds to the table: its fields with a header."""
        return [(f.header, f.name) for f in self.result_fields if f.header]

    def field_names(self, numeric_only: bool = False) -> list[str]:
        """Names of the fields this family adds (the numeric ones only, if asked)."""
        return [f.name for f in self.result_fields if f.numeric or not numeric_only]


# Field declarations shared by families (each family lists its own in `result_fields`).
F = ResultField
SIM_FIELDS = (
    F("shots", "readouts per point the noisy value's shot noise assumes (simulation.shots)"),
    F("n_trajectories", "Pauli trajectories the noisy simulation sampled (0: density matrix)"),
)
XEB_FIELDS = (
    F("xeb_exact", "linear XEB of the noisy output distribution (the fidelity estimate f_eff for RCS)"),
    F("xeb_exact_err", "standard error of xeb_exact (trajectory sampling)"),
    F("xeb_sampled", "linear XEB of simulation.shots bitstrings sampled from the noisy distribution"),
    F("xeb_sampled_err", "standard error of xeb_sampled"),
    F("estimator", "which XEB sets f_eff: 'exact' or 'sampled' (simulation.estimator)", numeric=False),
)


SAMPLING_FIELDS = (
    F(
        "task_flops",
        "classical cost of the device's sampling task: device.shots bitstrings at fidelity f "
        "(the cheaper of per-sample and batched; docs/sampling.md)",
        unit="FLOP",
    ),
    F("task_seconds", "task_flops on report.machine", unit="s"),
    F(
        "task_method",
        "how the task is costed: 'per_sample' (frugal rejection) or 'batched' (k open qubits)",
        numeric=False,
    ),
    F(
        "task_batch_qubits",
        "k: output qubits left open per contraction of the chosen way (0: one amplitude)",
        unit="qubits",
    ),
    F(
        "sampling_task",
        "the task's costing: both ways (per_sample, batched), their factors and trees, the k scanned",
        numeric=False,
    ),
    F(
        "xeb_contrast",
        "D sum p_ideal^2 - 1 of the ideal output (1 for Porter-Thomas, 0 for uniform): where it is "
        "small linear XEB is no fidelity and f_eff is null",
    ),
)


def observable_fields(ideal_header: str = "<O> ideal", noisy_header: str = "<O> noisy") -> tuple[ResultField, ...]:
    """A Pauli observable's values (floquet_ising, circuit)."""
    return (
        F("o_ideal", "<O> of the ideal circuit (mean of the Pauli terms, or their weighted sum)", header=ideal_header),
        F(
            "o_noisy",
            "<O> of the noisy circuit as read, readout error included",
            header=noisy_header,
            priority=HEADLINE,
        ),
        F("o_noisy_err", "uncertainty of o_noisy: trajectory error and shot noise combined"),
        F("o_mitigated", "o_noisy with each Pauli string's readout factor prod (1 - 2 r_q) divided out"),
        F("o_mitigated_err", "uncertainty of o_mitigated"),
    )


BUTTERFLY_FIELDS = (
    F("v_butterfly", "sum over two-qubit gates of the error sensitivity s_g", unit="two-qubit gates"),
    F("f_butterfly", "first-order fidelity prediction prod (1 - p_g s_g)"),
    F("butterfly_map", "s_g per gate, with its moment and qubits", numeric=False),
)


def reproduction_columns(value_header: str = "<O> classical", seconds: bool = False) -> tuple[ResultField, ...]:
    """The classical reproduction's columns of an observable family's table."""
    out = (
        F(
            "reproduced_value",
            "the value a classical computer reproduces (certified region, else whole cone)",
            header=value_header,
        ),
        F("reproduced_err", "uncertainty of reproduced_value", header="+-"),
    )
    if seconds:
        out += (
            F("reproduced_seconds", "measured seconds of the reproduction on this machine", unit="s", header="repro s"),
        )
    return out


REGION_COLUMNS = (
    F("a_eff", "qubits of the certified effective region", unit="qubits", header="A_eff", method="region"),
    F(
        "region_gates_2q",
        "two-qubit gates in the region's light cone",
        unit="two-qubit gates",
        header="region 2q",
        method="region",
    ),
    F(
        "cost_eff_flops",
        "contraction cost of the certified region's network",
        unit="FLOP",
        header="cost_eff",
        method="region",
    ),
)
