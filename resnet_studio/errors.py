"""Errors of the user's making: shown as one line, never as a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (a file, an option, missing data); the message says what and why."""


class SpecError(UserError):
    """An architecture that fails validation; `field` is the path of the offending value."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)


class WriteError(UserError):
    """A file of a run could not be written (a full disk, a quota, a vanished folder): the message
    names the file and the reason. The engine ends the run as failed, with what it had kept."""

    @classmethod
    def of(cls, path: object, exc: OSError, what: str = "cannot write") -> WriteError:
        reason = (exc.strerror or str(exc)).lower() if isinstance(exc, OSError) else str(exc)
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) != str(path):
            reason = f"{exc.filename}: {reason}"  # the folder on the way that failed, a link say
        return cls(f"{path}: {what}: {reason}")


def error_text(exc: BaseException) -> str:
    """What the user reads: a `UserError`'s own words, or the kind and text of anything else."""
    return str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
