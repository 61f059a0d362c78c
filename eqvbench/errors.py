"""Errors that the CLI turns into one line and exit code 2."""

from __future__ import annotations


class EqvbenchError(Exception):
    """A user-facing error: printed as one line, exit code 2, no traceback."""

    exit_code = 2


class SpecError(EqvbenchError):
    """Bad input in a spec file, located by file and dotted field path."""

    def __init__(self, file: str, field: str | None, message: str):
        self.file = file
        self.field = field
        self.message = message
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {message}")

    def __reduce__(self):
        # raised in worker processes too: pickle by the constructor's arguments
        return (type(self), (self.file, self.field, self.message))
