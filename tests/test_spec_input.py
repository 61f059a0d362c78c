"""Hostile and mistyped spec input: each is refused at validation with one line naming the file and
the field (or line), exit code 2, no traceback; plus the checks behind those refusals."""

import importlib.util
import json
import math
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from eqvbench.cli import app
from eqvbench.errors import SpecError
from eqvbench.spec import (
    COMMON_POINT_FIELDS,
    FAMILY_POINT_FIELDS,
    MAX_POINTS,
    default_methods,
    load_spec,
    parse_angle,
    parse_bytes,
    parse_spec,
)

# nine levels of nine aliases: 9^9 (387 million) values once expanded, in a few hundred bytes
BOMB = "\n".join(
    ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
)


def _bomb_in(where: str) -> str:
    """A spec whose `where` (a dotted path) holds the alias bomb."""
    anchors = "x-anchors:\n" + "\n".join("  " + line for line in BOMB.splitlines()) + "\n"
    head, _, leaf = where.rpartition(".")
    body = f"{leaf}: *a8\n" if not head else f"{head}:\n  {leaf}: *a8\n"
    return anchors + "experiment: rcs\n" + body


BAD = [
    # (spec text after nothing / whole file, field or line the error names, words in the message)
    (_bomb_in("description"), "line ", "aliases"),
    (_bomb_in("seed"), "line ", "aliases"),
    (_bomb_in("report.title"), "line ", "aliases"),
    (_bomb_in("lattice.kind"), "line ", "aliases"),
    ("experiment: rcs\ndescription: &a [1, *a]\n", "line 2", "an alias refers to a value that contains it"),
    ("experiment: rcs\nx: &x 1\ndescription: [" + ", ".join(["*x"] * 150) + "]\n", "line ", "more than 100 aliases"),
    ("experiment: rcs\ndescription: " + "[" * 10_000 + "\n", "line ", "nested more than"),
    ("experiment: rcs\nseed: " + "7" * 5000 + "\n", "line ", "more than 30 digits"),
    ("experiment: rcs\ncircuit: {cycles: 2}\ncircuit: {cycles: 4}\n", "line 3", "duplicate key 'circuit'"),
    ("experiment: rcs\nnoise: {p2: 0.01, p2: 0.02}\n", "line 2", "duplicate key 'p2'"),
    ("experiment: rcs\ndevice: {shots: 100, repetition_s: .inf}\n", "device.repetition_s", "finite"),
    ("experiment: rcs\ndevice: {shots: 1000000, repetition_s: 1.0e+308}\n", "device.repetition_s", "86400"),
    ("experiment: rcs\ncost: {memory_limit: .inf}\n", "cost.memory_limit", "finite"),
    ("experiment: rcs\ncost: {memory_limit: 1e400}\n", "cost.memory_limit", "finite"),
    ("experiment: rcs\ncost: {memory_limit: '1e400 GB'}\n", "cost.memory_limit", "too large"),
    ("experiment: rcs\nnoise: {p2: .nan}\n", "noise.p2", "finite"),
    ("experiment: rcs\ncost: {machines: {tiny: 5.0e-324}}\nreport: {machine: tiny}\n", "cost.machines.tiny", "greater"),
    (
        "experiment: floquet_ising\nlattice: {kind: line, n: 4}\ncircuit: {theta_h: '9**9**9', observable: Z1}\n",
        "circuit.theta_h",
        "expected an angle",
    ),
    (
        "experiment: floquet_ising\nlattice: {kind: line, n: 4}\ncircuit: {theta_h: '__import__(\"os\")', observable: Z1}\n",
        "circuit.theta_h",
        "expected an angle",
    ),
    ("experiment: rcs\ncircuit: {cycles: true}\n", "circuit.cycles", "integer"),
    ("experiment: rcs\nseed: false\n", "seed", "integer"),
    ("experiment: rcs\nnoise: {p2: true}\n", "noise.p2", "number"),
    (
        "experiment: rcs\nreport: {machine: cray1}\n",
        "report.machine",
        "unknown machine 'cray1' (known: frontier, a100, h100",
    ),
    ("experiment: rcs\nreport: {columns: [cost_flop]}\n", "report.columns[0]", "did you mean 'cost_flops'?"),
    ("experiment: rcs\nreport: {columns: [{V: o_ideal}]}\n", "report.columns[0]", "not a field of a rcs point"),
    (
        "experiment: rcs\ncircuit: {cycle: 4}\n",
        "circuit.cycle",
        "unknown key (allowed: cycles, gate, instances, pattern; did you mean 'cycles'?)",
    ),
    ("experiment: rcs\nlattice: {kind: grid, colums: 4}\n", "lattice.colums", "did you mean 'cols'?"),
    ("experiment: rcs\nnosie: {p2: 0.01}\n", "nosie", "did you mean 'noise'?"),
    ("experiment: rcs\ncost: {memory_limit: 1KB}\n", "cost.memory_limit", "ambiguous: write kB (1000 bytes) or KiB"),
    (
        "experiment: rcs\ncircuit: {cycles: [%s]}\nnoise: {p2: [%s]}\n"
        % (", ".join(str(c) for c in range(1, 101)), ", ".join(f"0.00{k:02d}" for k in range(1, 102))),
        None,
        f"more than {MAX_POINTS}",
    ),
    ("experiment: rcs\ndescription: '" + "x" * 1_100_000 + "'\n", None, "larger than 1000 kB"),
    (
        "experiment: rcs\nlattice: {kind: grid, rows: 4, cols: 7}\n"
        "simulation: {method: trajectories, max_qubits: 28, batch: 100000}\n",
        "simulation",
        "needs about 781.3 TiB",
    ),
    (
        "experiment: rcs\nlattice: {kind: grid, rows: 4, cols: 7}\n"
        "simulation: {method: trajectories, max_qubits: 28, batch: 100000}\n",
        "simulation",
        "or a smaller simulation.batch",
    ),
]


