"""The builder's document: the current spec, its file, its undo stack and its validity.

Views never change the spec directly: they call `apply(new_spec, text)`, which pushes one
`SpecCommand` onto the undo stack. The canvas, inspector and summary re-render on `changed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from resnet_studio.architecture import Analysis, ArchitectureSpec, analyze, problems
from resnet_studio.architecture.cost import machine_memory, too_big
from resnet_studio.errors import SpecError
from resnet_studio.training.config import TrainConfig


class PartKind(Enum):
    NETWORK = "network"
    STEM = "stem"
    STAGE = "stage"
    HEAD = "head"


@dataclass(frozen=True)
class Part:
    """A part of the network the builder can select: the network as a whole, the stem, the head,
    or one stage (by index). A typo in a kind fails at once instead of selecting nothing."""

    kind: PartKind
    index: int = 0  # the stage's index; 0 for the other parts

    @staticmethod
    def stage(index: int) -> Part:
        return Part(PartKind.STAGE, index)

    @property
    def is_stage(self) -> bool:
        return self.kind is PartKind.STAGE


NETWORK, STEM, HEAD = Part(PartKind.NETWORK), Part(PartKind.STEM), Part(PartKind.HEAD)


class SpecCommand(QUndoCommand):
    """One user edit: the spec and the selection before and after, and the text the history shows.
    Undo restores the selection the user had before the edit, as Qt's editors do."""

    def __init__(
        self,
        document: Document,
        before: ArchitectureSpec,
        after: ArchitectureSpec,
        text: str,
        selection: Part | None = None,
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
        self.selection: Part = NETWORK
        self.undo_stack = QUndoStack(self)
        self._analysis: Analysis | None = None
        self._problems: list[SpecError] = []
        self.training_note: str | None = None  # why training at the default batch will not fit
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

    def problem_for(self, key: Part) -> str | None:
        """The first problem whose field belongs to `key` (a stage, the stem, the network)."""
        for problem in self._problems:
            if _owner(problem.field) == key:
                return problem.reason
        return None

    # -- editing ----------------------------------------------------------------------------------

    def apply(self, spec: ArchitectureSpec, text: str, selection: Part | None = None) -> None:
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
        self._set_spec(spec, NETWORK)
        self.undo_stack.setClean()
        self.path_changed.emit()

    def set_path(self, path: Path | None) -> None:
        """The file is saved under another name now."""
        if path != self.path:
            self.path = path
            self.path_changed.emit()

    def select(self, key: Part) -> None:
        key = _existing(self.spec, key)
        if key != self.selection:
            self.selection = key
            self.selection_changed.emit()

    def _set_spec(self, spec: ArchitectureSpec, selection: Part | None) -> None:
        self.spec = spec
        self._refresh()
        self.selection = _existing(spec, selection if selection is not None else self.selection)
        self.changed.emit()
        self.selection_changed.emit()

    def _refresh(self) -> None:
        self._problems = problems(self.spec)
        self._analysis = analyze(self.spec) if not self._problems else None
        self.training_note = None
        if self._analysis is not None:  # shapes are fine; can this machine hold it?
            # Not even one image at a time: the network cannot run here at all (a file naming a
            # network of a trillion parameters). Only training at the default batch too big (an
            # ImageNet ResNet-152 on a laptop): it still builds, classifies and inspects, and
            # trains at a smaller batch, so it is a note for Train, not a red canvas.
            memory = machine_memory()
            too_much = too_big(self._analysis, 1, memory, training=False)
            if too_much is not None:
                self._problems = [SpecError("network", too_much)]
            else:
                self.training_note = too_big(self._analysis, TrainConfig().batch_size, memory)


def _existing(spec: ArchitectureSpec, key: Part) -> Part:
    """`key` if `spec` has it; else the last stage for a stage beyond the end, or the network."""
    if not isinstance(key, Part):  # a caller's mistake, caught where it is made
        raise TypeError(f"a selection is a Part, got {key!r}")
    if key.is_stage:
        return Part.stage(min(key.index, len(spec.stages) - 1)) if spec.stages and key.index >= 0 else NETWORK
    return key


def _owner(field: str) -> Part:
    """The part a problem's field (`stages[2].channels`, `stem.kernel`, `classes`) belongs to."""
    if field.startswith("stages["):
        return Part.stage(int(field[7 : field.index("]")]))
    return {"stem": STEM, "head": HEAD}.get(field.split(".")[0], NETWORK)
