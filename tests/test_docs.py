"""What users read cites nothing they do not have and prints no machine path.

Covers README.md, pyproject.toml, every module and shipped config of the
package (eqvbench/**/*.py, eqvbench/configs/*.yaml) and the benchmark scripts:
no internal design documents (FRAMEWORK.md, "the design note"), no issue
numbers or commit hashes, no paths of the machine the docs were written on.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(
    [ROOT / "README.md", ROOT / "pyproject.toml"]
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
    assert {"README.md", "eqvbench/cli.py", "eqvbench/report.py", "eqvbench/configs/rcs.yaml"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda f: str(f.relative_to(ROOT)))
def test_no_citation_users_cannot_follow(path):
    hits = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for pattern, what in FORBIDDEN:
            m = pattern.search(line)
            if m:
                hits.append(f"{path.relative_to(ROOT)}:{n}: {m.group(0)!r} ({what})")
    assert not hits, "\n".join(hits)
