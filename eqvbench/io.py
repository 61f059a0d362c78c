"""Atomic file output."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from eqvbench.errors import EqvbenchError


def check_writable(path: Path) -> None:
    """Fail early (before any work) if `path` cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise EqvbenchError(f"--out {path}: is a directory")
    if not parent.is_dir():
        raise EqvbenchError(f"--out {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise EqvbenchError(f"--out {path}: directory {parent} is not writable")


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
