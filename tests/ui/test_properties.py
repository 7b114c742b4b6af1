"""Every Properties field driven as a user drives it: typed (select all, type, Enter), chosen from a
combo box with the arrow keys, or clicked; each change is one undo step that undo reverts, and
the saved file holds it."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox, QComboBox, QLineEdit

from resnet_studio.architecture import load_spec
from resnet_studio.project import open_file
from resnet_studio.ui.common.document import HEAD, NETWORK, STEM, Part


def type_into(qtbot, field, text: str) -> None:
    """Focus the field, select what it holds (Ctrl+A), type `text`, press Enter."""
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def choose(qtbot, combo: QComboBox, value: str) -> None:
    """Open the combo box's list and click the item for `value`, as a user does."""
    target = combo.findData(value)
    assert target >= 0, value
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    rect = view.visualRect(view.model().index(target, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible())
    assert combo.currentIndex() == target


def act(qtbot, field, value) -> None:
    if isinstance(field, QComboBox):
        choose(qtbot, field, value)
    elif isinstance(field, QCheckBox):
        assert field.isChecked() != value
        qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    else:
        assert isinstance(field, (QLineEdit, QAbstractSpinBox))
        type_into(qtbot, field, value)


# (part, inspector field, what the user enters, what the spec then holds)
FIELDS = [
    (NETWORK, "name", "MyNet", lambda s: s.name == "MyNet"),
    (NETWORK, "input_size", "40", lambda s: s.input.size == 40),
    (NETWORK, "input_channels", "1", lambda s: s.input.channels == 1),
    (NETWORK, "classes", "7", lambda s: s.classes == 7),
    (NETWORK, "shortcut", "projection", lambda s: s.shortcut == "projection"),  # ResNet-20: zero-pad
    (NETWORK, "projection_bn", False, lambda s: s.projection_bn is False),
    (NETWORK, "downsample_by", "maxpool", lambda s: s.downsample_by == "maxpool"),
    (STEM, "stem_channels", "24", lambda s: s.stem.channels == 24),
    (STEM, "stem_kernel", "5", lambda s: s.stem.kernel == 5),
    (STEM, "stem_stride", "2", lambda s: s.stem.stride == 2),
    (STEM, "stem_maxpool", True, lambda s: s.stem.maxpool is True),
    (STEM, "stem_kind", "whiten", lambda s: s.stem.kind == "whiten" and s.stem.channels == 2 * 1 * 2**2),
    (Part.stage(1), "block", "preact", lambda s: s.stages[1].block == "preact"),
    (Part.stage(1), "count", "4", lambda s: s.stages[1].count == 4),
    (Part.stage(1), "channels", "48", lambda s: s.stages[1].channels == 48),
    (Part.stage(1), "stride", "1", lambda s: s.stages[1].stride == 1),
    (Part.stage(1), "groups", "2", lambda s: s.stages[1].groups == 2),
    (Part.stage(2), "block", "bottleneck", lambda s: s.stages[2].block == "bottleneck"),
    (Part.stage(2), "width_per_group", "128", lambda s: s.stages[2].width_per_group == 128),
    (HEAD, "dropout", "0.3", lambda s: s.head.dropout == 0.3),
]


def test_renaming_the_network_with_enter_is_one_undoable_edit_that_is_saved(window, qtbot, tmp_path):
    # Before: editingFinished reached a handler that required a value; TypeError, the name was lost.
    document, inspector = window.document, window.inspector
    document.select(NETWORK)
    type_into(qtbot, inspector.name, "MyNet")
    assert document.spec.name == "MyNet" and window.isWindowModified()
    assert document.undo_stack.count() == 1 and document.undo_stack.undoText() == "Set name to MyNet"
    inspector.name.clearFocus()  # leaving the field finishes the edit again: no second step
    assert document.undo_stack.count() == 1
    window.undo_action.trigger()
    assert document.spec.name == "ResNet-20" and inspector.name.text() == "ResNet-20"
    window.redo_action.trigger()
    assert inspector.name.text() == "MyNet"
    # Undo while the field has focus, then leave it: the undone name is not typed back in.
    inspector.name.setFocus()
    window.undo_action.trigger()
    inspector.name.clearFocus()
    assert document.spec.name == "ResNet-20" and document.undo_stack.index() == 0
    window.redo_action.trigger()
    assert window.save_as(tmp_path / "net.rsproj")
    assert open_file(tmp_path / "net.rsproj").architecture.name == "MyNet"


def test_every_properties_field_entered_as_a_user_is_one_undo_step_and_saved(window, qtbot, tmp_path):
    document, inspector = window.document, window.inspector
    stack = document.undo_stack
    for part, name, entered, holds in FIELDS:
        document.select(part)
        field = getattr(inspector, name)
        assert field.isVisible() and field.isEnabled(), name
        before, steps = document.spec, stack.count()
        act(qtbot, field, entered)
        after = document.spec
        assert holds(after), f"{name}: {after}"
        assert stack.count() == steps + 1 and stack.index() == steps + 1, name
        stack.undo()
        assert document.spec == before, name
        stack.redo()
        assert document.spec == after, name
        assert document.valid, f"{name}: {document.problems}"
    assert window.isWindowModified()
    assert window.export_architecture(tmp_path / "net.resnet.json")
    assert window.save_as(tmp_path / "net.rsproj")
    saved = load_spec(tmp_path / "net.resnet.json")
    assert saved == document.spec == open_file(tmp_path / "net.rsproj").architecture
    replaced = {"stem_channels", "stem_kernel"}  # the whitening stem chosen later sets its own
    assert [name for _, name, _, holds in FIELDS if name not in replaced and not holds(saved)] == []


def test_groups_and_width_per_group_make_a_resnext_stage_and_bad_values_show_in_red(window, qtbot):
    document, inspector = window.document, window.inspector
    window.load_preset("resnet50")
    document.select(Part.stage(0))
    type_into(qtbot, inspector.groups, "32")
    type_into(qtbot, inspector.width_per_group, "4")
    stage = document.spec.stages[0]
    assert (stage.groups, stage.width_per_group, stage.inner_width) == (32, 4, 128)
    assert document.undo_stack.undoText() == "Set stage 1 width per group to 4"
    assert inspector.inner_width.text() == "inner width 128, 4 per group"
    texts = [item.text() for item in window.canvas.scene().items() if hasattr(item, "text")]
    assert "3×3 conv in 32 groups of 4 · inner width 128 (2× the usual 64)" in texts
    assert "grouped 3×3 convolution" in texts  # the legend explains the chips' lanes
    assert "zero-pad (option A)" not in texts  # only the shortcut kinds this network has
    # 200 channels: 200 / 4 * 4 / 64 is not whole. Width per group turns red, the reason is
    # shown, training is off.
    type_into(qtbot, inspector.channels, "200")
    assert not document.valid and not window.train_action.isEnabled()
    assert "width_per_group" in inspector.problem.text() and "must be whole" in inspector.problem.text()
    assert inspector.width_per_group.property("invalid") is True
    assert inspector.inner_width.text() == "3.125 channels per group: not whole"
    # The card's reason wraps inside the card (it once ran past the border, issue 27).
    card = window.canvas.card_for(Part.stage(0))
    reason = [item for item in card.item.childItems() if getattr(item, "text", lambda: "")().startswith("⚠")]
    assert reason and all(card.rect.contains(item.sceneBoundingRect()) for item in card.item.childItems())
    assert not inspector.groups.property("invalid")
    window.undo_action.trigger()
    assert document.valid and not inspector.width_per_group.property("invalid")
    assert inspector.channels.value() == 256