@pytest.mark.parametrize("text,where,words", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_is_one_line(tmp_path, text, where, words):
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    r = CliRunner().invoke(app, ["validate", str(spec)])
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 2, r.output[:2000]
    assert len(lines) == 1 and len(lines[0]) < 1000, r.output[:2000]
    assert lines[0].startswith(f"error: {spec}: " + (where or "")), lines[0]
    assert words in lines[0], lines[0]
    assert "Traceback" not in r.output


def test_1kb_message_says_got_once():
    with pytest.raises(SpecError) as e:
        parse_spec({"experiment": "rcs", "cost": {"memory_limit": "1KB"}}, "s.yaml")
    assert str(e.value).count("'1KB'") == 1


def test_control_characters_in_keys_are_escaped(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text('experiment: rcs\n"bad\\e[31mkey\\nerror: forged": 1\n')
    r = CliRunner().invoke(app, ["validate", str(spec)])
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 2 and len(lines) == 1, r.output
    assert "\x1b" not in r.output and "\\x1b[31mkey\\nerror: forged" in lines[0]
    spec.write_text('experiment: rcs\ncases:\n  - {"bad\\e[31mkey": 1}\n')  # located in its case
    r = CliRunner().invoke(app, ["validate", str(spec)])
    assert r.exit_code == 2 and f"{spec}: cases[0].bad\\x1b[31mkey: unknown key" in r.output, r.output


def test_long_values_are_cut_in_messages():
    with pytest.raises(SpecError) as e:
        parse_spec({"experiment": "rcs", "circuit": {"cycles": "x" * 100_000}}, "s.yaml")
    assert len(str(e.value)) < 300


def test_aliases_and_yaml12_numbers_still_work(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "experiment: rcs\nnoise: &n {p2: 5e-3}\ncost: {machines: {mine: 1e18}}\n"
        "report: {machine: mine, columns: [cost_flops, seconds_on_mine]}\n"
        "cases:\n  - {noise: *n}\n  - {noise: {<<: *n, p1: 0.002}}\n"
    )
    s = load_spec(spec)
    assert [p.values["noise"]["p2"] for p in s.points] == [0.005, 0.005]
    assert s.points[1].values["noise"]["p1"] == 0.002
    assert s.model.cost.machines == {"mine": 1e18}


def test_columns_may_name_fields_of_any_case():
    raw = {
        "experiment": "rcs",
        "report": {"columns": ["o_ideal", "xeb_exact", "published_a_eff"]},
        "cases": [
            {},
            {
                "experiment": "floquet_ising",
                "lattice": {"kind": "line", "n": 4},
                "circuit": {"observable": "Z1"},
                "published": {"a_eff": 3},
            },
        ],
    }
    assert len(parse_spec(raw, "s.yaml").points) == 2


def test_point_field_lists_hold(tmp_path):
    """Every field a point of each family reports is one `report.columns` accepts."""
    spec = tmp_path / "all.yaml"
    spec.write_text(
        "experiment: rcs\nseed: 3\nlattice: {kind: grid, rows: 2, cols: 2}\ncircuit: {cycles: 2, instances: 1}\n"
        "cost: {max_repeats: 2, cache: false}\ndevice: {shots: 100, repetition_s: 1.0e-3}\n"
        "published: {cost_flops: 1.0e3}\ncases:\n  - {}\n"
        "  - {experiment: floquet_ising, lattice: {kind: line, n: 4}, circuit: {steps: 2, observable: Z1}}\n"
        "  - {experiment: otoc, lattice: {kind: grid, rows: 2, cols: 3}, circuit: {cycles: 2, instances: 1}}\n"
    )
    r = CliRunner().invoke(app, ["run", str(spec), "--json", "--no-store", "--workers", "1"])
    assert r.exit_code == 0, r.output
    machines = {"seconds_on_frontier", "seconds_on_a100", "seconds_on_h100"}
    for p in json.loads(r.stdout)["points"]:
        known = set(COMMON_POINT_FIELDS) | set(FAMILY_POINT_FIELDS[p["experiment"]]) | machines
        known |= {"params", "published_cost_flops", "ratio_cost_flops"}
        assert set(p) <= known, f"{p['experiment']} reports fields report.columns refuses: {set(p) - known}"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("pi/4", math.pi / 4),
        ("3*pi/8", 3 * math.pi / 8),
        ("-(3*pi/8 + 0.1)", -(3 * math.pi / 8 + 0.1)),
        ("2", 2.0),
        (0.5, 0.5),
        (1, 1.0),
        ("1e-3*pi", 1e-3 * math.pi),
        (".5", 0.5),
        ("- -pi", math.pi),
        ("2*(pi - 1)/3", 2 * (math.pi - 1) / 3),
    ],
)
def test_parse_angle(text, expected):
    assert parse_angle(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    "text",
    [
        "9**9**9",
        "2**3",
        "pi/0",
        "__import__('os')",
        "2 pi",
        "(((",
        "",
        "pi" * 5,
        True,
        "1e999",
        "(" * 50 + "1" + ")" * 50,
        "x" * 500,
        "abs(1)",
        "1;2",
    ],
)
def test_parse_angle_refuses(text):
    with pytest.raises(ValueError):
        parse_angle(text)


