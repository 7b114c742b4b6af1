"""What the studio watches while a network trains, measured beside the training and throttled:
feature maps of the pinned image, and block contributions on a fixed probe batch.

Each is a separate no-grad pass in eval mode (nothing is taken from training tensors), made at most
once per interval, so that watching costs the run a few percent at most (`resnet-studio bench`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import torch

from resnet_studio.data.sources import DataSplits
from resnet_studio.data.transforms import normalize
from resnet_studio.inspection.activations import feature_maps
from resnet_studio.inspection.contributions import block_contributions, residual_block_names
from resnet_studio.nn.model import ResNet
from resnet_studio.training.config import ProbeSettings
from resnet_studio.training.device import DeviceSettings
from resnet_studio.training.events import Activations, Contributions, Event
from resnet_studio.training.state import Controls

PROBE_IMAGES = 32  # the fixed batch block contributions are measured on: the first validation images


class Probes:
    def __init__(
        self,
        model: ResNet,
        data: DataSplits,
        cfg: ProbeSettings,
        settings: DeviceSettings,
        controls: Controls,
    ) -> None:
        self.model, self.data, self.cfg, self.settings, self.controls = model, data, cfg, settings, controls
        self.size = model.spec.input.size
        self.shown_at, self.shown_version = 0.0, -1  # the pinned image's last feature maps
        self.measured_at = -float("inf")  # the last block contributions
        self.blocks = residual_block_names(model) if cfg.contributions else []
        self.batch: torch.Tensor | None = None  # the probe batch, normalised once on first use

    def _normalized(self, images: torch.Tensor) -> torch.Tensor:
        return normalize(
            images.to(self.settings.device),
            self.data.mean,
            self.data.std,
            size=self.size,
            channels_last=self.settings.channels_last,
        )

    def pinned_changed(self) -> bool:
        return self.controls.pinned_version != self.shown_version

    def run(self, step: int, force: bool = False) -> Iterator[Event]:
        """Whatever is due at `step` (everything with `force`: the first and the final weights)."""
        now = time.perf_counter()
        yield from self._activations(step, now, force)
        if self.blocks and (force or now - self.measured_at >= self.cfg.contribution_interval):
            self.measured_at = now
            yield self.contributions(step)

    def _activations(self, step: int, now: float, force: bool) -> Iterator[Event]:
        """Feature maps of the pinned image, when it changed or the interval has passed."""
        image, version = self.controls.pinned, self.controls.pinned_version
        if image is None:
            return
        if not force and version == self.shown_version and now - self.shown_at < self.cfg.activation_interval:
            return
        self.shown_at, self.shown_version = now, version
        x = self._normalized(torch.from_numpy(image)[None])
        maps, logits = feature_maps(self.model, x, max_channels=16)
        yield Activations(step, maps, tuple(torch.softmax(logits[0], 0).tolist()))

    def contributions(self, step: int) -> Contributions:
        """||F(x)|| / ||shortcut(x)|| of every residual block, on the probe batch and, when one is
        pinned, on the pinned image (one pass for both)."""
        started = time.perf_counter()
        if self.batch is None:
            self.batch = self._normalized(self.data.val.images[:PROBE_IMAGES])
        x = self.batch
        pinned = self.controls.pinned
        first = 0
        if pinned is not None:
            x = torch.cat([self._normalized(torch.from_numpy(np.ascontiguousarray(pinned))[None]), x])
            first = 1
        ratios = block_contributions(self.model, x, per_image=True)
        rows = torch.stack([ratios[name] for name in self.blocks])  # (blocks, images)
        return Contributions(
            step,
            tuple(self.blocks),
            tuple(rows[:, first:].mean(1).tolist()),
            tuple(rows[:, 0].tolist()) if first else (),
            time.perf_counter() - started,
        )
