"""The builder driven only through the UI: real drops, clicks, keys, inspector edits and files."""

import dataclasses
import json

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QMessageBox, QToolButton

from resnet_studio.architecture import get_preset, load_spec
from resnet_studio.project import open_file
from resnet_studio.ui import MainWindow
from resnet_studio.ui.build.palette import MIME_TYPE, mime_for
from resnet_studio.ui.common.document import HEAD, NETWORK, STEM, Part


def view_point(window, scene_point: QPointF) -> QPoint:
    return window.canvas.mapFromScene(scene_point)


def _drag_event(cls, pos: QPoint, *args):
    """Qt 6.12 takes a QPointF (QPoint is deprecated there); earlier releases take a QPoint."""
    try:
        return cls(QPointF(pos), *args)
    except TypeError:
        return cls(pos, *args)


def drop(window, payload_or_mime, scene_point: QPointF) -> bool:
    """A full drag: enter, move, drop, at a scene position; returns whether the drop was accepted."""
    mime = payload_or_mime if isinstance(payload_or_mime, QMimeData) else mime_for(payload_or_mime)
    viewport = window.canvas.viewport()
    pos = view_point(window, scene_point)
    actions = Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = _drag_event(QDragEnterEvent, pos, actions, mime, buttons, mods)
    QApplication.sendEvent(viewport, enter)
    if not enter.isAccepted():
        return False
    QApplication.sendEvent(viewport, _drag_event(QDragMoveEvent, pos, actions, mime, buttons, mods))
    event = QDropEvent(QPointF(pos), actions, mime, buttons, mods)
    QApplication.sendEvent(viewport, event)
    return event.isAccepted()


def stage_card(window, index):
    return window.canvas.stage_cards()[index]


def test_palette_items_carry_the_documented_mime_payload(window):
    palette = window.findChild(object, "palette")
    payloads = [palette.item(i).data(Qt.ItemDataRole.UserRole) for i in range(palette.count())]
    assert {"kind": "stage", "block": "bottleneck"} in payloads
    mime = palette.mimeData([palette.item(1)])
    assert json.loads(bytes(mime.data(MIME_TYPE))) == {"kind": "stage", "block": "bottleneck"}
    assert all(palette.item(i).toolTip() for i in range(palette.count()))
    assert not palette.item(0).icon().isNull()


