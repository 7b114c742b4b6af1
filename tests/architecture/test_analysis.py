"""The analysis must agree with the built nn.Module, layer by layer, for presets and random specs."""

import dataclasses
import random

import pytest
import torch
from torch import nn

from resnet_studio.architecture import (
    PRESETS,
    ArchitectureSpec,
    InputSpec,
    StageSpec,
    StemSpec,
    analyze,
    get_preset,
    problems,
)
from resnet_studio.architecture.presets import TORCHVISION_FAMILY
from resnet_studio.nn import build_model


def test_imagenet_presets_count_exactly_like_torchvision():
    assert analyze(get_preset("resnet18")).params == 11_689_512
    assert analyze(get_preset("resnet34")).params == 21_797_672
    assert analyze(get_preset("resnet50")).params == 25_557_032


def test_cifar_presets_match_the_paper():
    # He et al. 2015, table 6: 0.27M, 0.85M, 1.7M parameters.
    assert round(analyze(get_preset("resnet20")).params / 1e6, 2) == 0.27
    assert round(analyze(get_preset("resnet56")).params / 1e6, 2) == 0.85
    assert round(analyze(get_preset("resnet110")).params / 1e6, 1) == 1.7
    assert 40e6 < analyze(get_preset("resnet20")).macs < 42e6
    # Option A adds no parameters: the plain twin has exactly as many.
    assert analyze(get_preset("plain20")).params == analyze(get_preset("resnet20")).params


def test_article_preset_is_the_reference_articles_network_exactly():
    """The article's Keras code: 1x1 projections without BatchNorm, 244,426 trainable parameters
    (Keras shows 245,322 because it also counts BatchNorm's moving statistics)."""
    spec = get_preset("article")
    assert not spec.projection_bn
    analysis = analyze(spec)
    model = build_model(spec)
    assert analysis.params == 244_426
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 244_426
    buffers = sum(b.numel() for name, b in model.named_buffers() if "running" in name)
    assert analysis.params + buffers == 245_322
    shortcuts = [layer.shortcut for layer in analysis.layers if layer.shortcut]
    assert shortcuts == ["projection-bare"] * 3
    assert all(isinstance(block.downsample, nn.Conv2d) for _, block in model.named_blocks())
    # With BatchNorm on the projections (the paper's option B): 2 x 64 more per block.
    with_bn = analyze(dataclasses.replace(spec, projection_bn=True))
    assert with_bn.params == 244_426 + 3 * 128
    assert [layer.shortcut for layer in with_bn.layers if layer.shortcut] == ["projection"] * 3


def _measured(model: nn.Module, spec: ArchitectureSpec) -> tuple[dict[str, tuple], int]:
    """Output shape of every analysed layer, and MACs of every conv and linear, from hooks."""
    shapes: dict[str, tuple] = {}
    macs = 0

    def count(module, inputs, output):
        nonlocal macs
        if isinstance(module, nn.Conv2d):
            # the weight holds in / groups inputs per output already: one MAC per weight and pixel
            macs += module.weight.numel() * output.shape[2] * output.shape[3]
        elif isinstance(module, nn.Linear):
            macs += module.weight.numel()

    handles = []
    names = {"stem", "head"} | {name for name, _ in model.named_blocks()}
    for name, module in model.named_modules():
        if name in names:
            handles.append(
                module.register_forward_hook(
                    lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:]))
                )
            )
        handles.append(module.register_forward_hook(count))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, spec.input.channels, spec.input.size, spec.input.size))
    for h in handles:
        h.remove()
    return shapes, macs


def _check_agreement(spec: ArchitectureSpec) -> None:
    analysis = analyze(spec)
    model = build_model(spec)
    assert analysis.params == sum(p.numel() for p in model.parameters())
    shapes, macs = _measured(model, spec)
    assert macs == analysis.macs
    for layer in analysis.layers:
        assert shapes[layer.name] == layer.output_shape, layer.name
        module = model.get_submodule(layer.name)
        assert layer.params == sum(p.numel() for p in module.parameters()), layer.name


