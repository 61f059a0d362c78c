"""Atomic file output."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from eqvbench.errors import EqvbenchError


def check_writable(path: Path, option: str = "--out") -> None:
    """Fail early (before any work) if `path` cannot be written; `option` names it in the message."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise EqvbenchError(f"{option} {path}: is a directory")
    if not parent.is_dir():
        raise EqvbenchError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise EqvbenchError(f"{option} {path}: directory {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise EqvbenchError(f"{option} {path}: file is not writable")


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600: give the file the usual permissions
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as f:
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
