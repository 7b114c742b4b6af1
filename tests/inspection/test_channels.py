"""What a channel looks for: its top images (checked against a brute-force search), the crops of
their receptive fields, an optimised image that excites it, and `resnet-studio channel`."""

import json
import os

import numpy as np
import pytest
import torch

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec
from resnet_studio.cli import main
from resnet_studio.inspection.channels import Cancelled, contact_sheet, index_channels
from resnet_studio.inspection.maximise import colour_sqrt, maximise_channel
from resnet_studio.nn import build_model
from resnet_studio.nn.checkpoint import save_checkpoint

MEAN, STD = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]


def small_network(size: int = 16, classes: int = 4):
    spec = ArchitectureSpec(
        name="Small",
        input=InputSpec(3, size),
        classes=classes,
        stem=StemSpec(channels=8),
        stages=(StageSpec("basic", 1, 8, 1), StageSpec("basic", 1, 16, 2)),
    )
    torch.manual_seed(0)
    model = build_model(spec)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def random_images(n: int = 120, size: int = 16) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).integers(0, 256, (n, 3, size, size), dtype=np.uint8))


def test_the_top_images_are_those_with_the_largest_peak_and_each_crop_is_its_receptive_field():
    model, images = small_network(), random_images()
    index = index_channels(model, images, MEAN, STD, batch_size=50)
    block = dict(model.named_blocks())["stage2.block1"]
    with torch.no_grad():
        outputs = []
        hook = block.register_forward_hook(lambda _m, _i, o: outputs.append(o.clone()) and None)
        model((images.float() / 255 - 0.5) / 0.25)
        hook.remove()
    channel = 5
    peaks = outputs[0][:, channel].flatten(1).max(1).values
    top = index.top("stage2.block1", channel, k=9)
    assert [t.index for t in top] == peaks.topk(9).indices.tolist()
    assert [t.value for t in top] == pytest.approx(peaks.topk(9).values.tolist(), rel=1e-5)
    field = index.fields["stage2.block1"]
    for t, crop in zip(top, index.crops(top), strict=True):
        assert outputs[0][t.index, channel, t.row, t.col] == pytest.approx(t.value, rel=1e-5)
        assert t.box == field.box(t.row, t.col, 16)
        assert crop.shape == (3, t.box[2] - t.box[0], t.box[3] - t.box[1])
        assert np.array_equal(crop, images[t.index, :, t.box[0] : t.box[2], t.box[1] : t.box[3]].numpy())
    assert index.channels("stem") == 8 and index.channels("stage2.block1") == 16
    sheet = contact_sheet(index.crops(top), tile=32)
    assert sheet.shape == (3 * 32 + 2 * 4, 3 * 32 + 2 * 4, 3)


def test_indexing_stops_when_cancelled():
    with pytest.raises(Cancelled):
        index_channels(small_network(), random_images(), MEAN, STD, batch_size=20, cancelled=lambda: True)


def test_the_optimised_image_excites_its_channel_more_than_any_image_and_changes_no_weight():
    model, images = small_network(), random_images()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    steps = []
    picture, value = maximise_channel(
        model,
        "stage2.block1",
        3,
        MEAN,
        STD,
        colour=colour_sqrt(images),
        steps=40,
        lr=0.05,
        progress=lambda done, total: steps.append((done, total)),
    )
    assert picture.dtype == np.uint8 and picture.shape == (3, 16, 16)
    assert steps[-1] == (40, 40)
    block = dict(model.named_blocks())["stage2.block1"]
    with torch.no_grad():
        means = []
        hook = block.register_forward_hook(lambda _m, _i, o: means.append(o[:, 3].mean((1, 2))) and None)
        model((images.float() / 255 - 0.5) / 0.25)
        hook.remove()
    assert value > float(means[0].max())  # beyond every image's mean activation of the channel
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    again, _ = maximise_channel(
        model, "stage2.block1", 3, MEAN, STD, colour=colour_sqrt(images), steps=40, lr=0.05
    )
    assert np.array_equal(picture, again)  # seeded: the same image each time


def test_colour_decorrelation_is_the_root_of_the_pixels_covariance():
    images = random_images(300)
    images[:, 1] = images[:, 0]  # green copies red: fully correlated
    root = colour_sqrt(images).double()
    pixels = images.permute(1, 0, 2, 3).reshape(3, -1).double() / 255
    cov = torch.cov(pixels)
    assert torch.allclose(root @ root.T / (root @ root.T).max(), cov / cov.max(), atol=1e-6)


def test_the_command_writes_the_top_images_the_optimised_image_and_a_summary(tmp_path, capsys):
    model = small_network(32, 10)
    checkpoint = tmp_path / "net.pt"
    save_checkpoint(
        checkpoint,
        {
            "architecture": model.spec.to_dict(),
            "model": model.state_dict(),
            "classes": [f"class {i}" for i in range(10)],
            "normalization": {"mean": MEAN, "std": STD},
        },
    )
    out = tmp_path / "channel"
    args = ["channel", str(checkpoint), "--data", "demo", "--limit-val", "60", "--block", "stage1.block1"]
    assert main([*args, "--channel", "2", "--steps", "3", "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["channel.json", "optimised.png", "top9.png"]
    summary = json.loads((out / "channel.json").read_text())
    activations = [t["activation"] for t in summary["top"]]
    assert len(activations) == 9 and activations == sorted(activations, reverse=True)
    assert summary["receptive_field"] == 7 and summary["images"] == 60
    capsys.readouterr()
    assert main([*args, "--channel", "8", "--steps", "3", "--out", str(out)]) == 2
    assert "channels 0 to 7" in capsys.readouterr().err
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert main([*args, "--channel", "2", "--steps", "3", "--out", str(link)]) == 2
    assert not (tmp_path / "elsewhere").exists()


def test_a_channel_the_block_lacks_is_refused_before_any_image_is_read(tmp_path, capsys):
    args = ["channel", "resnet20-demo", "--block", "stage2.block1", "--out", str(tmp_path / "out")]
    # The data named does not exist: the refusal of the channel comes first, so nothing was read.
    assert main([*args, "--channel", "32", "--data", f"folder:{tmp_path / 'none'}"]) == 2
    err = capsys.readouterr().err
    assert "--channel 32: stage2.block1 has channels 0 to 31" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
