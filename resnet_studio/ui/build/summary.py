"""The summary: one row per layer of the engine's analysis, with totals, after every edit."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from resnet_studio.architecture.analysis import si_units
from resnet_studio.ui.common.document import Document

HEADERS = ["Layer", "Type", "Output", "Params", "MACs"]


def _mega(macs: int) -> str:
    """As the canvas's cards write MACs (`si_units`), so that a layer reads the same in both."""
    return si_units(macs)


class SummaryView(QTableWidget):
    def __init__(self, document: Document) -> None:
        super().__init__(0, len(HEADERS))
        self.setObjectName("summary")
        self.document = document
        self.setHorizontalHeaderLabels(HEADERS)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        document.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        analysis = self.document.analysis
        self.setUpdatesEnabled(False)
        # Columns sized to their contents re-measure every row on each new item: O(rows²), 115 ms
        # per edit of ResNeXt-50 on a busy 2-core machine. Sized once, after filling, instead.
        header = self.horizontalHeader()
        for column in range(1, len(HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
        try:
            if analysis is None:
                problem = self.document.problems[0]
                self.setRowCount(1)
                self._row(0, [f"Invalid: {problem}", "", "", "", ""])
                self.setSpan(0, 0, 1, len(HEADERS))
                return
            self.clearSpans()
            rows = [
                [
                    layer.name,
                    layer.type,
                    "×".join(map(str, layer.output_shape)),
                    f"{layer.params:,}",
                    _mega(layer.macs),
                    layer.macs,
                ]
                for layer in analysis.layers
            ]
            rows.append(["Total", "", "", f"{analysis.params:,}", _mega(analysis.macs), analysis.macs])
            self.setRowCount(len(rows))
            for r, values in enumerate(rows):
                exact = values.pop()
                self._row(r, [str(value) for value in values], bold=r == len(rows) - 1)
                macs = self.item(r, 4)
                if macs is not None:
                    macs.setToolTip(f"{exact:,} multiply-accumulates")
        finally:
            for column in range(1, len(HEADERS)):
                header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
            self.setUpdatesEnabled(True)

    def _row(self, row: int, values: list[str], bold: bool = False) -> None:
        for col, value in enumerate(values):
            item = QTableWidgetItem(value)
            if col >= 3:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if bold:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            self.setItem(row, col, item)