def test_build_through_the_ui_then_undo_and_redo_exactly(window, qtbot):
    start = window.document.spec
    canvas = window.canvas
    # 1. drop a bottleneck stage between stage 1 and stage 2
    gap = QPointF(100, canvas.gap_y(1))
    assert drop(window, {"kind": "stage", "block": "bottleneck"}, gap)
    spec = window.document.spec
    assert [s.block for s in spec.stages] == ["basic", "bottleneck", "basic", "basic"]
    assert window.document.undo_stack.undoText() == "Add bottleneck stage"
    # 2. drop a basic block onto stage 1: one block deeper
    assert drop(window, {"kind": "block", "block": "basic"}, stage_card(window, 0).rect.center())
    assert window.document.spec.stages[0].count == 4
    # 3. the ImageNet stem
    assert drop(window, {"kind": "stem", "variant": "imagenet"}, QPointF(10, 10))
    assert window.document.spec.stem.maxpool and window.document.spec.stem.kernel == 7
    # 4. inspector: select stage 3 by clicking it, set its channels to 48
    QTest.mouseClick(
        canvas.viewport(),
        Qt.MouseButton.LeftButton,
        pos=view_point(window, stage_card(window, 2).rect.center()),
    )
    assert window.document.selection == Part.stage(2)
    window.inspector.channels.setValue(48)
    assert window.document.spec.stages[2].channels == 48
    assert window.document.undo_stack.undoText() == "Set stage 3 channels to 48"
    # 5. reorder: drag stage 4 above stage 1
    source = view_point(window, stage_card(window, 3).rect.center())
    target = view_point(window, QPointF(100, stage_card(window, 0).rect.top() + 5))
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=source)
    QTest.mouseMove(canvas.viewport(), QPoint(source.x(), (source.y() + target.y()) // 2))
    QTest.mouseMove(canvas.viewport(), target)
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=target)
    assert [s.channels for s in window.document.spec.stages] == [64, 16, 32, 48]
    assert window.document.undo_stack.undoText() == "Move stage 4 to position 1"
    # 6. delete the selected (moved) stage with the Delete key
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    assert [s.channels for s in window.document.spec.stages] == [16, 32, 48]
    final = window.document.spec
    assert window.isWindowModified()

    while window.document.undo_stack.canUndo():
        window.undo_action.trigger()
    assert window.document.spec == start
    assert window.summary.rowCount() == 12  # 11 layers + total, as at the start
    while window.document.undo_stack.canRedo():
        window.redo_action.trigger()
    assert window.document.spec == final
    assert window.document.undo_stack.count() == 6


def test_foreign_or_malformed_drops_are_refused(window):
    before = window.document.spec
    text = QMimeData()
    text.setText("stage")
    assert not drop(window, text, QPointF(100, 100))
    bad = QMimeData()
    bad.setData(MIME_TYPE, b'{"kind": "stage", "block": "dense"}')
    assert not drop(window, bad, QPointF(100, 100))
    bad.setData(MIME_TYPE, b"\xff not json")
    assert not drop(window, bad, QPointF(100, 100))
    assert window.document.spec == before and window.document.undo_stack.count() == 0


def test_summary_and_canvas_follow_every_edit(window):
    window.load_preset("resnet110")
    assert window.summary.rowCount() == 57 and window.summary.item(56, 0).text() == "Total"
    assert window.summary.item(56, 3).text() == "1,727,962"
    assert len(window.canvas.stage_cards()) == 3
    window.document.select(Part.stage(0))
    window.inspector.count.setValue(20)
    assert window.summary.rowCount() == 59
    assert any("basic × 20" in i.text() for i in window.canvas.scene().items() if hasattr(i, "text"))


def test_invalid_setting_is_shown_in_place_and_disables_training(window):
    window.document.select(Part.stage(1))
    window.inspector.block.setCurrentIndex(1)  # bottleneck
    window.inspector.channels.setValue(30)  # not a multiple of 4
    doc = window.document
    assert not doc.valid and doc.analysis is None
    card = window.canvas.stage_cards()[1]
    assert card.item.pen().color().name() == "#d93025"
    texts = [_text_of(i) for i in window.canvas.scene().items()]
    assert any("multiple of 4" in t for t in texts)
    assert "multiple of 4" in window.inspector.problem.text()
    assert not window.train_action.isEnabled() and "multiple of 4" in window.train_action.toolTip()
    assert window.summary.item(0, 0).text().startswith("Invalid: stages[1].channels")
    window.inspector.channels.setValue(32)
    assert doc.valid and window.train_action.isEnabled()


def _text_of(item) -> str:
    """The text of a scene item: simple text, rich text item, or none."""
    if hasattr(item, "toPlainText"):
        return item.toPlainText()
    return item.text() if hasattr(item, "text") else ""


def test_a_stage_cards_problem_is_wrapped_inside_the_card(window):
    """The reason a stage cannot work is word-wrapped inside its red card, never past its border."""
    window.document.select(Part.stage(1))
    window.inspector.block.setCurrentIndex(1)  # bottleneck
    window.inspector.channels.setValue(30)  # a long reason: "...multiple of 4 (inner width is...)"
    card = window.canvas.stage_cards()[1]
    [warning] = [i for i in card.item.childItems() if "multiple of 4" in _text_of(i)]
    rect = warning.mapRectToScene(warning.boundingRect())
    if hasattr(warning, "document"):  # the text's own lines, without the item's margin
        margin = warning.document().documentMargin()
        rect = rect.adjusted(margin, margin, -margin, -margin)
    assert card.rect.contains(rect), (rect, card.rect)
    others = [c.rect for c in window.canvas.stage_cards() if c is not card]
    assert not any(other.intersects(card.rect) for other in others)  # the taller card pushes the next


def test_save_and_reopen_give_an_identical_spec(window, tmp_path):
    window.load_preset("resnet50")
    window.document.select(Part.stage(2))
    window.inspector.count.setValue(5)
    spec = window.document.spec
    project = tmp_path / "net.rsproj"
    assert window.save_as(project)
    assert window.document.undo_stack.isClean() and not window.isWindowModified()
    assert json.loads(project.read_text())["format"] == "resnet-studio.project"
    arch = tmp_path / "net.resnet.json"
    assert window.export_architecture(arch)
    assert load_spec(arch) == spec
    window.new_file()
    assert window.document.spec == get_preset("resnet20")
    assert window.open_file(project)
    assert window.document.spec == spec and window.document.path == project
    assert str(project.resolve()) == window.recent_files()[0]
    assert open_file(project).architecture == spec
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_opening_an_invalid_file_says_what_is_wrong_and_keeps_the_network(window, tmp_path):
    before = window.document.spec
    bad = tmp_path / "bad.resnet.json"
    data = get_preset("resnet20").to_dict()
    data["stages"][2]["channels"] = 0
    bad.write_text(json.dumps(data))
    assert not window.open_file(bad)
    assert "bad.resnet.json" in window.last_error
    assert "stages[2].channels: must be a positive integer, got 0" in window.last_error
    assert window.document.spec == before
    junk = tmp_path / "junk.rsproj"
    junk.write_text("{{{")
    assert not window.open_file(junk) and "not valid JSON" in window.last_error


def _answer_prompt(button):
    def click():
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox) and box.objectName() == "unsavedChanges"
        box.button(button).click()

    QTimer.singleShot(50, click)


