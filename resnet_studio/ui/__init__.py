"""Everything Qt: the main window and its workspaces."""

from resnet_studio.ui.main_window import MainWindow

__all__ = ["MainWindow"]
