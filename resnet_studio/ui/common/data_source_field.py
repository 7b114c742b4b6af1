"""The field where Inspect's panels take a `--data` source for their validation images."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit

PLACEHOLDER = "the data the model was trained on (or demo, cifar10:DIR, folder:DIR)"


def data_source_field(name: str, tooltip: str) -> QLineEdit:
    """An empty field (the model's own data) named `name`, saying what its images are for."""
    field = QLineEdit()
    field.setObjectName(name)
    field.setPlaceholderText(PLACEHOLDER)
    field.setToolTip(tooltip)
    return field