def test_unsaved_changes_prompt_on_new_and_close(window, tmp_path):
    window.load_preset("resnet56")
    assert window.isWindowModified()
    _answer_prompt(QMessageBox.StandardButton.Cancel)
    window.new_file()
    assert window.document.spec.name == "ResNet-56"  # cancelled: nothing lost
    _answer_prompt(QMessageBox.StandardButton.Cancel)
    assert not window.close() and window.isVisible()
    _answer_prompt(QMessageBox.StandardButton.Discard)
    window.new_file()
    assert window.document.spec.name == "ResNet-20" and not window.isWindowModified()


def test_double_click_opens_the_properties(window):
    canvas = window.canvas
    stem = next(c for c in canvas.cards if c.key == STEM)
    QTest.mouseDClick(
        canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window, stem.rect.center())
    )
    assert window.document.selection == STEM and window.inspector.title.text() == "Stem"
    assert window.inspector.pages.currentWidget().objectName() == "inspector-stem"


def test_a_file_given_on_the_command_line_opens(tmp_path, qapp):
    from resnet_studio.architecture import save_spec
    from resnet_studio.cli import main

    arch = tmp_path / "r56.resnet.json"
    save_spec(get_preset("resnet56"), arch)
    shot = tmp_path / "shot.png"
    assert main(["open", str(arch), "--screenshot", str(shot)]) == 0 and shot.stat().st_size > 10_000
    # The window's options also come before `open`: the subcommand must not reset them to defaults
    # (it once did, and the studio opened a window instead of writing the screenshot).
    before = tmp_path / "before.png"
    assert main(["--screenshot", str(before), "--size", "1100x700", "open", str(arch)]) == 0
    assert QImage(str(before)).size().toTuple() == (1100, 700)
    bad = tmp_path / "bad.resnet.json"
    bad.write_text("[]")
    assert main(["open", str(bad), "--screenshot", str(shot)]) == 2


def test_canvas_follows_a_palette_change(window):
    from PySide6.QtGui import QColor, QPalette

    dark = QPalette(window.canvas.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1f22"))
    window.canvas.setPalette(dark)
    assert window.canvas.cards[0].item.brush().color().name() == "#1e1f22"


def test_undo_and_redo_restore_a_selection_that_exists(window, qtbot):
    """Drop a stage (it is selected), undo: Properties shows the selection from before the drop,
    editing it works, redo selects the new stage again; a click on empty canvas selects the network."""
    document, canvas = window.document, window.canvas
    second = view_point(window, stage_card(window, 1).rect.center())
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=second)
    assert document.selection == Part.stage(1)
    last = len(document.spec.stages)
    assert drop(window, {"kind": "stage", "block": "bottleneck"}, QPointF(100, canvas.gap_y(last)))
    assert document.selection == Part.stage(last)
    assert window.inspector.title.text() == f"Stage {last + 1}"
    window.undo_action.trigger()
    assert len(document.spec.stages) == last
    assert document.selection == Part.stage(1)  # where the user was before the drop
    assert window.inspector.title.text() == "Stage 2"
    window.redo_action.trigger()  # the bottleneck stage again, selected again
    assert document.selection == Part.stage(last) and window.inspector.title.text() == f"Stage {last + 1}"
    window.undo_action.trigger()
    window.inspector.count.setValue(5)  # editing the restored selection edits that stage
    assert document.spec.stages[1].count == 5 and len(document.spec.stages) == last
    empty = canvas.viewport().rect().bottomRight() - QPoint(3, 3)
    assert canvas.card_at(canvas.mapToScene(empty)) is None
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=empty)
    assert document.selection == NETWORK and window.inspector.title.text() == "Network"


