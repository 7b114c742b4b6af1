"""Setup's "Data memory": how many bytes of decoded images a folder source may hold in memory
(`TrainConfig.data_memory`); a larger folder is prepared once into an on-disk cache instead.
"auto" (None) is a quarter of the machine's memory, and says how much that is here."""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox

from resnet_studio.architecture.cost import gigabytes, machine_memory

GB = 2**30  # what `gigabytes` writes as "GB", and what the box counts in


class DataMemoryBox(QDoubleSpinBox):
    """0 shows "auto (N GB)"; other values are gigabytes in steps of a half."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("dataMemory")
        self.setDecimals(1)
        self.setRange(0, 4096)
        self.setSingleStep(0.5)
        self.setSuffix(" GB")
        memory = machine_memory()
        self.setSpecialValueText(f"auto ({gigabytes(memory // 4)})" if memory else "auto")
        self.setToolTip(
            "Decoded images a folder of photos may hold in memory. A larger folder is prepared "
            "once into\nan on-disk cache at the training size (memory-mapped), so that memory stays "
            "bounded.\nauto: a quarter of this machine's memory"
        )
        self._exact: int | None = None  # a saved value the box's 0.1 GB steps cannot show exactly

    def value_bytes(self) -> int | None:
        """`TrainConfig.data_memory`: bytes, or None for auto."""
        shown = self.value()
        if not shown:
            return None
        if self._exact is not None and _shown(self._exact) == shown:
            return self._exact  # as saved, unless the user has changed it
        return max(1, round(shown * GB))

    def set_bytes(self, value: int | None) -> None:
        self._exact = value
        self.setValue(_shown(value) if value else 0)


def _shown(value: int) -> float:
    """What the box shows of `value` bytes: a budget below its smallest step still shows as a
    budget, never as "auto"."""
    return max(0.1, round(value / GB, 1))
