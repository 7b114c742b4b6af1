"""Block contributions ||F(x)|| / ||shortcut(x)||: checked against answers known in advance, then
live from the engine while a network trains."""

import json

import pytest
import torch

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec, get_preset
from resnet_studio.cli import main
from resnet_studio.inspection.contributions import block_contributions, residual_block_names
from resnet_studio.nn import build_model
from resnet_studio.training import TrainConfig, Trainer
from resnet_studio.training.events import Contributions, Finished


def _small(block: str, shortcut: str = "projection") -> ArchitectureSpec:
    return ArchitectureSpec(
        name="Small",
        input=InputSpec(3, 16),
        classes=4,
        stem=StemSpec(channels=8),
        stages=(StageSpec(block, 2, 8 if block != "bottleneck" else 16, 1), StageSpec(block, 1, 32, 2)),
        shortcut=shortcut,
    )


@pytest.mark.parametrize("block", ["basic", "bottleneck", "preact"])
def test_a_zero_initialised_branch_contributes_nothing(block):
    model = build_model(_small(block), zero_init_residual=True)
    ratios = block_contributions(model, torch.randn(6, 3, 16, 16))
    assert list(ratios) == residual_block_names(model) == ["stage1.block1", "stage1.block2", "stage2.block1"]
    assert all(value == pytest.approx(0.0, abs=1e-7) for value in ratios.values()), ratios
    assert model.training  # put back in the mode it was in


def test_the_ratio_is_the_branch_norm_over_the_shortcut_norm():
    model = build_model(_small("basic")).eval()
    block = dict(model.named_blocks())["stage1.block2"]  # an identity shortcut
    x = torch.randn(3, 3, 16, 16)
    seen = {}
    block.register_forward_pre_hook(lambda _m, inputs: seen.__setitem__("in", inputs[0].clone()))
    block.bn2.register_forward_hook(lambda _m, _i, out: seen.__setitem__("branch", out.clone()))
    per_image = block_contributions(model, x, per_image=True)["stage1.block2"]
    expected = seen["branch"].flatten(1).norm(dim=1) / seen["in"].flatten(1).norm(dim=1)
    assert torch.allclose(per_image, expected, rtol=1e-5)
    with torch.no_grad():  # doubling the branch's output doubles the ratio
        block.bn2.weight.mul_(2)
        block.bn2.bias.mul_(2)
    doubled = block_contributions(model, x, per_image=True)["stage1.block2"]
    assert torch.allclose(doubled, 2 * per_image, rtol=1e-4)


def test_plain_networks_have_no_contributions():
    assert block_contributions(build_model(get_preset("plain20")), torch.randn(2, 3, 32, 32)) == {}
    assert len(block_contributions(build_model(get_preset("resnet20")), torch.randn(2, 3, 32, 32))) == 9


def test_the_engine_reports_contributions_while_training_and_at_the_end(demo_slice):
    data = demo_slice(512, 64)
    cfg = TrainConfig(epochs=1, batch_size=64, contributions=True, contribution_interval=0.0, threads=1)
    trainer = Trainer(get_preset("resnet20"), cfg, data=data)
    trainer.pin_image(data.val.images[0].numpy())
    events = list(trainer.events())
    seen = [e for e in events if isinstance(e, Contributions)]
    assert isinstance(events[-1], Finished) and events[-1].status == "completed"
    assert len(seen) >= 8  # the untrained network, every logged step, the final weights
    assert seen[0].blocks == tuple(residual_block_names(build_model(get_preset("resnet20"))))
    assert all(len(e.probe) == len(e.pinned) == 9 for e in seen)
    assert all(v > 0 for e in seen for v in e.probe) and seen[0].probe != seen[-1].probe
    quiet = Trainer(get_preset("resnet20"), TrainConfig(epochs=1, batch_size=64, threads=1), data=data)
    assert not any(isinstance(e, Contributions) for e in quiet.events())  # off unless asked for


def test_contributions_from_the_command_line_on_the_shipped_demo_network(capsys):
    assert main(["contributions", "resnet20-demo", "--limit-val", "64", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 64 and len(result["blocks"]) == 9
    assert [row["block"] for row in result["blocks"]][:2] == ["stage1.block1", "stage1.block2"]
    assert all(0 < row["p10"] <= row["ratio"] <= row["p90"] * 1.5 for row in result["blocks"])
    assert main(["contributions", "resnet20-demo", "--limit-val", "32"]) == 0
    assert "stage3.block3" in capsys.readouterr().out