def test_the_toolbar_never_jumps_and_the_canvas_keeps_the_whole_network_in_view(window, qtbot):
    toolbar = window.findChild(object, "mainToolbar")
    undo = window.findChild(object, "undoButton")
    positions = [b.geometry() for b in toolbar.findChildren(QToolButton)]
    assert not undo.isEnabled()
    canvas = window.canvas
    for _ in range(4):
        last = len(window.document.spec.stages)
        assert drop(window, {"kind": "stage", "block": "bottleneck"}, QPointF(100, canvas.gap_y(last)))
    qtbot.wait(10)
    assert undo.isEnabled() and undo.text() == "Undo"
    assert undo.toolTip().startswith("Undo Add bottleneck stage")
    assert [b.geometry() for b in toolbar.findChildren(QToolButton)] == positions
    head = next(card for card in canvas.cards if card.key == HEAD)
    visible = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert visible.contains(head.rect), (visible, head.rect)  # seven stages, the head still in view
    undo.click()
    assert len(window.document.spec.stages) == 6
    canvas.zoom(1.5)  # the user zooms: the view then stays where the user put it
    assert not canvas.follow_fit
    window.fit_action.trigger()
    assert canvas.follow_fit


def test_a_network_too_big_for_this_machine_is_flagged_with_its_estimate(window):
    document = window.document
    document.select(NETWORK)
    window.inspector.input_size.setValue(4096)  # ResNet-20 at 4,096 px: 3 GB an image, 4 TB a batch
    # It runs one image at a time: a valid network, whose training the Train button warns about.
    assert document.valid and document.problem_for(NETWORK) is None
    assert "training at batch 128 needs about" in document.training_note
    assert "Batch size" in window.train_view.train_button.toolTip()
    for stage in range(3):  # 64 times the channels: 196 GB for a single image
        document.select(Part.stage(stage))
        window.inspector.channels.setValue(document.spec.stages[stage].channels * 64)
    problem = document.problem_for(NETWORK)
    assert problem is not None and "running 1 images at a time needs about" in problem and "GB" in problem
    assert not document.valid and not window.train_action.isEnabled()
    document.select(NETWORK)
    assert "needs about" in window.inspector.problem.text()
    for _ in range(4):
        window.undo_action.trigger()
    assert document.valid and document.training_note is None and window.train_action.isEnabled()


def test_an_imagenet_resnet152_is_valid_here_though_too_big_to_train_at_batch_128(window):
    """A Build canvas all red for the ResNet-152 preset, though it classifies and inspects here."""
    window.document.replace(get_preset("resnet152"), None)
    assert window.document.valid and window.train_view.train_button.isEnabled()


def test_downsampling_by_max_pool_from_properties_is_one_undoable_edit(window):
    document, inspector = window.document, window.inspector
    document.select(NETWORK)
    macs = document.analysis.macs
    inspector.downsample_by.setCurrentIndex(inspector.downsample_by.findData("maxpool"))
    assert document.spec.downsample_by == "maxpool"
    assert document.undo_stack.undoText() == "Downsample by max-pooling"
    assert document.analysis.macs > macs  # the strided convolutions now run at full size
    titles = [item.text() for item in window.canvas.scene().items() if hasattr(item, "text")]
    assert any("2×2 max-pool" in title for title in titles)
    window.undo_action.trigger()
    assert document.spec.downsample_by == "stride" and inspector.downsample_by.currentData() == "stride"