_LARGE = ("resnet34", "resnet50", "resnet110")
_CHEAP = [n for n in PRESETS if n not in _LARGE and (n == "resnet18" or n not in TORCHVISION_FAMILY)]


@pytest.mark.parametrize("name", _CHEAP)
def test_analysis_agrees_with_the_model_for_presets(name):
    _check_agreement(get_preset(name))


# slow: deselected in CI. The blocks of resnet34 and resnet50 are checked shrunk below (the same
# arithmetic), and resnet110 repeats resnet56's block 18 times a stage instead of 9.
@pytest.mark.slow
@pytest.mark.parametrize("name", _LARGE)
def test_analysis_agrees_with_the_model_for_large_presets(name):
    _check_agreement(get_preset(name))


@pytest.mark.parametrize("name", [n for n in TORCHVISION_FAMILY if n != "resnet18"])
def test_analysis_agrees_with_the_model_for_the_torchvision_family_shrunk(name):
    """Each family member's blocks (grouped, widened) with one block a stage at 32 px: the same
    arithmetic as the full network for a fraction of the cost (full counts: tests/nn)."""
    spec = get_preset(name)
    small = dataclasses.replace(
        spec,
        input=InputSpec(3, 32),
        classes=10,
        stages=tuple(dataclasses.replace(stage, count=1) for stage in spec.stages),
    )
    _check_agreement(small)
    if spec.stages[0].groups > 1:
        convs = [m for m in build_model(small).modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
        assert len(convs) == 4 and all(m.groups == spec.stages[0].groups for m in convs)


def _random_spec(rng: random.Random) -> ArchitectureSpec:
    stages = []
    for _ in range(rng.randint(1, 4)):
        block = rng.choice(["basic", "bottleneck", "preact"])
        groups, per_group = (
            (rng.choice([1, 2, 4]), rng.choice([16, 64, 128])) if rng.random() < 0.4 else (1, 64)
        )
        if block != "bottleneck":
            per_group = 64
        stage = StageSpec(block, rng.randint(1, 3), 4 * rng.randint(1, 12), rng.choice([1, 1, 2, 3]))
        stages.append(dataclasses.replace(stage, groups=groups, width_per_group=per_group))
    channels = rng.choice([1, 3])
    stem = StemSpec(4 * rng.randint(1, 8), rng.choice([1, 3, 5, 7]), rng.choice([1, 2]), rng.random() < 0.3)
    if rng.random() < 0.3:  # a whitening stem: unpadded, any kernel, 2 C k^2 channels
        kernel = rng.choice([1, 2, 3])
        stem = StemSpec(2 * channels * kernel**2, kernel, stem.stride, stem.maxpool, kind="whiten")
    return ArchitectureSpec(
        name="random",
        input=InputSpec(channels, rng.choice([16, 24, 32, 33])),
        classes=rng.randint(2, 20),
        stem=stem,
        stages=tuple(stages),
        shortcut=rng.choice(["projection", "zero-pad", "none"]),
        projection_bn=rng.random() < 0.5,
        downsample_by=rng.choice(["stride", "maxpool"]),
    )


def test_analysis_agrees_with_the_model_for_random_valid_specs():
    rng = random.Random(1234)
    checked = grouped = 0
    while checked < 40:
        spec = _random_spec(rng)
        if problems(spec):
            continue
        _check_agreement(spec)
        checked += 1
        grouped += any(stage.groups > 1 or stage.width_per_group != 64 for stage in spec.stages)
    assert grouped >= 5  # grouped and widened blocks were among them


def test_summary_dict_has_the_documented_keys():
    data = analyze(get_preset("resnet20")).to_dict()
    assert set(data) == {"name", "params", "macs", "input_shape", "output_shape", "layers"}
    assert data["input_shape"] == [3, 32, 32] and data["output_shape"] == [10]
    assert {"name", "type", "output_shape", "params", "macs"} <= set(data["layers"][0])
    assert [layer["name"] for layer in data["layers"][:2]] == ["stem", "stage1.block1"]
    assert data["layers"][4]["output_shape"] == [32, 16, 16]  # stage2.block1
    assert data["layers"][4]["shortcut"] == "zero-pad"