@pytest.mark.parametrize("text,expected", [("1kB", 1000), ("1KiB", 1024), ("1 kiB", 1024), ("2E3", 2000)])
def test_parse_bytes_units(text, expected):
    assert parse_bytes(text) == expected


def test_fsim_has_one_meaning_in_every_family():
    """syc, fsim and sycamore name fSim(pi/2, pi/6) in rcs and otoc; each family keeps its spelling."""
    for name in ("syc", "fsim", "sycamore"):
        rcs = parse_spec({"experiment": "rcs", "circuit": {"gate": name}}, "s.yaml")
        otoc = parse_spec({"experiment": "otoc", "circuit": {"gate": [name, "cz"]}}, "s.yaml")
        assert rcs.points[0].values["circuit"]["gate"] == "syc"
        assert [p.values["circuit"]["gate"] for p in otoc.points] == ["fsim", "cz"]
    assert parse_spec({"experiment": "otoc"}, "s.yaml").points[0].values["circuit"]["gate"] == "sqrt_iswap"


def test_methods_need_their_packages(monkeypatch):
    import eqvbench.spec as spec_mod

    if importlib.util.find_spec("igraph") is None:
        with pytest.raises(SpecError) as e:
            parse_spec({"experiment": "rcs", "cost": {"methods": ["greedy", "betweenness"]}}, "s.yaml")
        assert e.value.field == "cost.methods" and "'igraph'" in e.value.message
    # where kahypar is missing (Windows): the default falls back, an explicit kahypar is refused
    real = spec_mod._importable
    monkeypatch.setattr(spec_mod, "_importable", lambda m: m != "kahypar" and real(m))
    assert default_methods() == ["greedy", "labels"]
    assert parse_spec({"experiment": "rcs"}, "s.yaml").points[0].values["cost"]["methods"] == ["greedy", "labels"]
    with pytest.raises(SpecError, match="kahypar.*not installed"):
        parse_spec({"experiment": "rcs", "cost": {"methods": ["kahypar"]}}, "s.yaml")


