"""The user's text in widgets that read markup: shown as the characters typed, never as HTML.

QLabel, QMessageBox and tool tips guess: text that looks like it starts with a tag is rendered as
rich text, so a network named `<img src='/dev/zero'>` would make Qt read /dev/zero until memory
runs out, and `<h1 style='color:red'>` would fill the status bar. So every label says which it is:
`plain` for labels that show the user's text (names, paths, messages), `rich` for labels whose
markup is ours, with the user's text inside passed through `escaped`. Tool tips are escaped and
marked as rich (`tooltip`), so that Qt guesses nothing either.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QSizePolicy


def plain(*widgets: QLabel | QMessageBox) -> None:
    """Show these labels' (or message boxes') text as it is, markup and all."""
    for widget in widgets:
        widget.setTextFormat(Qt.TextFormat.PlainText)


def rich(*labels: QLabel) -> None:
    """These labels hold our markup; whatever of the user's text they show goes through `escaped`."""
    for label in labels:
        label.setTextFormat(Qt.TextFormat.RichText)


def escaped(text: object) -> str:
    """Text for inside our markup: `<`, `>`, `&` and quotes as entities."""
    return html.escape(str(text))


def tooltip(text: str) -> str:
    """A tool tip that shows `text` as typed. Qt takes a tip for rich text only when it holds `<`
    (or the entity `&lt;`): other text is returned as it is; text with either is escaped and put in
    a paragraph that marks it as rich, line breaks kept, so that Qt does not guess."""
    if "<" not in text and "&" not in text:
        return text
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>"


def message_line(name: str, text: str = "") -> QLabel:
    """A one-line status message of plain text (it names runs, networks, files): a fixed height, so
    that new text repaints the label alone and never re-lays out what is below; a long error
    never widens the window but is cut at the edge, and stays selectable."""
    label = QLabel(text)
    label.setObjectName(name)
    plain(label)
    label.setFixedHeight(label.fontMetrics().lineSpacing() + 4)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    return label
