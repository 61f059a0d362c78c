"""eqvbench: effective quantum volume, fidelity and classical cost of noisy circuits.

Follows Kechedzhi et al., arXiv:2306.15970. Heavy dependencies (numpy, cirq,
quimb, cotengra) are imported by the stage modules, not here, so that the CLI
starts fast.

>>> import eqvbench
>>> results = eqvbench.run("rcs.yaml")  # a path, a YAML string or a dict  # doctest: +SKIP
>>> results.points[0].f_eff, results.to_pandas()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    import os
    from typing import Any, Callable

    from eqvbench.output.results import Results

__all__ = ["run", "__version__"]


def __dir__() -> list[str]:
    """The public names (`__all__`) and the subpackages imported so far, not the typing helpers."""
    import types

    subs = [k for k, v in globals().items() if isinstance(v, types.ModuleType) and not k.startswith("_")]
    return sorted({*__all__, *subs})


def run(
    spec: Any,
    *,
    store: str | os.PathLike | None = None,
    workers: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    on_event: Callable[[str, int, str], None] | None = None,
) -> Results:
    """Run every point of a spec, as `eqvbench run` does; returns :class:`eqvbench.output.results.Results`.

    Parameters
    ----------
    spec : str, os.PathLike or dict
        A spec file (a bare name that is no file here, e.g. ``"rcs.yaml"``, runs the shipped
        example of that name), a YAML string, or the spec as a dict.
    store : path, optional
        Result store (SQLite): points it holds are reused, new ones committed as they finish.
        Default: none, every point is computed.
    workers : int, optional
        Local worker processes (default: the cores, or 1 for a sweep too small to pay for a pool).
        A script that starts a pool must run under ``if __name__ == "__main__":``.
    executor : {'local', 'dask'}
        'dask' sends the points to the Dask cluster at `scheduler`.
    scheduler : str, optional
        Dask scheduler address, e.g. ``tcp://scheduler-host:8786``.
    on_event : callable, optional
        ``on_event(kind, index, message)`` as the sweep goes (kinds: ``eqvbench.sweeps.sweep.EVENT_KINDS``).

    Returns
    -------
    Results
        ``.points`` (typed points), ``.document`` / ``.to_json()`` (the JSON document
        `eqvbench run --out` writes), ``.to_pandas()``, ``.checks``.

    Raises
    ------
    eqvbench.errors.SpecError
        Bad spec: the message names the file (``<dict>``, ``<string>`` for specs not read from a
        file) and the field, as the CLI's error line does.
    eqvbench.errors.EqvbenchError
        Other bad input (options, an unusable store), a lost worker.
    """
    from eqvbench.sweeps.sweep import run_sweep

    return run_sweep(spec, store=store, executor=executor, workers=workers, scheduler=scheduler, on_event=on_event)
