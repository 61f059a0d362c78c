"""eqvbench command line. Heavy modules are imported inside the commands so
that `eqvbench --help` stays instant."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from eqvbench import __version__
from eqvbench.errors import EqvbenchError, printable

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Effective quantum volume, fidelity and classical cost of noisy quantum-circuit experiments "
    "(Kechedzhi et al., arXiv:2306.15970). A YAML spec names an experiment (rcs, floquet_ising, otoc, or "
    "circuit: your own OpenQASM 2 / Cirq JSON file), its noise (uniform rates or noise.calibration) and sweeps; "
    "each point lists every classical method (contraction, effective region, Pauli propagation) and the "
    "cheapest one. From Python: eqvbench.run(spec).",
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
    from eqvbench.sweeps.sweep import shipped_configs_dir

    return shipped_configs_dir()


def resolve_spec_path(arg: str) -> Path:
    """A file path as given, else a shipped example of that name; says which on stderr."""
    from eqvbench.sweeps.sweep import find_spec_file

    path, shipped = find_spec_file(arg)
    if shipped:
        typer.echo(f"eqvbench: {arg} is not a file here; using shipped example {path}", err=True)
    return path


def _fail(err: EqvbenchError) -> None:
    typer.echo(f"error: {printable(str(err))}", err=True)  # values from files: no raw newlines or escapes
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
    import sys

    if sys.stderr.isatty():  # a large circuit file takes seconds to load: say so on the terminal
        from eqvbench.families import circuit

        circuit.load_progress = _show_load


_shown = {"at": 0.0}


def _show_load(name: str, fraction: float) -> None:
    """One self-erasing status line on stderr: 'loading NAME: 45%' (at most twice a second)."""
    import sys
    import time

    now = time.monotonic()
    if fraction >= 1.0:
        if _shown["at"]:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
        _shown["at"] = 0.0
    elif now - _shown["at"] >= 0.5:
        sys.stderr.write(f"\r\x1b[Kloading {printable(name, 60)}: {100 * fraction:.0f}%")
        sys.stderr.flush()
        _shown["at"] = now


ColumnsOpt = Annotated[
    Optional[str],
    typer.Option(
        "--columns",
        help="Table columns after the swept values: JSON field names separated by commas, "
        "e.g. f_eff,cost_flops,resource_flops (a wrong name lists the allowed ones).",
        show_default=False,
    ),
]


@app.command()
def run(
    spec: SpecArg,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout instead of the table.")
    ] = False,
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Also write the JSON document to this file (atomically).")
    ] = None,
    store: Annotated[
        Optional[Path],
        typer.Option(
            "--store",
            help="Result store (SQLite). Finished points are committed as they finish and reused by later "
            "runs. Default: <spec stem>.eqvdb in the current directory.",
            show_default=False,
        ),
    ] = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Keep no store: compute every point.")] = False,
    workers: Annotated[
        Optional[int],
        typer.Option(
            "--workers",
            "-w",
            help="Local worker processes (default: the machine's cores, or 1 for a sweep "
            "too small to pay for starting them).",
            show_default=False,
        ),
    ] = None,
    executor: Annotated[
        str, typer.Option("--executor", help="Where points run: 'local' (process pool) or 'dask' (needs --scheduler).")
    ] = "local",
    scheduler: Annotated[
        Optional[str],
        typer.Option(
            "--scheduler",
            help="Dask scheduler address for --executor dask, e.g. tcp://scheduler-host:8786.",
            show_default=False,
        ),
    ] = None,
    columns: ColumnsOpt = None,
) -> None:
    """Run every point of SPEC and print the cost-versus-resource table.

    Exits 1 when a check of the spec's `checks:` section fails.
    """
    from eqvbench import interrupts

    sweep_holder: list = []  # the Sweep, once made: what an interruption leaves

    def late() -> None:  # the run did not stop within the grace period (numba compiling, a long C call)
        saved = sweep_holder[0].saved if sweep_holder else "nothing written"
        interrupts.hard_exit(f"interrupted: {saved}")

    try:
        # Ctrl-C and SIGTERM (a batch scheduler's time limit) are acted on at safe points (eqvbench.interrupts)
        with interrupts.deferred(on_late=late):
            failed = _run(spec, json_out, out, store, no_store, workers, executor, scheduler, columns, sweep_holder)
    except EqvbenchError as e:
        _fail(e)  # a lost worker's message says what the store kept (eqvbench.sweeps.sweep.Sweep.run)
    except KeyboardInterrupt as e:
        typer.echo(f"interrupted: {getattr(e, 'saved', 'nothing written')}", err=True)
        raise typer.Exit(130) from None
    if failed:
        raise typer.Exit(1)


def _run_options(store, no_store, workers, executor, scheduler) -> None:
    """The options of `run`, checked with their flags' names before anything is read."""
    if store is not None and no_store:
        raise EqvbenchError("--store and --no-store exclude each other")
    if workers is not None and workers < 1:
        raise EqvbenchError(f"--workers {workers}: must be at least 1")
    if executor not in ("local", "dask"):
        raise EqvbenchError(f"--executor {executor}: must be 'local' or 'dask'")
    if executor == "dask" and not scheduler:
        raise EqvbenchError("--executor dask needs --scheduler ADDRESS (the Dask scheduler, e.g. tcp://host:8786)")
    if executor == "dask" and workers is not None:
        raise EqvbenchError("--workers applies to --executor local; the Dask cluster has its own workers")
    if scheduler and executor != "dask":
        raise EqvbenchError("--scheduler is used with --executor dask only")
    if scheduler and executor == "dask":
        from eqvbench.sweeps.execute import reach_scheduler
        from eqvbench.sweeps.sweep import check_scheduler_address

        check_scheduler_address(scheduler)
        reach_scheduler(scheduler)  # a closed port is said at once, before the spec is read


