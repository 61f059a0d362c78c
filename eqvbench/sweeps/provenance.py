"""What computed a result: eqvbench's version, a fingerprint of its computing code, library versions.

The result store keys every point on :func:`code_identity`, so that a point
computed by other code (an update of eqvbench, or of a library that computes
numbers) is computed again instead of served stale, whether or not the version
number moved.
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


@functools.cache
def code_identity() -> str:
    """'<version>+<fingerprint>': the fingerprint also covers the computing libraries' versions
    and Python's minor version, so an upgrade of any of them gives another identity."""
    from eqvbench import __version__

    computing = dict(library_versions())
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
