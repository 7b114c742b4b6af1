"""Training recipes: named sets of hyper-parameters, one typed table for the command line and the studio.

A recipe fills a `TrainConfig`; options the user gives explicitly override it
(`resnet-studio train --recipe he2015 --lr 0.05`). A recipe may also name the network it was made
for, used when the user names none.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from resnet_studio.errors import UserError
from resnet_studio.training.config import TrainConfig


@dataclass(frozen=True)
class Recipe:
    name: str  # the --recipe value
    title: str  # what the studio's Recipe box shows (short: the description is its tooltip)
    description: str  # where the values come from, in a sentence or two
    settings: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    preset: str | None = None  # the network it was made for, when the user names none

    def config(self, base: TrainConfig | None = None, **overrides: Any) -> TrainConfig:
        """`base` (default: TrainConfig()) with this recipe's values, then `overrides`."""
        return dataclasses.replace(base or TrainConfig(), **{**self.settings, **overrides})


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "quick",
            "Quick (3 epochs)",
            "A few epochs of SGD with a one-cycle schedule: the demo data trains in about two minutes.",
            dict(
                epochs=3,
                steps=None,
                budget=None,
                batch_size=128,
                optimizer="sgd",
                lr=0.1,
                momentum=0.9,
                nesterov=True,
                weight_decay=5e-4,
                schedule="onecycle",
                label_smoothing=0.0,
                augment=True,
                val_fraction=0.0,
            ),
            preset="resnet20",
        ),
        Recipe(
            "article",
            "Article (Adam, 100 ep.)",
            "The reference article as written: Adam at 1e-3, batch 64, no augmentation, 100 epochs, "
            "20% of the training set held out for validation.",
            dict(
                epochs=100,
                steps=None,
                budget=None,
                batch_size=64,
                optimizer="adam",
                lr=1e-3,
                momentum=0.9,  # Adam's beta1 (Keras's default)
                weight_decay=0.0,
                schedule="constant",
                label_smoothing=0.0,
                augment=False,
                val_fraction=0.2,
            ),
            preset="article",
        ),
        Recipe(
            "he2015",
            "He et al. 2015 (64k)",
            "The paper's CIFAR recipe: SGD 0.1, momentum 0.9, weight decay 1e-4, batch 128, learning "
            "rate divided by 10 at 32k and 48k iterations, 64k in all, on a 45k/5k train/val split.",
            dict(
                epochs=164,  # shown before the data is known; `steps` decides
                steps=64_000,
                budget=None,
                batch_size=128,
                optimizer="sgd",
                lr=0.1,
                momentum=0.9,
                nesterov=False,
                weight_decay=1e-4,
                schedule="step",  # /10 at 50% and 75% of the steps: 32k and 48k of 64k
                label_smoothing=0.0,
                augment=True,
                val_fraction=0.1,
            ),
            preset="resnet20",
        ),
        Recipe(
            "cifar-10min",
            "CIFAR-10 in 10 min",
            "The best CIFAR-10 accuracy measured for 10 minutes of wall time on a 2-core CPU, data "
            "loading and evaluation included: a 10-minute budget, one-cycle SGD at batch 128, label "
            "smoothing 0.2, 2-pixel crops with mirrored borders, validation only at the end, on a "
            "network with a fixed whitening stem that downsamples by max-pooling; predictions average "
            "mirrored and 1-pixel-shifted views.",
            dict(
                epochs=10,  # shown before the budget plans the run
                steps=None,
                budget=585.0,  # seconds; the process start and the final report fit in the rest
                batch_size=128,  # twice the steps of batch 256 at the same speed: 84.42% -> 85.24% held out
                optimizer="sgd",
                lr=0.2,
                momentum=0.9,
                nesterov=True,
                weight_decay=5e-4,
                schedule="onecycle",
                warmup_fraction=0.2,
                label_smoothing=0.2,
                augment=True,
                crop_padding=2,
                crop_fill="reflect",
                val_fraction=0.1,
                val_every=0,  # one validation, after the last epoch: ~6 s an epoch more training
                tta=True,
                tta_shift=1,  # mirror and 1-pixel shifts: 84.30% -> 84.68% on the held-out images
            ),
            preset="cifar-fast",
        ),
    )
}


# The transfer recipes start from weights (`init`): an imported ImageNet network, shipped weights,
# a checkpoint. What trains is `transfer` (training/transfer.py); the network is the weights'.
TRANSFER_RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "transfer-probe",
            "Transfer: new output layer",
            "Needs starting weights. The network is frozen: each training image and its mirror "
            "pass through it once, and a new output layer trains on their pooled features in "
            "seconds (a linear probe). The fastest way to your own photos.",
            dict(
                transfer="probe",
                epochs=30,
                steps=None,
                budget=None,
                batch_size=64,
                optimizer="adamw",
                lr=3e-3,
                momentum=0.9,
                weight_decay=1e-4,
                schedule="cosine",
                label_smoothing=0.0,
                augment=True,  # each step sees an image or its mirror, at random
                val_fraction=0.0,
                val_every=1,  # on the validation images' features: nearly free
            ),
        ),
        Recipe(
            "transfer-finetune",
            "Transfer: fine-tune last stage",
            "Needs starting weights. The last stage and a new output layer train for 3 epochs at a "
            "tenth of the usual learning rate; the rest of the network stays frozen (eval mode, no "
            "gradients, its BatchNorm statistics kept).",
            dict(
                transfer="finetune",
                epochs=3,
                steps=None,
                budget=None,
                batch_size=32,
                optimizer="sgd",
                lr=0.01,
                momentum=0.9,
                nesterov=True,
                weight_decay=1e-4,
                schedule="cosine",
                label_smoothing=0.1,
                augment=True,
                val_fraction=0.0,
                val_every=1,
            ),
        ),
        Recipe(
            "transfer-full",
            "Transfer: fine-tune everything",
            "Needs starting weights. Every layer trains from them, 5 epochs of SGD at a low learning "
            "rate with a short warm-up, so that the new output layer settles before it moves the rest.",
            dict(
                transfer="full",
                epochs=5,
                steps=None,
                budget=None,
                batch_size=32,
                optimizer="sgd",
                lr=0.01,
                momentum=0.9,
                nesterov=True,
                weight_decay=1e-4,
                schedule="onecycle",
                warmup_fraction=0.1,
                label_smoothing=0.1,
                augment=True,
                val_fraction=0.0,
                val_every=1,
            ),
        ),
    )
}
RECIPES.update(TRANSFER_RECIPES)


def refuse_transfer_without_init(transfer: str | None, init: str | None) -> None:
    """`UserError` for a transfer recipe with no weights to start from."""
    if transfer is not None and init is None:
        raise UserError(
            f"recipe transfer-{transfer}: needs starting weights: --init WEIGHTS (a checkpoint, a "
            "run folder, shipped weights such as resnet20-cifar10, or a network made by `resnet-studio "
            "import torchvision:resnet18`; in the studio: Start from)"
        )


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name.lower()]
    except KeyError:
        raise UserError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}") from None


def recipe_by_title(title: str) -> Recipe | None:
    return next((r for r in RECIPES.values() if r.title == title), None)