def _run(
    spec_arg, json_out, out, store_path, no_store, workers, executor, scheduler, columns_opt=None, holder=None
) -> bool:
    """Run a sweep (eqvbench.sweeps.sweep) and print it; returns True when a check failed."""
    import time

    from rich.console import Console

    from eqvbench import interrupts
    from eqvbench.io import check_writable, write_output
    from eqvbench.output.report import eta_seconds, fmt_seconds, param_headers, point_label, run_summary
    from eqvbench.sweeps.sweep import Sweep, SweepInterrupted, default_store, load

    _run_options(store_path, no_store, workers, executor, scheduler)
    err = Console(stderr=True, markup=False, emoji=False)  # text from specs and stores is printed as is
    spec = load(resolve_spec_path(spec_arg))
    store_file = None if no_store else (store_path or default_store(spec))
    columns = _columns_for_spec(spec, columns_opt)
    if out is not None:
        check_writable(out, protect={"the spec": spec.file, "the run's store": store_file})
    heads = param_headers([k for p in spec.points for k in p.params])
    labels: dict[int, str] = {}
    started: dict[int, float] = {}
    clock = {"points": 0.0}
    progress, task = _progress(err), None
    log = _ProgressLog(err)  # piped stderr: what each running point does, at least every HEARTBEAT_S

    def on_event(kind: str, i: int, msg: str) -> None:
        nonlocal task
        if kind == "note":
            err.print(printable(msg), highlight=False, soft_wrap=True)
        elif kind == "planned":
            labels.update({j: point_label(sweep.plans[j].point.params, heads) or "point" for j in sweep.pending})
            progress.start()
            task = progress.add_task("points", total=len(sweep.pending))
        elif kind == "compiling":
            progress.update(task, description=msg)
            if not err.is_terminal:
                err.print(msg, highlight=False, soft_wrap=True)
                log.doing(-1, "eqvbench", msg, printed=True)
        elif kind == "running":
            log.finished(-1)
            clock["points"] = time.perf_counter()
            progress.reset(task, total=len(sweep.pending))
        elif kind in ("start", "progress"):
            if kind == "start":
                started[i] = time.perf_counter()
                msg = "running" if not sweep.parallel else f"{len(started)} running"
            progress.update(task, description=f"{labels[i]}: {msg}")
            if not err.is_terminal:
                log.doing(i, labels[i], msg)
        elif kind == "done":
            log.finished(i)
            n_done, n_pending = sweep.n_done, len(sweep.pending)
            progress.advance(task)
            t = started.pop(i, clock["points"])
            if not err.is_terminal:
                point = sweep.points[i]
                cached = " (cost: cached tree)" if (point.get("cost") or {}).get("cached") else ""
                now = time.perf_counter() - clock["points"]
                left = eta_seconds(now, now, n_done, n_pending)
                eta = f"; about {fmt_seconds(left)} left" if left is not None else ""
                err.print(
                    f"[{n_done}/{n_pending}] {labels[i]}: done in {time.perf_counter() - t:.1f} s{cached}{eta}",
                    highlight=False,
                    soft_wrap=True,
                )  # one line each, for logs

    sweep = Sweep(spec, store=store_file, executor=executor, workers=workers, scheduler=scheduler, on_event=on_event)
    if holder is not None:
        holder.append(sweep)
    try:
        if not err.is_terminal:
            log.start()
        results = sweep.run()
    finally:
        log.stop()
        progress.stop()
    try:
        doc = results.document
        text = results.to_json()
        if out is not None:
            write_output(out, text + "\n")
        if json_out:
            sys.stdout.write(text + "\n")
        else:
            console = _stdout_console()
            _print_table(console, doc, spec.model.report.machine, columns)
            if results.checks:
                _print_checks(console, results.checks)
        err.print(
            run_summary(
                len(results),
                results.wall_seconds,
                results.n_computed,
                results.how,
                results.n_reused if results.store is not None else None,
                results.store,
                out,
            ),
            highlight=False,
            soft_wrap=True,
        )
        failed = results.checks_passed is False
        if results.checks:
            n_fail = sum(not r["passed"] for r in results.checks)
            err.print(
                f"checks: {len(results.checks) - n_fail} of {len(results.checks)} passed"
                + (" - FAILED" if failed else ""),
                highlight=False,
            )
        interrupts.check()  # a signal that came in while the results were printed
    except KeyboardInterrupt:
        raise SweepInterrupted(results.saved) from None
    return failed


