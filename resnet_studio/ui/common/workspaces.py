"""The four workspaces, by name: one type for the tabs, the menu, the tour and `--workspace`, so
that a misspelt name fails where it is written instead of showing nothing."""

from __future__ import annotations

from enum import StrEnum

from resnet_studio.errors import UserError


class Workspace(StrEnum):
    BUILD = "Build"
    TRAIN = "Train"
    INSPECT = "Inspect"
    CLASSIFY = "Classify"

    @classmethod
    def named(cls, text: str) -> Workspace:
        """`--workspace train` and the like: the name in any case."""
        for workspace in cls:
            if workspace.value.lower() == text.strip().lower():
                return workspace
        raise UserError(f"--workspace {text}: choose one of {', '.join(w.value for w in cls)}")
