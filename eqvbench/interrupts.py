"""Ctrl-C and SIGTERM during a run: noted when they arrive, acted on at safe points.

Python runs a signal handler between two bytecodes of the main thread, which
may be deep inside a library: a `KeyboardInterrupt` raised there while numba's
dispatcher (or other C code that calls back into Python) runs comes out as a
`SystemError: ... returned a result with an exception set` and a traceback of
thousands of lines. So while :func:`deferred` is active the handler only
records the signal, and :func:`check` raises `KeyboardInterrupt` at places
where that is safe: between points, while the run waits for its workers,
between the trials, reconfiguration steps and batches of a long step, and at
each progress message.

A step with no such place in it (numba compiling, a long call into C) cannot
be stopped cleanly. `eqvbench run` therefore gives :func:`deferred` an
`on_late` action, which it calls :data:`GRACE_S` seconds after the first
signal if the run has not stopped by then, or at once on a second signal: it
prints the interruption line and ends the process (its child processes die
with it, `eqvbench.sweeps.procs`; every stored point was committed in its own
transaction). Without `on_late` (the Python API) a second signal raises
`KeyboardInterrupt` at once, as Python does by default.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

# seconds between the first signal and `on_late` (EQVBENCH_INTERRUPT_GRACE_S overrides)
GRACE_S = 5.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    def __init__(self) -> None:
        self.active = False
        self.signum: int | None = None
        self.at: float | None = None
        self.on_late: Callable[[], None] | None = None
        self.done = threading.Event()  # set when the deferral ends: the watchdog stands down


_state = _State()


def requested() -> bool:
    """Whether a Ctrl-C or SIGTERM arrived during the active deferral."""
    return _state.signum is not None


def check() -> None:
    """Raise KeyboardInterrupt if a signal arrived (in the main thread only; elsewhere a no-op)."""
    if _state.signum is not None and threading.current_thread() is threading.main_thread():
        raise KeyboardInterrupt


def grace_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get("EQVBENCH_INTERRUPT_GRACE_S", GRACE_S)))
    except ValueError:
        return GRACE_S


def _handler(signum, frame) -> None:
    if _state.on_late is not None:  # the watchdog counts the signals (it hears them first)
        if _state.signum is None:
            _state.signum = signum
        return
    if _state.signum is not None:  # a second signal: the user insists
        raise KeyboardInterrupt
    _state.signum, _state.at = signum, time.monotonic()


def _watch(read_fd: int, done: threading.Event, late: Callable[[], None], grace: float) -> None:
    """Hears each SIGINT/SIGTERM from the wakeup fd, which the C-level handler writes even while the
    main thread is inside numba or other C code (where no Python handler can run): `late` after
    `grace` seconds, or at a second signal."""
    import select

    count, deadline = 0, None
    while not done.is_set():
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([read_fd], [], [], wait)
        if done.is_set():
            return
        if ready:
            for b in os.read(read_fd, 64):
                if b in SIGNALS:
                    count += 1
                    if _state.signum is None:
                        _state.signum, _state.at = b, time.monotonic()
            if count == 1 and deadline is None:
                deadline = time.monotonic() + grace
        if count >= 2 or (deadline is not None and time.monotonic() >= deadline):
            late()
            return


@contextlib.contextmanager
def deferred(on_late: Callable[[], None] | None = None) -> Iterator[None]:
    """Within: SIGINT and SIGTERM are recorded, not raised (see the module note). Outside the main
    thread, or nested inside another deferral, it changes nothing (the outer one's `on_late` holds)."""
    if _state.active or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    _state.active, _state.signum, _state.at = True, None, None
    _state.on_late, _state.done = on_late, threading.Event()
    watcher, fds, previous_fd = None, None, None
    try:
        if on_late is not None:
            fds = os.pipe()
            os.set_blocking(fds[1], False)
            previous_fd = signal.set_wakeup_fd(fds[1], warn_on_full_buffer=False)
            watcher = threading.Thread(
                target=_watch,
                args=(fds[0], _state.done, on_late, grace_seconds()),
                name="eqvbench-interrupt-watchdog",
                daemon=True,
            )
            watcher.start()
        for s in SIGNALS:
            if s == signal.SIGINT and previous[s] == signal.SIG_IGN:
                continue  # started with Ctrl-C ignored (nohup, a background job): keep it so
            signal.signal(s, _handler)
        yield
        check()  # a signal that came in after the last safe point
    finally:
        _state.done.set()
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        if fds is not None:
            signal.set_wakeup_fd(previous_fd if previous_fd is not None else -1)
            os.write(fds[1], b"\0")  # wakes the watchdog, which sees `done` and ends
            if watcher is not None:
                watcher.join(timeout=2)
            for fd in fds:
                os.close(fd)
        _state.active, _state.signum, _state.on_late = False, None, None


def hard_exit(line: str, code: int = 130) -> None:
    """Print `line` on stderr and end the process now, without clean-up (for `on_late`)."""
    import sys

    try:
        if sys.stderr.isatty():
            sys.stderr.write("\x1b[?25h\r\x1b[2K")  # a live progress display hid the cursor
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    finally:
        os._exit(code)