HEARTBEAT_S = 5.0  # a log (stderr not a terminal) hears from a running step at least this often


class _ProgressLog:
    """Progress lines for a log, once a point has run HEARTBEAT_S: '[running] LABEL: STAGE (N s)'
    when its stage changes, and again from a thread when a step has said nothing for HEARTBEAT_S
    (a long simulation, cost search or compilation is otherwise silent until it ends)."""

    def __init__(self, console, period: float = HEARTBEAT_S):
        import threading

        self.console = console
        self.period = period
        self.lock = threading.Lock()
        self.steps: dict[int, list] = {}  # index -> [label, message, stage, started, last printed]
        self.stopped = threading.Event()
        self.thread = None

    @staticmethod
    def _stage(msg: str) -> str:
        """The words before the first number ('cost search: 12 trials, ...' -> 'cost search: ')."""
        import re

        m = re.search(r"\d", msg)
        return msg[: m.start()] if m else msg

    def _line(self, step: list, now: float) -> None:
        label, msg, _, t0, _ = step
        step[4] = now
        self.console.print(
            printable(f"[running] {label}: {msg} ({now - t0:.0f} s)"), highlight=False, soft_wrap=True, markup=False
        )

    def doing(self, i: int, label: str, msg: str, printed: bool = False) -> None:
        import time

        now = time.perf_counter()
        with self.lock:
            step = self.steps.get(i)
            if step is None:
                step = self.steps[i] = [label, msg, None, now, now if printed else 0.0]
            stage = self._stage(msg)
            step[1] = msg
            # a point's first HEARTBEAT_S say nothing (a quick point's log is its one 'done' line)
            if not printed and now - step[3] >= self.period and (stage != step[2] or now - step[4] >= self.period):
                self._line(step, now)
            step[2] = stage

    def finished(self, i: int) -> None:
        with self.lock:
            self.steps.pop(i, None)

    def _beat(self) -> None:
        import time

        while not self.stopped.wait(min(1.0, self.period / 2)):
            now = time.perf_counter()
            with self.lock:
                for step in self.steps.values():
                    if now - step[3] >= self.period and now - step[4] >= self.period:
                        self._line(step, now)

    def start(self) -> None:
        import threading

        self.thread = threading.Thread(target=self._beat, name="eqvbench-progress-log", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=2)


def _columns_for_spec(spec, text: str | None) -> list[str] | None:
    """--columns checked against the fields the spec's families report, before anything runs."""
    if text is None:
        return None
    from eqvbench.output.fields import spec_fields
    from eqvbench.output.report import parse_columns

    return parse_columns(text, spec_fields(spec) + ["cheapest_method", "verdict"])


