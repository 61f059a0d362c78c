"""What users read cites nothing they do not have and prints no machine path.

Covers README.md, CONTRIBUTING.md, the pages under docs/, pyproject.toml, every
module and shipped config of the package (eqvbench/**/*.py,
eqvbench/configs/*.yaml) and the benchmark scripts: no internal design
documents (FRAMEWORK.md, "the design note"), no issue numbers or commit hashes,
no paths of the machine the docs were written on. The relative links of the
Markdown pages lead to files that exist, and to headings that exist there.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "pyproject.toml"]
    + list((ROOT / "docs").glob("*.md"))
    + list((ROOT / "eqvbench").rglob("*.py"))
    + list((ROOT / "eqvbench" / "configs").glob("*.yaml"))
    + list((ROOT / "benchmarks").glob("*.py"))
)
FORBIDDEN = [
    (re.compile(r"FRAMEWORK"), "an internal design document"),
    (re.compile(r"design note", re.I), "an internal design document"),
    (re.compile(r"\bissues? ?#?\d+", re.I), "an issue number"),
    (re.compile(r"\bcommit [0-9a-f]{7,40}\b", re.I), "a commit"),
    (re.compile(r"/work/|/root/|/home/\w|/Users/\w"), "a machine path"),
]


def test_the_covered_files_exist():
    names = {str(f.relative_to(ROOT)) for f in FILES}
    assert {
        "README.md",
        "CONTRIBUTING.md",
        "eqvbench/cli.py",
        "eqvbench/output/report.py",
        "eqvbench/configs/rcs.yaml",
        "docs/spec.md",
        "docs/families.md",
        "docs/physics.md",
        "docs/architecture.md",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=lambda f: str(f.relative_to(ROOT)))
def test_no_citation_users_cannot_follow(path):
    hits = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for pattern, what in FORBIDDEN:
            m = pattern.search(line)
            if m:
                hits.append(f"{path.relative_to(ROOT)}:{n}: {m.group(0)!r} ({what})")
    assert not hits, "\n".join(hits)


PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md"] + list((ROOT / "docs").glob("*.md")))
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    out, seen, fenced = set(), {}, False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        m = None if fenced else re.match(r"^#{1,6} +(.*?) *#*$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda f: str(f.relative_to(ROOT)))
def test_relative_links_resolve(page):
    bad = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target}: no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert not bad, "\n".join(bad)


# how a shipped config's description may name each simulation method
METHOD_WORDS = {"density_matrix": "density matrix", "trajectories": "trajectories", "qsim": "qsim"}


@pytest.mark.parametrize("path", sorted((ROOT / "eqvbench" / "configs").glob("*.yaml")), ids=lambda f: f.name)
def test_config_description_names_the_methods_it_runs(path):
    """A description that names a simulation method names every method its points resolve to
    (rcs.yaml once said 'simulate the density matrix exactly' while its 9 qubits ran trajectories)."""
    from eqvbench.pipeline import plan
    from eqvbench.simulation.simulate import resolve_method
    from eqvbench.spec import load_spec

    spec = load_spec(path)
    text = " ".join((spec.model.description or "").split()).lower()
    named = {m for m, words in METHOD_WORDS.items() if words in text}
    if not named:
        return
    used = {resolve_method(pp.point.values["simulation"]["method"], pp.n_qubits) for pp in plan(spec) if pp.simulate}
    assert used <= named, f"{path.name}: runs {sorted(used)}, its description names {sorted(named)}"


def test_spec_reference_names_every_region_setting():
    """docs/spec.md's table lists every field of `circuit.region` (the kicked-Ising model has them all)."""
    from eqvbench.families.floquet_ising import IsingRegionSpec

    text = (ROOT / "docs" / "spec.md").read_text()
    missing = [
        name for name in IsingRegionSpec.model_fields if f"`{name}`" not in text and f"`region.{name}`" not in text
    ]
    assert not missing, f"docs/spec.md does not document circuit.region fields {missing}"
