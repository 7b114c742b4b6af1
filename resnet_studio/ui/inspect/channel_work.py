"""The work behind Inspect's "Looks for" panel, run on worker threads (torch is imported there):
the channel index over a model's validation images, the optimised image, and the PNGs saved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from resnet_studio.inspection.channels import ChannelIndex

Progress = Callable[[int, int], None]


@dataclass
class IndexedData:
    """One model's channel index over its validation images, with what tool tips name."""

    index: ChannelIndex
    labels: np.ndarray  # int (N,)
    classes: list[str]
    colour: Any  # the data's colour square root, for the optimisation (a torch tensor)
    source: str  # the data, as `--data` names it


def search(
    load: Callable, data: str | None, limit: int, progress: Progress, cancelled: Callable[[], bool]
) -> IndexedData:
    """Every channel's peaks over the first `limit` validation images of `data` (None: the data
    the model was trained on), from one pass of the job's own network."""
    from resnet_studio.inspection.channels import index_channels
    from resnet_studio.inspection.evaluate import validation_images
    from resnet_studio.inspection.maximise import colour_sqrt

    loaded = load()
    images, used = validation_images(loaded, data, limit_val=limit)
    index = index_channels(
        loaded.model, images.images, loaded.mean, loaded.std, progress=progress, cancelled=cancelled
    )
    return IndexedData(index, images.labels.numpy(), list(loaded.classes), colour_sqrt(images.images), used)


def optimise(
    load: Callable,
    tap: str,
    channel: int,
    colour: Any,
    steps: int,
    progress: Progress,
    cancelled: Callable[[], bool],
) -> tuple[np.ndarray, float]:
    """An image that excites `channel` of `tap`, and its mean activation there."""
    from resnet_studio.errors import UserError
    from resnet_studio.inspection.activations import tap_points
    from resnet_studio.inspection.maximise import maximise_channel

    loaded = load()
    if tap not in dict(tap_points(loaded.model)):
        raise UserError(f"{tap} cannot be optimised for: choose the stem or a block")
    return maximise_channel(
        loaded.model,
        tap,
        channel,
        loaded.mean,
        loaded.std,
        colour=colour,
        steps=steps,
        progress=progress,
        cancelled=cancelled,
    )


def save_pictures(
    folder: str | Path, stem: str, crops: list[np.ndarray], optimised: np.ndarray | None
) -> list[Path]:
    """`<stem>-top9.png` (the crops as a 3x3 sheet) and `<stem>-optimised.png`, those given, each
    written atomically into `folder`; raises OSError naming the file that failed."""
    from resnet_studio.fileio import atomic_write_bytes
    from resnet_studio.inspection.channels import contact_sheet, png_bytes

    pictures: list[tuple[Path, Callable[[], bytes]]] = []
    if crops:
        pictures.append((Path(folder) / f"{stem}-top9.png", lambda: png_bytes(contact_sheet(crops))))
    if optimised is not None:
        pictures.append((Path(folder) / f"{stem}-optimised.png", lambda: png_bytes(optimised, scale_to=256)))
    written = []
    for path, encode in pictures:
        try:
            atomic_write_bytes(path, encode())
        except OSError as exc:
            raise OSError(exc.errno, f"{path}: {exc.strerror or exc}") from None
        written.append(path)
    return written