def _print_table(console, doc, machine: str, columns: list[str] | None) -> None:
    """The points table at the console's width (columns left out by priority, said under it), then the footer."""
    from eqvbench.output.report import footer_lines, points_table

    table, dropped = points_table(doc, machine, width=console.width, columns=columns)
    console.print(table)
    for line in footer_lines(doc, dropped, console.width):
        console.print(line, highlight=False, soft_wrap=True)


def _print_checks(console, rows) -> None:
    from eqvbench.output.report import checks_table

    failed = [r for r in rows if not r["passed"]]
    if failed:
        console.print(checks_table(failed, title=f"Failed checks: {len(failed)} of {len(rows)}"))
    else:
        console.print(f"checks: all {len(rows)} passed", highlight=False)


def _stdout_console():
    """Rich console for tables; wide when piped so that no column is cut."""
    from rich.console import Console

    # no rich markup or emoji codes: titles, labels and cells hold text from specs and stores
    # ('[/x]' in a title would otherwise stop the run with a traceback after all its work)
    console = Console(markup=False, emoji=False)
    return console if console.is_terminal else Console(width=240, markup=False, emoji=False)


def _eta_column():
    """Progress column: 'ETA ...', the time left by :func:`eqvbench.output.report.eta_seconds` (blank until
    a point has finished); it counts down between finished points instead of growing with the wait."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    from eqvbench.output.report import eta_seconds, fmt_seconds

    class Eta(ProgressColumn):
        def __init__(self):
            super().__init__()
            self._last: dict = {}  # task id -> (completed, elapsed when that many had finished)

        def render(self, task) -> Text:
            if not task.completed or task.finished or task.elapsed is None:
                return Text("")
            seen = self._last.get(task.id)
            if seen is None or seen[0] != task.completed:
                seen = self._last[task.id] = (task.completed, task.elapsed)
            left = eta_seconds(task.elapsed, seen[1], int(task.completed), int(task.total or 0))
            return Text("" if left is None else f"ETA {fmt_seconds(left)}", style="progress.remaining")

    return Eta()


def _progress(console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        _eta_column(),
        console=console,
        transient=True,
    )


ResultsArg = Annotated[
    Path,
    typer.Argument(
        help="A result store (.eqvdb, written by `eqvbench run`) or a JSON document from `eqvbench run --json/--out`.",
        show_default=False,
    ),
]
RunOpt = Annotated[
    Optional[int],
    typer.Option(
        "--run",
        help="Which run of the store (default: the latest; `eqvbench show --runs` lists them).",
        show_default=False,
    ),
]


@app.command()
def show(
    results: ResultsArg,
    run_id: RunOpt = None,
    runs: Annotated[bool, typer.Option("--runs", help="List the runs recorded in the store instead.")] = False,
    columns: ColumnsOpt = None,
) -> None:
    """Print the table of a finished (or interrupted) run again, from its store."""
    try:
        _show(results, run_id, runs, columns)
    except EqvbenchError as e:
        _fail(e)


def _show(results: Path, run_id: int | None, runs: bool, columns_opt: str | None = None) -> None:
    from eqvbench.output.report import allowed_columns, parse_columns
    from eqvbench.sweeps.store import list_runs, load_results

    console = _stdout_console()
    if runs:
        from rich.table import Table

        table = Table(title=printable(f"{results}: runs"), title_justify="left")
        for h in ("run", "started (UTC)", "finished", "eqvbench", "spec", "points", "finished points", "reused"):
            table.add_column(h)
        from eqvbench.sweeps.provenance import code_identity

        rows = list_runs(results)
        for r in rows:
            table.add_row(
                *[
                    printable(str(v))
                    for v in (
                        r["id"],
                        r["started_at"],
                        r["finished_at"] or "no (interrupted or running)",
                        r["eqvbench_version"],
                        r["spec_file"],
                        r["n_points"],
                        r["n_finished"],
                        "-" if r["n_reused"] is None else r["n_reused"],
                    )
                ]
            )
        console.print(table)
        if any(r["eqvbench_version"] != code_identity() for r in rows):
            typer.echo(
                f"note: this is eqvbench {code_identity()}; points of runs by other code are computed "
                "anew when their spec runs again",
                err=True,
            )
        return
    from eqvbench.pipeline import summarize

    doc = load_results(results, run_id)
    columns = parse_columns(columns_opt, allowed_columns(doc)) if columns_opt is not None else None
    fit = summarize(list(dict.fromkeys(p["experiment"] for p in doc["points"])), doc["points"])
    doc.pop("summary", None)
    if fit is not None:
        doc["summary"] = fit
    machine = doc["spec"].get("report", {}).get("machine") or (
        (doc["spec"].get("cases") or [{}])[0].get("report", {}).get("machine", "frontier")
    )
    _print_table(console, doc, machine, columns)
    st = doc.get("store")
    if isinstance(st, dict) and isinstance(st.get("n_points"), int) and isinstance(st.get("n_finished"), int):
        # read from a store (a `run --out` document's "store" says where its run kept its points instead)
        missing = st["n_points"] - st["n_finished"]
        typer.echo(
            f"run {st['run']} of {st['path']}: {st['n_finished']} of {st['n_points']} point(s) finished"
            + (f"; {missing} missing (rerun the spec to finish)" if missing else ""),
            err=True,
        )
    stale = _stale_note(doc)
    if stale:
        typer.echo(stale, err=True)


def _stale_note(doc: dict) -> str | None:
    """A line saying that the points were computed by other code than this eqvbench's, or None."""
    from eqvbench.sweeps.provenance import code_identity

    theirs = doc.get("code_identity")
    if theirs == code_identity():
        return None
    version = doc.get("eqvbench_version")
    if not isinstance(theirs, str):
        what = f"eqvbench {version}, before code fingerprints were recorded"
    elif version != __version__:
        what = f"eqvbench {version} ({theirs})"
    else:
        what = f"other code or libraries ({theirs})"
    return (
        f"note: these points were computed by {what}; this is eqvbench {code_identity()}: "
        "running the spec again computes them anew"
    )


