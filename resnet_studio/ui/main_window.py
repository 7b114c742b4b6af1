"""The studio's main window. For now: the workspaces, with the network summary in Build."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QMainWindow,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.architecture import analyze, get_preset

WORKSPACES = ("Build", "Train", "Inspect", "Classify")


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("ResNetStudio")
        self.setWindowTitle("ResNet Studio")
        self.resize(1280, 800)
        self.spec = get_preset("resnet20")
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_page(), "Build")
        for name in WORKSPACES[1:]:
            label = QLabel(f"The {name} workspace is coming.")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.tabs.addTab(label, name)
        self.setCentralWidget(self.tabs)
        analysis = analyze(self.spec)
        self.statusBar().showMessage(
            f"{self.spec.name}: {analysis.params:,} parameters, {analysis.macs / 1e6:.1f} M MACs; demo data"
        )

    def _build_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        analysis = analyze(self.spec)
        title = QLabel(
            f"<h2>{self.spec.name}</h2>Per-layer output shape, parameters and "
            "multiply-accumulates. The drag-and-drop builder is coming."
        )
        layout.addWidget(title)
        table = QTableWidget(len(analysis.layers), 5)
        table.setObjectName("summary")
        table.setHorizontalHeaderLabels(["Layer", "Type", "Output", "Params", "MACs"])
        for row, layer in enumerate(analysis.layers):
            values = [
                layer.name,
                layer.type,
                " x ".join(map(str, layer.output_shape)),
                f"{layer.params:,}",
                f"{layer.macs:,}",
            ]
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if col >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, col, item)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(table)
        return page

    def show_workspace(self, name: str) -> None:
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i).lower() == name.lower():
                self.tabs.setCurrentIndex(i)
                return
