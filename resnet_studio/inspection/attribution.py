"""Attribution beside Grad-CAM, through Captum (PyTorch's interpretability library, optional:
`pip install 'resnet-studio[attribution]'`).

- Integrated Gradients (Sundararajan et al. 2017): the class score's gradient averaged along the
  straight path from a black image to the image, times the difference between them. Each pixel
  gets its share of the score, and the shares add up to the score's change from the black image
  (completeness): which pixels, one by one, the answer rests on.
- Occlusion (Zeiler and Fergus 2014): a grey square slid over the image; each place gets how
  much the class score falls when that part is hidden: which regions the answer needs.
Grad-CAM answers at a block's resolution; these two at the input's.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where the work is done: the studio's views import this
    from torch import Tensor, nn

    from resnet_studio.nn.model import ResNet

METHODS = ("integrated-gradients", "occlusion")
INSTALL_HINT = "Integrated Gradients and occlusion need Captum: pip install 'resnet-studio[attribution]'"
TITLES = {"gradcam": "Grad-CAM", "integrated-gradients": "Integrated Gradients", "occlusion": "Occlusion"}
# What each picture shows, in one sentence (Inspect's caption).
NOTES = {
    "gradcam": "warm regions are where the block's features raise the class's score.",
    "integrated-gradients": (
        "each pixel's share of the class's score, measured from a black image (the shares add up "
        "to the score's change); warm pixels raise it."
    ),
    "occlusion": (
        "how much the class's score falls when a grey square hides each part; warm regions are "
        "those the answer needs."
    ),
}


def captum_available() -> bool:
    """Whether Captum is installed (asked without importing it)."""
    return importlib.util.find_spec("captum") is not None


@dataclass(frozen=True)
class Attribution:
    method: str
    values: np.ndarray  # float32 (C, H, W): each input value's attribution, signed
    heatmap: np.ndarray  # float32 (H, W) in [0, 1]: the positive part, scaled to its 99th percentile
    class_index: int
    delta: float  # Integrated Gradients: the completeness gap (sum - score change); 0 for occlusion


def _require_captum() -> None:
    if not captum_available():
        from resnet_studio.errors import UserError

        raise UserError(INSTALL_HINT)


def black_baseline(x: Tensor, mean: list[float], std: list[float]) -> Tensor:
    """A black image in the network's normalised space, the shape of `x` (1, C, H, W)."""
    import torch

    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return ((0 - m) / s).expand_as(x).contiguous()


def integrated_gradients(
    model: ResNet,
    x: Tensor,
    class_index: int,
    baseline: Tensor,
    *,
    steps: int = 64,
    batch: int = 32,
) -> Attribution:
    """Integrated Gradients of `class_index`'s logit for the normalised image `x` (1, C, H, W)
    from `baseline` (same shape), with `steps` points of the Gauss-Legendre rule. The model runs
    in eval mode and is left in the mode it was in; its weights are not changed."""
    _require_captum()
    import torch
    from captum.attr import IntegratedGradients

    with _eval(model), torch.enable_grad():
        explainer = IntegratedGradients(model)
        values, delta = explainer.attribute(
            x,
            baselines=baseline,
            target=int(class_index),
            n_steps=steps,
            internal_batch_size=batch,
            return_convergence_delta=True,
        )
    signed = values[0].detach().float().cpu().numpy()
    return Attribution(
        "integrated-gradients", signed, _heatmap(signed.sum(0)), int(class_index), float(delta)
    )


def occlusion(
    model: ResNet, x: Tensor, class_index: int, *, window: int | None = None, stride: int | None = None
) -> Attribution:
    """Occlusion of `class_index`'s logit for the normalised image `x` (1, C, H, W): a square of
    `window` pixels (a quarter of the side by default) slid by `stride` (half the window), set to
    0, the data's mean colour after normalisation (a grey patch)."""
    _require_captum()
    import torch
    from captum.attr import Occlusion

    channels, side = int(x.shape[1]), int(x.shape[-1])
    window = window or max(2, side // 4)
    stride = stride or max(1, window // 2)
    with _eval(model), torch.no_grad():
        values = Occlusion(model).attribute(
            x,
            sliding_window_shapes=(channels, window, window),
            strides=(channels, stride, stride),
            baselines=0.0,
            target=int(class_index),
            perturbations_per_eval=16,
        )
    signed = values[0].detach().float().cpu().numpy()
    return Attribution("occlusion", signed, _heatmap(signed.mean(0)), int(class_index), 0.0)


def _heatmap(signed: np.ndarray) -> np.ndarray:
    """The positive part of an (H, W) map in [0, 1], scaled to its 99th percentile: a few extreme
    pixels (Integrated Gradients has them) do not wash the rest out."""
    positive = np.clip(signed, 0, None)
    top = float(np.percentile(positive, 99)) if positive.size else 0.0
    top = top if top > 0 else float(positive.max(initial=0.0))
    return (positive / top).clip(0, 1).astype(np.float32) if top > 0 else np.zeros_like(positive, np.float32)


class _eval:
    """The model in eval mode inside, back in its own mode after."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.was_training = model.training

    def __enter__(self) -> None:
        self.model.eval()

    def __exit__(self, *_: object) -> None:
        self.model.train(self.was_training)