@app.command()
def export(
    results: ResultsArg,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json (the `run --json` document) or csv (one row per point).")
    ] = "json",
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Write to this file (atomically) instead of stdout.")
    ] = None,
    run_id: RunOpt = None,
) -> None:
    """Write the points of a stored run as JSON or CSV."""
    try:
        _export(results, fmt, out, run_id)
    except EqvbenchError as e:
        _fail(e)


def _export(results: Path, fmt: str, out: Path | None, run_id: int | None) -> None:
    import json

    from eqvbench.io import check_writable, write_output
    from eqvbench.output.report import points_csv
    from eqvbench.sweeps.store import load_results

    if fmt not in ("json", "csv"):
        raise EqvbenchError(f"--format {fmt}: must be 'json' or 'csv'")
    if out is not None:
        check_writable(out, protect={"the file being read": results})
    doc = load_results(results, run_id)
    text = json.dumps(doc, indent=2, allow_nan=False) + "\n" if fmt == "json" else points_csv(doc["points"])
    if out is None:
        sys.stdout.write(text)
    else:
        write_output(out, text)
        typer.echo(f"{len(doc['points'])} point(s) written to {out}", err=True)


@app.command()
def plot(
    results: ResultsArg,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="File to write (atomically): .png, or .pdf / .svg for vector figures.",
            show_default=False,
        ),
    ],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="all (every figure that applies), cost (resource vs cost), "
            "fidelity (f_eff vs volume), butterfly (per-gate sensitivity map), "
            "landscape (classical vs device time, break-even arrows), resource (f x cost vs depth, peak).",
        ),
    ] = "all",
    run_id: RunOpt = None,
    size: Annotated[
        Optional[str],
        typer.Option(
            "--size",
            help="Figure size WIDTHxHEIGHT in inches, e.g. 12x5 (default: 5.6x4.4 per panel).",
            show_default=False,
        ),
    ] = None,
    font_size: Annotated[float, typer.Option("--font-size", help="Base font size in points.")] = 10.0,
    dpi: Annotated[float, typer.Option("--dpi", help="Resolution of a PNG, dots per inch.")] = 110.0,
    points: Annotated[
        Optional[str],
        typer.Option(
            "--points",
            help="Table rows (from 1) whose butterfly maps to draw, e.g. 1,5,9 "
            "(default: the first, the last and one between).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Draw the cost-versus-resource figure, f_eff against volume and, for observable families,
    the butterfly-cone map, from a store or a JSON document (needs eqvbench[plot])."""
    try:
        _plot(results, out, kind, run_id, size=size, font_size=font_size, dpi=dpi, points=points)
    except EqvbenchError as e:
        _fail(e)


def _plot_numbers(option: str, text: str, sep: str, kind: type) -> list:
    """'12x5' -> [12.0, 5.0]; '1,5,9' -> [1, 5, 9]; EqvbenchError (one line) otherwise."""
    try:
        return [kind(x) for x in text.lower().split(sep)]
    except ValueError:
        raise EqvbenchError(f"{option} {text!r}: give numbers separated by '{sep}'") from None


def _plot(
    results: Path,
    out: Path,
    kind: str,
    run_id: int | None,
    size: str | None = None,
    font_size: float = 10.0,
    dpi: float = 110.0,
    points: str | None = None,
) -> None:
    from eqvbench.io import check_writable, write_output
    from eqvbench.output.plots import FORMATS, KINDS, render
    from eqvbench.sweeps.store import load_results

    from eqvbench.output import landscape

    if kind not in KINDS + landscape.KINDS:
        raise EqvbenchError(f"--kind {kind}: must be one of {', '.join(KINDS + landscape.KINDS)}")
    if kind in landscape.KINDS:
        render = landscape.render  # noqa: F811 (landscape, resource: eqvbench.output.landscape)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise EqvbenchError(f"--out {out}: plots are written as PNG, PDF or SVG: give a .png, .pdf or .svg file name")
    check_writable(out, protect={"the file being read": results})
    doc = load_results(results, run_id)
    fig_size = _plot_numbers("--size", size, "x", float) if size else None
    if fig_size is not None and len(fig_size) != 2:
        raise EqvbenchError(f"--size {size!r}: give WIDTHxHEIGHT in inches, e.g. 12x5")
    maps = _plot_numbers("--points", points, ",", int) if points else None
    data, drawn = render(
        doc,
        kind,
        source=str(results),
        fmt=fmt,
        size=fig_size and tuple(fig_size),
        font_size=font_size,
        dpi=dpi,
        maps=maps,
    )
    write_output(out, data)
    typer.echo(f"{out}: {', '.join(drawn)} ({len(doc['points'])} point(s))", err=True)


@app.command()
def validate(spec: SpecArg) -> None:
    """Check SPEC and print the resolved sweep with a rough time/memory estimate; runs nothing."""
    try:
        _validate(spec)
    except EqvbenchError as e:
        _fail(e)


def _validate(spec_arg: str) -> None:
    from rich.table import Table

    from eqvbench.sweeps.estimate import check_memory, estimate_point
    from eqvbench.families import get_family
    from eqvbench.pipeline import derive_seed, plan
    from eqvbench.output.report import fmt_param, fmt_seconds, param_headers
    from eqvbench.spec import load_spec

    from eqvbench.output.checks import validate_checks

    path = resolve_spec_path(spec_arg)
    spec = load_spec(path)
    validate_checks(spec)
    plans = plan(spec)
    check_memory(spec, plans)
    heads = param_headers([k for p in spec.points for k in p.params])
    title = printable(f"{path}: {', '.join(spec.experiments)}, {len(plans)} point(s), seed {spec.model.seed}")
    table = Table(title=title, title_justify="left")
    for h in heads.values():
        table.add_column(h, justify="right", style="cyan")
    for h in ("qubits", "2q gates", "instances", "simulate", "sim memory", "sim time", "cost search"):
        table.add_column(h, justify="right")
    total_s, peak = 0.0, 0
    for pp in plans:
        family = get_family(pp.point.values["experiment"])
        inst = family.build(
            pp.lattice, pp.point.values["circuit"], derive_seed(spec.model.seed, "instance", pp.structure, 0)
        )
        est = estimate_point(pp, inst, family.n_instances(pp.point.values["circuit"]))
        total_s += est.seconds
        peak = max(peak, est.memory_bytes)
        table.add_row(
            *[fmt_param(pp.point.params.get(k, ""), k) for k in heads],
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
    budgeted = any(pp.point.values["cost"]["enabled"] and pp.point.values["cost"]["max_time"] for pp in plans)
    budget = " (cost searches at their time budget)" if budgeted else ""
    console.print(
        f"spec OK. Rough estimate: {fmt_seconds(total_s)} in all{budget}, peak simulation memory {_fmt_bytes(peak)}.",
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
