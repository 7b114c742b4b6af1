"""Transfer learning: what a transfer recipe freezes of the network it starts from (`TrainConfig.
transfer`), and the pieces the probe and the fine-tuning share.

- "probe": everything but the output layer is frozen; `transfer_probe.ProbeLoop` passes each
  training image and its mirror through the network once and trains the output layer on the
  pooled features.
- "finetune": the stem and every stage but the last are frozen. `PartlyFrozen` runs them in eval
  mode under `torch.no_grad`: no graph is kept, nothing flows back through them, and their
  BatchNorm statistics stay as the weights brought them. The last stage and the head train.
- "full": everything trains, from the weights.

Frozen weights are left out of the optimizer (`optim.make_optimizer`), so weight decay never
touches them either: they end the run bit for bit as they started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn

from resnet_studio.data.augmentation import eval_view
from resnet_studio.data.sources import DataSplits
from resnet_studio.errors import UserError
from resnet_studio.nn.checkpoint import load_checkpoint
from resnet_studio.nn.model import ResNet
from resnet_studio.training.config import TrainConfig
from resnet_studio.training.recipes import refuse_transfer_without_init

log = logging.getLogger(__name__)


def check_transfer(cfg: TrainConfig, resuming: bool) -> None:
    """`UserError` for a transfer run that cannot start: no weights to start from, or a probe
    split over processes (each would featurise its own shard and train its own head)."""
    if cfg.transfer is None:
        return
    if not resuming:
        refuse_transfer_without_init(cfg.transfer, cfg.init)
    if cfg.transfer == "probe" and cfg.distributed:
        raise UserError("recipe transfer-probe: runs in one process; drop --distributed (it takes seconds)")


def frozen_parts(model: ResNet, transfer: str | None) -> list[tuple[str, nn.Module]]:
    """The parts of `model` that `transfer` freezes, in network order, named as the run's notes
    name them. The probe's frozen parts are everything its features come from."""
    stages = [(name, getattr(model, name)) for name in model.stage_names]
    if transfer == "probe":
        norm = [("head.norm", model.head.norm)] if model.head.norm is not None else []
        return [("stem", model.stem), *stages, *norm]
    if transfer == "finetune":
        return [("stem", model.stem), *stages[:-1]]
    return []


def freeze(model: ResNet, cfg: TrainConfig) -> tuple[str, ...]:
    """Freeze what `cfg.transfer` freezes (no gradients, eval mode) and say so in a note."""
    parts = frozen_parts(model, cfg.transfer)
    if cfg.transfer is None:
        return ()
    for _, part in parts:
        part.requires_grad_(False)
        part.eval()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    if not parts:
        return (f"transfer-{cfg.transfer}: every layer trains, from the starting weights",)
    frozen = ", ".join(name for name, _ in parts)
    return (
        f"transfer-{cfg.transfer}: frozen (eval mode, no gradients, BatchNorm statistics kept): "
        f"{frozen}; {trainable:,} of {total:,} parameters train",
    )


def init_normalization(
    data: DataSplits, cfg: TrainConfig, resume_state: dict[str, Any] | None
) -> tuple[DataSplits, str]:
    """The data normalised as the starting weights were trained to see it (ImageNet's mean and
    standard deviation for imported networks), not by its own statistics: the frozen features
    were learnt on that input. The checkpoints record it, so classifying matches. Resuming, the
    run's own checkpoint says it. A copy (the caller's data may serve other runs), and a note."""
    state = resume_state if resume_state is not None else load_checkpoint(str(cfg.init))
    norm = state["normalization"]
    mean, std = [float(v) for v in norm["mean"]], [float(v) for v in norm["std"]]
    if len(mean) != data.channels or len(std) != data.channels:
        raise UserError(
            f"init: {state['path']} normalises {len(mean)} channels; the data has {data.channels}"
        )
    note = f"normalised as the starting weights expect (mean {_rounded(mean)}, std {_rounded(std)})"
    return replace(data, mean=mean, std=std), note


