"""Atomic file output; bounded reads of regular files only."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from eqvbench.errors import EqvbenchError


def check_writable(path: Path, option: str = "--out", protect: dict[str, Path | str | None] | None = None) -> None:
    """Fail early (before any work) if `path` cannot be written; `option` names it in the message.

    Only a regular file (or a new one) is a target: writing replaces the file, which would
    turn a device node or FIFO into a file. `protect` maps a description to a file the command
    reads or keeps (its spec, its store): naming one of those as `path` is refused.
    """
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise EqvbenchError(f"{option} {path}: is a directory")
    if path.exists() and not path.is_file():
        raise EqvbenchError(f"{option} {path}: not a regular file (a device, FIFO or socket); give a file path")
    for what, other in (protect or {}).items():
        if other is not None and _same_file(path, Path(other)):
            raise EqvbenchError(f"{option} {path}: is {what}; writing there would overwrite it")
    if not parent.is_dir():
        raise EqvbenchError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise EqvbenchError(f"{option} {path}: directory {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise EqvbenchError(f"{option} {path}: file is not writable")


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def write_output(path: Path, text: str | bytes, option: str = "--out") -> None:
    """:func:`write_atomic`, with a failure (full disk, permissions) as one EqvbenchError line."""
    try:
        write_atomic(path, text)
    except OSError as e:
        raise EqvbenchError(
            f"{option} {path}: cannot write ({e.strerror or e.__class__.__name__}); nothing was written there"
        ) from None


def write_atomic(path: Path, text: str | bytes, follow_symlinks: bool = True) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`.

    A symbolic link is followed (its target is replaced and the link kept), or with
    `follow_symlinks=False` replaced itself. Only a regular file (or a new one) is ever
    replaced: OSError for a target that is a device, FIFO, socket or directory, which a
    rename would destroy.
    """
    if follow_symlinks and path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not (stat.S_ISREG(st.st_mode) or (stat.S_ISLNK(st.st_mode) and not follow_symlinks)):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
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


def read_regular(path: Path | str, max_bytes: int, follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file of at most `max_bytes`.

    Raises OSError for anything else (a FIFO, a device such as /dev/zero, a directory, a
    larger file; with `follow_symlinks=False` a symbolic link) without blocking on it or
    reading more than `max_bytes` + 1 bytes.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if st.st_size > max_bytes:
            raise OSError(errno.EFBIG, f"larger than {max_bytes} bytes")
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:  # grew while read
            raise OSError(errno.EFBIG, f"larger than {max_bytes} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)
