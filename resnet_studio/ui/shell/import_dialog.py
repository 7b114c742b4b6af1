"""File > Import torchvision weights…: one of torchvision's ResNet family and its pretrained
weights as a checkpoint that Classify, Inspect and Train's "Start from" take.

The weights come from torchvision's download (only when the user presses Import with that choice,
into torch's hub cache, where torchvision looks for them), from that cache when already there, or
from a state dict file on disk. The conversion and the download run off the UI thread; the
download reports its bytes to a progress bar and stops when the user cancels.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.architecture import analyze
from resnet_studio.nn.torchvision_map import FAMILY, family_spec
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.imported_weights import IMPORT_FOLDER, imported_label


@dataclass(frozen=True)
class WeightsEntry:
    """One of torchvision's weights for a family member, as the dialog lists it."""

    name: str  # "IMAGENET1K_V2"
    default: bool
    top1: float | None  # ImageNet-1K top-1 accuracy in percent, from the weights' metadata
    megabytes: float | None  # the file's size
    cached: bool  # already in torch's hub cache: importing needs no download

    def title(self) -> str:
        parts = [f"{self.name}{' (default)' if self.default else ''}"]
        if self.top1 is not None:
            parts.append(f"top-1 {self.top1:.1f}%")
        if self.megabytes is not None:
            parts.append("downloaded" if self.cached else f"{self.megabytes:.0f} MB")
        return " · ".join(parts)


def weights_catalogue() -> dict[str, list[WeightsEntry]]:
    """Every family member's weights with their metadata (torchvision ships it: no network).
    Imports torchvision, which takes seconds: call it off the UI thread."""
    from torchvision.models import get_model_weights

    from resnet_studio.nn.torchvision_import import torchvision_weights

    catalogue = {}
    for network in FAMILY:
        enum = get_model_weights(network)
        default = enum["DEFAULT"].name
        entries = []
        for member in enum:
            metrics = member.meta.get("_metrics", {}).get("ImageNet-1K", {})
            size = member.meta.get("_file_size")
            cached = torchvision_weights(network, member.name).cached() is not None
            entries.append(
                WeightsEntry(
                    member.name,
                    member.name == default,
                    float(metrics["acc@1"]) if "acc@1" in metrics else None,
                    float(size) if size is not None else None,
                    cached,
                )
            )
        catalogue[network] = sorted(entries, key=lambda e: not e.default)  # the default first
    return catalogue


class ImportCancelled(Exception):
    """Raised from the download's progress callback when the user cancels."""


