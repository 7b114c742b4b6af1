"""The Help menu: a tour of the four workspaces (offered once, on the first launch), the keyboard
shortcuts, and the README's sections and the file formats, shown in the window."""

from __future__ import annotations

import importlib.metadata
import re
from email.message import Message
from pathlib import Path
from typing import Protocol, cast

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

import resnet_studio
from resnet_studio.nn.shipped import weights_folder
from resnet_studio.ui.common.workspaces import Workspace


class Shell(Protocol):
    """What the tour and the menu need of the main window (named here, not imported from it)."""

    settings: QSettings
    undo_action: QAction
    redo_action: QAction

    def show_workspace(self, workspace: Workspace) -> None: ...


TOUR_DONE = "tour/done"  # QSettings key: the tour was finished or skipped once

TOUR = (
    (
        Workspace.BUILD,
        "<h3>1 of 4 · Build: design the network</h3>"
        "<p>The canvas shows the network from input to classes: the stem, each stage with its "
        "blocks and skip connections, the head. Drag a stage, a block, a stem or the head from the "
        "palette onto the canvas; drag a stage card to move it; Delete removes the selected stage; "
        "double-click opens its properties. Every card shows its output shape, parameters and "
        "multiply-accumulates, and a setting that cannot work is outlined in red with the reason.</p>"
        "<p>The <b>Presets</b> menu holds ResNet-20 to 110, their plain twins, ResNet-18/34/50 and "
        "the reference article's network. Ctrl+Z undoes any edit.</p>",
    ),
    (
        Workspace.TRAIN,
        "<h3>2 of 4 · Train: watch it learn</h3>"
        "<p>Pick the data and a recipe in <b>Setup</b> on the left (the demo shapes train in about "
        "two minutes on a laptop CPU) and press <b>Train</b>. Loss, accuracy, learning rate and "
        "speed plot live; <b>Activations</b> shows what every block sees of a pinned image; "
        "<b>Gradient flow</b> shows how much each block learns.</p>"
        "<p><b>Plain vs residual</b> trains the network and then its twin without skip "
        "connections, one epoch each: the plain twin learns markedly slower, the point of "
        "residual networks, on your own network. Inspect's <b>Why residuals work</b> tab then "
        "removes blocks from each and compares their blocks' representations.</p>",
    ),
    (
        Workspace.INSPECT,
        "<h3>3 of 4 · Inspect: look inside</h3>"
        "<p>Open an image to see the feature maps of every block and Grad-CAM (which regions raise "
        "a class's score). The <b>Validation set</b> tab gives the confusion matrix, the per-class "
        "Correct/Incorrect table and the mistakes, most confident first.</p>",
    ),
    (
        Workspace.CLASSIFY,
        "<h3>4 of 4 · Classify: ask it</h3>"
        "<p>Drop photos or folders anywhere on the window, or paste an image (Ctrl+V): each gets "
        "its top classes. Before you train anything, a ResNet-20 trained on CIFAR-10 answers "
        "(airplanes, cars, birds, cats, deer, dogs, frogs, horses, ships, trucks); the Model line "
        "always says which network answers.</p>"
        "<p>The Help menu brings this tour back.</p>",
    ),
)

# Keys that are not menu actions.
OTHER_KEYS = (
    ("Delete / Backspace", "Remove the selected stage (canvas)"),
    ("Ctrl + mouse wheel", "Zoom the canvas"),
    ("Double-click a card", "Open its properties"),
    ("Ctrl+V", "Classify the image or files on the clipboard (Classify)"),
)


def readme_path() -> Path | None:
    """README.md of the clone the package runs from (an editable install), if there is one. In a
    wheel the folder above the package is site-packages, whose README.md, if any, is another's."""
    root = Path(resnet_studio.__file__).resolve().parent.parent
    path = root / "README.md"
    return path if path.is_file() and (root / "pyproject.toml").is_file() else None


def guide_source() -> tuple[str, Path] | None:
    """(the README's text, the folder its `resources/...` pictures resolve against).

    A clone's README.md first; in a wheel there is none, but the README is the package's long
    description, installed with its metadata, and its screenshots ship as
    `resnet_studio/resources/screenshots`, so the package folder stands in for the clone."""
    readme = readme_path()
    if readme is not None:
        return readme.read_text(encoding="utf-8"), readme.parent
    return installed_readme()


def installed_readme() -> tuple[str, Path] | None:
    """The README as installed with the package's metadata (any kind of install)."""
    try:
        metadata = importlib.metadata.metadata("resnet-studio")
        # An email Message, whose body is the long description: the PackageMetadata protocol of the
        # type stubs names its headers only.
        text = cast(Message, metadata).get_payload()
    except importlib.metadata.PackageNotFoundError:
        return None
    if not isinstance(text, str) or not text.strip():
        return None
    # The folder holding the installed resources: `resources/screenshots/...` resolves against it.
    return text, weights_folder().parent.parent


def readme_sections(text: str) -> list[tuple[str, str]]:
    """(title, markdown) of each `## ` section of a README."""
    parts = re.split(r"(?m)^## ", text)
    return [(part.splitlines()[0].strip(), "## " + part) for part in parts[1:] if part.strip()]


