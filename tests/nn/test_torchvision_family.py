"""torchvision's ResNet family: every preset counts torchvision's parameters, names translate one to
one, and a network that is not a member is refused by name."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torchvision
from torchvision.models import get_model_weights

from resnet_studio.architecture import PRESETS, HeadSpec, InputSpec, analyze, get_preset
from resnet_studio.errors import UserError
from resnet_studio.nn.model import build_model
from resnet_studio.nn.torchvision_map import (
    FAMILY,
    NotInFamily,
    family_name,
    family_problem,
    family_spec,
    from_torchvision,
    studio_key,
    to_torchvision,
    torchvision_key,
)

TEN = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "wide_resnet50_2",
    "wide_resnet101_2",
)


def _meta(name: str, **kwargs) -> torch.nn.Module:
    """torchvision's network built on the meta device: names and shapes, no memory, no init."""
    with torch.device("meta"):
        return torchvision.models.get_model(name, **kwargs)


def test_the_family_is_torchvisions_ten_under_its_names():
    assert FAMILY == TEN
    assert all(name in PRESETS for name in TEN)
    # torchvision's own list of ResNet builders is the same ten
    listed = {name for name in torchvision.models.list_models(torchvision.models) if "resn" in name}
    assert listed == set(TEN)


@pytest.mark.parametrize("name", TEN)
def test_every_preset_counts_torchvisions_parameters_and_operations(name):
    theirs = sum(p.numel() for p in _meta(name).parameters())
    analysis = analyze(get_preset(name))
    assert analysis.params == theirs
    # torchvision's weights state the network's cost at 224 px ("_ops", multiply-adds in billions,
    # to three decimals): the analysis agrees with it.
    assert round(analysis.macs / 1e9, 3) == get_model_weights(name).DEFAULT.meta["_ops"]


@pytest.mark.parametrize("name", ["resnet18", "resnet152", "resnext101_64x4d", "wide_resnet50_2"])
def test_weight_names_and_shapes_translate_one_to_one(name):
    """Our state dict under torchvision's names is torchvision's, name for name, shape for shape,
    in the same order; and back."""
    with torch.device("meta"):
        ours = build_model(get_preset(name)).state_dict()
    theirs = _meta(name).state_dict()
    translated = to_torchvision(ours)
    assert list(translated) == list(theirs)
    assert all(translated[k].shape == theirs[k].shape for k in theirs)
    assert list(from_torchvision(theirs)) == list(ours)


def test_key_translation_examples():
    pairs = {
        "stem.conv.weight": "conv1.weight",
        "stem.bn.running_var": "bn1.running_var",
        "stage1.block1.conv1.weight": "layer1.0.conv1.weight",
        "stage3.block23.bn3.num_batches_tracked": "layer3.22.bn3.num_batches_tracked",
        "stage2.block1.downsample.0.weight": "layer2.0.downsample.0.weight",
        "stage2.block1.downsample.1.bias": "layer2.0.downsample.1.bias",
        "head.fc.weight": "fc.weight",
    }
    for ours, theirs in pairs.items():
        assert torchvision_key(ours) == theirs and studio_key(theirs) == ours
    assert studio_key("classifier.weight") == "classifier.weight"  # then reported as unexpected


@pytest.mark.parametrize("name", TEN)
def test_members_are_recognised_whatever_their_classes_and_size(name):
    assert family_name(get_preset(name)) == name
    fine_tuned = dataclasses.replace(get_preset(name), classes=10, input=InputSpec(3, 64))
    assert family_name(fine_tuned) == name
    assert family_spec(name, 10).classes == 10 and family_name(family_spec(name, 10)) == name


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (get_preset("resnet20"), "a 3x3/1 stem of 16 channels without max-pool"),
        (get_preset("article"), "a 7x7/2 stem of 64 channels without max-pool"),
        (get_preset("cifar-fast"), "a whitening stem"),
        (dataclasses.replace(get_preset("resnet50"), head=HeadSpec(0.2)), "its head has dropout 0.2"),
        (dataclasses.replace(get_preset("resnet18"), projection_bn=False), "projection without BatchNorm"),
        (dataclasses.replace(get_preset("resnet18"), shortcut="zero-pad"), "its shortcuts are zero-pad"),
        (dataclasses.replace(get_preset("resnet18"), downsample_by="maxpool"), "downsamples by max-pooling"),
        (
            get_preset("resnet18").with_stages(get_preset("resnet18").stages[:3]),
            "it has 3 stages (torchvision's have 4)",
        ),
        (
            get_preset("resnet50").with_stages(
                [dataclasses.replace(s, count=2) for s in get_preset("resnet50").stages]
            ),
            "no member of the family has 2, 2, 2, 2 blocks a stage, groups 1, width_per_group 64",
        ),
        (
            get_preset("resnet50").with_stages(
                [dataclasses.replace(s, groups=2, width_per_group=32) for s in get_preset("resnet50").stages]
            ),
            "groups 2, width_per_group 32",
        ),
        (
            get_preset("resnet18").with_stages(
                [dataclasses.replace(s, channels=2 * s.channels) for s in get_preset("resnet18").stages]
            ),
            "its stages are 128, 256, 512, 1024 channels wide (torchvision's basic: 64, 128, 256, 512)",
        ),
    ],
)
def test_non_members_are_refused_by_name(spec, reason):
    assert reason in (family_problem(spec) or "")
    with pytest.raises(NotInFamily) as info:
        family_name(spec)
    assert str(info.value).startswith(f"{spec.name} is not one of torchvision's ResNet family")
    assert reason in str(info.value)


def test_family_spec_refuses_other_names():
    with pytest.raises(UserError, match="'resnet20' is not one of torchvision's ResNet family"):
        family_spec("resnet20")
