"""Errors that the CLI turns into one line and exit code 2."""

from __future__ import annotations


def printable(text: str, limit: int | None = None) -> str:
    """`text` with control characters (newlines, ANSI escapes) written as escapes, cut to `limit` chars.

    Error lines echo keys and values read from files: a raw newline or escape
    sequence in them must not forge a second line or recolour the terminal.
    """
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


class EqvbenchError(Exception):
    """A user-facing error: printed as one line, exit code 2, no traceback."""

    exit_code = 2


class SpecError(EqvbenchError):
    """Bad input in a spec file, located by file and dotted field path."""

    def __init__(self, file: str, field: str | None, message: str):
        self.file = file
        self.field = printable(field, 200) if field is not None else None
        self.message = printable(message, 600)
        where = f"{printable(file)}: {self.field}" if self.field else printable(file)
        super().__init__(f"{where}: {self.message}")

    def __reduce__(self):
        # raised in worker processes too: pickle by the constructor's arguments
        return (type(self), (self.file, self.field, self.message))
