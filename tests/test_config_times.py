"""The run times stated for the shipped configs come from one command and agree everywhere.

Each config's first line states what `benchmarks/time_configs.py` measured, as
``(<figures> on 2 shared cores, benchmarks/time_configs.py)`` with figures such
as ``21.6 s wall`` and ``53.3 CPU s``. `eqvbench configs` prints that line, and
wherever the README or a page of docs/ speaks of one config (a paragraph or list
item naming it alone), a stated time is one of its header's figures and no
"about N s/min" stands in for one. Nothing here times a run.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "eqvbench" / "configs").glob("*.yaml"))
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
HEADER = re.compile(r"\(([^()]*) on 2 shared cores, benchmarks/time_configs\.py\)$")
FIGURE = re.compile(r"(?:over )?\d+(?:\.\d+)? (?:s wall|CPU s)\b")
LOOSE = re.compile(r"\babout \d+(?:\.\d+)? ?(?:s|seconds?|min|minutes?)\b", re.I)


def header_figures(path: Path) -> list[str]:
    """The figures of a config's first line, e.g. ['157 s wall', '307 CPU s']."""
    m = HEADER.search(path.read_text().splitlines()[0])
    assert m, f"{path.name}: first line states no time from benchmarks/time_configs.py"
    figures = FIGURE.findall(m.group(1))
    assert figures and ", ".join(figures) == m.group(1), f"{path.name}: {m.group(1)!r}"
    return figures


def blocks(text: str) -> list[str]:
    """Paragraphs and list items outside fenced code (sample output is what a run printed, not a claim)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [b for b in re.split(r"\n\s*\n|\n(?=[-*] )", text) if b.strip()]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_each_header_states_a_measured_time(path):
    header_figures(path)


def test_configs_listing_states_the_header_times():
    from typer.testing import CliRunner

    from eqvbench.cli import app

    out = CliRunner().invoke(app, ["configs"]).output
    for path in CONFIGS:
        (line,) = [ln for ln in out.splitlines() if ln.startswith(path.name + " ")]
        assert all(f in line for f in header_figures(path)), line


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_state_the_header_times(doc):
    figures = {p.name: header_figures(p) for p in CONFIGS}
    for block in blocks(doc.read_text()):
        named = {n for n in figures if re.search(rf"\b{re.escape(n)}\b", block)}
        if len(named) != 1:
            continue
        (name,) = named
        flat = " ".join(block.split())
        for f in FIGURE.findall(flat):
            assert f in figures[name], f"{doc.name}: {name} stated as {f!r}, its header says {figures[name]}: {flat}"
        assert not LOOSE.search(flat), f"{doc.name}: {name}: a time not from time_configs.py: {flat}"


def test_readme_lists_every_config_with_its_times():
    readme = (ROOT / "README.md").read_text()
    for path in CONFIGS:
        (item,) = [b for b in blocks(readme) if b.startswith(f"- `configs/{path.name}`")]
        assert all(f in " ".join(item.split()) for f in header_figures(path)), item
