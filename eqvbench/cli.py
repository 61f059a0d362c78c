"""eqvbench command line. Heavy modules are imported inside the commands so
that `eqvbench --help` stays instant."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from eqvbench import __version__
from eqvbench.errors import EqvbenchError, SpecError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Effective quantum volume, fidelity and classical cost of noisy quantum-circuit experiments "
    "(Kechedzhi et al., arXiv:2306.15970).",
)

SpecArg = Annotated[
    str,
    typer.Argument(
        help="Spec file (YAML). A bare name that is not a file here, e.g. rcs.yaml, "
        "runs the example of that name shipped with eqvbench (see `eqvbench configs`).",
        show_default=False,
    ),
]


def shipped_configs_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("eqvbench") / "configs"))


def resolve_spec_path(arg: str) -> Path:
    """A file path as given, else a shipped example of that name; says which on stderr."""
    path = Path(arg)
    if path.is_file():
        return path
    if path.name == arg:  # bare name: look among the shipped examples
        for name in (arg, f"{arg}.yaml"):
            shipped = shipped_configs_dir() / name
            if shipped.is_file():
                typer.echo(f"eqvbench: {arg} is not a file here; using shipped example {shipped}", err=True)
                return shipped
    if path.exists():
        raise SpecError(arg, None, "is not a file")
    raise SpecError(arg, None, "file not found (shipped examples: `eqvbench configs`)")


def _fail(err: EqvbenchError) -> None:
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(err.exit_code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"eqvbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass


@app.command()
def run(
    spec: SpecArg,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout instead of the table.")
    ] = False,
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Also write the JSON document to this file (atomically).")
    ] = None,
) -> None:
    """Run every point of SPEC and print the cost-versus-resource table."""
    try:
        _run(spec, json_out, out)
    except EqvbenchError as e:
        _fail(e)
    except KeyboardInterrupt:
        typer.echo("interrupted: nothing written", err=True)
        raise typer.Exit(130)


def _run(spec_arg: str, json_out: bool, out: Path | None) -> None:
    import json
    import time

    from rich.console import Console

    from eqvbench.io import check_writable, write_atomic
    from eqvbench.pipeline import plan, run_point, to_document
    from eqvbench.report import fmt_param, footer_lines, param_headers, points_table
    from eqvbench.spec import load_spec

    path = resolve_spec_path(spec_arg)
    spec = load_spec(path)
    if out is not None:
        check_writable(out)
    plans = plan(spec)
    err = Console(stderr=True)
    heads = param_headers([k for p in spec.points for k in p.params])
    results, cache = [], {}
    t_start = time.perf_counter()
    with _progress(err) as progress:
        task = progress.add_task("points", total=len(plans))
        for i, pp in enumerate(plans):
            label = ", ".join(f"{heads[k]}={fmt_param(v)}" for k, v in pp.point.params.items()) or "point"
            t = time.perf_counter()

            def say(msg: str, label=label, i=i) -> None:
                progress.update(task, description=f"[{i + 1}/{len(plans)}] {label}: {msg}")

            results.append(run_point(spec, pp, cache, say))
            progress.advance(task)
            if not err.is_terminal:
                cached = " (cost: cached tree)" if results[-1].cost is not None and results[-1].cost.cached else ""
                err.print(f"[{i + 1}/{len(plans)}] {label}: done in {time.perf_counter() - t:.1f} s{cached}",
                          highlight=False)
    doc = to_document(spec, results)
    doc["wall_seconds"] = round(time.perf_counter() - t_start, 3)
    text = json.dumps(doc, indent=2, allow_nan=False)
    if out is not None:
        write_atomic(out, text + "\n")
    if json_out:
        sys.stdout.write(text + "\n")
        return
    console = _stdout_console()
    console.print(points_table(doc, spec.model.report.machine))
    for line in footer_lines(doc):
        console.print(line, highlight=False, soft_wrap=True)
    err.print(f"{len(results)} point(s) in {doc['wall_seconds']:.1f} s" + (f"; JSON written to {out}" if out else ""))


def _stdout_console():
    """Rich console for tables; wide when piped so that no column is cut."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=240)


def _progress(console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


@app.command()
def validate(spec: SpecArg) -> None:
    """Check SPEC and print the resolved sweep with a rough time/memory estimate; runs nothing."""
    try:
        _validate(spec)
    except EqvbenchError as e:
        _fail(e)


def _validate(spec_arg: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from eqvbench.estimate import estimate_point
    from eqvbench.families import get_family
    from eqvbench.pipeline import derive_seed, plan
    from eqvbench.report import fmt_param, fmt_seconds, param_headers
    from eqvbench.spec import load_spec

    path = resolve_spec_path(spec_arg)
    spec = load_spec(path)
    plans = plan(spec)
    heads = param_headers([k for p in spec.points for k in p.params])
    title = f"{path}: {', '.join(spec.experiments)}, {len(plans)} point(s), seed {spec.model.seed}"
    table = Table(title=title, title_justify="left")
    for h in heads.values():
        table.add_column(h, justify="right", style="cyan")
    for h in ("qubits", "2q gates", "instances", "simulate", "sim memory", "sim time", "cost search"):
        table.add_column(h, justify="right")
    total_s, peak = 0.0, 0
    for pp in plans:
        family = get_family(pp.point.values["experiment"])
        inst = family.build(pp.lattice, pp.point.values["circuit"], derive_seed(spec.model.seed, "instance", pp.structure, 0))
        est = estimate_point(pp, inst, family.n_instances(pp.point.values["circuit"]))
        total_s += est.seconds
        peak = max(peak, est.memory_bytes)
        table.add_row(
            *[fmt_param(pp.point.params.get(k, "")) for k in heads],
            str(pp.n_qubits),
            str(sum(1 for op in inst.circuit.all_operations() if len(op.qubits) == 2)),
            str(family.n_instances(pp.point.values["circuit"])),
            "yes" if pp.simulate else "no",
            _fmt_bytes(est.memory_bytes) if pp.simulate else "-",
            fmt_seconds(est.sim_seconds) if pp.simulate else "-",
            f"<= {fmt_seconds(est.cost_seconds)}" if est.cost_seconds else "-",
        )
    console = _stdout_console()
    console.print(table)
    console.print(
        f"spec OK. Rough estimate: {fmt_seconds(total_s)} in all (cost searches at their time budget), "
        f"peak simulation memory {_fmt_bytes(peak)}.",
        highlight=False,
    )


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


@app.command()
def configs() -> None:
    """List the example specs shipped with eqvbench."""
    d = shipped_configs_dir()
    for f in sorted(d.glob("*.yaml")):
        first = f.read_text().splitlines()[0] if f.stat().st_size else ""
        about = first.lstrip("# ").strip() if first.startswith("#") else ""
        typer.echo(f"{f.name:28s} {about}")
    typer.echo(f"(in {d}; run one with `eqvbench run NAME`)")


def main() -> None:
    app()
