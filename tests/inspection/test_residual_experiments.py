"""Lesion study and representation similarity: each checked against an answer known in advance,
then through the command line on a network trained here."""

import dataclasses
import json

import pytest
import torch

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec, get_preset
from resnet_studio.cli import main
from resnet_studio.inspection.lesion import lesion_study, lesioned, removable_blocks
from resnet_studio.inspection.similarity import MAX_FEATURES, _bounded, block_grams, linear_cka, similarity
from resnet_studio.nn import build_model
from resnet_studio.training import TrainConfig, Trainer, run_training

SMALL = ArchitectureSpec(
    name="Small",
    input=InputSpec(3, 32),
    classes=10,
    stem=StemSpec(channels=8),
    stages=(StageSpec("basic", 2, 8, 1), StageSpec("basic", 2, 16, 2)),
    shortcut="zero-pad",
)


def test_cka_of_a_representation_with_itself_is_one_whatever_its_rotation_or_scale():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 30, generator=generator)
    rotation, _ = torch.linalg.qr(torch.randn(30, 30, generator=generator))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, x @ rotation) == pytest.approx(1.0)  # an orthogonal transform
    assert linear_cka(x, 7.5 * x) == pytest.approx(1.0)  # isotropic scaling
    assert linear_cka(x, x + 3.0) == pytest.approx(1.0)  # a shift: CKA centres
    unrelated = torch.randn(200, 30, generator=generator)
    assert linear_cka(x, unrelated) < 0.3
    stretched = x * torch.linspace(0.1, 10, 30)  # not isotropic: no longer the same
    assert linear_cka(x, stretched) < 0.95


def test_removable_blocks_are_those_whose_shape_does_not_change():
    model = build_model(get_preset("resnet20"))
    names = removable_blocks(model)
    assert len(names) == 7 and "stage2.block1" not in names and "stage3.block1" not in names
    assert names[0] == "stage1.block1" and names[-1] == "stage3.block3"
    assert removable_blocks(build_model(get_preset("plain20"))) == names  # the same for the twin


def test_removing_a_block_whose_branch_is_zero_changes_nothing():
    model = build_model(SMALL).eval()
    block = dict(model.named_blocks())["stage1.block2"]
    torch.nn.init.zeros_(block.last_bn().weight)
    torch.nn.init.zeros_(block.last_bn().bias)  # the branch adds exactly nothing
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        whole = model(x)
        with lesioned(model, ["stage1.block2"]):
            without = model(x)
        with lesioned(model, ["stage1.block1"]):  # a block that does add something
            other = model(x)
        assert torch.allclose(model(x), whole)  # the hook is gone afterwards
    assert torch.allclose(whole, without, atol=1e-6)
    assert not torch.allclose(whole, other, atol=1e-3)
    with pytest.raises(ValueError, match="no such blocks"), lesioned(model, ["stage9.block1"]):
        pass


@pytest.fixture(scope="module")
def trained_pair(tmp_path_factory, demo_slice):
    """The small network and its plain twin, two epochs on 512 demo images each: the tests read the
    studies' shape and arithmetic, which any trained weights show."""
    data = demo_slice(512, 300)
    root = tmp_path_factory.mktemp("pair")
    for name, shortcut in (("residual", "zero-pad"), ("plain", "none")):
        spec = dataclasses.replace(SMALL, shortcut=shortcut, name=name)
        run_training(Trainer(spec, TrainConfig(epochs=2, batch_size=64, threads=2), root / name, data=data))
    return root, data


def test_lesion_study_measures_every_removable_block_and_k_random_ones(trained_pair):
    from resnet_studio.inspection.evaluate import evaluate
    from resnet_studio.nn.checkpoint import model_from_checkpoint

    root, data = trained_pair
    loaded = model_from_checkpoint(root / "residual")
    seen = []
    args = (loaded.model, data.val, loaded.classes, loaded.mean, loaded.std)
    result = lesion_study(*args, draws=2, progress=lambda done, total: seen.append((done, total)))
    assert [name for name, _ in result.blocks] == ["stage1.block1", "stage1.block2", "stage2.block2"]
    assert [k for k, _ in result.random] == [1, 2, 3]
    assert seen[-1] == (9, 9)  # whole, 3 single blocks, 2 draws for k = 1 and 2, one set for k = 3
    assert result.baseline == evaluate(*args).accuracy
    with lesioned(loaded.model, ["stage1.block1", "stage1.block2", "stage2.block2"]):
        assert result.random[-1][1] == evaluate(*args).accuracy  # k = n: every removable block out


def test_lesion_and_similarity_from_the_command_line(trained_pair, capsys):
    root, _ = trained_pair
    code = main(["lesion", str(root / "residual"), "--limit-val", "200", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"baseline", "blocks", "random"}
    assert out["blocks"][0] == {"block": "stage1.block1", "accuracy": out["blocks"][0]["accuracy"]}
    assert all(0 <= entry["accuracy"] <= 1 for entry in out["blocks"] + out["random"])
    code = main(["similarity", str(root / "residual"), "--versus", str(root / "plain"), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    names = ["stem", "stage1.block1", "stage1.block2", "stage2.block1", "stage2.block2"]
    assert out["rows"] == names and out["columns"] == names
    assert len(out["cka"]) == 5 and all(0 <= v <= 1.0000001 for row in out["cka"] for v in row)
    code = main(["similarity", str(root / "residual"), "--json"])
    same = json.loads(capsys.readouterr().out)["cka"]
    assert all(same[i][i] == pytest.approx(1.0) for i in range(5))  # each block against itself
    assert all(same[i][j] == pytest.approx(same[j][i]) for i in range(5) for j in range(5))


def test_similarity_refuses_probes_of_different_sizes(demo_splits):
    model = build_model(SMALL)
    a = block_grams(model, demo_splits.val.subset(20, 0), demo_splits.mean, demo_splits.std)
    b = block_grams(model, demo_splits.val.subset(30, 0), demo_splits.mean, demo_splits.std)
    with pytest.raises(ValueError, match="different numbers of images"):
        similarity(a, b)


def test_large_block_outputs_are_pooled_to_a_bounded_size_and_small_ones_kept_whole():
    cifar = torch.randn(3, 16, 32, 32)
    assert torch.equal(_bounded(cifar), cifar)  # 16,384 numbers: CKA of the outputs themselves
    imagenet = _bounded(torch.randn(3, 64, 112, 112))  # a ResNet-18 stem: 802,816 numbers an image
    assert imagenet.shape[:2] == (3, 64) and imagenet[0].numel() <= MAX_FEATURES
