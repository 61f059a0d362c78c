"""The declared dependency lower bounds and the pinned minimum versions CI installs agree."""

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _lower_bounds() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for dep in deps:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9][0-9.]*)\s*(?:[,;].*)?$", dep)
        assert m, f"pyproject.toml: {dep!r} has no '>=' lower bound"
        out[m.group(1).lower()] = m.group(2)
    return out


def _pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".ci" / "min-constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[name.strip().lower()] = version.strip()
    return out


def _norm(v: str) -> tuple[int, ...]:
    parts = [int(x) for x in v.split(".")]
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def test_min_constraints_match_pyproject_lower_bounds():
    bounds, pins = _lower_bounds(), _pins()
    assert set(bounds) == set(pins), (
        f"only in pyproject: {set(bounds) - set(pins)}; only pinned: {set(pins) - set(bounds)}"
    )
    for name, low in bounds.items():
        assert _norm(pins[name]) == _norm(low), (
            f"{name}: pyproject says >={low}, .ci/min-constraints.txt pins {pins[name]}"
        )


def test_ci_runs_the_minimum_versions():
    run = (ROOT / ".ci" / "run").read_text()
    assert 'pip install ".[test]" && pytest' in run and ".ci/min-versions" in run
    script = (ROOT / ".ci" / "min-versions").read_text()
    assert "-c .ci/min-constraints.txt" in script and ".ci/smoke.yaml" in script


def test_imported_packages_are_declared():
    """Every third-party package eqvbench imports is a dependency (or, for optional ones, an extra)."""
    declared = set(_lower_bounds()) | {"dask", "distributed", "qsimcirq", "igraph", "pandas"}
    aliases = {"yaml": "pyyaml", "cirq": "cirq-core"}
    stdlib = __import__("sys").stdlib_module_names
    found = set()
    for f in (ROOT / "eqvbench").rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            found |= {aliases.get(t, t) for t in tops if t not in stdlib and t != "eqvbench"}
    assert found <= declared, f"imported but not declared: {found - declared}"
