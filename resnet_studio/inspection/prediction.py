"""One image's answer: its top classes, or why it has none. Torch-free: the studio's views use it
before torch is loaded."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# An answer whose top class has less probability than this is marked unsure: the image may show
# none of the classes the model knows (the maximum softmax probability, the simplest
# out-of-distribution score; Hendrycks & Gimpel 2017). A confident answer is no guarantee: a
# network asked about something it never saw can still be sure of one of its classes.
UNSURE_BELOW = 0.5


@dataclass
class Prediction:
    path: str
    top: list[tuple[str, float]] = field(default_factory=list)  # (class, probability), best first
    error: str | None = None
    image: np.ndarray | None = field(default=None, repr=False)  # the network's uint8 (C, H, W) input
    preview: np.ndarray | None = field(default=None, repr=False)  # RGB (h, w, 3), when asked for
    # What the studio keeps instead, of thousands of files: a JPEG of the preview, decoded when it
    # is shown, and an icon-sized copy for its table (see `ui.classify.prediction_panel.keep_small`).
    preview_jpeg: bytes | None = field(default=None, repr=False)
    thumbnail: np.ndarray | None = field(default=None, repr=False)
    # The network and weights that answered, in words (the studio keeps answers of several models
    # in one list; `classify` names its one model once).
    model: str = ""

    @property
    def unsure(self) -> bool:
        """True when even the best class is below `UNSURE_BELOW`, or the answer is not a number."""
        return bool(self.top) and not self.top[0][1] >= UNSURE_BELOW

    @property
    def invalid(self) -> bool:
        """True when the probabilities are not numbers (NaN): a network whose outputs overflowed."""
        return any(not math.isfinite(p) for _, p in self.top)

    def to_dict(self) -> dict:
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        top = [{"class": c, "probability": p if math.isfinite(p) else None} for c, p in self.top]
        return {"path": self.path, "top": top, "unsure": self.unsure}


def shown_probability(p: float) -> str:
    """`87.5%`, or `invalid` for a probability that is not a number."""
    return f"{p:.1%}" if math.isfinite(p) else "invalid"


def predictions_csv(predictions: list[Prediction]) -> str:
    """The CSV the studio's Export CSV writes: one row per (image, rank), or one with the error;
    `model` names the weights that answered. Text cells are printable and never read as
    spreadsheet formulas."""
    import csv
    import io

    from resnet_studio.user_text import csv_cell

    buffer = io.StringIO()
    table = csv.writer(buffer, lineterminator="\n")
    table.writerow(["path", "rank", "class", "probability", "error", "model"])
    for p in predictions:
        path = csv_cell(p.path)
        if p.error:
            table.writerow([path, "", "", "", csv_cell(p.error), ""])
        model = csv_cell(p.model)
        for rank, (name, probability) in enumerate(p.top, start=1):
            shown = f"{probability:.6f}" if math.isfinite(probability) else ""
            table.writerow([path, rank, csv_cell(name), shown, "", model])
    return buffer.getvalue()
