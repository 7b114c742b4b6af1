"""The views over the session model: a comparison's verdict comes from the runs' records whatever
the plots show; Setup's settings travel through the model into the project file and back."""

import dataclasses
import json

import pytest

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec

TINY = ArchitectureSpec(name="Tiny-4", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),))


@pytest.fixture
def window(train_window):
    return train_window(TINY)


def _run_on_disk(folder, loss=0.05):
    """A run another process wrote: a few steps of a low loss and a high accuracy."""
    folder.mkdir(parents=True)
    (folder / "architecture.json").write_text(json.dumps(TINY.to_dict()))
    (folder / "config.json").write_text(json.dumps({"epochs": 1}))
    line = dict(kind="train", epoch=1, loss=loss, accuracy=0.99, lr=0.1, images_per_s=500.0, time=1.0)
    records = [{**line, "step": s} for s in range(1, 4)] + [{**line, "kind": "val", "step": 3}]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def _click_show(view, name: str) -> None:
    """Runs > Show on the run folder called `name`: selected in the Runs list, then the button."""
    panel = view.runs_panel
    row = next(i for i, run in enumerate(panel.summaries) if run.path.name == name)
    panel.table.selectRow(row)
    panel.show_button.click()


def test_runs_shown_during_a_degradation_change_nothing_in_its_verdict(window, qtbot, tmp_path):
    """Runs > Show while the experiment trains adds curves to the plots (before, the verdict took
    the plots' last four runs and named a shown one); the paragraph still names the experiment's
    four networks, with the figures the engine reported for each."""
    view = window.train_view
    for name, loss in (("Other-run", 0.05), ("Another-run", 0.07)):
        _run_on_disk(view.runs_root / name, loss)
    view.runs_panel.refresh()
    qtbot.waitUntil(lambda: len(view.runs_panel.summaries) == 2, timeout=30_000)
    view.setup.steps.setValue(4)
    view.compare_full.trigger()  # Setup's length: 4 steps each
    launched = []

    def show_other_runs(launch) -> None:  # clicks on Runs > Show while the experiment trains
        launched.append(launch.name)
        if len(launched) in (1, 3):
            _click_show(view, "Other-run" if len(launched) == 1 else "Another-run")

    window.training.launched.connect(show_other_runs)
    actions = view.compare_button.menu().actions()
    next(a for a in actions if a.objectName() == "degradationAction").trigger()
    names = ["Tiny-4", "Tiny-4 (plain)", "Tiny-8", "Tiny-8 (plain)"]
    summary = window.findChild(object, "compareSummary")
    qtbot.waitUntil(lambda: summary.isVisible(), timeout=300_000)
    assert launched == names
    shown = [run.name for run in view.runs]  # the plots hold six: the last four are not the four
    assert shown == ["Tiny-4", "Other-run", "Tiny-4 (plain)", "Tiny-8", "Another-run", "Tiny-8 (plain)"]
    text = summary.text()
    assert all(f"{name} training loss" in text for name in names), text
    assert "Other-run" not in text and "Another-run" not in text, text
    assert "0.050" not in text and "0.070" not in text, text  # nor the shown runs' losses
    comparison = window.state.comparisons[-1]  # the verdict is the model's, from the runs' records
    assert [run.name for run in comparison.runs] == names and text == comparison.verdict
    for run in comparison.runs:  # each network's own smoothed loss, as the engine reported it
        assert run.step == 4 and f"{run.name} training loss {run.smoothed_loss:.3f}" in text
    followed = [run for run in window.state.runs if run.origin == "followed"]
    assert [run.name for run in followed] == ["Other-run", "Another-run"]  # in the model, not the verdict
    assert followed[0].smoothed_loss == pytest.approx(0.05) and followed[0].accuracy == pytest.approx(0.99)


def _shown(setup) -> dict:
    boxes = ("epochs", "steps", "batch_size", "lr", "momentum", "weight_decay", "seed", "val_fraction")
    return {name: getattr(setup, name).value() for name in boxes} | {
        "recipe": setup.recipe.currentData(),
        "schedule": setup.schedule.currentText(),
        "optimizer": setup.optimizer.currentText(),
        "data": (setup.data_kind.currentText(), setup.data_path.text()),
        "checks": (setup.download.isChecked(), setup.tta.isChecked(), setup.augment.isChecked()),
    }


