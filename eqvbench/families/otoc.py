"""OTOC (information scrambling), as in Mi et al., Science 374, 1479 (2021).

U: cycles of random pi/2 rotations about one of eight XY-plane axes on every
system qubit, then two-qubit gates on one of the lattice's coupler layers.
The measured quantity is C = Re <psi| B(t)^dag M B(t) M |psi> with
B(t) = U^dag B U, M = Z on the measurement qubit Q_m and |psi> = |+> on Q_m,
|0> elsewhere. On hardware it is read from an ancilla next to Q_m:

    ancilla |+/->, Q_m |+>;  CZ(a, m);  U;  B on Q_b;  U^dag;  CZ(a, m);  ancilla RY(-/+ pi/2); measure

which leaves <X_a> = +/-C; the four prep/readout variants give
C = (p0 - p1 - p2 + p3) / 2 from the ancilla's excitation probabilities
(p0: |+>, RY(+pi/2); p1: |+>, RY(-pi/2); p2: |->, RY(+pi/2); p3: |->, RY(-pi/2)).
The same run with B = I decays by noise alone; dividing by it normalises.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Field, model_validator

from eqvbench.families.base import (
    HEADLINE,
    BUTTERFLY_FIELDS,
    REGION_COLUMNS,
    SIM_FIELDS,
    Family,
    Instance,
    LightCone,
    Measurement,
    PointSettings,
    Region,
    ResultField,
    reproduction_columns,
)
from eqvbench.families.observable import error_sensitivities, first_order
from eqvbench.circuits.lattice import Lattice, qubit_label, qubit_of
from eqvbench.classical.region import BallValue, RegionSpec, contract_within_budget, grow_region
from eqvbench.spec import GridLattice, LineLattice, RingLattice, Section, SycamoreLattice, Sweep, gate_name

if TYPE_CHECKING:
    import cirq

GATES = ("sqrt_iswap", "fsim", "cz")
OPERATORS = ("I", "X", "Y", "Z")
_POS = re.compile(r"^\s*\(?\s*(\d+)\s*,\s*(\d+)\s*\)?\s*$")


def _check_ref(value: Any) -> Any:
    """A qubit reference: its index in the lattice's qubit order, or 'row,col' on grids."""
    if isinstance(value, bool):
        raise ValueError("expected a qubit: an index (e.g. 5) or 'row,col' (e.g. '1,2')")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"qubit index must be >= 0, got {value}")
        return value
    if isinstance(value, str) and _POS.match(value):
        r, c = _POS.match(value).groups()
        return f"{int(r)},{int(c)}"
    raise ValueError(f"expected a qubit: an index (e.g. 5) or 'row,col' (e.g. '1,2'), got {value!r}")


QubitRef = Annotated[Union[int, str], BeforeValidator(_check_ref)]


def _check_butterfly(value: Any) -> Any:
    if value == "distance":
        return value
    if isinstance(value, list):
        if not value:
            raise ValueError("empty list of butterfly qubits")
        return [_check_ref(v) for v in value]
    return _check_ref(value)


ButterflyRef = Annotated[Union[str, int, list[Union[int, str]]], BeforeValidator(_check_butterfly)]

OTOCLatticeSpec = Annotated[Union[GridLattice, SycamoreLattice, LineLattice, RingLattice], Field(discriminator="kind")]


class OTOCCircuit(Section):
    """`circuit:` section of an otoc spec."""

    cycles: Sweep(Annotated[int, Field(ge=1, le=200)]) = [4]
    gate: Sweep(Annotated[Literal[GATES], gate_name("fsim")]) = ["sqrt_iswap"]  # syc and sycamore: fsim
    operator: Sweep(Literal[OPERATORS]) = ["X"]
    measurement_qubit: QubitRef = 0
    ancilla: QubitRef | None = None  # default: a free neighbour of the measurement qubit
    # 'distance': the qubit at butterfly_distance hops from Q_m; else a qubit or a list of qubits
    butterfly: Sweep(ButterflyRef) = ["distance"]
    butterfly_distance: Sweep(Annotated[int, Field(ge=1, le=100)]) = [2]
    instances: Annotated[int, Field(ge=1, le=100)] = 2
    butterfly_map: bool = True  # per-gate error sensitivity (v_butterfly); costs one state vector per gate and Pauli
    region: RegionSpec = RegionSpec()

    @model_validator(mode="after")
    def _one_butterfly_choice(self):
        if self.butterfly != ["distance"] and "butterfly_distance" in self.model_fields_set:
            raise ValueError("give either butterfly (qubits) or butterfly_distance, not both")
        return self


# --------------------------------------------------------------------------- qubits


def distances_from(lattice, q) -> dict:
    """Coupler hops from q to every reachable qubit."""
    nb = lattice.neighbours()
    dist = {q: 0}
    front = [q]
    while front:
        nxt = []
        for a in front:
            for b in nb[a]:
                if b not in dist:
                    dist[b] = dist[a] + 1
                    nxt.append(b)
        front = nxt
    return dist


