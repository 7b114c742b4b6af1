"""The studio's main window: workspaces, menus, toolbar, files and settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QToolButton,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.architecture import PRESETS, get_preset
from resnet_studio.project import ARCH_SUFFIX, PROJECT_SUFFIX
from resnet_studio.session import SessionModel, SetupModel, SetupSettings
from resnet_studio.ui.build.canvas import Canvas
from resnet_studio.ui.build.inspector import Inspector
from resnet_studio.ui.build.palette import Palette
from resnet_studio.ui.build.summary import SummaryView
from resnet_studio.ui.classify.classify_view import ClassifyView
from resnet_studio.ui.common.background import unhandled_errors
from resnet_studio.ui.common.document import Document
from resnet_studio.ui.common.gc_policy import garbage_collection
from resnet_studio.ui.common.model_source import ModelSource
from resnet_studio.ui.common.plain_text import escaped, plain, rich, tooltip
from resnet_studio.ui.common.train_worker import studio_threads
from resnet_studio.ui.common.training_controller import TrainingController
from resnet_studio.ui.common.workspaces import Workspace
from resnet_studio.ui.inspect.inspect_view import InspectView
from resnet_studio.ui.shell.export_menu import ExportMenu
from resnet_studio.ui.shell.files import FileActions
from resnet_studio.ui.shell.fixed_text_button import FixedTextButton
from resnet_studio.ui.shell.help_menu import HelpMenu
from resnet_studio.ui.shell.import_dialog import ImportDialog
from resnet_studio.ui.train.train_view import TrainView


class MainWindow(FileActions, QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        garbage_collection().install()  # collected on the UI thread only (gc_policy.py says why)
        self.setObjectName("ResNetStudio")
        self.settings = QSettings("ResNet Studio", "ResNet Studio")
        self.document = Document(get_preset("resnet20"), self)
        self.last_error: str | None = None

        self.palette_view = Palette()
        self.canvas = Canvas(self.document)
        self.inspector = Inspector(self.document)
        self.summary = SummaryView(self.document)
        self.history = QUndoView(self.document.undo_stack)
        self.history.setObjectName("history")
        self.history.setEmptyLabel("Opened network")

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        default_runs = Path.home() / "ResNetStudio" / "runs"
        # The session's state, without Qt: the views observe it and send it what the user does.
        self.state = SessionModel(SetupModel(SetupSettings(threads=studio_threads())))
        runs_root = Path(str(self.settings.value("runsFolder", default_runs)))
        self.training = TrainingController(runs_root, self, self.state)
        self.train_view = TrainView(self.document, self.training)
        self.build_workspace = self._build_workspace()
        self.tabs.addTab(self.build_workspace, Workspace.BUILD.value)
        self.tabs.addTab(self.train_view, Workspace.TRAIN.value)
        self.model_source = ModelSource(self.training)
        self.inspect_view = InspectView(self.model_source)
        self.classify_view = ClassifyView(self.model_source)
        self.classify_view.inspect_requested.connect(self._inspect_prediction)
        self.inspect_view.embedding.dropped = self.classify_view.answered_images  # drawn as stars
        self.tabs.addTab(self.inspect_view, Workspace.INSPECT.value)
        self.tabs.addTab(self.classify_view, Workspace.CLASSIFY.value)
        self.setCentralWidget(self.tabs)
        self.setAcceptDrops(True)  # image files dropped anywhere are classified
        self.status_figures = QLabel()
        self.status_figures.setContentsMargins(16, 0, 0, 0)  # a gap between a message and the figures
        rich(self.status_figures)  # the network's name and any problem inside are escaped
        self.statusBar().addPermanentWidget(self.status_figures)
        self.statusBar().messageChanged.connect(self._status_message_changed)
        unhandled_errors().raised.connect(self._show_unexpected)

        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self.document.changed.connect(self._document_changed)
        self.document.path_changed.connect(self._update_title)
        self.document.undo_stack.cleanChanged.connect(self._update_title)
        self.canvas.properties_requested.connect(self.inspector.focus_first_field)
        self.canvas.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self._document_changed()
        self._update_title()
        self.resize(1280, 800)

    def showEvent(self, event) -> None:
        """Share the Build workspace's width once the real window size is known."""
        super().showEvent(event)
        if not getattr(self, "_sized", False):
            self._sized = True
            width = self.build_splitter.width()
            right = max(358, min(460, int(width * 0.33)))
            side = 172 if width < 1200 else 210
            self.build_splitter.setSizes([side, max(360, width - side - right), right])
            self.canvas.fit()

    def restore_geometry(self) -> None:
        """The size and place of the last session (interactive starts only, not tests or screenshots)."""
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        # Never larger than the screen (1280x800 by default, or the size saved on a larger one):
        # without a window manager to clamp it, the window ran off a 1024x640 screen.
        room = self.screen().availableGeometry()
        if self.width() > room.width() or self.height() > room.height():
            self.resize(min(self.width(), room.width()), min(self.height(), room.height()))
            self.move(room.topLeft())

    # -- layout -----------------------------------------------------------------------------------

    def _build_workspace(self) -> QWidget:
        side = QTabWidget()
        side.addTab(self.summary, "Summary")
        side.addTab(self.history, "History")
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self._titled("Properties", self.inspector))
        right.addWidget(side)
        right.setStretchFactor(0, 0)
        right.setStretchFactor(1, 1)
        right.setSizes([250, 550])
        right.setMinimumWidth(340)
        palette = self._titled("Palette", self.palette_view)
        palette.setMinimumWidth(150)
        palette.setMaximumWidth(260)
        self.canvas.setMinimumWidth(360)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(palette)
        split.addWidget(self.canvas)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 0)
        split.setSizes([200, 640, 440])
        split.setChildrenCollapsible(False)
        self.build_splitter = split
        return split

    def _titled(self, title: str, widget: QWidget) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(6, 6, 6, 6)
        label = QLabel(title)
        label.setStyleSheet("font-weight: bold;")
        plain(label)
        layout.addWidget(label)
        layout.addWidget(widget)
        return box

    # -- images dropped on the window ------------------------------------------------------------

    @staticmethod
    def _local_paths(event: QDropEvent | QDragEnterEvent) -> list[str]:
        mime = event.mimeData()
        return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._local_paths(event):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if self._local_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """Files and folders dropped anywhere (but on a view that takes them itself) are classified;
        a project or architecture file is opened instead."""
        paths = self._local_paths(event)
        if not paths:
            return
        event.acceptProposedAction()
        first = Path(paths[0])
        if len(paths) == 1 and (first.suffix == PROJECT_SUFFIX or first.name.endswith(ARCH_SUFFIX)):
            self.open_file(first)
            return
        self.show_workspace(Workspace.CLASSIFY)
        self.classify_view.classify_paths(paths)

    def _inspect_prediction(self, prediction) -> None:
        self.show_workspace(Workspace.INSPECT)
        if prediction.image is None:  # a file's result keeps no input: the file is read again
            self.inspect_view.open_image(prediction.path)
        else:
            self.inspect_view.set_image(prediction.image, Path(prediction.path).name, prediction.preview)

    def _action(
        self,
        text: str,
        slot: Callable[..., object],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip or text.replace("&", "").rstrip("…"))
        action.triggered.connect(slot)
        return action

    def _make_actions(self) -> None:
        std = QKeySequence.StandardKey
        self.new_action = self._action("&New", self.new_file, std.New, "Start a new network (ResNet-20)")
        self.open_action = self._action("&Open…", lambda: self.open_file(), std.Open)
        self.save_action = self._action("&Save", self.save, std.Save)
        self.save_as_action = self._action("Save &As…", lambda: self.save_as(), std.SaveAs)
        self.export_action = self._action(
            "&Export Architecture…",
            lambda: self.export_architecture(),
            "Ctrl+E",
            "Write the network alone as a .resnet.json file",
        )
        self.import_action = self._action(
            "&Import torchvision Weights…",
            self.import_weights,
            None,
            "A pretrained ResNet, ResNeXt or Wide ResNet of torchvision as a checkpoint",
        )
        self.import_action.setObjectName("importWeights")
        self.import_dialog: ImportDialog | None = None
        self.quit_action = self._action("&Quit", self.close, std.Quit)
        self.undo_action = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence(std.Undo))
        self.redo_action = self.document.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence(std.Redo), QKeySequence("Ctrl+Y")])
        self.delete_action = self._action(
            "&Delete Stage",
            self.canvas.delete_selection,
            None,
            "Remove the selected stage (Delete on the canvas)",
        )
        self.fit_action = self._action("&Fit Network", self.canvas.fit, "Ctrl+0")
        self.zoom_in_action = self._action("Zoom &In", lambda: self.canvas.zoom(1.25), std.ZoomIn)
        self.zoom_out_action = self._action("Zoom &Out", lambda: self.canvas.zoom(0.8), std.ZoomOut)
        self.train_action = self._action("&Train", lambda: self.show_workspace(Workspace.TRAIN), "Ctrl+T")
        self.preset_actions = []
        for name, preset in PRESETS.items():
            action = self._action(preset.spec.name, lambda checked=False, n=name: self.load_preset(n))
            action.setStatusTip(preset.description)
            self.preset_actions.append(action)

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addActions([self.new_action, self.open_action])
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file.addSeparator()
        file.addActions([self.save_action, self.save_as_action, self.export_action])
        file.addSeparator()
        file.addAction(self.import_action)
        file.addSeparator()
        file.addAction(self.quit_action)
        edit = bar.addMenu("&Edit")
        edit.addActions([self.undo_action, self.redo_action])
        edit.addSeparator()
        edit.addAction(self.delete_action)
        view = bar.addMenu("&View")
        view.addActions([self.fit_action, self.zoom_in_action, self.zoom_out_action])
        view.addSeparator()
        for i, workspace in enumerate(Workspace):
            view.addAction(
                self._action(
                    workspace.value,
                    lambda checked=False, w=workspace: self.show_workspace(w),
                    f"Ctrl+{i + 1}",
                )
            )
        self.export_menu = ExportMenu(self, lambda: self.training.last_run_dir, self.show_error)
        bar.addMenu(self.export_menu)
        self.presets_menu = bar.addMenu("&Presets")
        self.presets_menu.addActions(self.preset_actions)
        self.help_menu = HelpMenu(self, self)
        bar.addMenu(self.help_menu)
        self.addActions([self.undo_action, self.redo_action])

    def _make_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.addActions([self.new_action, self.open_action, self.save_action])
        bar.addSeparator()
        for action, label in ((self.undo_action, "Undo"), (self.redo_action, "Redo")):
            bar.addWidget(FixedTextButton(action, label))
        bar.addSeparator()
        presets = QToolButton()
        presets.setText("Presets")
        presets.setMenu(self.presets_menu)
        presets.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        bar.addWidget(presets)
        bar.addAction(self.fit_action)
        bar.addSeparator()
        bar.addAction(self.train_action)

    # -- state ------------------------------------------------------------------------------------

    def _document_changed(self) -> None:
        analysis = self.document.analysis
        if analysis is None or not self.document.valid:
            reason = str(self.document.problems[0])
            self.status_figures.setText(f"<span style='color:#d93025'>Invalid: {escaped(reason)}</span>")
            self.train_action.setEnabled(False)
            self.train_action.setToolTip(tooltip(f"Fix the network first: {reason}"))
        else:
            spec = self.document.spec
            self.status_figures.setText(
                f"{escaped(spec.name)} · {spec.depth} layers · {analysis.params:,} parameters · "
                f"{analysis.macs / 1e6:,.1f} M MACs · output {analysis.output_shape[0]} classes"
            )
            self.train_action.setEnabled(True)
            self.train_action.setToolTip("Train this network")

    def _update_title(self) -> None:
        path = self.document.path
        name = path.name if path else "untitled"
        self.setWindowTitle(f"{name}[*] — ResNet Studio")
        self.setWindowModified(not self.document.undo_stack.isClean())

    def import_weights(self) -> ImportDialog:
        """Show File > Import torchvision weights… (one dialog, kept between uses). What it
        imports is offered in Train's Start from, and for Classify and Inspect."""
        if self.import_dialog is None:
            dialog = ImportDialog(self)
            dialog.imported.connect(self.train_view.setup.init.remember)
            dialog.use_requested.connect(self._use_imported)
            self.import_dialog = dialog
        self.import_dialog.show()
        self.import_dialog.raise_()
        return self.import_dialog

    def _use_imported(self, path: str) -> None:
        self.model_source.use_checkpoint(path)
        self.show_workspace(Workspace.CLASSIFY)

    def _status_message_changed(self, message: str) -> None:
        """A message longer than the room beside the network's figures would run into them (an
        export's summary names two paths): the figures step aside while it shows and come back
        when it goes; the whole message is also the bar's tooltip."""
        bar = self.statusBar()
        room = bar.width() - self.status_figures.sizeHint().width() - 24
        wide = bool(message) and bar.fontMetrics().horizontalAdvance(message) > room
        self.status_figures.setVisible(not wide)
        bar.setToolTip(message)

    def show_workspace(self, workspace: Workspace) -> None:
        self.tabs.setCurrentWidget(self.workspace_widget(workspace))

    def workspace_widget(self, workspace: Workspace) -> QWidget:
        return {
            Workspace.BUILD: self.build_workspace,
            Workspace.TRAIN: self.train_view,
            Workspace.INSPECT: self.inspect_view,
            Workspace.CLASSIFY: self.classify_view,
        }[workspace]

    def show_error(self, message: str) -> None:
        """A message that names the file and the problem; non-blocking, so nothing waits on it."""
        self.last_error = message
        self.statusBar().showMessage(message, 10000)
        box = QMessageBox(
            QMessageBox.Icon.Warning, "ResNet Studio", message, QMessageBox.StandardButton.Ok, self
        )
        box.setObjectName("errorMessage")
        plain(box)  # the message names files and networks: their text, never markup
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _show_unexpected(self, message: str) -> None:
        """An error of background work that no view handled: said, never lost (it is logged too)."""
        self.last_error = message
        self.statusBar().showMessage(f"Unexpected error: {message}", 15000)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.train_view.confirm_close() or not self.confirm_discard():
            event.ignore()
            return
        self.settings.setValue("geometry", self.saveGeometry())
        if self.import_dialog is not None:
            self.import_dialog.cancel()  # a download stops at its next block instead of running on
        event.accept()
