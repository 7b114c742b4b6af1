"""Readers of one JSON field each, for the architecture format: a wrong type, a value out of range or an
unknown key is a `SpecError` naming the field's path (`stages[2].channels`)."""

from __future__ import annotations

import json
from typing import Any

from resnet_studio.errors import SpecError


def describe(value: Any) -> str:
    return (
        json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    )


def read_int(data: dict[str, Any], key: str, path: str, default: int | None, low: int, high: int) -> int:
    if key not in data:
        if default is None:
            raise SpecError(f"{path}{key}", "is required")
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise SpecError(f"{path}{key}", f"must be {kind}, got {describe(value)}")
    if value > high:
        raise SpecError(f"{path}{key}", f"must be at most {high}, got {value}")
    return value


def read_choice(data: dict[str, Any], key: str, path: str, default: str, choices: tuple[str, ...]) -> str:
    value = data.get(key, default)
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise SpecError(f"{path}{key}", f"must be one of {options}, got {describe(value)}")
    return value


def read_object(data: dict[str, Any], key: str, path: str, known: set[str]) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise SpecError(f"{path}{key}", f"must be an object, got {describe(value)}")
    no_unknown(value, f"{path}{key}.", known)
    return value


def no_unknown(data: dict[str, Any], path: str, known: set[str]) -> None:
    for key in data:
        if key not in known:
            raise SpecError(f"{path}{key}", f"unknown field (expected one of {', '.join(sorted(known))})")