def test_fallback_methods_search():
    """greedy + labels (the default without kahypar) runs a hyper-optimised search on its own."""
    import cotengra as ctg

    from eqvbench.classical.cost import CostSettings, contraction_cost

    inputs, output, _, sizes = ctg.utils.rand_equation(30, 3, n_out=0, seed=1)
    res = contraction_cost(inputs, output, sizes, CostSettings(max_repeats=4, methods=("greedy", "labels")))
    assert res.budget["search"] in ("hyper", "linear") and res.cost_flops > 0


class _WideTree:
    """Stand-in for a cotengra tree whose largest intermediate is past a float's range."""

    N = 10

    def max_size(self):
        return 2**1100


def test_slicer_refuses_trees_too_wide_to_count():
    from eqvbench.classical.cost import CostSettings, MemoryLimitError, _slice_to_fit

    with pytest.raises(MemoryLimitError, match=r"2\^1100 elements"):
        _slice_to_fit(_WideTree(), CostSettings())
    with pytest.raises(MemoryLimitError, match=r"2\^1100 elements"):
        _slice_to_fit(_WideTree(), CostSettings(memory_limit=None))


def test_input_wider_than_a_float_is_a_clear_error():
    from eqvbench.classical.cost import CostSettings, MemoryLimitError, contraction_cost

    inputs = [tuple(f"i{k}" for k in range(1100)), ("i0",)]
    sizes = {f"i{k}": 2 for k in range(1100)}
    with pytest.raises(MemoryLimitError, match="cannot hold one slice"):
        contraction_cost(inputs, (), sizes, CostSettings())


