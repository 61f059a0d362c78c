"""Child processes that never outlive their parent: start them, bind them to it, kill them.

Every process eqvbench starts (the local pool's workers, the processes of a
cost search) calls :func:`bind_to_parent` first, so that a parent killed by
SIGKILL (which runs no clean-up) takes its children with it: on Linux the
kernel sends them SIGKILL (``PR_SET_PDEATHSIG``), elsewhere a thread in the
child notices that its parent is gone within a second. Chains hold: the run
kills its pool workers, each worker the search processes it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
PARENT_POLL_S = 0.5


def bind_to_parent(parent_pid: int) -> None:
    """In a child process: ignore Ctrl-C (the parent stops its children) and die with `parent_pid`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in THREAD_ENV:
        os.environ[var] = "1"
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the watchdog below does it
        pass
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)

    def watch() -> None:
        while True:
            threading.Event().wait(PARENT_POLL_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="eqvbench-parent-watch", daemon=True).start()


# multiprocessing's resource tracker removes the semaphores of processes killed while they held
# them, and warns about each "leak" when the run ends: after a kill that is by design
TRACKER_QUIET = "ignore:resource_tracker:UserWarning:multiprocessing.resource_tracker"


def quiet_resource_tracker() -> None:
    """Before this process starts its first child: the resource tracker (which starts with it and
    takes this interpreter's -W options) then cleans up after killed processes without warning,
    so that Ctrl-C or SIGTERM of a run prints its one line and nothing else."""
    import sys

    if TRACKER_QUIET not in sys.warnoptions:
        sys.warnoptions.append(TRACKER_QUIET)


def kill_executor(pool) -> None:
    """Stop a ProcessPoolExecutor at once: kill its processes, cancel what has not started.

    The processes are collected before `shutdown`, which on CPython 3.11-3.13
    empties the executor's table of processes when it does not wait.
    """
    procs = list((getattr(pool, "_processes", None) or {}).values())
    call_queue = getattr(pool, "_call_queue", None)
    if call_queue is not None:
        # work not yet sent to the killed processes stays in the queue's pipe, whose feeder thread
        # would then block this process's exit waiting to write it: drop it with them
        call_queue.cancel_join_thread()
    if not procs and hasattr(pool, "kill_workers"):  # Python >= 3.14
        pool.kill_workers()
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.join(timeout=5)


@contextlib.contextmanager
def children_allowed():
    """Let this process start children even when it is a daemonic process (a Dask worker is one).

    multiprocessing refuses children to daemonic processes so that none is
    orphaned; :func:`bind_to_parent` gives the same guarantee.
    """
    import multiprocessing

    config = multiprocessing.current_process()._config
    was = config.get("daemon")
    config["daemon"] = False
    try:
        yield
    finally:
        if was is not None:
            config["daemon"] = was
        else:
            config.pop("daemon", None)
