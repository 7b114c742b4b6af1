"""Inspect > Image's work on worker threads (torch is imported there): one image through the model
(`analyse`: every block's maps, the probabilities, the stem's filters), and the picture that
explains a class, by Grad-CAM from that same pass or by Integrated Gradients or occlusion
(Captum, optional) from a pass of their own. And the box that chooses the method."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox

from resnet_studio.inspection.attribution import INSTALL_HINT, NOTES, TITLES, captum_available
from resnet_studio.ui.common.plain_text import tooltip

if TYPE_CHECKING:
    from resnet_studio.inspection.gradcam import CamSession

METHODS = ("gradcam", "integrated-gradients", "occlusion")


@dataclass
class Analysis:
    """One image through one model: every block's output, the probabilities, the stem's filters."""

    image: np.ndarray  # uint8 (C, H, W), the network's input
    maps: dict[str, np.ndarray]  # block -> float32 (channels, h, w)
    probabilities: np.ndarray
    classes: list[str]
    filters: np.ndarray  # float32 (out, in, k, k)
    photo: np.ndarray | None = None  # the whole picture, RGB (h, w, 3), when known
    box: tuple[float, float, float, float] | None = None  # the part of `photo` the network saw
    session: CamSession | None = None  # the pass the maps came from: Grad-CAMs with no new forward


def method_box() -> QComboBox:
    """Grad-CAM, Integrated Gradients, Occlusion; the last two greyed, their tip saying how to
    install Captum, when it is not installed."""
    box = QComboBox()
    box.setObjectName("explainMethod")
    box.setToolTip("How the class is explained: each method's note appears under the picture")
    for method in METHODS:
        box.addItem(TITLES[method], method)
    model = box.model()
    assert isinstance(model, QStandardItemModel)
    present = captum_available()
    for row, method in enumerate(METHODS):
        item = model.item(row)
        if method != "gradcam" and not present:
            item.setEnabled(False)
            item.setToolTip(tooltip(INSTALL_HINT))
        else:
            item.setToolTip(tooltip(f"{TITLES[method]}: {NOTES[method]}"))
    return box


def network_input(loaded: Any, image: np.ndarray) -> Any:
    """The uint8 (C, H, W) image as the model's normalised (1, C, H, W) input (a torch tensor)."""
    import torch

    from resnet_studio.data.transforms import normalize

    return normalize(torch.from_numpy(image)[None], loaded.mean, loaded.std, size=loaded.input_size)


def analyse(load: Callable, image: np.ndarray, photo: np.ndarray | None) -> Analysis:
    """Every block's maps of `image`, its probabilities (averaged over the test-time views, as
    Classify answers, when the model asks for them) and the stem's filters, from one pass kept
    for Grad-CAM."""
    import torch

    from resnet_studio.inspection.classify import one_thread
    from resnet_studio.inspection.gradcam import CamSession, first_layer_filters
    from resnet_studio.inspection.tta import tta_logits

    loaded = load()
    x = network_input(loaded, image)
    with one_thread():  # one image: steady while a training run keeps the cores busy
        session = CamSession(loaded.model, x)  # one pass: every block's maps, Grad-CAMs
        probabilities = session.probabilities
        if loaded.tta:  # the same answer as Classify: averaged over the test-time views
            with torch.inference_mode():
                logits = tta_logits(loaded.model, x, flip=True, shift=loaded.tta_shift)
            probabilities = torch.softmax(logits[0], 0).numpy()
    box = None if photo is None else loaded.preparation.visible_box(photo.shape[1], photo.shape[0])
    filters = first_layer_filters(loaded.model)
    maps = dict(session.maps())
    return Analysis(image, maps, probabilities, loaded.classes, filters, photo, box, session)


def attribute(load: Callable, image: np.ndarray, method: str, class_index: int) -> Any:
    """Integrated Gradients (from a black image) or occlusion of `class_index` for `image`, with
    the job's own network: an `Attribution` (its `heatmap` at the input size)."""
    from resnet_studio.inspection import attribution
    from resnet_studio.inspection.classify import one_thread

    loaded = load()
    x = network_input(loaded, image)
    with one_thread():
        if method == "occlusion":
            return attribution.occlusion(loaded.model, x, class_index)
        baseline = attribution.black_baseline(x, loaded.mean, loaded.std)
        return attribution.integrated_gradients(loaded.model, x, class_index, baseline)
