"""An image optimised to excite one channel (activation maximisation), regularised as Olah et al.
(2017, "Feature Visualization") regularise it, so that it shows what the channel responds to rather
than adversarial high-frequency noise:

- the image is parameterised in a Fourier basis whose coefficients are scaled by 1/frequency, so
  gradient steps change low frequencies as readily as high ones (natural images' spectrum);
- its colours are decorrelated: the parameters live in a space whitened by the colour covariance of
  the data's pixels, and the image is their product with its square root;
- every step sees it jittered, rescaled and jittered again (transformation robustness), so that a
  pattern must work wherever it lands.

The objective is the channel's mean over all positions of the tap's output. The network's weights
get no gradients and are left as they were.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from resnet_studio.data.stored import StoredImages
from resnet_studio.inspection.activations import tap_points
from resnet_studio.inspection.channels import Cancelled, Progress
from resnet_studio.nn.model import ResNet

# The spectrum's fall-off (coefficients scaled by 1 / frequency ** DECAY) and the contrast: of the
# values tried on the shipped CIFAR-10 network (1 or 1.5; 1, 2 or 4) these excited channels most
# with the least high-frequency noise.
DECAY = 1.5
GAIN = 2.0


class _Reached(Exception):
    """Raised by the tap's hook: the rest of the network is not needed."""

    def __init__(self, out: Tensor) -> None:
        self.out = out


def colour_sqrt(images: Tensor | StoredImages) -> Tensor:
    """The square root of the colour covariance of uint8 images (N, C, H, W), scaled so that its
    largest column has unit norm (identity for one channel or constant images)."""
    channels = images.shape[1]
    pixels = images[:2000].permute(1, 0, 2, 3).reshape(channels, -1).double() / 255
    cov = torch.cov(pixels) if pixels.shape[1] > 1 else torch.eye(channels, dtype=torch.float64)
    u, s, _ = torch.linalg.svd(cov)
    root = u @ torch.diag(s.clamp_min(0).sqrt())
    norm = root.norm(dim=0).max()
    if not torch.isfinite(norm) or norm < 1e-8:
        return torch.eye(channels)
    return (root / norm).float()


class FourierImage(torch.nn.Module):
    """An image of `channels` x `size` x `size` in [0, 1], from decorrelated Fourier coefficients."""

    def __init__(self, channels: int, size: int, colour: Tensor, generator: torch.Generator) -> None:
        super().__init__()
        fy = torch.fft.fftfreq(size)[:, None]
        fx = torch.fft.rfftfreq(size)[None, :]
        frequency = torch.sqrt(fx * fx + fy * fy).clamp_min(1.0 / size)
        self.register_buffer("scale", (1.0 / frequency) ** DECAY * size**-0.5)  # 1/f: low and high alike
        self.register_buffer("colour", colour)
        shape = (channels, size, size // 2 + 1, 2)
        self.coefficients = torch.nn.Parameter(0.01 * torch.randn(shape, generator=generator))
        self.size = size

    def forward(self) -> Tensor:
        spectrum = torch.view_as_complex(self.coefficients) * cast(Tensor, self.scale)
        decorrelated = torch.fft.irfft2(spectrum, s=(self.size, self.size), norm="ortho")
        flat = decorrelated.reshape(decorrelated.shape[0], -1)
        coloured = (cast(Tensor, self.colour) @ flat).reshape(decorrelated.shape)
        return torch.sigmoid(coloured * GAIN)


def _transformed(image: Tensor, generator: torch.Generator) -> Tensor:
    """Jitter, a random scale between 0.9 and 1.1, and jitter again: (1, C, S, S) -> same size."""
    size = image.shape[-1]
    shift = max(1, size // 16)

    def jitter(x: Tensor) -> Tensor:
        dy, dx = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=generator))
        return torch.roll(x, (dy, dx), dims=(2, 3))

    x = jitter(F.pad(image, [shift] * 4, mode="reflect"))
    factor = 0.9 + 0.2 * float(torch.rand((), generator=generator))
    scaled = max(8, round(x.shape[-1] * factor))
    x = F.interpolate(x, size=(scaled, scaled), mode="bilinear", align_corners=False)
    x = jitter(x)
    if scaled >= size:  # a centre crop back to the input size, or a reflected pad up to it
        top = (scaled - size) // 2
        return x[..., top : top + size, top : top + size]
    short = size - scaled
    return F.pad(x, [short // 2, short - short // 2, short // 2, short - short // 2], mode="reflect")


def maximise_channel(
    model: ResNet,
    tap: str,
    channel: int,
    mean: list[float],
    std: list[float],
    *,
    colour: Tensor | None = None,
    steps: int = 256,
    lr: float = 0.03,
    seed: int = 0,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> tuple[np.ndarray, float]:
    """(uint8 (C, S, S) image at the input size, the channel's mean activation on it, untransformed)."""
    spec = model.spec
    channels, size = spec.input.channels, spec.input.size
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    image = FourierImage(channels, size, colour if colour is not None else torch.eye(channels), generator)
    image = image.to(device)
    module = dict(tap_points(model))[tap]
    m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=device).view(1, -1, 1, 1)

    def stop(_module: torch.nn.Module, _inputs: tuple, out: Tensor) -> None:
        raise _Reached(out)

    def activation(x: Tensor) -> Tensor:
        try:
            model((x - m) / s)
        except _Reached as reached:
            return reached.out[:, channel].mean()
        raise RuntimeError(f"{tap} was not reached")  # pragma: no cover - tap_points lists the path

    optimiser = torch.optim.Adam(image.parameters(), lr=lr)
    hook = module.register_forward_hook(stop)
    was_training = model.training
    model.eval()
    try:
        for step in range(steps):
            if cancelled():
                raise Cancelled
            x = _transformed(image()[None], generator)
            loss = -activation(x)
            (gradient,) = torch.autograd.grad(loss, [image.coefficients])  # no weight gradients
            image.coefficients.grad = gradient
            optimiser.step()
            if progress is not None:
                progress(step + 1, steps)
        with torch.no_grad():
            final = image()[None]
            value = float(activation(final))
    finally:
        hook.remove()
        model.train(was_training)
    pixels = (final[0].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    if not math.isfinite(value):
        value = float("nan")
    return pixels, value
