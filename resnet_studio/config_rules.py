"""The rules every field of a training config obeys, in one place: `TrainConfig` checks itself with
them, and every reader of a saved config (a run's config.json, a checkpoint's config, a project's
training settings) checks it with them too, so that a wrongly typed or absurd value is named
("data: must be text, got 5") rather than crashing the code that uses it.

Torch-free and Qt-free, in the layer below the checkpoint and project readers. Integers
stay within Qt's int range (2**31 - 1): the studio's spin boxes show them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

from resnet_studio.errors import UserError

MAX_INT = 2**31 - 1  # what a Qt spin box holds; more than any count a run needs
MAX_SEED = MAX_INT  # torch, numpy and Python's random accept it, and so does the studio's Seed box
MAX_EPOCHS = 1_000_000

CHOICES = {
    "optimizer": ("sgd", "adam", "adamw"),
    "schedule": ("step", "cosine", "onecycle", "constant"),
    "crop_fill": ("zeros", "reflect"),
    "augmentation": ("auto", "crop-flip", "resized-crop-flip"),
    "precision": ("auto", "fp32", "bf16"),
}
OPTIONAL_CHOICES = {"transfer": ("probe", "finetune", "full")}  # None: not a transfer run
SWITCHES = (
    "nesterov",
    "tta",
    "augment",
    "zero_init_residual",
    "grad_norms",
    "contributions",
    "download",
    "distributed",
    "tensorboard",
    "sync_batchnorm",
)
OPTIONAL_SWITCHES = ("channels_last", "amp")  # None: chosen per device
NON_NEGATIVE = (
    "lr",
    "momentum",
    "weight_decay",
    "label_smoothing",
    "warmup_fraction",
    "activation_interval",
    "contribution_interval",
    "grad_norm_interval",
)
# name -> (lowest, highest, may be None)
INTEGERS = {
    "epochs": (1, MAX_EPOCHS, False),
    "batch_size": (1, MAX_INT, False),
    "seed": (0, MAX_SEED, False),
    "crop_padding": (0, 64, False),
    "tta_shift": (0, 8, False),
    "val_every": (0, MAX_EPOCHS, False),  # its message below
    "steps": (1, MAX_INT, True),
    "limit_train": (1, MAX_INT, True),
    "limit_val": (1, MAX_INT, True),
    "data_memory": (1, 2**62, True),  # bytes
    "threads": (1, 65_536, True),
    "log_every": (1, MAX_INT, True),
}


def is_integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_config_fields(values: Mapping[str, Any]) -> None:
    """`UserError` naming the first field of `values` that breaks its rule ("seed: must be an
    integer from 0 to 2147483647, got -1"). Fields missing from `values` are not checked (a saved
    config of an older version lacks some: their defaults hold); unknown keys are ignored."""

    def bad(name: str, why: str) -> UserError:
        return UserError(f"{name}: {why}, got {values[name]!r}")

    def given(name: str) -> bool:
        return name in values

    if given("data") and (not isinstance(values["data"], str) or not values["data"].strip()):
        raise bad("data", "must be text (demo, cifar10, folder:PATH, ...)")
    for name, (low, high, optional) in INTEGERS.items():
        value = values.get(name)
        if not given(name) or (optional and value is None):
            continue
        if low == 1 and (not is_integer(value) or value < 1):
            raise bad(name, "must be a positive integer")
        if low == 1 and is_integer(value) and value > high:
            raise bad(name, f"must be at most {high:,}")
        if name == "val_every" and (not is_integer(value) or not low <= value <= high):
            raise bad(name, f"must be a whole number of epochs, 0 to {high:,}")
        if not is_integer(value) or not low <= value <= high:
            raise bad(name, f"must be an integer from {low:,} to {high:,}")
    for name in NON_NEGATIVE:
        value = values.get(name)
        if given(name) and (not is_number(value) or not math.isfinite(value) or value < 0):
            raise bad(name, "must be a finite number >= 0")
    if given("lr") and values["lr"] <= 0:
        raise bad("lr", "must be > 0")
    for name in ("label_smoothing", "momentum", "warmup_fraction"):
        if given(name) and not values[name] < 1:
            raise bad(name, "must be below 1")
    for name, choices in CHOICES.items():
        if given(name) and (not isinstance(values[name], str) or values[name] not in choices):
            raise bad(name, f"must be one of {', '.join(choices)}")
    for name, choices in OPTIONAL_CHOICES.items():
        if values.get(name) is not None and values[name] not in choices:
            raise bad(name, f"must be one of {', '.join(choices)}, or null")
    for name in SWITCHES:
        if given(name) and not isinstance(values[name], bool):
            raise bad(name, "must be true or false")
    for name in OPTIONAL_SWITCHES:
        if given(name) and values[name] is not None and not isinstance(values[name], bool):
            raise bad(name, "must be true, false or null")
    _check_device_and_sources(values, bad)
    _check_budget(values, bad)


def _check_device_and_sources(values: Mapping[str, Any], bad: Any) -> None:
    if "device" in values:
        device = values["device"]
        kind, _, index = device.partition(":") if isinstance(device, str) else ("", "", "")
        if kind not in ("auto", "cpu", "cuda", "mps") or index and (kind != "cuda" or not index.isdigit()):
            raise bad("device", "must be auto, cpu, cuda, cuda:N or mps")
    if "val_fraction" in values:
        fraction = values["val_fraction"]
        if not is_number(fraction) or not 0 <= fraction <= 0.5:
            raise bad("val_fraction", "must be a number from 0 to 0.5")
    init = values.get("init")
    if init is not None and (not isinstance(init, str) or not init.strip()):
        raise bad("init", "must name a checkpoint, a run folder or shipped weights")


def _check_budget(values: Mapping[str, Any], bad: Any) -> None:
    budget = values.get("budget")
    if budget is None:
        return
    if not is_number(budget) or not math.isfinite(budget) or budget < 1:
        raise bad("budget", "must be at least 1 second")
    if values.get("distributed"):
        # Each rank would time itself and plan its own number of steps: DDP needs them equal.
        raise UserError("budget: not available with --distributed yet; use --epochs or --steps")


def check_saved_config(values: object, where: str) -> None:
    """A saved config (`where` names it: "RUN/config.json: " or "CKPT: config."): a JSON object
    whose every known field keeps its rule; `UserError` with `where` before the field's name."""
    if not isinstance(values, Mapping):
        named = where.rstrip(": .") or "config"
        raise UserError(f"{named}: must be an object, got {type(values).__name__}")
    try:
        check_config_fields(values)
    except UserError as exc:
        raise UserError(f"{where}{exc}") from None
