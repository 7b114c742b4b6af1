"""The session: Setup's settings, every run trained or followed in the window, the comparisons
and their verdicts, and the run folders a saved project lists."""

from __future__ import annotations

from pathlib import Path

from resnet_studio.architecture.spec import ArchitectureSpec
from resnet_studio.project import Project
from resnet_studio.session.observable import Event
from resnet_studio.session.runs import Comparison, ComparisonKind, RunRecord
from resnet_studio.session.setup import SetupModel


class SessionModel:
    """Events: `run_added(record)`, `run_removed(record)`, `comparison_done(comparison)` (every
    run of a comparison completed; its verdict is set), `comparison_abandoned(comparison)`."""

    def __init__(self, setup: SetupModel | None = None) -> None:
        self.setup = setup or SetupModel()
        self.runs: list[RunRecord] = []
        self.comparisons: list[Comparison] = []  # the finished ones, oldest first
        self.comparing: Comparison | None = None  # the one under way
        # Every run folder trained or followed here, and the open project's: saved with a project.
        self.run_folders: list[Path] = []
        self._followed: dict[Path, RunRecord] = {}  # the runs followed on disk, by their folder
        self.run_added, self.run_removed = Event(), Event()
        self.comparison_done, self.comparison_abandoned = Event(), Event()

    # -- runs -------------------------------------------------------------------------------------

    def add_run(self, record: RunRecord) -> RunRecord:
        """A run begins (trained here) or is shown (followed on disk); a comparison under way
        takes each trained run as its next."""
        self.runs.append(record)
        if record.run_dir is not None:
            self.remember(record.run_dir)
            if record.origin == "followed":
                self._followed[record.run_dir] = record
        if self.comparing is not None and record.origin == "trained":
            self.comparing.runs.append(record)
        self.run_added.emit(record)
        return record

    def remove_run(self, record: RunRecord) -> None:
        if record in self.runs:
            self.runs.remove(record)
            if record.run_dir is not None and self._followed.get(record.run_dir) is record:
                del self._followed[record.run_dir]
            self.run_removed.emit(record)

    def followed(self, path: Path) -> RunRecord | None:
        """The record of the run followed from `path` (as it was added: resolved by the caller)."""
        return self._followed.get(path)

    def remember(self, path: Path) -> None:
        path = Path(path).resolve()
        if path not in self.run_folders:
            self.run_folders.append(path)

    # -- comparisons ------------------------------------------------------------------------------

    def begin_comparison(self, kind: ComparisonKind, network: str, classes: int) -> Comparison:
        self.comparing = Comparison(kind, network, classes)
        return self.comparing

    def end_comparison(self, completed: bool) -> Comparison | None:
        """The comparison's last run ended: with every run completed, its verdict."""
        comparison, self.comparing = self.comparing, None
        if comparison is None:
            return None
        if completed and len(comparison.runs) == comparison.size:
            comparison.conclude()
            self.comparisons.append(comparison)
            self.comparison_done.emit(comparison)
        else:
            self.comparison_abandoned.emit(comparison)
        return comparison

    # -- the project file -------------------------------------------------------------------------

    def project(self, architecture: ArchitectureSpec, folder: Path) -> Project:
        """The network given, Setup's settings and the session's runs, for a project file in
        `folder`: runs inside it are saved relative to it, so that the folder can move."""
        runs = []
        for run in self.run_folders:
            try:
                runs.append(run.relative_to(folder.resolve()).as_posix())
            except ValueError:
                runs.append(str(run))
        setup = self.setup
        return Project(architecture, setup.project_training(), runs, setup.settings.recipe)

    def open_project(self, project: Project, where: str) -> None:
        """A project's Setup settings (`UserError` naming `where` leaves Setup's as they were)."""
        if project.training:
            self.setup.load_project(project.training, project.recipe, where)