def resolve_qubits(lattice, circuit: dict[str, Any]):
    """(Q_m, ancilla, butterfly qubits) of a point; ValueError('field: message') when impossible."""
    qm = qubit_of(lattice, circuit["measurement_qubit"])
    if qm is None:
        raise ValueError(f"circuit.measurement_qubit: {circuit['measurement_qubit']!r} is not a qubit of the lattice")
    nb = lattice.neighbours()
    b = circuit["butterfly"]
    if b == "distance":
        qbs = None
    else:
        refs = b if isinstance(b, list) else [b]
        qbs = []
        for ref in refs:
            q = qubit_of(lattice, ref)
            if q is None:
                raise ValueError(f"circuit.butterfly: {ref!r} is not a qubit of the lattice")
            if q == qm:
                raise ValueError(f"circuit.butterfly: {ref!r} is the measurement qubit")
            qbs.append(q)
        if len(set(qbs)) != len(qbs):
            raise ValueError("circuit.butterfly: a qubit is named twice")
    if circuit["ancilla"] is not None:
        qa = qubit_of(lattice, circuit["ancilla"])
        if qa is None:
            raise ValueError(f"circuit.ancilla: {circuit['ancilla']!r} is not a qubit of the lattice")
        if qa not in nb[qm]:
            raise ValueError(f"circuit.ancilla: {circuit['ancilla']!r} is not a neighbour of the measurement qubit")
        if qbs is not None and qa in qbs:
            raise ValueError(f"circuit.ancilla: {circuit['ancilla']!r} is also a butterfly qubit")
    else:
        taken = set(qbs or ())
        free = [q for q in nb[qm] if q not in taken]
        if not free:
            raise ValueError(
                "circuit.ancilla: the measurement qubit has no free neighbour for the ancilla "
                "(all its neighbours are butterfly qubits)"
            )
        # the least connected free neighbour: removing it from U cuts the fewest couplers
        qa = min(free, key=lambda q: (len(nb[q]), lattice.qubits.index(q)))
    if qbs is None:
        # distance in couplers of U, i.e. on the lattice without the ancilla
        d = circuit["butterfly_distance"]
        dist = distances_from(lattice.restrict(set(lattice.qubits) - {qa}), qm)
        at_d = [q for q in lattice.qubits if dist.get(q) == d]
        if not at_d:
            raise ValueError(
                f"circuit.butterfly_distance: no qubit of the lattice (other than the ancilla) lies "
                f"{circuit['butterfly_distance']} couplers from the measurement qubit"
            )
        qbs = [at_d[0]]
    return qm, qa, tuple(qbs)


# --------------------------------------------------------------------------- circuits


@dataclass(frozen=True, kw_only=True)
class OtocInstance(Instance):
    """One OTOC circuit: `circuit` is the hardware protocol (variant 0, see the module docstring) on
    `qubits` (the system and the ancilla); `measured` is the ancilla."""

    u: cirq.Circuit  # U on the system qubits
    qm: cirq.Qid  # Q_m, the measurement qubit
    qa: cirq.Qid  # the ancilla read out
    qbs: tuple[cirq.Qid, ...]  # the qubits the butterfly operator acts on
    operator: str  # B: 'I', 'X', 'Y' or 'Z'
    system: tuple[cirq.Qid, ...]  # the qubits of U (the lattice without the ancilla), in lattice order
    lattice: Lattice  # the whole lattice, ancilla included
    cycles: int
    butterfly_map: bool  # whether measure computes the per-gate sensitivity map

    def network(self):
        """<psi| G^dag (A^dag B A M)^2 G |psi>, U cut to Q_b's backward cone and split as A G
        (see :func:`cost_circuit`); one closed amplitude network."""
        from eqvbench.classical.networks import amplitude_network

        return amplitude_network(*cost_circuit(self))


def two_qubit_gate(name: str):
    """sqrt_iswap; fsim = fSim(theta=pi/2, phi=pi/6), iSWAP-like with a conditional phase; cz."""
    import cirq
    import numpy as np

    return {"sqrt_iswap": cirq.SQRT_ISWAP, "fsim": cirq.FSimGate(np.pi / 2, np.pi / 6), "cz": cirq.CZ}[name]


def random_u(system_lattice, cycles: int, gate: str, seed: int, axes: int = 8):
    """U: per cycle, PhasedX(pi/2) about a random one of `axes` XY-plane axes (angles k 2pi/axes) on every
    qubit, then one coupler layer. axes=4 (+-X, +-Y) with cz makes U Clifford."""
    import cirq
    import numpy as np

    rng = np.random.default_rng(seed)
    g = two_qubit_gate(gate)
    layers = [layer for layer in system_lattice.layers if layer] or [()]
    moments = []
    for k in range(cycles):
        ks = rng.integers(0, axes, size=system_lattice.n_qubits)
        moments.append(
            cirq.Moment(
                cirq.PhasedXPowGate(phase_exponent=2 * k / axes, exponent=0.5).on(q)
                for q, k in zip(system_lattice.qubits, ks)
            )
        )
        moments.append(cirq.Moment(g.on(a, b) for a, b in layers[k % len(layers)]))
    return cirq.Circuit(moments)


def butterfly_moment(qbs, operator: str):
    import cirq

    if operator == "I":
        return cirq.Moment()
    p = {"X": cirq.X, "Y": cirq.Y, "Z": cirq.Z}[operator]
    return cirq.Moment(p.on(q) for q in qbs)


def protocol_circuit(u, qm, qa, qbs, operator: str, variant: int):
    """The hardware circuit of one prep/readout variant (0..3, see the module docstring)."""
    import cirq
    import numpy as np

    prep_sign = 1 if variant in (0, 1) else -1  # ancilla |+> or |->
    read_sign = 1 if variant in (0, 2) else -1  # RY(+pi/2) or RY(-pi/2) before the readout
    return cirq.Circuit(
        [
            cirq.Moment(cirq.ry(prep_sign * np.pi / 2).on(qa), cirq.ry(np.pi / 2).on(qm)),
            cirq.Moment(cirq.CZ(qa, qm)),
            *u.moments,
            butterfly_moment(qbs, operator),
            *cirq.inverse(u).moments,
            cirq.Moment(cirq.CZ(qa, qm)),
            cirq.Moment(cirq.ry(read_sign * np.pi / 2).on(qa)),
        ]
    )


