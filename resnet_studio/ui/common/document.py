"""The builder's document: the current spec, its file, its undo stack and its validity.

Views never change the spec directly: they call `apply(new_spec, text)`, which pushes one
`SpecCommand` onto the undo stack. The canvas, inspector and summary re-render on `changed`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from resnet_studio.architecture import Analysis, ArchitectureSpec, analyze, problems
from resnet_studio.architecture.cost import machine_memory, too_big
from resnet_studio.errors import SpecError
from resnet_studio.training.config import TrainConfig

# Selection keys: "network", "stem", "head", or ("stage", index).
Selection = str | tuple[str, int]


class SpecCommand(QUndoCommand):
    """One user edit: the spec and the selection before and after, and the text the history shows.
    Undo restores the selection the user had before the edit, as Qt's editors do."""

    def __init__(
        self,
        document: Document,
        before: ArchitectureSpec,
        after: ArchitectureSpec,
        text: str,
        selection: Selection | None = None,
    ) -> None:
        super().__init__(text)
        self.document = document
        self.before, self.after = before, after
        self.selection_before = document.selection
        self.selection_after = selection if selection is not None else document.selection

    def redo(self) -> None:
        self.document._set_spec(self.after, self.selection_after)

    def undo(self) -> None:
        self.document._set_spec(self.before, self.selection_before)


class Document(QObject):
    changed = Signal()  # the spec changed (an edit, undo, redo or open)
    selection_changed = Signal()
    path_changed = Signal()

    def __init__(self, spec: ArchitectureSpec, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.path: Path | None = None
        self.selection: Selection = "network"
        self.undo_stack = QUndoStack(self)
        self._analysis: Analysis | None = None
        self._problems: list[SpecError] = []
        self._refresh()

    # -- reading ----------------------------------------------------------------------------------

    @property
    def analysis(self) -> Analysis | None:
        """Shapes and counts of the current spec, or None while it is invalid."""
        return self._analysis

    @property
    def problems(self) -> list[SpecError]:
        return self._problems

    @property
    def valid(self) -> bool:
        return not self._problems

    def problem_for(self, key: Selection) -> str | None:
        """The first problem whose field belongs to `key` (a stage, the stem, the network)."""
        for problem in self._problems:
            if _owner(problem.field) == key:
                return problem.reason
        return None

    # -- editing ----------------------------------------------------------------------------------

    def apply(self, spec: ArchitectureSpec, text: str, selection: Selection | None = None) -> None:
        if spec == self.spec:
            return
        self.undo_stack.push(SpecCommand(self, self.spec, spec, text, selection))

    def replace(
        self,
        spec: ArchitectureSpec,
        path: Path | None,
    ) -> None:
        """A new or opened file: a fresh history and a clean state."""
        self.undo_stack.clear()
        self.path = path
        self._set_spec(spec, "network")
        self.undo_stack.setClean()
        self.path_changed.emit()

    def select(self, key: Selection) -> None:
        key = _existing(self.spec, key)
        if key != self.selection:
            self.selection = key
            self.selection_changed.emit()

    def _set_spec(self, spec: ArchitectureSpec, selection: Selection | None) -> None:
        self.spec = spec
        self._refresh()
        self.selection = _existing(spec, selection if selection is not None else self.selection)
        self.changed.emit()
        self.selection_changed.emit()

    def _refresh(self) -> None:
        self._problems = problems(self.spec)
        self._analysis = analyze(self.spec) if not self._problems else None
        if self._analysis is not None:  # shapes are fine; can this machine hold it?
            too_much = too_big(self._analysis, TrainConfig().batch_size, machine_memory())
            if too_much is not None:
                self._problems = [SpecError("network", too_much)]


def _existing(spec: ArchitectureSpec, key: Selection) -> Selection:
    """`key` if `spec` has it; else the last stage for a stage beyond the end, or the network."""
    if isinstance(key, tuple):
        return ("stage", min(key[1], len(spec.stages) - 1)) if spec.stages and key[1] >= 0 else "network"
    return key if key in ("network", "stem", "head") else "network"


def _owner(field: str) -> Selection:
    if field.startswith("stages["):
        return ("stage", int(field[7 : field.index("]")]))
    head = field.split(".")[0]
    return head if head in ("stem", "head") else "network"
