"""The whitening stem: filters that decorrelate patches (a known answer), fixed while training,
carried by checkpoints and resumed runs."""

import dataclasses

import torch

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec
from resnet_studio.nn.checkpoint import load_checkpoint, model_from_checkpoint
from resnet_studio.nn.model import build_model
from resnet_studio.nn.whitening import EPS, patch_covariance, whitening_filters
from resnet_studio.training import CheckpointSaved, TrainConfig, Trainer

WHITENED = ArchitectureSpec(
    name="Whitened",
    stem=StemSpec(24, 2, 1, kind="whiten"),
    stages=(StageSpec("basic", 1, 16, 2), StageSpec("basic", 1, 32, 2)),
    downsample_by="maxpool",
)


def test_whitened_patches_are_uncorrelated_with_unit_variance():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(300, 3, 12, 12, generator=generator)
    x[:, 1] = 0.8 * x[:, 0] + 0.6 * x[:, 1]  # correlated channels, as red and green are
    x[:, :, :, 1:] += 0.5 * x[:, :, :, :-1].clone()  # and neighbouring pixels
    covariance = patch_covariance(x, 2)
    eigenvalues = torch.linalg.eigvalsh(covariance)
    filters = whitening_filters(x, 2)
    assert filters.shape == (24, 3, 2, 2) and torch.equal(filters[12:], -filters[:12])
    out = torch.nn.functional.conv2d(x, filters[:12]).permute(0, 2, 3, 1).reshape(-1, 12).double()
    whitened = out.T @ out / len(out)
    expected = torch.diag(eigenvalues / (eigenvalues + EPS))  # 1 but for the regularising eps
    assert torch.allclose(whitened, expected, atol=1e-4)
    assert whitened.diagonal().min() > 0.9


def test_the_stem_stays_fixed_while_training_and_checkpoints_carry_it(small_demo, tmp_path):
    model = build_model(WHITENED)
    assert [name for name, p in model.stem.named_parameters()] == ["whiten.weight"]
    assert not model.stem.whiten.weight.requires_grad  # nothing in the stem trains
    config = TrainConfig(epochs=2, batch_size=64, threads=2)
    trainer = Trainer(WHITENED, config, tmp_path / "run", data=small_demo)
    events = iter(trainer.events())
    for event in events:
        if isinstance(event, CheckpointSaved):
            break
    first = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["model"]
    filters = first["stem.whiten.weight"]
    assert filters.abs().sum() > 0 and torch.equal(filters[12:], -filters[:12])  # fitted, not random
    trainer.stop()
    list(events)
    resumed = Trainer(None, dataclasses.replace(config, epochs=3), resume=tmp_path / "run", data=small_demo)
    list(resumed.events())
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["model"]
    assert torch.equal(last["stem.whiten.weight"], filters)  # never trained, never refitted
    block = "stage1.block1.conv1.weight"
    assert not torch.equal(last[block], first[block])  # while the blocks went on training
    loaded = model_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert torch.equal(loaded.model.stem.whiten.weight, filters)


def test_the_whitening_sample_is_bounded_in_pixels_not_images():
    from resnet_studio.data.sources import DataSet, DataSplits
    from resnet_studio.training.setup import WHITENING_PIXELS, whitening_sample

    images = torch.randint(0, 256, (400, 3, 128, 128), dtype=torch.uint8)
    labels = torch.zeros(400, dtype=torch.int64)
    data = DataSplits(
        "random", ["a"], DataSet(images, labels), DataSet(images[:4], labels[:4]), [0.5] * 3, [0.25] * 3
    )
    sample = whitening_sample(data, seed=0, size=128)
    assert sample.shape == (WHITENING_PIXELS // 128**2, 3, 128, 128)  # 312 images, not 5,000
    assert whitening_filters(sample, 2).shape == (24, 3, 2, 2)
