"""What computed a result: eqvbench's version, a fingerprint of its computing code, library versions.

The result store keys every point on :func:`point_identity`, so that a point
computed by other code (an update of eqvbench, or of a library that computes
its numbers) is computed again instead of served stale, whether or not the
version number moved; an optional library the point does not use (qsimcirq,
for a point that does not simulate with qsim) is no part of it.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from pathlib import Path

# modules that only present, store or check results, as paths under the package: editing them
# changes no stored number
PRESENTATION_MODULES = frozenset(
    {
        "__main__.py",
        "cli.py",
        "io.py",
        "output/report.py",
        "output/plots.py",
        "output/checks.py",
        "output/results.py",
        "sweeps/store.py",
        "sweeps/estimate.py",
        "sweeps/provenance.py",
    }
)
# libraries that compute numbers (name in the document: distribution name)
LIBRARIES = {
    "cirq": "cirq-core",
    "cotengra": "cotengra",
    "quimb": "quimb",
    "numpy": "numpy",
    "numba": "numba",
    "kahypar": "kahypar",
    "optuna": "optuna",
    "qsimcirq": "qsimcirq",
}


@functools.cache
def code_fingerprint() -> str:
    """12 hex digits of a hash of the package's computing source and data files.

    Every ``.py`` file of the package (families included) except
    :data:`PRESENTATION_MODULES`, and the data files lattices are read from.
    """
    return fingerprint_of(Path(__file__).resolve().parent.parent)


def fingerprint_of(root: Path) -> str:
    """:func:`code_fingerprint` of the package source tree at `root`."""
    files = [p for p in root.rglob("*.py") if p.relative_to(root).as_posix() not in PRESENTATION_MODULES]
    files += list((root / "data").glob("*.json"))
    h = hashlib.sha256()
    for p in sorted(files):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    return h.hexdigest()[:12]


@functools.cache
def library_versions() -> dict[str, str]:
    """Python's version and the installed versions of the libraries in :data:`LIBRARIES`
    ('not installed' for an absent optional one)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name, dist in LIBRARIES.items():
        try:
            out[name] = version(dist)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


# optional libraries that compute numbers only for the points that ask for them: a point's identity
# covers one only where its computation can use it (installing the test extra, which brings
# qsimcirq, must not make every stored point stale)
OPTIONAL_LIBRARIES = frozenset({"qsimcirq"})


def libraries_used(values: dict) -> frozenset[str]:
    """The optional libraries a point with resolved `values` can compute with: qsimcirq for
    `simulation.method: qsim` (where it is absent the point falls back to trajectories, so its
    presence, too, changes the numbers)."""
    simulation = values.get("simulation") or {}
    return frozenset({"qsimcirq"}) if simulation.get("method") == "qsim" else frozenset()


def point_identity(values: dict) -> str:
    """:func:`code_identity` of what computes the point with resolved `values` (its store key's)."""
    return code_identity(libraries_used(values))


@functools.cache
def code_identity(uses: frozenset[str] = frozenset()) -> str:
    """'<version>+<fingerprint>': the fingerprint also covers the computing libraries' versions
    (the required ones, and those of :data:`OPTIONAL_LIBRARIES` in `uses`) and Python's minor
    version, so an upgrade of any of them gives another identity."""
    from eqvbench import __version__

    computing = {k: v for k, v in library_versions().items() if k not in OPTIONAL_LIBRARIES or k in uses}
    computing["python"] = ".".join(computing["python"].split(".")[:2])
    h = hashlib.sha256(code_fingerprint().encode())
    h.update(repr(sorted(computing.items())).encode())
    return f"{__version__}+{h.hexdigest()[:12]}"


def provenance() -> dict[str, object]:
    """The fields a result document records about what computed it."""
    from eqvbench import __version__

    return {
        "eqvbench_version": __version__,
        "code_identity": code_identity(),
        "code_fingerprint": code_fingerprint(),
        "versions": library_versions(),
    }