class ImportDialog(QDialog):
    """Choose a network, its weights, where they come from and where the checkpoint goes."""

    imported = Signal(str, str)  # (checkpoint path, a short label for lists)
    use_requested = Signal(str)  # "Classify with it": the checkpoint path
    _progressed = Signal(object, object)  # (bytes so far, total): from the worker thread, queued

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importWeightsDialog")
        self.setWindowTitle("Import torchvision weights")
        self.catalogue: dict[str, list[WeightsEntry]] | None = None
        self.busy = False
        self.last_checkpoint: str | None = None
        self.last_error: str | None = None
        self._cancel = threading.Event()
        self._out_edited = False  # the user typed an output path: selection changes keep it
        self._replace_confirmed: str | None = None  # an existing file Browse agreed to replace

        self.networks = network_tree()
        self.weights = QComboBox()
        self.weights.setObjectName("importWeightsChoice")
        self.weights.addItem("reading torchvision's list of weights…")
        self.weights.setEnabled(False)

        self.download = QRadioButton("Download through torchvision (once: it keeps them in torch's cache)")
        self.from_file = QRadioButton("A torchvision state dict on disk:")
        self.source = QButtonGroup(self)
        self.source.addButton(self.download)
        self.source.addButton(self.from_file)
        self.download.setChecked(True)
        self.file_path = QLineEdit()
        self.file_path.setObjectName("importFrom")
        self.file_path.setPlaceholderText("resnet50-11ad3fa6.pth")
        self.file_path.textEdited.connect(lambda _: self.from_file.setChecked(True))
        browse_file = QPushButton("Browse…")
        browse_file.clicked.connect(self._browse_file)
        self.out_path = QLineEdit()
        self.out_path.setObjectName("importOut")
        self.out_path.textEdited.connect(self._out_typed)
        browse_out = QPushButton("Browse…")
        browse_out.clicked.connect(self._browse_out)

        self.progress = QProgressBar()
        self.progress.setObjectName("importProgress")
        self.progress.setVisible(False)
        self.status = QLabel(
            "Nothing is downloaded until you press Import. The checkpoint holds the network, the "
            "weights, ImageNet's 1,000 class names and the weights' preprocessing."
        )
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Network", self.networks)
        form.addRow("Weights", self.weights)
        form.addRow("From", self.download)
        file_row = QHBoxLayout()
        file_row.addWidget(self.from_file)
        file_row.addWidget(self.file_path, 1)
        file_row.addWidget(browse_file)
        form.addRow("", file_row)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_path, 1)
        out_row.addWidget(browse_out)
        form.addRow("Save as", out_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(self._buttons())
        self.resize(640, self.sizeHint().height())

        self._progressed.connect(self._show_progress)
        self.networks.currentItemChanged.connect(lambda *_: self._network_changed())
        self.weights.currentIndexChanged.connect(lambda _: self._suggest_out())
        self._suggest_out()
        run_in_background(weights_catalogue, self, self._catalogue_ready, self._catalogue_failed)

    def _buttons(self) -> QHBoxLayout:
        """Classify with It, Import, Close."""
        self.import_button = QPushButton("Import")
        self.import_button.setObjectName("importButton")
        self.import_button.setDefault(True)
        self.import_button.clicked.connect(self.start)
        self.use_button = QPushButton("Classify with It")
        self.use_button.setObjectName("importUse")
        self.use_button.setToolTip("Classify and Inspect answer with the imported weights")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self._use)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.use_button, self.import_button, self.close_button):
            buttons.addWidget(button)
        return buttons

    # -- choices ------------------------------------------------------------------------------------

    def network(self) -> str:
        item = self.networks.currentItem()  # one is always current: set at the start, never cleared
        return str(item.data(0, Qt.ItemDataRole.UserRole)) if item is not None else "resnet50"

    def weights_name(self) -> str | None:
        """The chosen weights' name; None until the list has arrived (torchvision's DEFAULT)."""
        data = self.weights.currentData()
        return str(data) if data else None

    def _catalogue_ready(self, catalogue: dict[str, list[WeightsEntry]]) -> None:
        self.catalogue = catalogue
        for row, network in enumerate(FAMILY):
            accuracies = [entry.top1 for entry in catalogue.get(network, []) if entry.top1 is not None]
            item = self.networks.topLevelItem(row)
            if item is not None:
                item.setText(2, f"{max(accuracies):.1f}%" if accuracies else "")
        self._network_changed()

    def _catalogue_failed(self, exc: Exception) -> None:
        self.weights.setItemText(0, "torchvision's default weights")
        self.status.setText(f"torchvision's list of weights could not be read: {exc}")

    def _network_changed(self) -> None:
        if self.catalogue is None:
            self._suggest_out()
            return
        self.weights.blockSignals(True)
        self.weights.clear()
        for entry in self.catalogue[self.network()]:
            self.weights.addItem(entry.title(), entry.name)
        self.weights.setEnabled(True)
        self.weights.blockSignals(False)
        self._suggest_out()

    def _suggest_out(self) -> None:
        if self._out_edited:
            return
        name = f"{self.network()}-{(self.weights_name() or 'default').lower()}.pt"
        self.out_path.setText(str(IMPORT_FOLDER / name))

    def _out_typed(self, _text: str) -> None:
        self._out_edited = True

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "torchvision state dict", "", "State dicts (*.pth *.pt);;All files (*)"
        )
        if path:
            self.file_path.setText(path)
            self.from_file.setChecked(True)

    def _browse_out(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the checkpoint as", self.out_path.text(), "*.pt")
        if path:
            self.out_path.setText(path)
            self._out_edited = True
            self._replace_confirmed = path  # the file dialog asked already

    # -- the import -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Import with the choices shown, in the background."""
        if self.busy:
            return
        out = self.out_path.text().strip()
        from_path = self.file_path.text().strip() if self.from_file.isChecked() else None
        if not out:
            self._fail("Save as: choose where the checkpoint goes")
            return
        if self.from_file.isChecked() and not from_path:
            self._fail("From: name the state dict file, or choose the download")
            return
        if not self._may_write(Path(out).expanduser()):
            return
        source = f"torchvision:{self.network()}" + (f"={self.weights_name()}" if self.weights_name() else "")
        self.busy = True
        self._cancel.clear()
        self.last_error = None
        self.import_button.setEnabled(False)
        self.use_button.setEnabled(False)
        self.close_button.setText("Cancel")
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)  # busy until the download reports a size
        self.status.setText(f"Importing {source}…")
        out_path = str(Path(out).expanduser())

        def work():
            from resnet_studio.nn.torchvision_import import import_torchvision

            Path(out_path).parent.mkdir(parents=True, exist_ok=True)
            return import_torchvision(
                source, out_path, from_path=from_path, download=not from_path, progress=self.worker_progress
            )

        run_in_background(work, self, self._done, self._failed)

    def _may_write(self, out: Path) -> bool:
        """Whether the checkpoint may go to `out`: a folder is refused, and an existing file is
        replaced only if the user says so (here or in Browse's own question)."""
        if out.is_dir():
            self._fail(f"Save as: {out} is a folder; name the checkpoint file")
            return False
        if not out.exists() or str(out) == self._replace_confirmed:
            return True
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Replace the checkpoint?",
            f"{out} exists. Replace it with the imported weights?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("replaceCheckpoint")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if box.exec() != QMessageBox.StandardButton.Yes:
            self._fail(f"Not imported: {out.name} is kept as it was")
            return False
        return True

    def worker_progress(self, done: int, total: int) -> None:
        """The download's progress callback, called on the worker thread: hands the figures to
        the UI thread, and raises `ImportCancelled` once the user cancelled."""
        if self._cancel.is_set():
            raise ImportCancelled("cancelled")
        self._progressed.emit(done, total)

    @Slot(object, object)
    def _show_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self.progress.setRange(0, 0)
        self.status.setText("Downloading through torchvision…")

    def _finish(self) -> None:
        self.busy = False
        self.import_button.setEnabled(True)
        self.close_button.setText("Close")
        self.progress.setVisible(False)

    def _done(self, report) -> None:
        self._finish()
        self.last_checkpoint = str(report.out)
        self.status.setText(
            f"{report.describe()}. It is listed in Train > Start from; Classify with It makes "
            "Classify and Inspect answer with it."
        )
        self.use_button.setEnabled(True)
        self.imported.emit(self.last_checkpoint, imported_label(report.weights.network, report.weights.name))

    def _failed(self, exc: Exception) -> None:
        self._finish()
        self._fail("Import cancelled" if isinstance(exc, ImportCancelled) else f"Import failed: {exc}")

    def _fail(self, message: str) -> None:
        self.last_error = message
        self.status.setText(f"<span style='color:#d93025'>{message}</span>")

    def _use(self) -> None:
        if self.last_checkpoint:
            self.use_requested.emit(self.last_checkpoint)
            self.accept()

    def cancel(self) -> None:
        """Stop the import under way, if any: a download stops at its next block."""
        if self.busy:
            self._cancel.set()
            self.status.setText("Cancelling…")

    def reject(self) -> None:
        """Close, or while importing, cancel."""
        if self.busy:
            self.cancel()
            return
        super().reject()


def network_tree() -> QTreeWidget:
    """torchvision's ResNets, one row each: parameters at once, best top-1 once the list is read;
    ResNet-50 chosen."""
    tree = QTreeWidget()
    tree.setObjectName("importNetwork")
    tree.setHeaderLabels(["Network", "Parameters", "Best ImageNet top-1"])
    tree.setRootIsDecorated(False)
    tree.setAlternatingRowColors(True)
    for network in FAMILY:
        params = analyze(family_spec(network)).params  # shapes only: microseconds, no torch
        item = QTreeWidgetItem([network, f"{params / 1e6:.1f} M", "…"])
        item.setData(0, Qt.ItemDataRole.UserRole, network)
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        tree.addTopLevelItem(item)
    header = tree.header()
    header.setStretchLastSection(False)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in (1, 2):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        tree.headerItem().setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
    rows = tree.sizeHintForRow(0) * len(FAMILY)
    tree.setFixedHeight(rows + tree.header().sizeHint().height() + 6)
    first_choice = tree.topLevelItem(FAMILY.index("resnet50"))
    assert first_choice is not None  # a row of FAMILY, added above
    tree.setCurrentItem(first_choice)
    return tree
