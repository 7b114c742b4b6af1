"""The Runs list: every run folder under the runs root, with its best accuracy and state; a run
can be shown (its curves overlaid, followed live while another process writes it) or resumed."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, SignalInstance
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.errors import error_text
from resnet_studio.runs.runinfo import RunSummary, list_runs
from resnet_studio.training.events import counted
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.plain_text import plain, tooltip

COLUMNS = ("Run", "Best val", "State")  # the run cell: folder, then network and epochs below


class RunsPanel(QWidget):
    show_requested = Signal(str)  # run folder
    resume_requested = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.root = Path.home() / "ResNetStudio" / "runs"
        self.summaries: list[RunSummary] = []
        self.loaded = False
        layout = QVBoxLayout(self)
        self.location = QLabel()
        self.location.setWordWrap(True)
        plain(self.location)  # a folder's path
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runsList")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # A narrow panel: names lose their middle, never the time stamp at their end.
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(2 * self.fontMetrics().lineSpacing() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _: self._emit(self.show_requested))
        buttons = QHBoxLayout()
        self.show_button = QPushButton("Show")
        self.show_button.setToolTip("Overlay the run's curves; a run still being written is followed live")
        self.show_button.clicked.connect(lambda: self._emit(self.show_requested))
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("resumeButton")
        self.resume_button.setToolTip("Continue from the run's last checkpoint")
        self.resume_button.clicked.connect(lambda: self._emit(self.resume_requested))
        self.folder_button = QPushButton("Folder")
        self.folder_button.setToolTip("Open the run folder in the file manager")
        self.folder_button.clicked.connect(self._open_folder)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        for button in (self.show_button, self.resume_button, self.folder_button, refresh):
            buttons.addWidget(button)
        layout.addWidget(self.location)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def set_root(self, root: Path) -> None:
        self.root = Path(root)
        self.location.setText(f"Runs in {self.root}")

    def refresh(self) -> None:
        """Read the run folders off the UI thread (metrics files grow to megabytes)."""
        root = self.root
        self.location.setText(f"Runs in {root} · reading…")
        run_in_background(lambda: list_runs(root), self, self._show, self._failed)

    def _failed(self, exc: Exception) -> None:
        self.location.setText(f"Runs in {self.root} · cannot read them: {error_text(exc)}")

    def _show(self, summaries: list[RunSummary]) -> None:
        selected = self.selected()
        self.summaries = summaries
        self.loaded = True
        self.location.setText(f"{counted(len(summaries), 'run')} in {self.root}")
        # Columns sized once, after filling: sized to contents on every new item, refilling a
        # shown list of 300 runs took 1.5 s of the UI thread.
        header = self.table.horizontalHeader()
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        self.table.setRowCount(len(summaries))
        for row, run in enumerate(summaries):
            planned = "?" if run.epochs_planned is None else str(run.epochs_planned)
            best = "–" if run.best_accuracy is None else f"{run.best_accuracy:.1%}"
            epochs = f"{run.epochs_done}/{planned} epochs"
            cells = (f"{run.path.name}\n{run.architecture} · {epochs}", best, run.status)
            tip = (
                f"{run.path}\n{run.architecture}, {epochs}, best validation accuracy {best}, "
                f"{run.status}\nupdated {time.ctime(run.updated)}"
            )
            if run.problem is not None:  # a file that cannot be used: the run, listed, says why
                cells = (f"{run.path.name}\n{run.problem_here}", best, run.status)
                tip = f"{run.path}\nbroken: {run.problem}"
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setToolTip(tooltip(tip))
                self.table.setItem(row, column, item)
            if selected is not None and run.path == selected.path:
                self.table.selectRow(row)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self._update_buttons()

    def selected(self) -> RunSummary | None:
        rows = self.table.selectionModel().selectedRows()
        return self.summaries[rows[0].row()] if rows and rows[0].row() < len(self.summaries) else None

    def _update_buttons(self) -> None:
        run = self.selected()
        self.show_button.setEnabled(run is not None)
        self.folder_button.setEnabled(run is not None)
        resumable = run is not None and run.resumable and run.status != "running"  # broken: says why
        self.resume_button.setEnabled(resumable)

    def _emit(self, signal: SignalInstance) -> None:
        run = self.selected()
        if run is not None:
            signal.emit(str(run.path))

    def _open_folder(self) -> None:
        run = self.selected()
        if run is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(run.path)))
