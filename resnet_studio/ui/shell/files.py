"""The File menu's work for the main window: new, open (projects, architectures, run folders),
save, save as, export the architecture, recent files, and the question about unsaved changes.

`FileActions` is mixed into `MainWindow`, which supplies what these methods use: `document`,
`canvas`, `settings`, `state` (the session model), `train_view`, `training`, `model_source`,
`recent_menu`, `show_error`, `show_workspace`, `inspect_view`, `classify_view` and `statusBar()`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from resnet_studio.architecture import get_preset, save_spec
from resnet_studio.errors import UserError
from resnet_studio.project import ARCH_SUFFIX, PROJECT_SUFFIX, Project, open_file, save_project
from resnet_studio.ui.common.document import NETWORK
from resnet_studio.ui.common.workspaces import Workspace

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMenu

    from resnet_studio.session import SessionModel
    from resnet_studio.ui.build.canvas import Canvas
    from resnet_studio.ui.classify.classify_view import ClassifyView
    from resnet_studio.ui.common.document import Document
    from resnet_studio.ui.common.training_controller import TrainingController
    from resnet_studio.ui.inspect.inspect_view import InspectView
    from resnet_studio.ui.train.train_view import TrainView

    _Window = QMainWindow  # the type checker sees the window these methods are mixed into
else:
    _Window = object

FILE_FILTERS = f"ResNet Studio project (*{PROJECT_SUFFIX});;Architecture (*{ARCH_SUFFIX})"
MAX_RECENT = 8
MAX_PROJECT_CURVES = 12  # runs of a project whose curves are shown when it opens


class FileActions(_Window):
    """The File menu's methods of `MainWindow` (what they use is listed above)."""

    # Supplied by MainWindow; declared for the type checker.
    settings: QSettings
    document: Document
    state: SessionModel
    canvas: Canvas
    training: TrainingController
    train_view: TrainView
    inspect_view: InspectView
    classify_view: ClassifyView
    recent_menu: QMenu

    if TYPE_CHECKING:

        def show_error(self, message: str) -> None: ...

        def show_workspace(self, workspace: Workspace) -> None: ...

    def confirm_discard(self) -> bool:
        """Ask about unsaved changes; True when it is fine to go on (saved or discarded)."""
        if self.document.undo_stack.isClean():
            return True
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Unsaved changes",
            "The network has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("unsavedChanges")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_file(self) -> None:
        if self.confirm_discard():
            self.training.close_project()  # its runs are no longer followed, nor saved with the next
            self.document.replace(get_preset("resnet20"), None)
            self.canvas.fit()

    def load_preset(self, name: str) -> None:
        spec = get_preset(name)
        self.document.apply(spec, f"Load preset {spec.name}", NETWORK)
        self.canvas.fit()

    def open_file(self, path: str | Path | None = None) -> bool:
        if not self.confirm_discard():
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open", self._last_folder(), "ResNet Studio files (*.rsproj *.json);;All files (*)"
            )
            if not path:
                return False
        path = Path(path)
        if path.is_dir():
            return self.open_run(path)
        try:
            project = open_file(path)
        except UserError as exc:
            self.show_error(str(exc))
            return False
        self.training.close_project()  # its runs are no longer followed, nor saved with the next
        self.document.replace(
            project.architecture,
            path if path.suffix == PROJECT_SUFFIX or path.name.endswith(ARCH_SUFFIX) else None,
        )
        shown = self._restore_training(path, project)
        self.canvas.fit()
        self._remember(path)
        self.statusBar().showMessage(f"Opened {path}{shown}", 10000 if shown else 5000)
        return True

    def open_image(self, path: str | Path, inspect: bool = False) -> None:
        """A photo: classified in Classify, or its feature maps and Grad-CAM in Inspect."""
        if inspect:
            self.show_workspace(Workspace.INSPECT)
            self.inspect_view.open_image(str(path))
        else:
            self.show_workspace(Workspace.CLASSIFY)
            self.classify_view.classify_paths([str(path)])

    def open_run(self, path: Path) -> bool:
        """A run folder: its network in Build, its curves in Train, followed while it is written."""
        if not (path / "metrics.jsonl").is_file() and not (path / "config.json").is_file():
            self.show_error(f"{path}: not a run folder (no metrics.jsonl or config.json in it)")
            return False
        try:
            self.document.replace(open_file(path / "architecture.json").architecture, None)
        except UserError as exc:
            self.show_error(f"{path}: the run's network cannot be shown ({exc}); following its metrics")
        self.canvas.fit()
        self.show_workspace(Workspace.TRAIN)
        self.train_view.show_run(path)  # Inspect and Classify now default to this run
        self.statusBar().showMessage(f"Following run {path}", 5000)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._write(self.document.path)

    def save_as(self, path: str | Path | None = None) -> bool:
        if path is None:
            suggested = str(
                Path(self._last_folder()) / f"{self.document.spec.name.replace(' ', '-')}{PROJECT_SUFFIX}"
            )
            path, _ = QFileDialog.getSaveFileName(self, "Save As", suggested, FILE_FILTERS)
            if not path:
                return False
        path = Path(path)
        if not (path.suffix == PROJECT_SUFFIX or path.name.endswith(ARCH_SUFFIX)):
            path = path.with_name(path.name + PROJECT_SUFFIX)
        if not self._write(path):
            return False
        self.document.set_path(path)
        return True

    def export_architecture(self, path: str | Path | None = None) -> bool:
        if not self.document.valid:
            self.show_error(f"Cannot export an invalid network: {self.document.problems[0]}")
            return False
        if path is None:
            suggested = str(
                Path(self._last_folder()) / f"{self.document.spec.name.replace(' ', '-')}{ARCH_SUFFIX}"
            )
            path, _ = QFileDialog.getSaveFileName(
                self, "Export Architecture", suggested, f"Architecture (*{ARCH_SUFFIX})"
            )
            if not path:
                return False
        try:
            save_spec(self.document.spec, path)
        except OSError as exc:
            self.show_error(f"{path}: cannot write: {exc.strerror or exc}")
            return False
        self.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    def _project(self, path: Path) -> Project:
        """The network, and the session model's Setup settings and runs (`SessionModel.project`)."""
        return self.state.project(self.document.spec, path.parent)

    def _restore_training(self, path: Path, project: Project) -> str:
        """A project's Setup settings and its runs' curves (those still on disk); what is shown
        of its runs, in words, when not all of them."""
        try:  # every field checked first: Setup's boxes take only what they can show
            self.state.open_project(project, f"{path}: training.")
        except UserError as exc:
            self.show_error(f"{exc}; Setup keeps its settings")
        folders = self.training.open_project_runs(path.parent, project.runs)  # saved with it again
        # Curves for the newest runs only: a project may list hundreds, and each run's curves take
        # ~16 ms of the UI thread to make (300 froze the window for 4.8 s) and could not be told
        # apart anyway. They fill in a few at a time; every run stays in the project.
        shown: list[Path] = []
        for folder in reversed(folders):  # the newest last, as runs were added
            if len(shown) == MAX_PROJECT_CURVES:
                break
            if folder.is_dir():
                shown.insert(0, folder)
        for folder in shown:
            self.train_view.show_run(folder, now=False)
        if len(folders) > len(shown):
            return f": the curves of its newest {len(shown)} of {len(folders)} runs"
        return ""

    def _write(self, path: Path) -> bool:
        try:
            if path.suffix == PROJECT_SUFFIX:
                save_project(self._project(path), path)
            else:
                save_spec(self.document.spec, path)
        except OSError as exc:
            self.show_error(f"{path}: cannot write: {exc.strerror or exc}")
            return False
        self.document.undo_stack.setClean()
        self._remember(path)
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def _remember(self, path: Path) -> None:
        recent = [str(path.resolve())] + [p for p in self.recent_files() if p != str(path.resolve())]
        self.settings.setValue("recentFiles", recent[:MAX_RECENT])
        self.settings.setValue("lastFolder", str(path.resolve().parent))

    def recent_files(self) -> list[str]:
        """The remembered paths. The settings file is the user's to edit: a value of any other type
        (an integer, a map) reads as no recent files, and entries that are not text are skipped."""
        value = self.settings.value("recentFiles", [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            return []
        return [v for v in value if isinstance(v, str) and v]

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for path in files:

            def open_it(checked: bool = False, p: str = path) -> None:
                self.open_file(p)

            # && : an & in a file name is shown, not a shortcut key
            self.recent_menu.addAction(Path(path).name.replace("&", "&&"), open_it).setStatusTip(path)
        if not files:
            self.recent_menu.addAction("No recent files").setEnabled(False)

    def _last_folder(self) -> str:
        return str(self.settings.value("lastFolder", str(Path.home())))