def test_memory_check_refuses_or_caps_workers():
    from eqvbench.sweeps.estimate import check_memory
    from eqvbench.pipeline import plan

    spec = parse_spec(
        {
            "experiment": "rcs",
            "lattice": {"kind": "grid", "rows": 3, "cols": 4},
            "simulation": {"method": "density_matrix", "max_qubits": 12},
        },
        "s.yaml",
    )
    plans = plan(spec)
    need = 3 * 16 * 4**12  # 12-qubit density matrix and two temporaries: 768 MiB
    with pytest.raises(SpecError) as e:
        check_memory(spec, plans, available=need - 1)
    assert (
        e.value.field == "simulation"
        and "768.0 MiB" in e.value.message
        and "12-qubit density matrix" in e.value.message
    )
    assert e.value.message.endswith("or use method: trajectories")
    assert check_memory(spec, plans, workers=8, available=3 * need) == 3
    assert check_memory(spec, plans, workers=2, available=100 * need) == 2


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs dask.distributed")
def test_bad_scheduler_fails_fast(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("experiment: rcs\nlattice: {kind: grid, rows: 2, cols: 2}\ncircuit: {cycles: 2}\n")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "eqvbench",
            "run",
            str(spec),
            "--no-store",
            "--executor",
            "dask",
            "--scheduler",
            "bogus",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert (
        r.stderr.strip() == "error: --scheduler bogus: not a Dask scheduler address "
        "(missing port number in address 'bogus')"
    )


def test_huge_sweep_is_refused_before_it_is_expanded(monkeypatch):
    """4e9 points (four swept lists of 250-256 values, a few kB of YAML) are counted, not built:
    refused without expanding a single point, in a plain spec and in a case."""
    import eqvbench.spec as spec_mod

    def expand(*a, **k):
        raise AssertionError("the sweep was expanded")

    monkeypatch.setattr(spec_mod, "expand", expand)
    sweep = {
        "circuit": {"cycles": list(range(1, 251))},
        "noise": {
            "p2": [k / 1e4 for k in range(1, 251)],
            "p1": [k / 1e5 for k in range(1, 251)],
            "readout": [k / 1e5 for k in range(1, 257)],
        },
    }
    with pytest.raises(SpecError, match=f"the sweep has 4000000000 points, more than {MAX_POINTS}"):
        parse_spec({"experiment": "rcs", **sweep}, "s.yaml")
    with pytest.raises(SpecError, match=f"more than {MAX_POINTS} points") as e:
        parse_spec({"experiment": "rcs", "cases": [sweep]}, "s.yaml")
    assert e.value.field == "cases[0]"


def test_memory_limit_is_the_least_of_machine_cgroup_and_ulimit(tmp_path, monkeypatch):
    """A container's or batch job's cgroup limit (v2 memory.max, v1 memory.limit_in_bytes, on the
    process's cgroup or a parent) and `ulimit -v` bound what a point may use, not the machine alone."""
    import resource

    import eqvbench.sweeps.estimate as est
    from eqvbench.pipeline import plan

    gib = 2**30
    monkeypatch.setattr(est, "physical_memory", lambda: 64 * gib)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    def tree(proc_line: str, files: dict[str, str]):
        root = tmp_path / f"t{len(list(tmp_path.iterdir()))}"
        root.mkdir()
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        (root / "cgroup").write_text(proc_line)
        return est.memory_limit(str(root / "cgroup"), str(root / "fs"))

    assert tree("0::/\n", {"fs/memory.max": "max\n"}) == (64 * gib, "this machine's")
    assert tree(
        "0::/user.slice/job_42\n", {"fs/user.slice/job_42/memory.max": f"{gib}\n", "fs/user.slice/memory.max": "max\n"}
    ) == (gib, "the cgroup memory limit of")
    assert tree(
        "12:memory:/slurm/job_7\n5:cpu,cpuacct:/x\n",
        {
            "fs/memory/slurm/job_7/memory.limit_in_bytes": "9223372036854771712\n",
            "fs/memory/slurm/memory.limit_in_bytes": f"{2 * gib}\n",
        },
    ) == (2 * gib, "the cgroup memory limit of")
    monkeypatch.setattr(resource, "getrlimit", lambda which: (3 * gib, resource.RLIM_INFINITY))
    assert tree("0::/\n", {}) == (3 * gib, "the address-space ulimit (ulimit -v) of")

    # and a run's memory check says which limit a point does not fit in
    monkeypatch.setattr(est, "memory_limit", lambda: (512 * 2**20, "the cgroup memory limit of"))
    spec = parse_spec(
        {
            "experiment": "rcs",
            "lattice": {"kind": "grid", "rows": 3, "cols": 4},
            "simulation": {"method": "density_matrix", "max_qubits": 12},
        },
        "s.yaml",
    )
    with pytest.raises(SpecError, match=r"needs about 768.0 MiB .* more than the cgroup memory limit of 512.0 MiB"):
        est.check_memory(spec, plan(spec))