def echo_circuit(u, qm, qbs, operator: str, m_first: bool):
    """prep |psi> (then M if m_first), U, B, U^dag: F|psi> or F M|psi> on the system qubits."""
    import cirq
    import numpy as np

    # M|+> = |->: the same circuit structure with the opposite preparation angle
    sign = -1 if m_first else 1
    return cirq.Circuit(
        [
            cirq.Moment(cirq.ry(sign * np.pi / 2).on(qm)),
            *u.moments,
            butterfly_moment(qbs, operator),
            *cirq.inverse(u).moments,
        ]
    )


def otoc_direct(instance: OtocInstance, operator: str | None = None) -> float:
    """Ideal C = Re <F psi| M |F M psi> from two state vectors (eqvbench's kernels)."""
    import numpy as np

    from eqvbench.simulation.simulate import state_vector

    op = operator or instance.operator
    system = instance.system
    n = len(system)
    a = state_vector(echo_circuit(instance.u, instance.qm, instance.qbs, op, False), system)
    b = state_vector(echo_circuit(instance.u, instance.qm, instance.qbs, op, True), system)
    m = system.index(instance.qm)
    return float(np.real(np.vdot(a, _apply_z(b, m, n))))


def otoc_cone_value(instance: OtocInstance, circuit=None) -> float:
    """Ideal C as the amplitude <0|c|0> of the cost circuit c (U cut to the cones, see
    :func:`cost_circuit`; pass it if already built): one state vector over the qubits c touches."""
    from eqvbench.simulation import trajectories as tr
    from eqvbench.circuits.noise import NoiseModel

    c, system = circuit if circuit is not None else cost_circuit(instance)
    touched = c.all_qubits()
    active = [q for q in system if q in touched]
    # eqvbench's fused numba kernels: single-qubit gates folded into the two-qubit blocks
    return float(tr.ideal_state(tr.compile_program(c, active, NoiseModel()))[0].real)


def _apply_z(psi, k: int, n: int):
    """Z on qubit k (big-endian, as cirq) of a state vector."""
    import numpy as np

    idx = np.arange(psi.shape[-1])
    return psi * np.where((idx >> (n - 1 - k)) & 1, -1.0, 1.0)


def _cone(u, qubits, order) -> set:
    """(moment, op position) of the ops of U reached from `qubits`, walking the moments in `order`."""
    reach, out = set(qubits), set()
    for m in order:
        ops = u[m].operations  # ops of one moment are disjoint: all see the reach before the moment
        hit = [j for j, op in enumerate(ops) if reach & set(op.qubits)]
        out.update((m, j) for j in hit)
        for j in hit:
            reach |= set(ops[j].qubits)
    return out


def cone_forward(u, start) -> set:
    """Indices (moment, op position) of the ops of U in the forward light cone of `start` qubits."""
    return _cone(u, start, range(len(u)))


def cone_backward(u, end) -> set:
    """Indices (moment, op position) of the ops of U in the backward light cone of `end` qubits."""
    return _cone(u, end, range(len(u) - 1, -1, -1))


def restrict_u(u, keep: set):
    import cirq

    return cirq.Circuit(cirq.Moment(op for j, op in enumerate(moment) if (m, j) in keep) for m, moment in enumerate(u))


# --------------------------------------------------------------------------- family


