"""The session model without Qt: Setup's settings, the runs' records, the comparisons' verdicts
computed from those records, and the project file written from (and read into) the model."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from resnet_studio.architecture import get_preset
from resnet_studio.errors import UserError
from resnet_studio.project import Project, open_file, save_project
from resnet_studio.runs.metrics import MetricsRecord
from resnet_studio.session import Event, RunRecord, SessionModel, SetupModel, SetupSettings
from resnet_studio.session.setup import MACHINE
from resnet_studio.training.config import TrainConfig
from resnet_studio.training.recipes import RECIPES


def trained(name: str, losses: list[float], accuracy: float, grads: tuple[float, ...] = ()) -> RunRecord:
    record = RunRecord(name, Path("/runs") / name.replace(" ", "-"))
    for step, loss in enumerate(losses, 1):
        record.add_step(step, loss, grads)
    record.add_evaluation(1, len(losses), losses[-1], accuracy)
    return record


DEGRADATION = {  # network: (losses per step, validation accuracy)
    "Net-20": ([2.3, 1.0, 0.5], 0.80),
    "Net-20 (plain)": ([2.3, 1.5, 0.9], 0.60),
    "Net-56": ([2.3, 0.9, 0.4], 0.82),
    "Net-56 (plain)": ([2.3, 2.3, 2.3], 0.10),
}


def degradation(shown_between: int | None) -> SessionModel:
    """The degradation experiment's four runs; with `shown_between`, a run shown from disk (Runs >
    Show) after that many of them have started."""
    session = SessionModel()
    session.begin_comparison("degradation", "Net-20", classes=10)
    for i, (name, (losses, accuracy)) in enumerate(DEGRADATION.items()):
        if i == shown_between:
            shown = session.add_run(RunRecord("Other-run", Path("/elsewhere/Other-run"), "followed"))
            shown.add_step(5, 0.01)
            shown.add_evaluation(1, 5, 0.01, 0.99)
        session.add_run(trained(name, losses, accuracy))
    session.end_comparison(completed=True)
    return session


def test_a_degradation_verdict_names_its_four_runs_whatever_is_shown_meanwhile():
    quiet = degradation(None)
    for moment in range(4):
        shown = degradation(moment)
        comparison = shown.comparisons[-1]
        assert [run.name for run in comparison.runs] == list(DEGRADATION)
        assert comparison.verdict == quiet.comparisons[-1].verdict  # Runs > Show changed nothing
        assert "Other-run" not in comparison.verdict and len(shown.runs) == 5
    verdict = quiet.comparisons[-1].verdict
    # The figures are the records': the loss smoothed as the plot smooths it, the last accuracy.
    smooth = 0.9 * (0.9 * 2.3 + 0.1 * 1.0) + 0.1 * 0.5
    assert f"Net-20 training loss {smooth:.3f}, 80.0% validation accuracy" in verdict
    assert "Net-56 (plain) training loss 2.300" in verdict and "degradation problem" in verdict


def test_a_twins_verdict_comes_from_the_records_and_an_unfinished_comparison_has_none():
    session = SessionModel()
    done, abandoned = [], []
    session.comparison_done.connect(done.append)
    session.comparison_abandoned.connect(abandoned.append)
    session.begin_comparison("twins", "ResNet-20", classes=10)
    session.add_run(trained("residual", [2.0, 0.3], 0.91, grads=(1.0, 0.8, 0.8, 1.0)))
    session.add_run(RunRecord("shown", Path("/other"), "followed"))
    session.add_run(trained("plain", [2.0, 0.9], 0.70, grads=(1.0, 0.01, 0.8, 1.0)))
    assert session.comparing is not None and session.comparing.network == "ResNet-20"
    session.end_comparison(completed=True)
    assert done == session.comparisons and session.comparing is None
    verdict = done[0].verdict
    assert "residual ResNet-20 reached 91.0%" in verdict and "plain twin" in verdict and "70.0%" in verdict
    assert "signal fades" in verdict  # the plain net's first block got 1% of the last one's gradient
    session.begin_comparison("twins", "ResNet-20", classes=10)
    session.add_run(trained("residual", [2.0], 0.5))
    session.end_comparison(completed=False)  # stopped after its first run: no verdict
    assert len(abandoned) == 1 and abandoned[0].verdict is None and len(session.comparisons) == 1


def test_a_run_record_takes_a_metrics_file_and_skips_non_finite_losses():
    record = RunRecord("followed", origin="followed")
    record.add_record(MetricsRecord("train", 1, 1, 2.0, 0.1, 0.1, 100.0, 1.0, (0.5, 0.2)))
    record.add_record(MetricsRecord("train", 1, 2, math.nan, 0.1, 0.1, 100.0, 2.0))
    record.add_record(MetricsRecord("val", 1, 2, 1.5, 0.4, 0.0, 0.0, 3.0))
    assert record.smoothed_loss == 2.0 and record.grads == (0.5, 0.2) and record.step == 2
    assert record.accuracy == 0.4 and record.result().accuracy == 0.4


def test_events_call_their_observers_in_order_until_disconnected():
    event, heard = Event(), []
    first, second = (lambda x: heard.append(("first", x))), (lambda x: heard.append(("second", x)))
    event.connect(first)
    event.connect(second)
    event.connect(first)  # once only
    event.emit(1)
    event.disconnect(first)
    event.emit(2)
    assert heard == [("first", 1), ("second", 1), ("second", 2)] and len(event) == 1


def test_setup_settings_make_the_config_and_a_recipe_fills_them():
    setup = SetupModel()
    heard = []
    setup.changed.connect(heard.append)
    setup.update(epochs=7, data_kind="folder", data_path="/photos")
    config = setup.config()
    assert config.epochs == 7 and config.data == "folder:/photos" and config.grad_norms
    setup.update(epochs=7)  # no change, no event
    assert len(heard) == 1
    setup.apply_recipe("article")
    article = RECIPES["article"].settings
    assert setup.settings.recipe == "article" and setup.settings.optimizer == article["optimizer"]
    assert setup.config().epochs == article["epochs"] and setup.config().data == "folder:/photos"
    setup.update(lr=-1.0)  # a box may hold what cannot train: the config says which value
    with pytest.raises(UserError, match="lr"):
        setup.config()
    assert setup.project_training() == {}


def test_a_project_round_trips_every_setup_setting_through_the_model(tmp_path):
    values = SetupSettings(
        recipe="he2015",
        init="resnet20-cifar10",
        data_kind="cifar100",
        data_path="/data/cifar",
        download=True,
        limit_train=500,
        limit_val=50,
        data_memory=3_000_000_000,
        augment=False,
        tta=True,
        budget=90.0,
        epochs=9,
        steps=1234,
        val_fraction=0.1,
        batch_size=64,
        optimizer="adamw",
        schedule="cosine",
        lr=0.003,
        momentum=0.85,
        weight_decay=1e-4,
        label_smoothing=0.1,
        seed=42,
        device="cpu",
        threads=1,
        precision="bf16",
        extras={"tta_shift": 2, "nesterov": False},
    )
    default = SetupSettings()
    names = [f.name for f in dataclasses.fields(SetupSettings)]
    untouched = {name for name in names if getattr(values, name) == getattr(default, name)}
    assert untouched == set(), f"the test sets every field: {untouched}"
    session = SessionModel(SetupModel(values))
    session.remember(tmp_path / "runs" / "a")
    save_project(session.project(get_preset("resnet20"), tmp_path), tmp_path / "p.rsproj")
    saved = json.loads((tmp_path / "p.rsproj").read_text())
    assert saved["recipe"] == "he2015" and saved["runs"] == ["runs/a"] and saved["training"]["tta_shift"] == 2
    machine = SetupSettings(device="auto", threads=3)
    reopened = SessionModel(SetupModel(machine))
    reopened.open_project(open_file(tmp_path / "p.rsproj"), "p.rsproj: training.")
    back = reopened.setup.settings
    for name in (f.name for f in dataclasses.fields(SetupSettings)):
        expected = getattr(machine if name in MACHINE else values, name)
        if name == "extras":
            assert {k: back.extras[k] for k in expected} == expected
        else:
            assert getattr(back, name) == expected, name


def test_a_project_without_a_recipe_or_with_a_bad_one(tmp_path):
    old = Project(get_preset("resnet20"), TrainConfig(epochs=4).to_dict(), [])
    save_project(old, tmp_path / "old.rsproj")
    assert "recipe" not in json.loads((tmp_path / "old.rsproj").read_text())
    session = SessionModel()
    session.open_project(open_file(tmp_path / "old.rsproj"), "old.rsproj: ")
    assert session.setup.settings.epochs == 4 and session.setup.settings.recipe == SetupSettings().recipe
    data = json.loads((tmp_path / "old.rsproj").read_text()) | {"recipe": 3}
    (tmp_path / "bad.rsproj").write_text(json.dumps(data))
    with pytest.raises(UserError, match="recipe"):
        open_file(tmp_path / "bad.rsproj")
    data["recipe"], data["training"] = "no-such-recipe", {"epochs": 0}
    (tmp_path / "bad.rsproj").write_text(json.dumps(data))
    before = session.setup.settings
    with pytest.raises(UserError, match="epochs"):
        session.open_project(open_file(tmp_path / "bad.rsproj"), "bad.rsproj: training.")
    assert session.setup.settings == before  # a refused project leaves Setup as it was