def test_problems_belong_to_the_part_they_name_and_a_selection_is_typed(window):
    document = window.document
    document.select(Part.stage(1))
    spec = document.spec
    broken = dataclasses.replace(spec.stages[2], channels=0)
    bad = dataclasses.replace(spec, stages=(*spec.stages[:2], broken))
    document.apply(bad, "bad channels", Part.stage(2))
    assert document.problem_for(Part.stage(2)) is not None
    assert document.problem_for(Part.stage(0)) is None and document.problem_for(STEM) is None
    assert window.inspector.title.text() == "Stage 3" and "⚠" in window.inspector.problem.text()
    with pytest.raises(TypeError, match="a selection is a Part"):
        document.select("stem")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text, reason",
    [("[" * 100_000 + "]" * 100_000, "nested too deeply"), ('{"version": ' + "9" * 5000 + "}", "not usable")],
)
def test_opening_a_project_that_breaks_json_parsers_says_so(window, tmp_path, text, reason):
    path = tmp_path / "evil.rsproj"
    path.write_text(text)
    spec = window.document.spec
    assert not window.open_file(path)
    assert "evil.rsproj" in window.last_error and reason in window.last_error
    assert window.document.spec == spec  # the network on the canvas is kept


def test_a_project_keeps_the_training_settings_and_the_runs_made_from_it(window, qtbot, tmp_path):
    run = tmp_path / "runs" / "first"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text(
        '{"kind": "train", "epoch": 1, "step": 1, "loss": 2.0, "accuracy": 0.1, "lr": 0.1}\n'
        '{"kind": "val", "epoch": 1, "step": 1, "loss": 1.5, "accuracy": 0.4}\n'
    )
    setup = window.train_view.setup
    setup.epochs.setValue(7)
    setup.lr.setValue(0.05)
    precision = window.findChild(QComboBox, "precision")
    precision.setCurrentIndex(precision.findData("bf16"))
    setup.data_kind.setCurrentText("folder")
    setup.data_path.setText(str(tmp_path / "photos"))
    window.train_view.show_run(run)
    project = tmp_path / "net.rsproj"
    assert window.save_as(project)
    saved = json.loads(project.read_text())
    # Runs inside the project's folder are saved relative to it: the folder can move.
    assert saved["training"]["epochs"] == 7 and saved["runs"] == ["runs/first"]
    assert saved["training"]["precision"] == "bf16"

    fresh = MainWindow()  # another session opens the project
    qtbot.addWidget(fresh)
    assert fresh.open_file(project)
    setup = fresh.train_view.setup
    assert setup.epochs.value() == 7 and setup.lr.value() == 0.05
    assert setup.precision.currentData() == "bf16" and setup.config().precision == "bf16"
    assert setup.data_spec() == f"folder:{tmp_path / 'photos'}"
    qtbot.waitUntil(lambda: any(r.name == "first" and r.val_acc == [40.0] for r in fresh.train_view.runs))

    saved["training"]["epochs"] = "many"  # a hand-edited file: the network still opens
    project.write_text(json.dumps(saved))
    assert fresh.open_file(project)
    assert "net.rsproj: training.epochs" in fresh.last_error and setup.epochs.value() == 7


def test_a_whitening_stem_from_the_palette_or_properties(window):
    document, inspector = window.document, window.inspector
    document.select(NETWORK)  # 24 whitened channels into a 16-channel stage need a projection
    inspector.shortcut.setCurrentIndex(inspector.shortcut.findData("projection"))
    params = document.analysis.params
    stem_card = next(card for card in window.canvas.cards if card.key == STEM)
    assert drop(window, {"kind": "stem", "variant": "whiten"}, stem_card.rect.center())
    stem = document.spec.stem
    assert (stem.kind, stem.kernel, stem.channels) == ("whiten", 2, 24)
    assert document.undo_stack.undoText() == "Use the 2x2 whitening stem"
    assert document.valid and document.analysis.layers[0].output_shape == (24, 31, 31)  # unpadded
    titles = [item.text() for item in window.canvas.scene().items() if hasattr(item, "text")]
    assert any("2×2/1 whitening (fixed), 24 channels" in title for title in titles)
    document.select(STEM)
    assert inspector.stem_kind.currentData() == "whiten" and not inspector.stem_channels.isEnabled()
    inspector.stem_kernel.setValue(3)  # the channels follow the kernel: 2 x 3 x 3^2
    assert document.spec.stem.channels == 54 and document.valid
    inspector.stem_kind.setCurrentIndex(inspector.stem_kind.findData("conv"))
    assert document.spec.stem.kind == "conv" and document.undo_stack.undoText() == "Use a convolutional stem"
    assert inspector.stem_channels.isEnabled() and document.analysis.params == params
    for _ in range(3):
        window.undo_action.trigger()
    assert document.spec.stem.kind == "conv" and document.spec.shortcut == "projection"
    assert document.analysis.params == params