class OTOCFamily(Family):
    name = "otoc"
    result_fields = (
        ResultField("otoc_ideal", "OTOC C of the ideal circuit, mean over instances", header="C ideal"),
        ResultField("otoc_noisy", "C of the noisy circuit as read (readout included)", header="C noisy"),
        ResultField(
            "otoc_norm",
            "C noisy / f_identity: the OTOC with the B = I decay divided out",
            header="C norm",
            priority=HEADLINE,
        ),
        *reproduction_columns("C classical"),
        ResultField(
            "v_butterfly",
            "sum of the error sensitivities of the OTOC's gates",
            unit="two-qubit gates",
            header="V_butterfly",
        ),
        ResultField(
            "v_measurement",
            "sum of the sensitivities of the B = I run (the cone f_eff sees)",
            unit="two-qubit gates",
            header="V_meas",
        ),
        *REGION_COLUMNS,
        ResultField("otoc_ideal_instances", "C ideal per circuit instance", numeric=False),
        ResultField("otoc_noisy_err", "uncertainty of otoc_noisy"),
        ResultField("otoc_norm_err", "uncertainty of otoc_norm"),
        ResultField("f_identity", "the B = I signal, readout factor of the ancilla kept (f_eff divides it out)"),
        ResultField("operator", "butterfly operator B", numeric=False),
        ResultField("butterfly_qubits", "qubits B acts on", numeric=False),
        ResultField("measurement_qubit", "Q_m, the measured qubit", numeric=False),
        ResultField("ancilla_qubit", "the ancilla read out", numeric=False),
        ResultField("butterfly_distance", "coupler hops from Q_m to the butterfly", unit="couplers"),
        ResultField("instances", "circuit instances averaged"),
        ResultField("cycles", "cycles of U"),
        *[f for f in BUTTERFLY_FIELDS if f.name != "v_butterfly"],
        ResultField("f_measurement", "first-order prediction of the B = I fidelity"),
        ResultField("butterfly_map_instance", "which instance butterfly_map is of"),
        *SIM_FIELDS,
    )
    depth_param = "circuit.cycles"
    not_applicable = {
        "pauli_propagation": "not implemented for the OTOC: it is a four-point function of the echo circuit "
        "U^dagger B U, which this engine does not propagate",
        "belief_propagation": "not implemented for the OTOC: it is a four-point function of the echo circuit "
        "U^dagger B U, not the expectation of a Pauli string in one evolved state",
    }
    lattice_spec = OTOCLatticeSpec
    circuit_spec = OTOCCircuit

    def default_lattice(self):
        return GridLattice(rows=[3], cols=[4])

    def n_instances(self, circuit: dict[str, Any]) -> int:
        return circuit["instances"]

    def check_point(self, lattice, values: dict[str, Any]) -> list[tuple[str, str]]:
        try:
            resolve_qubits(lattice, values["circuit"])
        except ValueError as e:
            field, msg = str(e).split(": ", 1)
            return [(field, msg)]
        return []

    def build(self, lattice, circuit: dict[str, Any], seed: int) -> OtocInstance:
        qm, qa, qbs = resolve_qubits(lattice, circuit)
        system_lattice = lattice.restrict(set(lattice.qubits) - {qa})
        u = random_u(system_lattice, circuit["cycles"], circuit["gate"], seed)
        op = circuit["operator"]
        return OtocInstance(
            protocol_circuit(u, qm, qa, qbs, op, 0),
            lattice.qubits,
            (qa,),
            seed,
            u=u,
            qm=qm,
            qa=qa,
            qbs=qbs,
            operator=op,
            system=system_lattice.qubits,
            lattice=lattice,
            cycles=circuit["cycles"],
            butterfly_map=circuit["butterfly_map"],
        )

    def light_cone(self, instance: OtocInstance) -> LightCone:
        """v_light: 2q gates of U in both Q_m's forward and Q_b's backward cone, counted in U and U^dag.

        `locations` (for f_model, the digital prediction of the B = I signal) are the
        error locations in Q_m's cone: U's forward cone, its mirror in U^dag, and
        the ancilla's gates.
        """
        u = instance.u
        fwd = cone_forward(u, [instance.qm])
        bwd = cone_backward(u, instance.qbs)
        both = fwd & bwd
        return LightCone(
            v_light=cone_gates_2q(instance),
            qubits=tuple(sorted({q for m, j in both for q in u[m].operations[j].qubits})),
            locations=frozenset(measurement_cone_locations(instance)),
            readout_is_volume=False,
        )

    def measure(self, instances, noise, settings: PointSettings, rng) -> Measurement:
        import numpy as np

        engine, shots = settings.engine, settings.simulation.shots
        op = instances[0].operator
        c_ideal, c_b, c_i, err_b, err_i, n_traj, method = [], [], [], [], [], 0, None
        for inst in instances:
            c_ideal.append(otoc_direct(inst))
            # the B = I normalisation depends on U, noise and settings only: one per U, shared by every
            # butterfly position and operator (its random stream is seeded from those, not from the point)
            vi, ei, info_i = identity_signal(inst, noise, engine, shots)
            if op == "I":
                vb, eb, info = vi, ei, info_i
            else:
                vb, eb, info = otoc_protocol(inst, op, noise, engine, shots, rng)
                n_traj += info_i["n_trajectories"]
            c_b.append(vb), err_b.append(eb), c_i.append(vi), err_i.append(ei)
            n_traj += info["n_trajectories"]
            method = info["method"]
        k = len(instances)
        ideal = float(np.mean(c_ideal))
        noisy, noisy_err = _mean_err(c_b, err_b)
        f, f_err = _mean_err(c_i, err_i)
        fields = {
            "otoc_ideal": ideal,
            "otoc_ideal_instances": [round(x, 6) for x in c_ideal],
            "otoc_noisy": noisy,
            "otoc_noisy_err": noisy_err,
            "otoc_norm": None,
            "otoc_norm_err": None,
            "f_identity": f,
            "operator": op,
            "butterfly_qubits": [qubit_label(q) for q in instances[0].qbs],
            "measurement_qubit": qubit_label(instances[0].qm),
            "ancilla_qubit": qubit_label(instances[0].qa),
            "butterfly_distance": butterfly_distance(instances[0]),
            "shots": shots,
            "sim_method": method,
            "n_trajectories": n_traj,
            "instances": k,
            "cycles": instances[0].cycles,
        }
        notes = []
        if f > 3 * f_err and f > 0:
            fields["otoc_norm"] = noisy / f
            fields["otoc_norm_err"] = math.hypot(noisy_err / f, noisy * f_err / f**2)
        else:
            notes.append(f"B = I signal {f:.3g} +- {f_err:.2g} is within 3 errors of 0: OTOC not normalised")
        # readout (the ancilla's X, weight 1) attenuates the B = I signal by exactly 1 - 2r: not volume
        ro = noise.readout_factor([instances[0].qa])
        f, f_err = f / ro, f_err / ro
        if instances[0].butterfly_map:
            # s_g divides by C_ideal: near 0 the map is noise (|s_g| up to 7 seen at C = 0.09)
            thr = max(0.2, 3 * noisy_err)
            if abs(c_ideal[0]) >= thr:
                fields.update(butterfly_cone(instances[0], noise, c_ideal[0]))
                fields["butterfly_map_instance"] = 0
                if fields["v_butterfly"] < 0:
                    notes.append("v_butterfly < 0: errors raise |C| on average here (first instance); not a volume")
            elif thr >= 1:
                notes.append(
                    f"the error of C_noisy ({noisy_err:.2g}) is too large: 3 errors cover all of |C| <= 1, "
                    "so no per-gate sensitivity map (v_butterfly null)"
                )
            else:
                notes.append(
                    f"|C_ideal| of the first instance = {abs(c_ideal[0]):.3g} < {thr:.2g}: "
                    "no per-gate sensitivity map (v_butterfly null)"
                )
        return Measurement(f if f > 0 else None, f_err, fields, notes)

    def effective_region(self, instance, settings: PointSettings, f_eff, noise, rng):
        return find_effective_region(instance, settings, f_eff, noise, rng)

    def structure_key(self, values: dict[str, Any]) -> dict[str, Any]:
        # U's instances do not depend on the butterfly: every butterfly position sees the same circuits
        c = values["circuit"]
        from eqvbench.circuits.lattice import build_lattice

        lattice = build_lattice(values["lattice"])
        try:
            qm, qa, _ = resolve_qubits(lattice, c)
        except ValueError:
            qm = qa = None
        return {
            "lattice": values["lattice"],
            "cycles": c["cycles"],
            "gate": c["gate"],
            "qm": str(qm),
            "ancilla": str(qa),
        }

    def cost_key(self, values: dict[str, Any]) -> dict[str, Any]:
        """The cost network also depends on the butterfly (its cone) and the operator."""
        c = values["circuit"]
        return {
            **self.structure_key(values),
            "butterfly": c["butterfly"],
            "butterfly_distance": c["butterfly_distance"] if c["butterfly"] == "distance" else None,
            "operator": c["operator"],
        }

    def summary(self, points: list[dict[str, Any]]) -> dict[str, Any]:
        """Butterfly velocity fitted to the OTOC front (see :func:`fit_butterfly_velocity`)."""
        return fit_butterfly_velocity(points)


