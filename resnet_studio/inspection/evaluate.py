"""Accuracy, loss, confusion matrix and the per-class table (Category | Correct | Incorrect | Accuracy)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_studio.architecture.analysis import analyze
from resnet_studio.architecture.cost import EVAL_BATCH, evaluation_batch
from resnet_studio.architecture.spec import ArchitectureSpec
from resnet_studio.data.sources import DataSet, load_data
from resnet_studio.data.transforms import batches, normalize
from resnet_studio.errors import UserError
from resnet_studio.inspection.inference_precision import inference_dtype
from resnet_studio.inspection.tta import tta_logits
from resnet_studio.user_text import counted

if TYPE_CHECKING:
    from resnet_studio.nn.checkpoint import LoadedModel


@dataclass
class Evaluation:
    classes: list[str]
    loss: float
    accuracy: float
    confusion: np.ndarray  # int64 (K, K): rows are true classes, columns predictions
    # With keep_predictions: per image, its true class, predicted class and that prediction's
    # probability (the studio shows the images of a confusion cell and the confident mistakes).
    labels: np.ndarray | None = None
    predictions: np.ndarray | None = None
    confidence: np.ndarray | None = None

    def images_of(self, true: int, predicted: int) -> np.ndarray:
        """Indices of the images of class `true` predicted as `predicted`, most confident first."""
        assert self.labels is not None and self.predictions is not None and self.confidence is not None
        idx = np.nonzero((self.labels == true) & (self.predictions == predicted))[0]
        return idx[np.argsort(-self.confidence[idx], kind="stable")]

    def mistakes(self) -> np.ndarray:
        """Indices of misclassified images, the most confidently wrong first."""
        assert self.labels is not None and self.predictions is not None and self.confidence is not None
        idx = np.nonzero(self.labels != self.predictions)[0]
        return idx[np.argsort(-self.confidence[idx], kind="stable")]

    @property
    def per_class(self) -> list[dict]:
        rows = []
        for i, name in enumerate(self.classes):
            correct = int(self.confusion[i, i])
            total = int(self.confusion[i].sum())
            rows.append(
                {
                    "class": name,
                    "correct": correct,
                    "incorrect": total - correct,
                    "accuracy": correct / total if total else 0.0,
                }
            )
        return rows

    def to_dict(self) -> dict:
        """The `evaluate --json` object of resources/FORMATS.md."""
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "per_class": self.per_class,
            "confusion": self.confusion.tolist(),
        }

    def table(self) -> str:
        """The per-class table as text, with the overall accuracy below it."""
        width = max(8, *(len(c) for c in self.classes))
        lines = [f"{'Category':<{width}}  {'Correct':>7}  {'Incorrect':>9}  {'Accuracy':>8}"]
        lines.append("-" * len(lines[0]))
        for row in self.per_class:
            lines.append(
                f"{row['class']:<{width}}  {row['correct']:>7}  {row['incorrect']:>9}  "
                f"{row['accuracy']:>8.2%}"
            )
        lines.append("-" * len(lines[0]))
        total = int(self.confusion.sum())
        images = counted(total, "image")
        lines.append(f"Overall accuracy: {self.accuracy:.2%} of {images} (loss {self.loss:.4f})")
        return "\n".join(lines)

    def confusion_table(self) -> str:
        """The confusion matrix as text: a row per true class, a column per predicted class
        (columns numbered, the numbers keyed to the rows, so that wide names fit a terminal)."""
        width = max(8, *(len(c) for c in self.classes)) + 5
        cell = max(5, len(str(int(self.confusion.max(initial=0)))) + 1)
        count = len(self.classes)
        corner = "true \\ predicted"
        head = f"{corner:<{width}}" + "".join(f"{j + 1:>{cell}}" for j in range(count))
        lines = ["Confusion matrix (rows: true class, columns: predicted class)", head]
        for i, name in enumerate(self.classes):
            row = "".join(f"{int(v):>{cell}}" for v in self.confusion[i])
            lines.append(f"{f'{i + 1:>2}. {name}':<{width}}{row}")
        return "\n".join(lines)


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    data: DataSet,
    classes: Sequence[str],
    mean: Sequence[float],
    std: Sequence[float],
    *,
    size: int | None = None,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
    channels_last: bool = False,
    amp_dtype: torch.dtype | None = None,
    keep_predictions: bool = False,
    tta: bool = False,
    tta_shift: int = 0,
) -> Evaluation:
    """Evaluate `model` on `data` (uint8 images); the model is left in eval mode. With `tta`, each
    image's logits are averaged with its mirror image's, and with `tta_shift` with shifted views
    too (`inspection.tta`). Without `batch_size`, as many images at a time as the network's size
    allows (`bounded_batch`)."""
    device = torch.device(device)
    batch_size = batch_size or bounded_batch(model)
    model.eval()
    k = len(classes)
    confusion = torch.zeros(k * k, dtype=torch.int64, device=device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    autocast = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext()
    kept: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    for images, labels in batches(data, batch_size):
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        x = normalize(images, mean, std, size=size, channels_last=channels_last)
        with autocast:
            logits = tta_logits(model, x, flip=tta, shift=tta_shift)
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").double()
        confusion += torch.bincount(labels * k + logits.argmax(1), minlength=k * k)
        if keep_predictions:
            best = torch.softmax(logits, 1).max(1)
            kept.append((labels.cpu(), best.indices.cpu(), best.values.cpu()))
    matrix = confusion.view(k, k).cpu().numpy()
    n = max(1, int(matrix.sum()))
    result = Evaluation(list(classes), float(loss_sum) / n, float(np.trace(matrix)) / n, matrix)
    if keep_predictions and kept:
        result.labels, result.predictions, result.confidence = (
            torch.cat(part).numpy() for part in zip(*kept, strict=True)
        )
    return result


def bounded_batch(model: nn.Module, most: int = EVAL_BATCH) -> int:
    """Images at a time for running `model` without gradients: `most`, or fewer where its input is
    large (`cost.evaluation_batch`); `most` for a module that is not one of ours."""
    spec = getattr(model, "spec", None)
    return evaluation_batch(analyze(spec), most=most) if isinstance(spec, ArchitectureSpec) else most


def validation_images(
    loaded: LoadedModel, source: str | None = None, *, limit_val: int | None = None
) -> tuple[DataSet, str]:
    """The validation (or test) images of `source` (default: the data the model was trained on)
    at the model's input size, and the source used; the class count must match the model's."""
    source = source or loaded.config.get("data", "demo")
    data = load_data(
        source,
        image_size=loaded.preparation,  # a folder's images prepared as Classify prepares them
        channels=loaded.channels,
        limit_train=1,  # only the validation images are needed: a folder source decodes no more
        limit_val=limit_val,
        seed=int(loaded.config.get("seed", 0)),
    )
    if len(data.classes) != len(loaded.classes):
        raise UserError(
            f"--data {source}: {len(data.classes)} classes, but the checkpoint knows {len(loaded.classes)}"
        )
    return data.val, source


def evaluate_checkpoint(
    loaded: LoadedModel,
    source: str | None = None,
    *,
    limit_val: int | None = None,
    device: torch.device | str = "cpu",
    keep_predictions: bool = False,
) -> tuple[Evaluation, DataSet, str]:
    """A trained model on the validation (or test) images of `source` (default: the data it was
    trained on), as `resnet-studio evaluate` and Inspect's Validation tab show it: the evaluation,
    the images and the source used. In bf16 where that pays (`inference_precision`)."""
    images, source = validation_images(loaded, source, limit_val=limit_val)
    batch = min(bounded_batch(loaded.model), len(images))
    result = evaluate(
        loaded.model.to(device),
        images,
        loaded.classes,
        loaded.mean,
        loaded.std,
        size=loaded.input_size,
        device=device,
        batch_size=batch or None,
        amp_dtype=inference_dtype(device, batch),
        keep_predictions=keep_predictions,
        tta=loaded.tta,
        tta_shift=loaded.tta_shift,
    )
    return result, images, source
