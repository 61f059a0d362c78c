"""Certificates: which classical values of a measured quantity are shown as certified, and by what.

The rule (docs/physics.md, "Certificates"):

- A value whose error is a proof is certified by itself: an exact computation
  (contraction, state vector, belief propagation on a loop-free graph with
  nothing truncated) or a rigorous bound (Pauli propagation's dropped weight).
  Its certificate names that proof.
- An estimate (Pauli propagation's cut-off ladder, belief propagation's chi
  ladder on a graph with loops) is certified only when another computation of a
  different kind, that does not itself rest on it, agrees within the device's
  error bar delta: |v - w| + u_w <= delta (u_w the other's bound, 0 for an
  estimate). Its certified error is |v - w| + u_w against a bound, and
  2 |v - w| + max(err_v, err_w) against another estimate (neither bounds the
  truth: the independent methods' discrepancy sets the scale); its
  certificate names the agreeing computations.
- An estimate that disagrees with a certified value beyond that value's error
  plus delta is refused (never shown as a reproduction, never used by the
  verdict), and so is every value that rests on it.
- A value that rests on others (an effective region certified against a
  reference of the whole cone) is certified only when all of them are, and it
  can never be the evidence that certifies them.

Two certified values that contradict each other beyond their errors are both
refused: something is wrong, and the output says so rather than choosing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# when no fidelity gives the device's error bar, values must agree within this (the methods' own default)
DEFAULT_DELTA = 0.01


@dataclass(frozen=True)
class Candidate:
    """One computation's value of the measured quantity.

    Parameters
    ----------
    name : str
        The computation (a method name: 'contraction', 'pauli_propagation', 'belief_propagation',
        'region', or 'published').
    value, err : float
        Its value and error: a bound where `proof` is given, else an estimate.
    proof : str or None
        Why `err` is a bound ('exact', 'dropped-weight bound', ...); None for an estimate.
    rests_on : frozenset of str
        The computations this value was accepted because of (the region's reference).
    kind : str
        What kind of computation it is; agreement counts only between different kinds.
    """

    name: str
    value: float
    err: float
    proof: str | None = None
    rests_on: frozenset[str] = frozenset()
    kind: str = ""

    @property
    def kind_(self) -> str:
        return self.kind or self.name


@dataclass
class Certification:
    """The certification of one candidate: `certified` with `err` (the certified error) and
    `certificate` (the proof, or the computations that agree), or refused with `refused` saying why,
    or neither (an estimate nothing independent checked)."""

    name: str
    value: float
    err: float
    certified: bool = False
    certificate: list[str] = field(default_factory=list)
    refused: str | None = None


def certify(candidates: list[Candidate], delta: float | None) -> dict[str, Certification]:
    """Certify, refuse or leave open each candidate (the module's rule), by name.

    Parameters
    ----------
    candidates : list of Candidate
        The computations of one quantity (names unique).
    delta : float or None
        The device's error bar; None: :data:`DEFAULT_DELTA`.

    Returns
    -------
    dict of str to Certification
    """
    d = DEFAULT_DELTA if delta is None else float(delta)
    by = {c.name: c for c in candidates}
    out = {c.name: Certification(c.name, c.value, c.err) for c in candidates}

    def independent(a: Candidate, b: Candidate) -> bool:
        return a.kind_ != b.kind_ and a.name not in b.rests_on and b.name not in a.rests_on

    # 1. proofs (that rest on nothing)
    for c in candidates:
        if c.proof is not None and not c.rests_on:
            out[c.name].certified, out[c.name].certificate = True, [c.proof]
    proven = [c for c in candidates if out[c.name].certified]
    for i, a in enumerate(proven):
        for b in proven[i + 1 :]:
            if abs(a.value - b.value) > a.err + b.err + 1e-12:
                for x in (a, b):
                    out[x.name].certified = False
                    out[x.name].refused = (
                        f"{a.name} ({a.value:.6g} +- {a.err:.2g}) and {b.name} ({b.value:.6g} +- {b.err:.2g}) "
                        "both claim a bound and contradict each other"
                    )

    # 2. estimates against the proofs, then against each other, until nothing changes
    def refuse_against_certified(c: Candidate) -> bool:
        sure = [by[n] for n, w in out.items() if w.certified and independent(c, by[n])]
        off = [s for s in sure if abs(c.value - s.value) > out[s.name].err + d]
        if off:
            s = off[0]
            out[c.name].refused = (
                f"disagrees with {s.name} ({s.value:.6g} +- {out[s.name].err:.2g}) by "
                f"{abs(c.value - s.value):.3g}, more than its error plus delta = {d:.3g}"
            )
        return bool(off)

    for c in candidates:
        if not out[c.name].certified and not c.rests_on:
            refuse_against_certified(c)
    changed = True
    while changed:
        changed = False
        for c in candidates:
            v = out[c.name]
            if v.certified or v.refused or c.rests_on:
                continue
            if refuse_against_certified(c):
                changed = True
                continue
            # agreement: |v - w| + u_w <= delta, u_w the other's bound (0 for an estimate). The certified
            # error: |v - w| + u_w against a bound (rigorous); against an estimate, where neither bounds
            # the truth, twice the gap plus the larger ladder error (a stated estimate, not a bound)
            agree, errs = [], []
            for o in candidates:
                if o.name == c.name or not independent(c, o) or out[o.name].refused or o.rests_on:
                    continue
                gap = abs(c.value - o.value)
                if o.proof is not None and out[o.name].certified:
                    if gap + out[o.name].err <= d:
                        agree.append(o.name)
                        errs.append(gap + out[o.name].err)
                elif gap <= d:
                    agree.append(o.name)
                    errs.append(2 * gap + max(c.err, o.err))
            if agree:
                v.certified, v.err, v.certificate = True, max(c.err, *errs), sorted(agree)
                changed = True
        # 3. what rests on others: certified when all of them are, refused when one is
        for c in candidates:
            v = out[c.name]
            if not c.rests_on or v.certified or v.refused:
                continue
            bases = [out[n] for n in c.rests_on if n in out]
            if any(b.refused for b in bases):
                v.refused = f"rests on {next(b.name for b in bases if b.refused)}, which is refused"
                changed = True
            elif len(bases) == len(c.rests_on) and all(b.certified for b in bases):
                v.certified = True
                v.certificate = sorted({n for b in bases for n in [b.name, *b.certificate]})
                changed = True
    # a certified estimate that a later-certified value contradicts
    for c in candidates:
        v = out[c.name]
        if not v.certified or c.proof is not None and not c.rests_on:
            continue
        for n, w in out.items():
            o = by[n]
            if n != c.name and w.certified and independent(c, o) and abs(c.value - o.value) > v.err + w.err + d:
                v.certified, v.refused = (
                    False,
                    (f"contradicts {n} ({o.value:.6g} +- {w.err:.2g}) beyond both errors plus delta = {d:.3g}"),
                )
    return out


def best(verdicts: dict[str, Certification], order: tuple[str, ...] = ()) -> Certification | None:
    """The certified verdict to show: one with a proof first, then the least certified error; `order`
    breaks ties (earlier names first)."""
    ok = [v for v in verdicts.values() if v.certified]
    if not ok:
        return None
    rank = {n: i for i, n in enumerate(order)}
    return min(ok, key=lambda v: (v.err, rank.get(v.name, len(rank))))
