"""The studio's session as plain Python objects, without Qt: Setup's settings, the runs of the
session, the comparisons and their verdicts. Views observe them and render; what a user does
reaches them as method calls (intents), and the project file is written from them.

Changed on the UI thread only: the events below call their observers at once, in that thread.
"""

from __future__ import annotations

from resnet_studio.session.model import SessionModel
from resnet_studio.session.observable import Event
from resnet_studio.session.runs import Comparison, RunRecord
from resnet_studio.session.setup import SetupModel, SetupSettings

__all__ = ["Comparison", "Event", "RunRecord", "SessionModel", "SetupModel", "SetupSettings"]
