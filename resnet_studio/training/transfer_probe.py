"""The `transfer-probe` recipe's run: the network frozen, its output layer trained on features.

Each training image and its mirror pass through the frozen network once, in eval mode without
gradients, in batches as large as an evaluation's; the pooled features (the output layer's input)
are kept. The output layer then trains on them: a step costs a matrix product instead of a pass
through the network, so epochs take milliseconds and the run is the feature pass. Augmentation is
the mirror: each step sees, for each image, its features or its mirror's, at random. Validation
runs on the validation images' features, computed in the same pass: as the whole network in eval
mode would compute them, mirror included where `tta` asks (shifted views go through the network).

A resumed probe passes the images through the network again: the features are not saved (the
checkpoint holds the weights, and the features follow from them exactly).

The checkpoints hold the whole network, the frozen part and the new output layer: it classifies,
inspects and exports like any other.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from resnet_studio.architecture.analysis import analyze
from resnet_studio.architecture.cost import evaluation_batch
from resnet_studio.data.sources import DataSet
from resnet_studio.data.transforms import normalize
from resnet_studio.inspection.evaluate import Evaluation
from resnet_studio.nn.checkpoint import save_checkpoint
from resnet_studio.training.device import device_memory
from resnet_studio.training.divergence import weights_finite
from resnet_studio.training.events import CheckpointSaved, Event, Featurizing
from resnet_studio.training.loop import TrainingLoop
from resnet_studio.training.optim import set_lr
from resnet_studio.training.transfer import evaluation_view, feature_extractor

EVENT_INTERVAL = 0.25  # seconds between two Featurizing events (each batch takes about that or more)
# A CPU runs a ResNet-18 at 224 px no faster on larger batches: their activations leave its caches
# (2 cores, under load: 5.1 images/s at 32 a pass, 4.0 at 64, 2.5 at 8).
CPU_PASS_BATCH = 32
SAVE_INTERVAL = 20.0  # seconds between two checkpoints of the head's epochs (a kill loses no more)


@dataclass
class FeaturePass:
    """What a transfer probe keeps beside the run's state: the pass's features and its deferred
    checkpoints."""

    features: Tensor | None = None  # (N, 2, D): each training image's and its mirror's
    val_features: Tensor | None = None  # (M, V, D): V = 2 with flip TTA, else 1
    saved_at: float = -math.inf  # perf_counter() when a checkpoint was last written
    best_state: dict[str, Any] | None = None  # the best epoch's checkpoint, not yet written


class ProbeLoop(TrainingLoop):
    """A `TrainingLoop` whose epochs run over features: the feature pass comes before the first
    epoch (after a resume too), its steps train `head.fc` alone, and its validation reads the
    validation features."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.passed = FeaturePass()

    def before_epoch(self) -> Iterator[Event]:
        # Stopped during the pass: before the first step the stop hook saves a checkpoint and ends the run.
        if self.passed.features is None:
            yield from self.featurize()

    def train_data(self) -> DataSet:
        """The training images' features, once the pass has made them."""
        features = self.passed.features
        return self.train_set if features is None else DataSet(features, self.train_set.labels)

    def featurize(self) -> Iterator[Event]:
        """The pass: every training image and its mirror, then the validation images (and their
        mirrors with TTA), through the frozen network; Featurizing events as it goes. Leaves
        `features` None when the run is stopped during it."""
        val_views = 2 if self.cfg.tta else 1
        parts = [(self.train_set.images, 2), (self.data.val.images, val_views)]  # the first on its device
        total = sum(len(images) * views for images, views in parts)
        batch = max(1, self._pass_batch() // 2)  # images, each with its mirror
        started = last_event = time.perf_counter()
        done, results = 0, []
        self.model.eval()
        extract = feature_extractor(self.model)  # a copy of the weights, for this pass
        for images, views in parts:
            chunks = []
            for first in range(0, len(images), batch):
                if not self.controls.running.is_set():
                    yield from self.pausing.wait_while_paused(self.state)
                if self.controls.stop.is_set():
                    return
                chunks.append(self._features_of(extract, images[first : first + batch], views))
                done += len(chunks[-1]) * views
                now = time.perf_counter()
                if now - last_event >= EVENT_INTERVAL or done == total:
                    last_event = now
                    since_start = now - self.state.started_at
                    yield Featurizing(done, total, done / max(now - started, 1e-9), since_start)
            results.append(torch.cat(chunks))
        self.passed.features, self.passed.val_features = results
        self.state.tick = time.perf_counter()  # the first Step's speed is the head's, not the pass's

    def _pass_batch(self) -> int:
        """Images a forward pass takes (mirrors included): as many as an evaluation's memory
        allows, and on a CPU at most `CPU_PASS_BATCH`."""
        available = device_memory(self.settings.device)
        most = evaluation_batch(analyze(self.spec), None, available)
        return min(most, CPU_PASS_BATCH) if self.device.type == "cpu" else most

    @torch.no_grad()
    def _features_of(self, extract: Callable[[Tensor], Tensor], images: Tensor, views: int) -> Tensor:
        """(B, views, D) pooled features of uint8 images: the evaluation view, then its mirror."""
        x = normalize(
            evaluation_view(images, self.spec.input.size).to(self.device, non_blocking=True),
            self.data.mean,
            self.data.std,
            size=self.spec.input.size,
            channels_last=self.settings.channels_last,
        )
        if views == 2:
            x = torch.cat([x, x.flip(3)])
        with self.autocast:
            features = extract(x)
        return features.view(views, len(images), -1).transpose(0, 1).contiguous()

    def step(self, images: Tensor, labels: Tensor, aug: torch.Generator) -> tuple[Tensor, Tensor]:
        """One optimizer step of the output layer on a batch of features (B, 2, D)."""
        cfg, run = self.cfg, self.state
        set_lr(self.optimizer, cfg, run.step, run.total_steps)
        if cfg.augment:  # the mirror at random, as the images' random flip
            mirrored = (torch.rand(len(images), generator=aug) < 0.5).to(images.device)
            x = torch.where(mirrored[:, None], images[:, 1], images[:, 0])
        else:
            x = images[:, 0]
        head = self.model.head
        with self.autocast:
            logits = head.fc(head.dropout(x))
            loss = F.cross_entropy(logits.float(), labels, label_smoothing=cfg.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        run.step += 1
        run.batch_in_epoch += 1
        return logits, loss

    def weights_finite(self) -> bool:
        """Only the output layer changes: the rest need not be read again after every epoch (on
        a ResNet-50, 25 million numbers)."""
        return weights_finite(self.model.head.fc)

    def save(self, paths: list[Path]) -> Iterator[Event]:
        """Checkpoints at most every `SAVE_INTERVAL` seconds, and always at the end or on a stop:
        the head's epochs take milliseconds, and writing the whole network after each would make
        the writes the run (30 epochs of a ResNet-50: 3 GB). The best epoch's state is kept in
        memory meanwhile (the frozen weights are shared, not copied) and written as best.pt then."""
        if self.writer is None:
            return
        best, passed, run = self.writer.best_checkpoint, self.passed, self.state
        if best in paths:
            passed.best_state = self._kept_state()
        ending = self.controls.stop.is_set() or not run.running
        ending = ending or run.epoch >= run.epochs or run.step >= run.total_steps
        if not ending and time.perf_counter() - passed.saved_at < SAVE_INTERVAL:
            return
        passed.saved_at = time.perf_counter()
        yield from super().save([path for path in paths if path != best])
        if passed.best_state is not None:
            save_checkpoint(best, passed.best_state, within=self.writer.path)
            yield CheckpointSaved(str(best), passed.best_state["epoch"], passed.best_state["step"])
            passed.best_state = None

    def _kept_state(self) -> dict[str, Any]:
        """The checkpoint as it is now, safe from the steps that follow: what training changes
        (the head's weights, the optimizer's state) copied, the frozen weights shared."""
        state = self.checkpoint_state()
        trained = {name for name, p in self.model.named_parameters() if p.requires_grad}
        state["model"] = {k: v.clone() if k in trained else v for k, v in state["model"].items()}
        state["optimizer"] = copy.deepcopy(state["optimizer"])
        return state

    def evaluate_weights(self) -> Evaluation:
        """The validation images' features through the output layer: what the whole network in
        eval mode computes (with shifted TTA views, the whole network runs)."""
        val_features = self.passed.val_features
        if val_features is None or self.cfg.tta_shift:
            return super().evaluate_weights()
        head = self.model.head
        head.eval()
        with torch.no_grad(), self.autocast:
            logits = head.fc(val_features).float().mean(1)  # mirror TTA: the logits averaged
        labels = self.data.val.labels.to(self.device)
        k = len(self.data.classes)
        loss = F.cross_entropy(logits, labels, reduction="sum").double().item() / max(1, len(labels))
        confusion = torch.bincount(labels * k + logits.argmax(1), minlength=k * k).view(k, k).cpu().numpy()
        accuracy = float(np.trace(confusion)) / max(1, int(confusion.sum()))
        return Evaluation(list(self.data.classes), loss, accuracy, confusion)