class TourDialog(QDialog):
    """Four pages, one per workspace; the window shows each workspace as its page is read."""

    def __init__(self, window: QWidget, shell: Shell) -> None:
        super().__init__(window)
        self.setObjectName("tour")
        self.setWindowTitle("Welcome to ResNet Studio")
        self.shell = shell
        self.page = 0
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setMinimumSize(460, 200)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.skip_button = QPushButton("Skip Tour")
        self.back_button = QPushButton("Back")
        self.next_button = QPushButton("Next")
        self.next_button.setDefault(True)
        self.skip_button.clicked.connect(self.finish)
        self.back_button.clicked.connect(lambda: self.show_page(self.page - 1))
        self.next_button.clicked.connect(self._next)
        buttons = QHBoxLayout()
        buttons.addWidget(self.skip_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)
        self.show_page(0)

    def show_page(self, page: int) -> None:
        self.page = max(0, min(page, len(TOUR) - 1))
        workspace, html = TOUR[self.page]
        self.shell.show_workspace(workspace)
        self.text.setText(html)
        self.back_button.setEnabled(self.page > 0)
        self.next_button.setText("Done" if self.page == len(TOUR) - 1 else "Next")

    def _next(self) -> None:
        if self.page == len(TOUR) - 1:
            self.finish()
        else:
            self.show_page(self.page + 1)

    def finish(self) -> None:
        """Skipped or done: remembered, so the tour is not offered again."""
        self.shell.settings.setValue(TOUR_DONE, True)
        self.shell.show_workspace(Workspace.BUILD)
        self.accept()

    def reject(self) -> None:  # Escape or the close button: the same as Skip
        self.shell.settings.setValue(TOUR_DONE, True)
        super().reject()


class HelpMenu(QMenu):
    def __init__(self, window: QWidget, shell: Shell) -> None:
        super().__init__("&Help", window)
        self.window_ = window
        self.shell = shell
        self.tour: TourDialog | None = None
        self._add("&Tour of the Studio", self.start_tour)
        self._add("&Keyboard Shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        self.addSeparator()
        guide = self.addMenu("&Guide (README)")
        guide_text = guide_source()
        self.guide_folder = guide_text[1] if guide_text else None
        sections = readme_sections(guide_text[0]) if guide_text else []
        for title, markdown in sections:
            action = guide.addAction(title)
            action.triggered.connect(lambda _=False, t=title, m=markdown: self.show_text(t, m))
        if not sections:
            guide.addAction("The guide was not installed with this copy").setEnabled(False)
        self._add("&File Formats", self.show_formats)
        self.addSeparator()
        self._add("&About ResNet Studio", self.show_about)

    def _add(self, text: str, slot, shortcut=None) -> QAction:
        action = self.addAction(text)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        return action

    def start_tour(self) -> TourDialog:
        """Non-modal: the user can try each workspace while reading about it."""
        if self.tour is None:
            self.tour = TourDialog(self.window_, self.shell)
        self.tour.show_page(0)
        self.tour.show()
        self.tour.raise_()
        return self.tour

    def offer_tour(self) -> TourDialog | None:
        """The tour on a first launch only (skipped or finished once: never again)."""
        if self.shell.settings.value(TOUR_DONE, False, type=bool):
            return None
        return self.start_tour()

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every action with a shortcut, then the keys of OTHER_KEYS."""
        fixed = {self.shell.undo_action: "Undo", self.shell.redo_action: "Redo"}  # texts change
        keys_of: dict[str, list[str]] = {}
        for action in self.window_.findChildren(QAction):
            name = fixed.get(action) or action.text().replace("&", "").rstrip("…")
            for key in action.shortcuts():
                text = key.toString(QKeySequence.SequenceFormat.NativeText)
                if name and text not in keys_of.setdefault(name, []):
                    keys_of[name].append(text)
        rows = [(", ".join(keys), name) for name, keys in sorted(keys_of.items()) if keys]
        return rows + list(OTHER_KEYS)

    def show_shortcuts(self) -> QDialog:
        table = "".join(
            f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>" for keys, what in self.shortcut_rows()
        )
        return self.show_text("Keyboard Shortcuts", f"<table cellpadding=3>{table}</table>", html=True)

    def show_formats(self) -> QDialog:
        path = weights_folder().parent / "FORMATS.md"
        text = path.read_text(encoding="utf-8") if path.is_file() else "FORMATS.md is missing."
        return self.show_text("File Formats", text)

    def show_about(self) -> QDialog:
        return self.show_text(
            "About ResNet Studio",
            f"<h3>ResNet Studio {resnet_studio.__version__}</h3><p>Build residual networks visually, "
            "train them live and look inside them.</p>",
            html=True,
        )

    def show_text(self, title: str, text: str, html: bool = False) -> QDialog:
        """A non-modal window with `text` (Markdown, or HTML); pictures resolve next to README."""
        dialog = QDialog(self.window_)
        dialog.setObjectName("helpText")
        dialog.setWindowTitle(title)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        browser = QTextBrowser()
        browser.setOpenExternalLinks(False)
        if self.guide_folder is not None:
            browser.setSearchPaths([str(self.guide_folder)])
        browser.setHtml(text) if html else browser.setMarkdown(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(browser)
        layout.addWidget(buttons)
        dialog.resize(760, 560)
        dialog.show()
        return dialog