def test_setup_goes_into_the_project_file_and_comes_back(window, qtbot, tmp_path):
    setup = window.train_view.setup
    setup.recipe.setCurrentIndex(setup.recipe.findData("he2015"))
    setup.recipe.activated.emit(setup.recipe.currentIndex())  # as the user picks it
    assert setup.epochs.value() != 3 and setup.schedule.currentText() == "step"
    setup.download.setChecked(True)
    setup.tta.setChecked(True)
    setup.data_path.setText(str(tmp_path / "cifar"))
    setup.data_kind.setCurrentText("cifar10")
    setup.seed.setValue(11)
    shown = _shown(setup)
    assert window.save_as(tmp_path / "net.rsproj")
    saved = json.loads((tmp_path / "net.rsproj").read_text())
    assert saved.get("recipe") == "he2015" and saved["training"]["download"] is True
    assert saved["training"]["data"] == f"cifar10:{tmp_path / 'cifar'}" and saved["training"]["seed"] == 11
    window.new_file()
    assert _shown(setup) == shown  # a new network keeps Setup's settings
    setup.recipe.setCurrentIndex(0)
    setup.recipe.activated.emit(0)
    setup.download.setChecked(False)
    setup.data_kind.setCurrentText("demo")
    assert _shown(setup) != shown
    assert window.open_file(tmp_path / "net.rsproj")
    assert _shown(setup) == shown
    settings = window.state.setup.settings  # what the boxes show is the model's
    assert (settings.recipe, settings.seed, settings.download) == ("he2015", 11, True)


def test_a_twin_comparison_names_its_pair_in_the_model(window, qtbot):
    view = window.train_view
    window.document.replace(dataclasses.replace(TINY, name="Tiny"), None)
    view.setup.steps.setValue(3)
    view.compare_full.trigger()
    view.compare()
    qtbot.waitUntil(lambda: bool(window.state.comparisons), timeout=180_000)
    comparison = window.state.comparisons[-1]
    assert comparison.kind == "twins" and [r.name for r in comparison.runs] == ["residual", "plain"]
    assert all(run.accuracy is not None and run.grads for run in comparison.runs)
    summary = window.findChild(object, "compareSummary")
    assert "residual Tiny reached" in summary.text() and summary.text() == comparison.verdict


def test_the_project_file_is_written_from_the_model(window, tmp_path):
    """Settings given to the model (not typed into a box) are what the file saves, and the boxes
    show them; a box's edit reaches the model at once."""
    state, setup = window.state, window.train_view.setup
    state.setup.update(seed=23, lr=0.05, epochs=7, data_kind="cifar100", data_path=str(tmp_path / "c"))
    assert (setup.seed.value(), setup.lr.value(), setup.epochs.value()) == (23, 0.05, 7)
    assert setup.data_kind.currentText() == "cifar100"
    setup.momentum.setValue(0.8)  # as the user types it
    assert state.setup.settings.momentum == 0.8
    assert window.save_as(tmp_path / "model.rsproj")
    training = json.loads((tmp_path / "model.rsproj").read_text())["training"]
    assert (training["seed"], training["lr"], training["epochs"], training["momentum"]) == (23, 0.05, 7, 0.8)
    assert training["data"] == f"cifar100:{tmp_path / 'c'}"
    assert training == state.setup.config().to_dict()


def test_every_box_of_setup_shows_a_setting_of_the_model(window):
    """Views hold no state the model lacks: each input box of the Setup panel is bound to a field
    of `SetupSettings` (a box left out of the bindings would train with a value no project saves)."""
    from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox, QComboBox, QLineEdit, QWidget

    from resnet_studio.session import SetupSettings

    setup = window.train_view.setup
    inputs = (QAbstractSpinBox, QCheckBox, QComboBox, QLineEdit)
    widgets = setup.findChildren(QWidget)
    boxes = [w for w in widgets if isinstance(w, inputs) and not isinstance(w.parent(), inputs)]  # no editor
    bound = {id(getattr(setup, name)): name for name in setup.bindings}
    unbound = [box.objectName() or type(box).__name__ for box in boxes if id(box) not in bound]
    assert len(boxes) >= 20 and not unbound, unbound
    fields = {f.name for f in dataclasses.fields(SetupSettings)} - {"extras"}
    assert set(setup.bindings) == fields  # and every setting has its box
