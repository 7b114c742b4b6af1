"""The window's layout at the sizes the README shows (1280x800) and the smallest it supports
(1024x640): text that fits its place, nothing drawn over something else."""

from PIL import Image
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

from resnet_studio.data import demo
from resnet_studio.ui.classify.classify_view import COLUMNS
from resnet_studio.ui.common.workspaces import Workspace
from resnet_studio.ui.train.train_plots import BLOCK_TABS


def shown(window, size: tuple[int, int], workspace: Workspace) -> None:
    window.resize(*size)
    window.show_workspace(workspace)
    for _ in range(3):
        QApplication.processEvents()


def test_a_long_status_message_never_runs_into_the_network_figures(window):
    """An export's summary (two paths and a difference) at 1280 px: the permanent figures step
    aside while it shows, and come back after."""
    shown(window, (1280, 800), Workspace.BUILD)
    bar, figures = window.statusBar(), window.status_figures
    message = (
        "Exported /home/someone/ResNetStudio/runs/resnet-20-20261206-013000 as onnx: "
        "/home/someone/ResNetStudio/exports/resnet-20.onnx (max abs difference 1.3e-06 from the checkpoint)"
    )
    bar.showMessage(message)
    QApplication.processEvents()
    width = bar.fontMetrics().horizontalAdvance(message)
    assert not figures.isVisible() or 6 + width + 8 <= figures.x() + figures.contentsMargins().left()
    assert bar.toolTip() == message
    bar.showMessage("Saved x.rsproj")  # a short one leaves them in place, with a gap
    QApplication.processEvents()
    assert figures.isVisible()
    bar.clearMessage()
    QApplication.processEvents()
    assert figures.isVisible() and "269,722 parameters" in figures.text()


def test_the_block_views_tabs_are_never_cut_short(window):
    """At 1024 px "Gradient flow" and "Block contributions" read "Gradie…" and "Block contrib…":
    the tabs (three since the live embedding) take shorter names there (the full name is the
    tooltip), their full ones at 1280."""
    tabs = window.train_view.plots.block_views
    bar = tabs.tabBar()
    for size in ((1024, 640), (1280, 800)):
        shown(window, size, Workspace.TRAIN)
        for i in range(bar.count()):
            text = bar.tabText(i)
            assert bar.tabRect(i).width() >= bar.fontMetrics().horizontalAdvance(text), (size, text)
        assert [bar.tabToolTip(i) for i in range(bar.count())] == [name for name, *_ in BLOCK_TABS]
    assert bar.tabText(0) != BLOCK_TABS[0][-1]  # at 1280 px they read more than the shortest names


def test_the_gradient_note_stays_inside_its_plot_at_1024(window):
    shown(window, (1024, 640), Workspace.TRAIN)
    plots = window.train_view.plots
    note = plots.gradient_note
    assert note.isVisible() and "gradient norm" in note.toPlainText()
    inside = plots.gradient_view.getPlotItem().vb.sceneBoundingRect()
    assert inside.contains(note.mapRectToScene(note.boundingRect())), (note.sceneBoundingRect(), inside)


def test_short_plots_space_their_tick_labels(window):
    """Learning rate and Speed are about 40 pixels tall at 1024x640: their labelled ticks stay
    1.6 lines apart (or one label alone), never four on top of each other."""
    shown(window, (1024, 640), Workspace.TRAIN)
    plots = window.train_view.plots
    run = plots.add_run("run 1")
    for step in range(0, 400, 4):
        run.add_step(step, 2.0, 0.1 * min(step / 120, (400 - step) / 280), 240 + step % 30, 0.5)
    plots.redraw()
    QApplication.processEvents()
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        for plot in (plots.lr_plot, plots.speed_plot, plots.loss_plot, plots.gradient_view):
            axis = plot.getAxis("left")
            labels = [rect for rect, _, _ in axis.generateDrawSpecs(painter)[2]]  # as drawn
            tops = sorted(rect.top() for rect in labels)
            height = max((rect.height() for rect in labels), default=0)
            assert labels, plot.objectName()
            gaps = [b - a for a, b in zip(tops, tops[1:], strict=False)]
            assert all(gap >= 1.4 * height for gap in gaps), (plot.objectName(), gaps, height)
    finally:
        painter.end()


def test_classify_keeps_its_problem_column_and_status_in_view_at_1024(window, qtbot, tmp_path):
    """The shipped weights' long description and a file's problem at 1024x640: the status wraps
    instead of running past the window, and the Problem column stays inside the table."""
    pictures, _ = demo.generate(3, seed=1)
    paths = []
    for i, picture in enumerate(pictures):
        paths.append(tmp_path / f"shape-{i}.png")
        Image.fromarray(picture.transpose(1, 2, 0)).resize((64, 64)).save(paths[-1])
    paths.append(tmp_path / "scan-broken.jpg")
    paths[-1].write_bytes(paths[0].read_bytes()[:100])
    shown(window, (1024, 640), Workspace.CLASSIFY)
    view = window.classify_view
    view.classify_paths([str(p) for p in paths])
    qtbot.waitUntil(lambda: not view.busy and view.table.rowCount() == 4, timeout=60_000)
    QApplication.processEvents()
    table, header = view.table, view.table.horizontalHeader()
    for name in ("Problem", "Model"):  # the model that answered, beside it (#27), in view too
        column = COLUMNS.index(name)
        assert header.sectionViewportPosition(column) + header.sectionSize(column) <= table.viewport().width()
        assert header.sectionSize(column) >= header.minimumSectionSize()
    assert not table.horizontalScrollBar().isVisible()
    status = view.status
    assert "trained on CIFAR-10" in status.text()  # the long description
    assert status.geometry().right() <= view.width() and status.x() >= 0
    assert status.heightForWidth(status.width()) <= status.height()  # every line of it shown
