"""Loss landscape: checked against answers known in advance (the slice's centre and the line's ends
are losses `evaluate` gives), then through the command line on a run trained here."""

import json

import pytest
import torch

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec
from resnet_studio.cli import main
from resnet_studio.data.sources import DataSet
from resnet_studio.inspection.evaluate import evaluate
from resnet_studio.inspection.landscape import filter_normalized_direction, loss_landscape
from resnet_studio.nn import build_model
from resnet_studio.training import TrainConfig, Trainer, run_training

SMALL = ArchitectureSpec(
    name="Small",
    input=InputSpec(3, 32),
    classes=10,
    stem=StemSpec(channels=8),
    stages=(StageSpec("basic", 1, 8, 1), StageSpec("basic", 1, 16, 2)),
)


def _images(small_demo) -> DataSet:
    return DataSet(small_demo.val.images[:96], small_demo.val.labels[:96])


def test_filter_normalised_directions_match_each_filters_norm():
    model = build_model(SMALL)
    direction = filter_normalized_direction(model, torch.Generator().manual_seed(0))
    conv = model.stage1.block1.conv1.weight
    d = direction["stage1.block1.conv1.weight"]
    assert torch.allclose(d.flatten(1).norm(dim=1), conv.detach().flatten(1).norm(dim=1), rtol=1e-5)
    assert not torch.allclose(d, conv)  # a random direction, not the weights
    assert "stem.bn.weight" not in direction and "head.fc.bias" not in direction  # BN and biases stay


def test_the_slice_centre_and_the_line_ends_are_the_losses_evaluate_gives(small_demo):
    data = _images(small_demo)
    mean, std = small_demo.mean, small_demo.std
    initial = build_model(SMALL)
    torch.manual_seed(1)
    trained = build_model(SMALL)
    with torch.no_grad():  # BatchNorm statistics away from their defaults, as after training
        for module in trained.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    result = loss_landscape(trained, data, mean, std, initial=initial.state_dict(), grid=5, line_points=6)
    assert all(torch.equal(before[k], v) for k, v in trained.state_dict().items())  # weights restored
    expected = evaluate(trained, data, small_demo.classes, mean, std).loss
    assert result.origin_loss == pytest.approx(expected, rel=1e-5)
    assert result.surface[2][2] == pytest.approx(expected, rel=1e-5)  # the centre of a 5x5 grid
    assert len(result.surface) == 5 and all(len(row) == 5 for row in result.surface)
    assert result.x == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert len({round(v, 6) for row in result.surface for v in row}) > 20  # the loss does vary
    t, losses = result.line_t, result.line_loss
    assert t is not None and losses is not None and len(t) == len(losses) == 6
    assert t[0] == pytest.approx(-0.2) and t[-1] == pytest.approx(1.2)
    start = evaluate(initial, data, small_demo.classes, mean, std).loss
    ends = loss_landscape(trained, data, mean, std, initial=initial.state_dict(), grid=2, line_points=8)
    assert ends.line_t is not None and ends.line_loss is not None  # t = -0.2, 0, 0.2, ..., 1.2
    by_t = {round(x, 6): y for x, y in zip(ends.line_t, ends.line_loss, strict=True)}
    assert by_t[0.0] == pytest.approx(start, rel=1e-4)
    assert by_t[1.0] == pytest.approx(expected, rel=1e-4)


def test_landscape_command_uses_the_runs_initial_weights(small_demo, tmp_path, capsys):
    run = tmp_path / "run"
    run_training(Trainer(SMALL, TrainConfig(epochs=1, batch_size=64, threads=2), run, data=small_demo))
    assert (run / "checkpoints" / "init.pt").is_file()
    code = main(["landscape", str(run), "--limit-val", "64", "--grid", "3", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert (
        out["images"] == 64 and len(out["surface"]["loss"]) == 3 and out["surface"]["x"] == [-1.0, 0.0, 1.0]
    )
    assert out["surface"]["loss"][1][1] == pytest.approx(out["origin_loss"], rel=1e-5)
    assert len(out["line"]["t"]) == 25 and out["line"]["loss"][0] != out["line"]["loss"][-1]
    assert main(["landscape", str(run), "--grid", "1"]) == 2
    assert "--grid 1: must be from 2 to 101" in capsys.readouterr().err
