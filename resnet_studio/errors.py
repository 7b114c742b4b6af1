"""Errors of the user's making: shown as one line, never as a traceback."""


class UserError(Exception):
    """Bad input from the user (a file, an option, missing data); the message says what and why."""


class SpecError(UserError):
    """An architecture that fails validation; `field` is the path of the offending value."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)
