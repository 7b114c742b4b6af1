"""Batches that cannot work or cost too much: one image where BatchNorm sees 1x1 feature maps is
refused up front by name, and evaluation's batch is bounded by the network's activation memory."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec, cost, get_preset
from resnet_studio.architecture.analysis import analyze
from resnet_studio.data.sources import DataSet, DataSplits, channel_stats
from resnet_studio.errors import UserError
from resnet_studio.inspection.evaluate import evaluate
from resnet_studio.nn.model import build_model
from resnet_studio.training import TrainConfig, Trainer
from resnet_studio.training.device import device_memory, settings_for
from resnet_studio.training.engine import run_training
from resnet_studio.training.setup import validate

# 8 px in, three stride-2 stages: the last one is 1x1.
ONE_BY_ONE = ArchitectureSpec(
    name="Pinhole",
    input=InputSpec(3, 8),
    classes=2,
    stem=StemSpec(channels=4, kernel=3, stride=1),
    stages=(StageSpec("basic", 1, 4, 2), StageSpec("basic", 1, 8, 2), StageSpec("basic", 1, 8, 2)),
    shortcut="projection",
)


def splits(train: int, val: int = 4, size: int = 8) -> DataSplits:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (train + val, 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.arange(train + val) % 2
    mean, std = channel_stats(images[:train])
    return DataSplits(
        "demo",
        ["a", "b"],
        DataSet(images[:train], labels[:train]),
        DataSet(images[train:], labels[train:]),
        mean,
        std,
    )


def test_batch_size_1_on_1x1_feature_maps_is_refused_with_the_reason(tmp_path):
    assert analyze(ONE_BY_ONE).layers[-2].output_shape[1:] == (1, 1)
    trainer = Trainer(
        ONE_BY_ONE, TrainConfig(epochs=1, batch_size=1, device="cpu", threads=1), data=splits(6)
    )
    with pytest.raises(
        UserError,
        match=r"batch_size: 1 image a step cannot train: Pinhole has 1x1 feature maps, "
        r"and BatchNorm needs more than one value per channel",
    ):
        run_training(trainer)


def test_a_single_training_image_on_1x1_feature_maps_is_refused_with_the_reason():
    trainer = Trainer(
        ONE_BY_ONE, TrainConfig(epochs=1, batch_size=8, device="cpu", threads=1), data=splits(1)
    )
    with pytest.raises(UserError, match=r"data: 1 training image cannot train: Pinhole has 1x1 feature maps"):
        run_training(trainer)


def test_batch_size_1_trains_where_the_feature_maps_stay_larger_and_2_images_train_at_1x1():
    wider = replace(ONE_BY_ONE, input=InputSpec(3, 16))  # smallest maps 2x2: 4 values per channel
    assert (
        run_training(
            Trainer(
                wider, TrainConfig(epochs=1, batch_size=1, device="cpu", threads=1), data=splits(3, size=16)
            )
        ).status
        == "completed"
    )
    assert (
        run_training(
            Trainer(ONE_BY_ONE, TrainConfig(epochs=1, batch_size=2, device="cpu", threads=1), data=splits(2))
        ).status
        == "completed"
    )


def test_a_384_pixel_network_evaluates_in_batches_its_memory_allows():
    big = analyze(replace(get_preset("resnet20"), input=InputSpec(3, 384)))
    estimate = cost.estimate(big)
    assert estimate.inference(256) - estimate.weights > 5 * 2**30  # what 256 at a time needed
    batch = cost.evaluation_batch(big)
    assert 1 <= batch < 256 and estimate.inference(batch) - estimate.weights <= cost.EVAL_MEMORY
    assert cost.evaluation_batch(analyze(get_preset("resnet20"))) == 256  # CIFAR size: as before


def _batch_sizes(model):
    seen: list[int] = []
    model.register_forward_hook(lambda _m, args, _out: seen.append(len(args[0])))
    return seen


def test_evaluation_and_validation_during_training_use_the_bounded_batch(monkeypatch, tiny_spec):
    spec = replace(tiny_spec, input=InputSpec(3, 16), classes=2)
    per_image = cost.estimate(analyze(spec)).inference(1) - cost.estimate(analyze(spec)).weights
    monkeypatch.setattr(cost, "EVAL_MEMORY", 5 * per_image)  # as a large input would make it
    data = splits(4, val=12, size=16)
    model = build_model(spec)
    seen = _batch_sizes(model)
    evaluate(model, data.val, data.classes, data.mean, data.std, size=16)
    assert seen == [5, 5, 2]  # not one batch of 12 (the default was 256)
    seen.clear()
    cfg = TrainConfig(epochs=1, batch_size=1, device="cpu", threads=1)
    expected = cost.evaluation_batch(analyze(spec), 1, device_memory(torch.device("cpu")))

    validate(model, data, spec, cfg, settings_for(torch.device("cpu"), False, False, 1))
    assert expected < 12 and seen == [expected] * (12 // expected) + (
        [12 % expected] if 12 % expected else []
    )


def test_the_studio_train_button_shows_the_same_message(qtbot, tmp_path):
    from PySide6.QtCore import Qt

    from resnet_studio.ui import MainWindow
    from resnet_studio.ui.common.workspaces import Workspace

    window = MainWindow()
    window.document.replace(replace(ONE_BY_ONE, classes=10), None)
    view = window.train_view
    view.runs_root = tmp_path / "runs"
    view.setup.batch_size.setValue(1)
    window.show_workspace(Workspace.TRAIN)
    window.show()
    try:
        qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "cannot train" in view.message.text(), timeout=60_000)
        qtbot.waitUntil(lambda: not view.training, timeout=60_000)
        text = view.message.text()
        assert "batch_size: 1 image a step cannot train: Pinhole has 1x1 feature maps" in text
        assert "Expected more than 1 value" not in text and "Traceback" not in text
    finally:
        view.stop_and_wait()
        window.document.undo_stack.setClean()
        window.close()
        window.deleteLater()
