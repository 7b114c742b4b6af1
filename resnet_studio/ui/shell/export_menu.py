"""The Export menu: a trained network as TorchScript, ONNX or standalone PyTorch source, and a
run's metrics as CSV. Exports run (and check themselves) off the UI thread."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu

from resnet_studio.export import SUFFIXES
from resnet_studio.ui.common.background import run_in_background

LABELS = {
    "torchscript": ("Model as &TorchScript…", "TorchScript (*.pt)"),
    "onnx": ("Model as &ONNX…", "ONNX (*.onnx)"),
    "python": ("Model as PyTorch &Source…", "Python (*.py)"),
    "csv": ("Run Metrics as &CSV…", "CSV (*.csv)"),
}


class ExportMenu(QMenu):
    def __init__(
        self, window: QMainWindow, last_run: Callable[[], str | None], show_error: Callable[[str], None]
    ) -> None:
        """`last_run`: the run folder trained or followed last, if any; `show_error` reports a failure."""
        super().__init__("E&xport", window)
        self.main_window = window
        self.last_run = last_run
        self.show_error = show_error
        self.last_report: str | None = None  # the last export's summary, or its error
        for fmt, (label, _) in LABELS.items():
            action = self.addAction(label)
            action.setObjectName(f"export_{fmt}")
            action.triggered.connect(lambda checked=False, f=fmt: self.export(f))
            if fmt == "python":
                self.addSeparator()

    def _default_source(self, fmt: str) -> str | None:
        """The run trained or followed last, if any: its folder (best checkpoint) is the source."""
        run = self.last_run()
        return run if run and Path(run).is_dir() else None

    def export(self, fmt: str, source: str | None = None, out: str | None = None) -> None:
        """Export `source` (a checkpoint or run folder) to `out`, asking for what is not given."""
        source = source or self._default_source(fmt)
        if source is None:
            if fmt == "csv":
                source = QFileDialog.getExistingDirectory(self.main_window, "Run folder to export")
            else:
                source, _ = QFileDialog.getOpenFileName(
                    self.main_window, "Checkpoint to export", "", "Checkpoints (*.pt);;All files (*)"
                )
            if not source:
                return
        if out is None:
            suffix = ".csv" if fmt == "csv" else SUFFIXES[fmt]
            suggested = str(Path(source).with_suffix("").name + ("-metrics" if fmt == "csv" else "") + suffix)
            out, _ = QFileDialog.getSaveFileName(self.main_window, "Export to", suggested, LABELS[fmt][1])
            if not out:
                return
        self.main_window.statusBar().showMessage(f"Exporting {Path(source).name} as {fmt}…")
        run_in_background(lambda: _run(fmt, source, out), self, self._done, self._failed)

    def _done(self, summary: str) -> None:
        self.last_report = summary
        self.main_window.statusBar().showMessage(summary, 15000)

    def _failed(self, exc: Exception) -> None:
        self.last_report = f"error: {exc}"
        self.show_error(f"Export failed: {exc}")


def _run(fmt: str, source: str, out: str) -> str:
    if fmt == "csv":
        from resnet_studio.runs.runinfo import metrics_to_csv

        return f"wrote {out} ({metrics_to_csv(source, out)} rows of metrics)"
    from resnet_studio.export import export_checkpoint

    return export_checkpoint(source, fmt, out).describe()