def butterfly_distance(instance: OtocInstance) -> int | None:
    """Couplers of U between Q_m and the nearest butterfly qubit (None: not connected)."""
    lat = instance.lattice
    dist = distances_from(lat.restrict(set(lat.qubits) - {instance.qa}), instance.qm)
    ds = [dist[q] for q in instance.qbs if q in dist]
    return min(ds) if ds else None


def _mean_err(values, errs) -> tuple[float, float]:
    """Mean over instances; error: the larger of the spread's standard error and the propagated errors."""
    import numpy as np

    v = np.asarray(values, float)
    prop = math.sqrt(float(np.sum(np.square(errs)))) / v.size
    spread = float(np.std(v, ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0
    return float(v.mean()), max(prop, spread)


# --------------------------------------------------------------------------- evaluation


def otoc_protocol(instance: OtocInstance, operator: str, noise, settings, shots: int, rng):
    """Noisy C as measured from the four ancilla variants: (value, error, info).

    Under eqvbench's noise model (Pauli channels, symmetric readout flips) the
    variants differ only by signs: preparing |-> is a Z on the ancilla, which
    commutes with the CZs and the Pauli channels, and RY(-pi/2) instead of
    RY(+pi/2) before the readout flips the measured Z. So one noisy simulation of
    the circuit up to the readout rotation gives <X_a> (readout error included),
    and each variant's excitation probability is p = (1 +/- x') / 2 with
    x' = (1 - 4 p1 / 3) <X_a> (the rotation's own depolarizing error). The test
    suite checks this against all four circuits run through cirq's density-matrix
    simulator. The error combines the engine's statistical error and the shot noise
    of `shots` readouts per variant.
    """
    from eqvbench.simulation.simulate import pauli_expectations

    qa = instance.qa
    circ = protocol_circuit(instance.u, instance.qm, qa, instance.qbs, operator, 0)[:-1]  # up to the readout rotation
    vals, errs, _, info = pauli_expectations(circ, instance.qubits, noise, [{qa: "X"}], settings, rng)
    shrink = 1.0 - 4.0 * noise.gate_error_on((qa,)) / 3.0
    x, x_err = shrink * float(vals[0]), shrink * float(errs[0])
    p = [(1 + x) / 2, (1 - x) / 2, (1 - x) / 2, (1 + x) / 2]  # variants 0..3
    shot_var = sum(pv * (1 - pv) / shots for pv in p) if shots else 0.0
    c = (p[0] - p[1] - p[2] + p[3]) / 2
    return c, math.sqrt(x_err**2 + shot_var / 4.0), dict(info, variant_p=[round(v, 6) for v in p])


_IDENTITY_CACHE: dict[str, tuple] = {}  # B = I signals by U and settings


def identity_signal(instance: OtocInstance, noise, settings, shots: int):
    """The B = I protocol signal of an instance's U: (value, error, info), as :func:`otoc_protocol`.

    Seeded from U's instance seed, the noise and the settings, so every point
    sharing U gets the same number; memoised within a process.
    """
    import numpy as np

    from eqvbench.pipeline import derive_seed

    key = repr((instance.seed, noise, settings, shots, [str(q) for q in instance.qubits]))
    if key not in _IDENTITY_CACHE:
        if len(_IDENTITY_CACHE) > 64:
            _IDENTITY_CACHE.clear()
        rng = np.random.default_rng(derive_seed(instance.seed, "identity", repr(noise), repr(settings), shots))
        _IDENTITY_CACHE[key] = otoc_protocol(instance, "I", noise, settings, shots, rng)
    return _IDENTITY_CACHE[key]


def _protocol_offsets(u):
    """Moment offsets in the protocol circuit: U starts at 2, B at 2 + L, U^dag at 3 + L."""
    L = len(u)
    return 2, 2 + L, 3 + L


def _reach_after(u, start) -> list[set]:
    reach = set(start)
    out = []
    for moment in u:
        for op in moment:
            if reach & set(op.qubits):
                reach |= set(op.qubits)
        out.append(set(reach))
    return out


def measurement_cone_locations(instance: OtocInstance) -> set:
    """Error locations of the protocol circuit that can reach the ancilla's readout with B = I:
    the ancilla's own gates and idles, U's gates in Q_m's forward cone and their mirror in U^dag
    (the butterfly gate itself is left out)."""
    u, qm, qa = instance.u, instance.qm, instance.qa
    L = len(u)
    u0, b0, ud0 = _protocol_offsets(u)
    fwd = cone_forward(u, [qm])
    reach = _reach_after(u, [qm])
    circuit = instance.circuit
    locs = set()
    for m, moment in enumerate(circuit):
        busy = {q for op in moment for q in op.qubits}
        if u0 <= m < b0:
            mu = m - u0
            locs |= {(m, tuple(op.qubits)) for j, op in enumerate(moment) if (mu, j) in fwd}
            live = reach[mu]
        elif ud0 <= m < ud0 + L:
            mu = L - 1 - (m - ud0)
            in_u = {frozenset(u[mu].operations[j].qubits) for j in range(len(u[mu])) if (mu, j) in fwd}
            locs |= {(m, tuple(op.qubits)) for op in moment if frozenset(op.qubits) in in_u}
            live = reach[mu]
        elif m == b0:
            live = reach[-1] if reach else {qm}
        else:  # preparation, CZs, readout rotation
            locs |= {(m, tuple(op.qubits)) for op in moment}
            live = {qm}
        locs |= {(m, (q,)) for q in (live | {qa}) if q not in busy}
    return locs


def cost_circuit(instance: OtocInstance):
    """(circuit, system qubits) whose <0|.|0> amplitude is C.

    U is cut to Q_b's backward cone (the rest cancels against U^dag) and split
    as U_c = A G: G, the cut gates outside Q_m's forward cone, never touch Q_m
    and on every qubit come before all of A's gates (a gate after an A gate on
    its qubit would be in the forward cone), so they commute with M and cancel
    between the two echoes, C = <psi| G^dag (A^dag B A M)^2 G |psi>: G appears twice
    instead of four times.
    """
    import cirq
    import numpy as np

    u, qm, qbs, op = instance.u, instance.qm, instance.qbs, instance.operator
    bwd = cone_backward(u, qbs) if op != "I" else set()
    fwd = cone_forward(u, [qm])
    a = _nonempty(restrict_u(u, bwd & fwd))
    g = _nonempty(restrict_u(u, bwd - fwd))
    f = [*a.moments, butterfly_moment(qbs, op), *cirq.inverse(a).moments]
    c = cirq.Circuit(
        [
            cirq.Moment(cirq.ry(np.pi / 2).on(qm)),
            *g.moments,
            cirq.Moment(cirq.Z(qm)),
            *f,
            cirq.Moment(cirq.Z(qm)),
            *f,  # F^dag = F: B is a Hermitian Pauli and F = A^dag B A
            *cirq.inverse(g).moments,
            cirq.Moment(cirq.ry(-np.pi / 2).on(qm)),
        ]
    )
    return _nonempty(c), instance.system


def _nonempty(circuit):
    import cirq

    return cirq.Circuit(m for m in circuit if len(m))


def geodesic_qubits(instance: OtocInstance) -> set:
    """Qubits of U on a shortest coupler path from Q_m to a butterfly qubit (all such paths)."""
    lat = instance.lattice
    system = lat.restrict(set(lat.qubits) - {instance.qa})
    from_m = distances_from(system, instance.qm)
    out = {instance.qm}
    for qb in instance.qbs:
        if qb not in from_m:
            out.add(qb)  # not connected: C = 1 on every region
            continue
        from_b = distances_from(system, qb)
        out |= {q for q in system.qubits if q in from_b and from_m.get(q, math.inf) + from_b[q] == from_m[qb]}
    return out


def region_instance(instance: OtocInstance, qubits: set) -> OtocInstance:
    """The point's U restricted to the gates among `qubits` (the rest of the device left out)."""
    keep = {(m, j) for m, moment in enumerate(instance.u) for j, op in enumerate(moment) if set(op.qubits) <= qubits}
    u = restrict_u(instance.u, keep)
    qa = instance.qa
    return dataclasses.replace(
        instance,
        circuit=protocol_circuit(u, instance.qm, qa, instance.qbs, instance.operator, 0),
        qubits=tuple(q for q in instance.qubits if q in qubits or q == qa),
        u=u,
        system=tuple(q for q in instance.system if q in qubits),
    )


def cone_gates_2q(instance: OtocInstance) -> int:
    """v_light of an instance: 2q gates of U in Q_m's forward and Q_b's backward cone, in U and U^dag."""
    u = instance.u
    both = cone_forward(u, [instance.qm]) & cone_backward(u, instance.qbs)
    return 2 * sum(1 for (m, j) in both if len(u[m].operations[j].qubits) == 2)


def find_effective_region(instance: OtocInstance, settings: PointSettings, f_eff: float | None, noise, rng) -> Region:
    """The effective region of C (see :func:`eqvbench.classical.region.grow_region`), first instance.

    Balls grow around the qubits on shortest paths from Q_m to the butterfly
    (a ball that does not connect them gives C = 1 whatever the circuit, so
    the growth would stop before the cones meet); the ancilla always belongs.
    f is the B = I signal f_eff where the point was simulated, else
    `region.f_eff`, else ('auto') the B = I protocol simulated on each ball
    that fits `simulation.max_qubits`. Values: the cost circuit's amplitude
    from a state vector over the qubits it touches, up to
    `region.statevector_max_qubits` of them; the cost network contracted above.
    """
    sim = settings.simulation
    reg = settings.region if settings.region is not None else RegionSpec()
    system = instance.lattice.restrict(set(instance.lattice.qubits) - {instance.qa})
    subs: dict[frozenset, OtocInstance] = {}

    full_ops = sum(1 for _ in cost_circuit(instance)[0].all_operations())

    def evaluate(qs) -> BallValue:
        key = frozenset(qs)
        if key not in subs:
            subs[key] = region_instance(instance, set(qs))
        inst_r = subs[key]
        cc = cost_circuit(inst_r)
        if len(cc[0].all_qubits()) <= reg.statevector_max_qubits:
            value, method = otoc_cone_value(inst_r, cc), "statevector"
        else:
            value = contract_within_budget(
                inst_r.network(),
                len(qs),
                reg.tn_max_repeats,
                memory_bytes=reg.tn_memory_bytes,
                max_flops=reg.tn_max_flops,
            ).real
            method = "tensor_network"
        # the ball's cost circuit is a sub-circuit of the point's: as many operations means the same network
        whole = sum(1 for _ in cc[0].all_operations()) == full_ops
        return BallValue(value, method, cone_gates_2q(inst_r), inst_r.network, whole=whole)

    def simulate_f(qs, ball: BallValue) -> float | None:
        if len(qs) + 1 > sim.max_qubits:
            return None
        f, _, _ = otoc_protocol(subs[frozenset(qs)], "I", noise, settings.engine, sim.shots, rng)
        return f if f > 0 else None

    f, source = (f_eff, "f_eff (B = I signal)") if f_eff and f_eff > 0 else (None, None)
    cone = set(cost_circuit(instance)[0].all_qubits())
    region = grow_region(
        system, geodesic_qubits(instance), reg, sim.shots, f, source, evaluate, simulate_f, cone_qubits=cone
    )
    if region.a_eff is None:
        return region
    return dataclasses.replace(region, a_eff=region.a_eff + 1)  # and the ancilla


def butterfly_cone(instance: OtocInstance, noise, c_ideal: float) -> dict[str, Any]:
    """Per-gate error sensitivities of the OTOC and of its B = I normalisation signal.

    s_g = 1 - <C with a Pauli error after g> / C_ideal, averaged over the
    non-identity Paulis (docs/physics.md, `v_butterfly`). To first order
    C_noisy / C_ideal = prod (1 - p_g s_g) (`f_butterfly`, gate errors only) and
    the B = I signal (f_eff) = prod (1 - p_g s_g(I)) (`f_measurement`).
    v_butterfly and v_measurement sum s_g and s_g(I) over two-qubit gates;
    `butterfly_map` lists both per gate of U and U^dag.
    """
    sb = gate_sensitivity(instance, c_ideal, instance.operator)
    si = gate_sensitivity(instance, 1.0, "I") if instance.operator != "I" else sb
    gates = _echo_gates(instance)
    ops = [o for _, o, _, _ in gates]
    v_b, f_b = first_order(ops, sb, noise)
    v_m, f_m = first_order(ops, si, noise)
    per_gate = [
        {
            "moment": m + 1,
            "part": part,
            "cycle": cycle,
            "qubits": [qubit_label(q) for q in o.qubits],
            "s": round(a, 6),
            "s_identity": round(b, 6),
        }
        for (m, o, part, cycle), a, b in zip(gates, sb, si)
    ]
    return {
        "v_butterfly": v_b,
        "f_butterfly": f_b,
        "v_measurement": v_m,
        "f_measurement": f_m,
        "butterfly_map": per_gate,
    }


def _echo_gates(instance: OtocInstance) -> list[tuple]:
    """(echo moment, op, 'U' | 'U_dag', cycle) for the gates of U and U^dag in the echo circuit."""
    u = instance.u
    L = len(u)
    out = []
    for m, moment in enumerate(echo_circuit(u, instance.qm, instance.qbs, instance.operator, False)):
        for o in moment:
            if 1 <= m <= L:
                out.append((m, o, "U", (m - 1) // 2))
            elif L + 2 <= m <= 2 * L + 1:
                out.append((m, o, "U_dag", (L - 1 - (m - L - 2)) // 2))
    return out


def gate_sensitivity(instance: OtocInstance, c_ideal: float, operator: str) -> list[float]:
    """s_g = 1 - mean over Paulis of C_{error after g} / C_ideal for the gates of U and U^dag (echo order).

    Every gate of U and U^dag in the union of Q_m's and Q_b's cones gets each
    non-identity Pauli in turn (the same error in both passes of the echo, as a
    physical error would be); gates outside both cones have s_g = 0 exactly
    (their error commutes through to M).
    """
    import numpy as np

    from eqvbench.simulation import trajectories as tr
    from eqvbench.circuits.noise import NoiseModel

    u, qm, qbs, op, system = instance.u, instance.qm, instance.qbs, operator, instance.system
    n = len(system)
    L = len(u)
    m_idx = system.index(qm)
    every_gate = NoiseModel(p1=0.5, p2=0.5)
    prog_a = tr.compile_program(echo_circuit(u, qm, qbs, op, False), system, every_gate)
    prog_b = tr.compile_program(echo_circuit(u, qm, qbs, op, True), system, every_gate)
    echo = echo_circuit(u, qm, qbs, op, False)
    cones = cone_forward(u, [qm]) | (cone_backward(u, qbs) if op != "I" else set())
    # error locations follow the echo circuit's ops, moment by moment (both echoes have the same)
    gates = []  # (echo moment, op, part, in cones)
    for m, moment in enumerate(echo):
        for j, o in enumerate(moment):
            if 1 <= m <= L:
                part, inside = "U", (m - 1, j) in cones
            elif L + 2 <= m <= 2 * L + 1:
                mu = L - 1 - (m - L - 2)
                mirror = {frozenset(u[mu].operations[k].qubits): (mu, k) for k in range(len(u[mu]))}
                part, inside = "U_dag", mirror[frozenset(o.qubits)] in cones
            else:
                part, inside = None, False
            gates.append((m, o, part, inside))
    keep = lambda psi: psi  # noqa: E731

    def overlap(hit, pauli):  # the same error in both echoes: Re <F psi| M |F M psi>
        fa = tr.run_batch(prog_a, hit, pauli, keep)
        fb = tr.run_batch(prog_b, hit, pauli, keep)
        return np.real(np.einsum("ij,ij->i", fa.conj(), _apply_z(fb, m_idx, n)))

    inside = [k for k, g in enumerate(gates) if g[3]]
    rows = max(1, tr.batch_rows(n) // 4)  # two passes held at once, each copied once
    sens = error_sensitivities(prog_a, inside, c_ideal, overlap, rows)
    return [float(sens[k]) for k, g in enumerate(gates) if g[2] is not None]


# --------------------------------------------------------------------------- butterfly velocity


def _front(pairs: list[tuple[float, float]], level: float) -> float | None:
    """Distance where C crosses `level` going outward (linear interpolation), or None."""
    pairs = sorted(pairs)
    below = [i for i, (_, c) in enumerate(pairs) if c < level]
    if not below or below[-1] == len(pairs) - 1:
        return None  # front inside the nearest butterfly, or beyond the farthest
    i = below[-1]
    (d0, c0), (d1, c1) = pairs[i], pairs[i + 1]
    return d0 + (level - c0) * (d1 - d0) / (c1 - c0)


def fit_butterfly_velocity(points: list[dict[str, Any]], level: float = 0.5) -> dict[str, Any]:
    """v_B (couplers per cycle): the distance at which C crosses `level`, fitted linearly in cycles.

    Uses the ideal C (instance mean) and, where available, the normalised noisy
    C. Needs the front inside the swept distances at >= 2 cycle counts; the
    slope's standard error needs >= 3.
    """
    import numpy as np

    out: dict[str, Any] = {"butterfly_velocity": {}}
    lines = []
    ops = sorted({p.get("operator") for p in points if p.get("otoc_ideal") is not None and p.get("operator") != "I"})
    for op in ops:
        for key in ("otoc_ideal", "otoc_norm"):
            # one front per (everything swept except cycles and butterfly position): different
            # lattices, gates or measurement qubits are not pooled into one fit
            by_setting: dict[str, dict[int, list[tuple[float, float]]]] = {}
            for p in points:
                if p.get("operator") == op and p.get(key) is not None and p.get("butterfly_distance") is not None:
                    rest = {
                        k: v
                        for k, v in p.get("params", {}).items()
                        if k not in ("circuit.cycles", "circuit.butterfly_distance", "circuit.butterfly")
                    }
                    setting = json.dumps(rest, sort_keys=True, default=str)
                    by_setting.setdefault(setting, {}).setdefault(p["cycles"], []).append(
                        (p["butterfly_distance"], p[key])
                    )
            if len(by_setting) > 1:
                lines.append(
                    f"butterfly velocity (B = {op}): {len(by_setting)} settings swept besides cycles "
                    "and distance; fitted on the first only"
                )
            groups = next(iter(by_setting.values()), {})
            fronts = []
            for t, pairs in sorted(groups.items()):
                if len({d for d, _ in pairs}) >= 2:
                    x = _front(pairs, level)
                    if x is not None:
                        fronts.append((t, x))
            res: dict[str, Any] = {
                "front": [{"cycles": t, "distance": round(x, 4)} for t, x in fronts],
                "level": level,
                "v_b": None,
                "v_b_err": None,
            }
            if len(fronts) >= 2:
                t = np.array([f[0] for f in fronts], float)
                x = np.array([f[1] for f in fronts], float)
                (v, x0) = np.polyfit(t, x, 1)
                res["v_b"], res["intercept"] = float(v), float(x0)
                if len(fronts) >= 3:
                    resid = x - (v * t + x0)
                    s2 = float(resid @ resid) / (len(t) - 2)
                    res["v_b_err"] = math.sqrt(s2 / float(((t - t.mean()) ** 2).sum()))
            which = "ideal" if key == "otoc_ideal" else "noisy, normalised"
            out["butterfly_velocity"][f"{op}:{'ideal' if key == 'otoc_ideal' else 'norm'}"] = res
            if res["v_b"] is not None:
                err = f" +- {res['v_b_err']:.2g}" if res["v_b_err"] is not None else " (2 fronts: no error estimate)"
                lines.append(
                    f"butterfly velocity (B = {op}, {which} C, front at C = {level}): "
                    f"v_B = {res['v_b']:.3g}{err} couplers per cycle from {len(fronts)} cycle counts"
                )
            elif groups:
                lines.append(
                    f"butterfly velocity (B = {op}, {which} C): not fitted, the front (C = {level}) lies "
                    f"inside the swept distances at {len(fronts)} cycle count(s), 2 needed"
                )
    out["lines"] = lines
    return out


FAMILY = OTOCFamily()
