"""Classify's table of results: its columns, one row's cells, and the columns fitted to the table's
width."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QIcon
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from resnet_studio.inspection.prediction import UNSURE_BELOW, Prediction, shown_probability
from resnet_studio.ui.classify.prediction_panel import ICON
from resnet_studio.ui.common.feature_tiles import to_pixmap
from resnet_studio.ui.common.plain_text import tooltip

# "Model": the weights that answered the row. Answers of several models share the list (#27).
COLUMNS = ("Image", "File", "Class", "Probability", "Top classes", "Problem", "Model")
# Cut short with "…" where the table is narrow, each at most this share of the room the other
# columns leave; the runners-up take the rest.
SHARED = {"Top classes": 1.0, "Problem": 0.25, "Model": 0.4}
KEY = Qt.ItemDataRole.UserRole + 1  # the first cell's: id() of the row's prediction


class _Number(QTableWidgetItem):
    """Sorts by its number, not its text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.data(Qt.ItemDataRole.UserRole), other.data(Qt.ItemDataRole.UserRole)
        return (mine if mine is not None else -1) < (theirs if theirs is not None else -1)


def row_items(prediction: Prediction, model: str, greyed: QBrush) -> list[QTableWidgetItem]:
    """One result's cells, in the order of COLUMNS; `model`: the answering weights in a few words
    (the full description, `prediction.model`, is its tooltip)."""
    icon = QTableWidgetItem()
    small = prediction.thumbnail
    if small is None and prediction.preview is not None:
        step = max(1, max(prediction.preview.shape[:2]) // ICON)  # an icon-sized copy is cheap to make
        small = prediction.preview[::step, ::step]
    if small is not None:
        icon.setIcon(QIcon(to_pixmap(small)))
        prediction.thumbnail = None  # the icon holds its own copy
    icon.setData(KEY, id(prediction))
    name = QTableWidgetItem(Path(prediction.path).name)
    name.setToolTip(tooltip(prediction.path))
    best = prediction.top[0] if prediction.top else None
    label = QTableWidgetItem(best[0] if best else "")
    probability = _Number(shown_probability(best[1]) if best else "")
    probability.setData(Qt.ItemDataRole.UserRole, best[1] if best else None)
    probability.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    others = QTableWidgetItem("  ".join(f"{c} {shown_probability(p)}" for c, p in prediction.top[1:]))
    label.setToolTip(tooltip(label.text()))  # a long ImageNet name elided in its column is read here
    others.setToolTip(tooltip("\n".join(f"{c}: {shown_probability(p)}" for c, p in prediction.top[1:])))
    if prediction.unsure:  # greyed and italic: the image may show none of the known classes
        for item in (label, probability):
            font = item.font()
            font.setItalic(True)
            item.setFont(font)
            item.setForeground(greyed)
            item.setToolTip(
                tooltip(
                    f"{label.text()}\nUnsure: below {UNSURE_BELOW:.0%}; the image may show none "
                    "of the classes this model knows"
                )
            )
    problem = QTableWidgetItem(prediction.error or "")
    problem.setToolTip(tooltip(prediction.error or ""))
    answered_by = QTableWidgetItem(model if prediction.top else "")  # a file not read: no model's
    answered_by.setToolTip(tooltip(prediction.model if prediction.top else ""))
    return [icon, name, label, probability, others, problem, answered_by]


def fit_columns(table: QTableWidget) -> None:
    """Columns sized to their contents, then, where that is wider than the table (a 1024-pixel
    window), the runners-up, the problem and the model share the room the other columns leave:
    cut short with "…" (the full text is the cell's tooltip) instead of the last columns out of
    view."""
    header = table.horizontalHeader()
    table.resizeColumnsToContents()
    shared = [COLUMNS.index(name) for name in SHARED]
    others = sum(header.sectionSize(c) for c in range(len(COLUMNS)) if c not in shared)
    # The room inside the frame, less a vertical scroll bar's width (it may appear once the rows
    # are in: the viewport's width is not final yet).
    inside = table.width() - 2 * table.frameWidth() - table.verticalScrollBar().sizeHint().width()
    room = inside - others
    wanted = [header.sectionSize(c) for c in shared]
    if sum(wanted) <= room:
        return
    least = header.minimumSectionSize()
    shares = SHARED.values()
    capped = [max(least, min(width, int(room * share))) for width, share in zip(wanted, shares, strict=True)]
    header.resizeSection(shared[0], max(least, room - sum(capped[1:])))
    for column, width in zip(shared[1:], capped[1:], strict=True):
        header.resizeSection(column, width)


def new_results_table() -> QTableWidget:
    """The empty table of results, one row a result, newest first until a click sorts."""
    table = QTableWidget(0, len(COLUMNS))
    table.setObjectName("classifyResults")
    table.setHorizontalHeaderLabels(COLUMNS)
    table.setIconSize(QSize(40, 40))
    table.setWordWrap(False)
    table.verticalHeader().setDefaultSectionSize(44)
    table.verticalHeader().hide()
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    # Columns are sized once, after filling: sizing to contents on every new item costs
    # O(rows) each, minutes for a folder of thousands.
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    header.setResizeContentsPrecision(100)  # rows measured when sizing
    header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # newest first until a click sorts
    header.setMinimumSectionSize(header.fontMetrics().horizontalAdvance("Image") + 28)
    return table