def _rounded(values: list[float]) -> str:
    return "/".join(f"{v:.3f}" for v in values)


def prepare_transfer(
    model: ResNet, cfg: TrainConfig, data: DataSplits, resume_state: dict[str, Any] | None
) -> tuple[DataSplits, tuple[str, ...]]:
    """A transfer run's set-up, after its model is built and its starting weights loaded: the
    data normalised as the weights expect, the frozen parts frozen; notes for the Started event.
    Other runs: the data as it is, no notes."""
    if cfg.transfer is None:
        return data, ()
    data, note = init_normalization(data, cfg, resume_state)
    return data, (note, *freeze(model, cfg))


class PartlyFrozen(nn.Module):
    """The network to train, its first parts frozen (`frozen_parts`): they run in eval mode under
    `torch.no_grad`, whatever mode the rest is put in (an inspection pass may have put the whole
    network back in training mode), and the rest trains on their output. Its state is the model's
    own (the checkpoints are written from the model)."""

    def __init__(self, model: ResNet, transfer: str | None) -> None:
        super().__init__()
        self.model = model
        frozen = {id(part) for _, part in frozen_parts(model, transfer)}
        sequence = [model.stem, *(getattr(model, name) for name in model.stage_names)]
        self.front = [part for part in sequence if id(part) in frozen]
        self.back = [part for part in sequence if id(part) not in frozen]

    def train(self, mode: bool = True) -> PartlyFrozen:
        super().train(mode)
        for part in self.front:
            part.eval()
        return self

    def forward(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            for part in self.front:
                if part.training:
                    part.eval()
                x = part(x)
        for part in self.back:
            x = part(x)
        return self.model.head(x)


def network_to_train(model: ResNet, cfg: TrainConfig) -> nn.Module:
    """What the training step runs: the model, or the model behind its frozen front."""
    return PartlyFrozen(model, cfg.transfer) if cfg.transfer == "finetune" else model


def evaluation_view(images: Tensor, size: int) -> Tensor:
    """What evaluation shows a network that takes `size` pixels, of stored uint8 images (N, C, H,
    W): their centre crop where they are stored with a margin for random crops (`eval_view`),
    else the images as they are (`normalize` resizes a smaller store)."""
    return eval_view(images, size)


def pooled_features(model: ResNet, x: Tensor) -> Tensor:
    """The input of the output layer: everything but `head.fc` (and the head's dropout), as float32
    (N, D). Call it in eval mode, without gradients."""
    x = model.stem(x)
    for name in model.stage_names:
        x = getattr(model, name)(x)
    head = model.head
    if head.norm is not None:
        x = head.norm(x)
    return head.pool(x).flatten(1).float()


class _Features(nn.Module):
    def __init__(self, model: ResNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return pooled_features(self.model, x)


def feature_extractor(model: ResNet) -> Callable[[Tensor], Tensor]:
    """`pooled_features` for a pass in eval mode, each BatchNorm that follows a convolution folded
    into it: the same function, one pass over the activations less per BatchNorm (a ResNet-18 at
    224 px on 2 cores, under load: 6.3 -> 7.2 images/s). A copy of the weights, for the pass only;
    where the network cannot be traced, `pooled_features` itself."""
    from torch.fx.experimental.optimization import fuse  # torch's own conv-BN folding

    try:
        fused = fuse(_Features(model).eval())
    except Exception as exc:  # noqa: BLE001 - tracing refuses in many ways; the plain pass works
        log.info("feature pass without folded BatchNorm: %s", exc)
        return lambda x: pooled_features(model, x)
    first = next(model.parameters())
    channels_last = first.dim() == 4 and first.is_contiguous(memory_format=torch.channels_last)
    return fused.to(memory_format=torch.channels_last) if channels_last else fused
