"""Block anatomy: every step of one image through one block, checked against the block itself,
for every kind of block and shortcut, and through `resnet-studio anatomy`."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec
from resnet_studio.cli import main
from resnet_studio.inspection.anatomy import block_anatomy
from resnet_studio.inspection.contributions import block_contributions
from resnet_studio.nn import build_model
from resnet_studio.nn.checkpoint import save_checkpoint


def network(block: str, shortcut: str = "projection", downsample_by: str = "stride", groups: int = 1):
    """A small network of `block`s, its weights and BatchNorm statistics random (as trained ones)."""
    spec = ArchitectureSpec(
        name="Anatomy",
        input=InputSpec(3, 16),
        classes=5,
        stem=StemSpec(channels=8),
        stages=(
            StageSpec(block, 2, 8 if block != "bottleneck" else 16, 1, groups),
            StageSpec(block, 1, 16 if block != "bottleneck" else 32, 2, groups),
        ),
        shortcut=shortcut,
        downsample_by=downsample_by,
    )
    torch.manual_seed(0)
    model = build_model(spec)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.3, 0.3)
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


CASES = [
    ("basic", "projection", "stride", 1),
    ("basic", "zero-pad", "stride", 1),
    ("basic", "none", "stride", 1),
    ("basic", "projection", "maxpool", 1),
    ("bottleneck", "projection", "stride", 2),
    ("preact", "projection", "stride", 1),
    ("preact", "zero-pad", "maxpool", 1),
]


@pytest.mark.parametrize(("block", "shortcut", "downsample_by", "groups"), CASES)
def test_the_steps_end_in_the_blocks_own_output_and_the_sum_is_branch_plus_shortcut(
    block, shortcut, downsample_by, groups
):
    model = network(block, shortcut, downsample_by, groups)
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    for name, module in model.named_blocks():
        outputs: dict = {}
        hook = module.register_forward_hook(
            lambda _m, _i, out, kept=outputs: kept.setdefault("out", out.clone())
        )
        with torch.no_grad():
            model(x)
        hook.remove()
        anatomy = block_anatomy(model, x, name)
        stages = {s.name: s.tensor for s in anatomy.stages}
        assert anatomy.stages[0].name == "x" and anatomy.stages[-1].name == "output"
        assert torch.equal(stages["output"], outputs["out"][0])  # exactly the block's real output
        if shortcut == "none":
            assert anatomy.ratio is None and "shortcut(x)" not in stages
            assert anatomy.without_branch is None
        else:
            assert torch.equal(stages["F(x) + shortcut(x)"], stages["F(x)"] + stages["shortcut(x)"])
            want = block_contributions(model, x, per_image=True)[name]
            assert anatomy.ratio == pytest.approx(float(want[0]), rel=1e-5)
        assert anatomy.kind == block
        assert torch.allclose(anatomy.probabilities.sum(), torch.tensor(1.0))


def test_dropping_the_branch_or_the_shortcut_gives_the_networks_answer_without_it():
    model = network("basic")
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    anatomy = block_anatomy(model, x, "stage1.block2")
    block = dict(model.named_blocks())["stage1.block2"]
    with torch.no_grad():
        # the branch made to add nothing: its last BatchNorm's scale and shift at zero
        saved = block.bn2.weight.clone(), block.bn2.bias.clone()
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
        without_branch = torch.softmax(model(x)[0], 0)
        block.bn2.weight.copy_(saved[0])
        block.bn2.bias.copy_(saved[1])
        block.residual = False  # the shortcut taken away
        without_shortcut = torch.softmax(model(x)[0], 0)
        block.residual = True
    assert torch.allclose(anatomy.without_branch, without_branch, atol=1e-6)
    assert torch.allclose(anatomy.without_shortcut, without_shortcut, atol=1e-6)
    assert not torch.allclose(anatomy.without_branch, anatomy.probabilities, atol=1e-4)
    assert torch.equal(block_anatomy(model, x, "stage1.block2").probabilities, anatomy.probabilities)


def test_the_command_line_gives_the_same_numbers_and_names_a_wrong_block(tmp_path, capsys):
    model = network("basic", "zero-pad")
    checkpoint = tmp_path / "net.pt"
    save_checkpoint(
        checkpoint,
        {
            "architecture": model.spec.to_dict(),
            "model": model.state_dict(),
            "classes": list("abcde"),
            "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
        },
    )
    picture = tmp_path / "picture.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(picture)
    assert main(["anatomy", str(checkpoint), str(picture), "--block", "stage2.block1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    names = [s["name"] for s in result["stages"]]
    assert names[0] == "x" and names[-3:] == ["shortcut(x)", "F(x) + shortcut(x)", "output"]
    assert result["shortcut"] == "zero-pad" and result["ratio"] > 0
    assert len(result["prediction"]) == 3 and result["without_branch"] and result["without_shortcut"]
    x = torch.from_numpy(np.array(Image.open(picture))).permute(2, 0, 1)[None].float() / 255
    x = (x - 0.5) / 0.25
    direct = block_anatomy(model, x, "stage2.block1")
    assert result["ratio"] == pytest.approx(direct.ratio, rel=1e-5)

    assert main(["anatomy", str(checkpoint), str(picture), "--block", "stage9.block1"]) == 2
    assert "stage9.block1" in capsys.readouterr().err

    # Weights whose answers average the mirror (the shipped CIFAR-10 ResNet-20's): the text says
    # its prediction is one view, so a percentage beside `classify`'s is not taken for a mistake.
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(picture)
    for weights, averaged in (("resnet20-cifar10", True), ("resnet20-demo", False)):
        assert main(["anatomy", weights, str(picture), "--block", "stage2.block1"]) == 0
        out = capsys.readouterr().out
        assert ("prediction (one view; classify averages it with the mirror):" in out) is averaged
