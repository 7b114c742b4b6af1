import json

import pytest

from resnet_studio.architecture import (
    PRESETS,
    ArchitectureSpec,
    StageSpec,
    get_preset,
    load_spec,
    problems,
    save_spec,
    spec_from_dict,
)
from resnet_studio.errors import SpecError, UserError

# The architecture file of resources/FORMATS.md, as written there.
FORMATS_EXAMPLE = {
    "format": "resnet-studio.architecture",
    "version": 1,
    "name": "ResNet-20",
    "input": {"channels": 3, "size": 32},
    "classes": 10,
    "stem": {"channels": 16, "kernel": 3, "stride": 1, "maxpool": False},
    "stages": [
        {"block": "basic", "count": 3, "channels": 16, "stride": 1},
        {"block": "basic", "count": 3, "channels": 32, "stride": 2},
        {"block": "basic", "count": 3, "channels": 64, "stride": 2},
    ],
    "shortcut": "projection",
    "head": {"dropout": 0.0},
}


def test_the_formats_example_parses_and_round_trips():
    spec = spec_from_dict(FORMATS_EXAMPLE)
    assert spec.stages[1] == StageSpec("basic", 3, 32, 2)
    assert spec.to_dict() == FORMATS_EXAMPLE
    assert spec.depth == 20


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_through_json(name, tmp_path):
    spec = get_preset(name)
    path = tmp_path / f"{name}.resnet.json"
    save_spec(spec, path)
    assert load_spec(path) == spec
    assert json.loads(path.read_text())["format"] == "resnet-studio.architecture"


def test_preset_depths_match_their_names():
    for depth in (20, 32, 44, 56, 110):
        assert get_preset(f"resnet{depth}").depth == depth
    assert get_preset("plain56").shortcut == "none"
    assert get_preset("resnet20").shortcut == "zero-pad"
    article = get_preset("article")
    assert article.stem.kernel == 7 and article.stem.stride == 2 and article.stem.channels == 64
    assert [(s.block, s.channels, s.stride) for s in article.stages] == [("basic", 64, 2)] * 3


def test_projection_without_batchnorm_is_optional_and_old_files_load_unchanged():
    """The field is optional: a file without it means BatchNorm on projections (as before) and is
    written back byte for byte without it; false is kept through a round trip."""
    old = spec_from_dict(FORMATS_EXAMPLE)
    assert old.projection_bn is True and "projection_bn" not in old.to_dict()
    bare = spec_from_dict({**FORMATS_EXAMPLE, "projection_bn": False})
    assert bare.projection_bn is False
    assert bare.to_dict()["projection_bn"] is False
    assert spec_from_dict(bare.to_dict()) == bare
    assert get_preset("article").to_dict()["projection_bn"] is False


def test_downsampling_by_max_pool_is_optional_and_round_trips():
    old = spec_from_dict(FORMATS_EXAMPLE)
    assert old.downsample_by == "stride" and "downsample_by" not in old.to_dict()
    pooled = spec_from_dict({**FORMATS_EXAMPLE, "downsample_by": "maxpool"})
    assert pooled.to_dict()["downsample_by"] == "maxpool" and spec_from_dict(pooled.to_dict()) == pooled
    assert get_preset("cifar-fast").downsample_by == "maxpool"


def test_groups_and_width_per_group_are_optional_and_old_files_stay_byte_identical(tmp_path):
    """Absent means 1 and 64 (torchvision's defaults); a file without them is written back byte
    for byte; non-default values are written and survive a round trip."""
    old = spec_from_dict(FORMATS_EXAMPLE)
    assert all(s.groups == 1 and s.width_per_group == 64 for s in old.stages)
    path = tmp_path / "old.resnet.json"
    save_spec(old, path)
    text = path.read_text()
    save_spec(load_spec(path), path)
    assert path.read_text() == text and "groups" not in text and "width_per_group" not in text
    resnext = get_preset("resnext50_32x4d")
    stage = resnext.to_dict()["stages"][0]
    assert stage["groups"] == 32 and stage["width_per_group"] == 4
    assert spec_from_dict(resnext.to_dict()) == resnext
    wide = get_preset("wide_resnet50_2").to_dict()["stages"][3]
    assert wide["width_per_group"] == 128 and "groups" not in wide


def test_bottleneck_inner_width_follows_torchvision():
    """channels / 4 * width_per_group / 64 * groups: 128 for ResNeXt-50 32x4d's first stage, 2,048
    for ResNeXt-101 64x4d's last, 1,024 for Wide ResNet-50-2's last; a basic block's is its width."""
    assert get_preset("resnext50_32x4d").stages[0].inner_width == 128
    assert get_preset("resnext101_64x4d").stages[3].inner_width == 2048
    assert get_preset("wide_resnet50_2").stages[3].inner_width == 1024
    assert get_preset("resnet50").stages[1].inner_width == 128
    assert get_preset("resnet18").stages[2].inner_width == 256


