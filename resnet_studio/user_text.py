"""The user's text and numbers on their way out: to a terminal, a CSV file, JSON.

File names that are not UTF-8 reach Python as lone surrogates (`bad\\udcff.png`), which a UTF-8
terminal or file refuses with UnicodeEncodeError; a cell that starts with `=` is a formula to a
spreadsheet; NaN is not JSON. Each helper here turns such values into something safe to write.
"""

from __future__ import annotations

import math
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def counted(count: int, noun: str) -> str:
    """The count and its noun, plural unless one ("1 epoch", "3 epochs")."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def printable(text: str) -> str:
    """`text` with the bytes of a non-UTF-8 file name as `\\xff` escapes (any other lone surrogate
    as `\\udc80`), so that it prints and writes as UTF-8; text that is valid UTF-8 is unchanged."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:  # the bytes the file system gave: shown as they are, \xff
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that came from elsewhere (a JSON "\ud800")
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def csv_cell(text: str) -> str:
    """A text cell for a CSV file: printable, and never read as a formula (OWASP: a leading `'`)."""
    text = printable(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def json_ready(value: Any) -> Any:
    """`value` with every NaN or infinite float as None (strict JSON has no NaN), every other float
    `tidy` and every string printable; dictionaries, lists and tuples are copied, anything else is
    kept."""
    if isinstance(value, float):
        # fileio.tidy's rounding (the root modules do not import each other): no binary noise
        return float(f"{value:.15g}") if math.isfinite(value) else None
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(k) if isinstance(k, str) else k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def terminal_text(text: str) -> str:
    """`printable(text)` with control characters (escape sequences that would drive the terminal,
    newlines inside a name) written as `\\x1b`, `\\n`: one line of plain text."""
    text = printable(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
