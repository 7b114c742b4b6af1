"""Setup's settings as a typed value, and the model that holds them: the Setup panel shows them
and sends each edit here; a recipe and a project's training settings arrive here, and the panel
follows. The training config and the project file are made from here, never from widgets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from resnet_studio.errors import UserError
from resnet_studio.session.observable import Event
from resnet_studio.training.config import TrainConfig
from resnet_studio.training.recipes import RECIPES

DATA_KINDS = ("demo", "cifar10", "cifar100", "folder")
DEFAULT_RECIPE = next(iter(RECIPES))
# Values that travel with a recipe (and a saved project) where Setup has no box for them: these,
# and whatever a recipe sets that has no field of its own below.
EXTRAS = ("nesterov", "warmup_fraction", "crop_padding", "crop_fill", "tta_shift", "val_every")
# This machine's settings: a project saves them, but opening one keeps the machine's own.
MACHINE = ("device", "threads")


@dataclass(frozen=True)
class SetupSettings:
    """Every value Setup shows, as the panel's boxes hold them (not yet checked as a whole)."""

    recipe: str = DEFAULT_RECIPE  # the name of the recipe chosen last (`training.recipes`)
    init: str | None = None  # where the weights start: None (random), a shipped name, a checkpoint
    data_kind: str = "demo"
    data_path: str = ""  # empty: the CIFAR cache (ignored for the demo data)
    download: bool = False
    limit_train: int | None = None
    limit_val: int | None = None
    data_memory: int | None = None  # bytes; None: auto
    augment: bool = True
    tta: bool = False
    budget: float | None = None  # seconds
    epochs: int = 3
    steps: int | None = None
    val_fraction: float = 0.0
    batch_size: int = 128
    optimizer: str = "sgd"
    schedule: str = "onecycle"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # None: one per core
    precision: str = "auto"
    extras: dict[str, Any] = field(default_factory=dict)  # recipe values without a box (EXTRAS)

    def data_spec(self) -> str:
        path = self.data_path.strip()
        return self.data_kind if self.data_kind == "demo" or not path else f"{self.data_kind}:{path}"

    def config(self) -> TrainConfig:
        """The training config these settings make; `UserError` names a value that cannot train."""
        own = {f.name for f in fields(self)} - {"recipe", "extras", "data_kind", "data_path"}
        shown = {name: getattr(self, name) for name in own}
        return TrainConfig(
            **{**self.extras, **shown},
            data=self.data_spec(),
            grad_norms=True,
            contributions=True,
            # The Train view draws one plot or the activations per tick, each every few seconds:
            # snapshots more often than this would be computed and never shown.
            activation_interval=1.0,
        )

    def with_hyper_parameters(self, values: TrainConfig) -> SetupSettings:
        """These settings with a recipe's or a saved config's length, optimizer and augmentation."""
        names = (
            "epochs", "steps", "budget", "val_fraction", "batch_size", "optimizer", "lr",
            "momentum", "weight_decay", "schedule", "label_smoothing", "augment", "tta",
        )  # fmt: skip
        carried = {*EXTRAS, *(key for recipe in RECIPES.values() for key in recipe.settings)}
        carried -= {f.name for f in fields(self)}
        extras = {f.name: getattr(values, f.name) for f in fields(values) if f.name in carried}
        return dataclasses.replace(self, extras=extras, **{name: getattr(values, name) for name in names})

    def with_config(self, values: TrainConfig) -> SetupSettings:
        """These settings with every value of a saved config (a project's) but the machine's."""
        settings = self.with_hyper_parameters(values)
        kind, _, path = values.data.partition(":")
        if kind in DATA_KINDS:
            settings = dataclasses.replace(settings, data_kind=kind, data_path=path)
        return dataclasses.replace(
            settings,
            init=values.init,
            download=values.download,
            data_memory=values.data_memory,
            limit_train=values.limit_train,
            limit_val=values.limit_val,
            seed=values.seed,
            precision=values.precision,
        )


class SetupModel:
    """The settings Setup shows; `changed(settings)` after each change."""

    def __init__(self, settings: SetupSettings | None = None) -> None:
        self.settings = settings or SetupSettings()
        self.changed = Event()

    def update(self, **values: Any) -> None:
        """The user changed values (one box, usually)."""
        self._set(dataclasses.replace(self.settings, **values))

    def apply_recipe(self, name: str) -> None:
        """The recipe's values in place of the length, optimizer and augmentation shown."""
        recipe = RECIPES[name]
        values = recipe.config(TrainConfig(data=self.settings.data_spec()))
        self._set(dataclasses.replace(self.settings.with_hyper_parameters(values), recipe=name))

    def load(self, values: TrainConfig, recipe: str | None = None) -> None:
        """A saved config's values (a project's), this machine's device and threads kept."""
        settings = self.settings.with_config(values)
        self._set(dataclasses.replace(settings, recipe=recipe) if recipe in RECIPES else settings)

    def load_project(self, training: dict[str, Any], recipe: str | None, where: str) -> None:
        """A project's `training` object; `UserError` (naming `where`) leaves the settings as they were."""
        self.load(TrainConfig.from_dict(training, where), recipe)

    def config(self) -> TrainConfig:
        return self.settings.config()

    def project_training(self) -> dict[str, Any]:
        """What a project file saves: every config field, or nothing when the settings cannot
        train (the network is still saved)."""
        try:
            return self.settings.config().to_dict()
        except UserError:
            return {}

    def _set(self, settings: SetupSettings) -> None:
        if settings != self.settings:
            self.settings = settings
            self.changed.emit(settings)