@pytest.mark.parametrize(
    ("stage", "field", "message"),
    [
        ({"groups": 0}, "stages[0].groups", "must be a positive integer, got 0"),
        ({"groups": "32"}, "stages[0].groups", 'must be a positive integer, got "32"'),
        ({"width_per_group": 2.5}, "stages[0].width_per_group", "must be a positive integer, got 2.5"),
        ({"groups": 5}, "stages[0].groups", "the input width 16 is not divisible by 5 groups"),
        ({"width_per_group": 32}, "stages[0].width_per_group", "only a bottleneck block has an inner width"),
        (
            {"block": "bottleneck", "channels": 32, "width_per_group": 100},
            "stages[0].width_per_group",
            "channels / 4 * width_per_group / 64 must be whole",
        ),
        (
            {"block": "bottleneck", "channels": 4096, "groups": 64, "width_per_group": 64},
            "stages[0].groups",
            "the inner width channels / 4 * width_per_group / 64 * groups is 65536, more than 8192",
        ),
    ],
)
def test_invalid_groups_and_widths_are_named(stage, field, message):
    data = json.loads(json.dumps(FORMATS_EXAMPLE))
    data["stages"][0].update(stage)
    with pytest.raises(SpecError) as info:
        spec_from_dict(data)
    assert info.value.field == field
    assert message in str(info.value)


def _with(path: str, value):
    data = json.loads(json.dumps(FORMATS_EXAMPLE))
    target = data
    keys = path.replace("[", ".").replace("]", "").split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is _DELETE:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("stages[2].channels", 0, "stages[2].channels: must be a positive integer, got 0"),
        ("stages[0].count", "3", 'stages[0].count: must be a positive integer, got "3"'),
        (
            "stages[1].block",
            "dense",
            "stages[1].block: must be one of 'basic', 'bottleneck', 'preact'",
        ),
        ("shortcut", "skip", "shortcut: must be one of 'projection', 'zero-pad', 'none'"),
        ("classes", 1, "classes: must be an integer >= 2, got 1"),
        ("classes", _DELETE, "classes: is required"),
        ("stem.maxpool", "yes", 'stem.maxpool: must be true or false, got "yes"'),
        ("stem.kernel", 4, "stem.kernel: must be odd"),
        ("head.dropout", 1.5, "head.dropout: must be a number in [0, 1), got 1.5"),
        ("stages", [], "stages: must be a non-empty list"),
        ("stages[0].chanels", 16, "stages[0].chanels: unknown field"),
        ("version", 2, "version: unsupported version 2"),
        ("input.size", True, "input.size: must be a positive integer, got true"),
        ("projection_bn", "no", 'projection_bn: must be true or false, got "no"'),
        ("downsample_by", "avgpool", "downsample_by: must be one of"),
    ],
)
def test_invalid_fields_are_named(path, value, message):
    with pytest.raises(SpecError) as info:
        spec_from_dict(_with(path, value))
    assert str(info.value).startswith(message)


def test_spatial_size_below_one_pixel_names_the_stage():
    data = _with("input.size", 4)
    data["stages"].append({"block": "basic", "count": 1, "channels": 64, "stride": 2})
    data["stages"].append({"block": "basic", "count": 1, "channels": 64, "stride": 2})
    with pytest.raises(SpecError) as info:
        spec_from_dict(data)
    assert info.value.field == "stages[3].stride"
    assert "falls below 1 pixel at stage 4 (input 1x1, stride 2)" in str(info.value)


def test_bottleneck_needs_channels_divisible_by_four_and_zero_pad_cannot_shrink():
    spec = ArchitectureSpec(stages=(StageSpec("bottleneck", 1, 30, 1),))
    assert [p.field for p in problems(spec)] == ["stages[0].channels"]
    shrink = ArchitectureSpec(shortcut="zero-pad", stages=(StageSpec("basic", 1, 8, 1),))
    assert "cannot reduce channels (16 -> 8)" in str(problems(shrink)[0])


def test_load_spec_reports_the_file_and_the_problem(tmp_path):
    bad_json = tmp_path / "broken.resnet.json"
    bad_json.write_text("{ not json")
    with pytest.raises(UserError, match=r"broken\.resnet\.json: not valid JSON: .* line 1"):
        load_spec(bad_json)
    bad_field = tmp_path / "zero.resnet.json"
    bad_field.write_text(json.dumps(_with("stages[2].channels", 0)))
    with pytest.raises(UserError, match=r"zero\.resnet\.json: stages\[2\]\.channels: must be a positive"):
        load_spec(bad_field)
    with pytest.raises(UserError, match="cannot read"):
        load_spec(tmp_path / "missing.resnet.json")
    binary = tmp_path / "binary.resnet.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UserError, match="binary.resnet.json"):
        load_spec(binary)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "net.resnet.json"
    save_spec(get_preset("resnet20"), path)
    save_spec(get_preset("resnet56"), path)
    assert [p.name for p in tmp_path.iterdir()] == ["net.resnet.json"]
    assert load_spec(path).name == "ResNet-56"


def test_unknown_preset_lists_the_choices():
    with pytest.raises(UserError, match="unknown preset 'resnet21'; choose one of article, resnet20"):
        get_preset("resnet21")
