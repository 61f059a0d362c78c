"""Ctrl-C and SIGTERM land anywhere, numba code included: the run ends with its one line, within
seconds; a long step says what it is doing while it runs (eqvbench.interrupts, issue 27 items 8, 9)."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from sweep_util import invoke

# one small point, no cost search: what the injected step does is all the run's time
ONE_POINT = """\
experiment: rcs
seed: 3
lattice: {kind: grid, rows: 2, cols: 2}
circuit: {cycles: 2, instances: 1}
noise: {p2: 0.01}
simulation: {simulate: never}
cost: {enabled: false}
"""

# numba code that calls back into Python (an objmode block) all the time, as numba's dispatcher and
# quimb's compiled functions do: a KeyboardInterrupt raised by a signal handler inside comes out as
# "SystemError: ... returned a result with an exception set"
SPIN = """
import time
import numba

@numba.njit
def spin(until):
    n = 0
    while True:
        with numba.objmode(t="float64"):
            t = time.monotonic()
        n += 1
        if t > until:
            return n

spin(0.0)
"""


def _slow_point(monkeypatch, seconds: float, sig=signal.SIGTERM, after: float = 0.3):
    """Every point first spins `seconds` in numba code; `sig` reaches this process `after` s into it."""
    import eqvbench.pipeline as pipeline

    space: dict = {}
    exec(SPIN, space)
    real = pipeline.run_point

    def run_point(*args, **kwargs):
        threading.Timer(after, os.kill, (os.getpid(), sig)).start()
        space["spin"](time.monotonic() + seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run_point", run_point)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_inside_numba_code_is_one_line(write_spec, monkeypatch, sig):
    _slow_point(monkeypatch, 1.0, sig)
    r = invoke("run", write_spec(ONE_POINT), "--no-store", "--workers", 1)
    assert not isinstance(r.exception, SystemError), r.exception
    assert r.exit_code == 130, (r.exit_code, r.output)
    assert "Traceback" not in r.output and "SystemError" not in r.output
    assert [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("[")] == [
        "interrupted: nothing written"
    ]


def test_signal_restores_handlers_after_run(write_spec):
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    r = invoke("run", write_spec(ONE_POINT), "--no-store", "--workers", 1)
    assert r.exit_code == 0, r.output
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_api_signal_in_numba_code_raises_sweep_interrupted(monkeypatch):
    import eqvbench
    from eqvbench.sweeps.sweep import SweepInterrupted

    _slow_point(monkeypatch, 1.0, signal.SIGINT)
    with pytest.raises(SweepInterrupted):
        eqvbench.run(ONE_POINT)


# `eqvbench run` in a child whose point runs `STEP` first (the child's own code, written here)
CHILD = """
import sys, time
import eqvbench.pipeline as pipeline
{spin}
real = pipeline.run_point
def run_point(*args, **kwargs):
    print("step begins", file=sys.stderr, flush=True)
    {step}
    return real(*args, **kwargs)
pipeline.run_point = run_point
from eqvbench.cli import main
sys.argv = ["eqvbench", "run", sys.argv[1], "--no-store", "--workers", "1"]
main()
"""


def start_child(spec, step: str, env=None, extra: str = ""):
    code = CHILD.format(spin=SPIN + extra, step=step)
    return subprocess.Popen(
        [sys.executable, "-c", code, str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        # Ctrl-C as a terminal sends it: not ignored, as it would be in a background job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_line(proc, text: str, timeout: float = 60.0) -> list[str]:
    lines: list[str] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if text in line:
            return lines
    proc.kill()
    pytest.fail(f"no {text!r} on stderr: {''.join(lines)}")


# numba code that never calls back into Python (a signal handler cannot run until it returns) and,
# as BLAS and most long C calls do, lets other threads run meanwhile
PLAIN = """
@numba.njit(nogil=True)
def spin_plain(n):
    x = 0.0
    for i in range(n):
        x += 1e-9 * (i & 7)
    return x

spin_plain(1)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_uninterruptible_step_still_stops_within_seconds(write_spec, sig):
    """A step that reaches no safe point (a minute of numba code that calls nothing back): the run
    still ends with its one line within the grace period (1 s here) and a margin. (Code that holds
    the GIL that long cannot be stopped short of SIGKILL: docs/commands.md.)"""
    proc = start_child(write_spec(ONE_POINT), "spin_plain(60_000_000_000)", {"EQVBENCH_INTERRUPT_GRACE_S": "1"}, PLAIN)
    wait_for_line(proc, "step begins")
    time.sleep(0.5)
    t0 = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    took = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert took < 10, took
    assert "Traceback" not in err
    assert [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("[")] == ["interrupted: nothing written"]


def test_long_step_says_what_it_does_when_piped(write_spec):
    """A silent 7 s step of a single point, stderr piped: a line says it is still running, 5 s into
    it, before the point is done."""
    spec = write_spec(ONE_POINT)
    proc = start_child(spec, "time.sleep(7)")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    running = [ln for ln in err.splitlines() if ln.startswith("[running]")]
    # nothing in the first 5 s, then a line naming the step and how long the point has run
    assert running and running[0] in [f"[running] point: running ({t} s)" for t in (5, 6, 7)], err
