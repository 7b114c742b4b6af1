"""The transfer rows of `bench --photos`, proved small: a real `train` command on generated photos,
from an imported torchvision ResNet-18 (random weights) shrunk to 32 px."""

from dataclasses import replace

from resnet_studio.benchmarks.photolike import make_photo_folder
from resnet_studio.benchmarks.transfer import CASES, imported_network, transfer_figures
from resnet_studio.cli import build_parser
from resnet_studio.nn.checkpoint import model_from_checkpoint


def test_a_probe_is_timed_from_command_to_checkpoint_with_where_the_time_went(tmp_path):
    photos = make_photo_folder(tmp_path / "photos", 20, classes=2, width=64, height=48)
    probe = replace(CASES[0], options=("--epochs", "2"))
    figures = transfer_figures(photos, tmp_path / "work", [probe], size=32, options=("--threads", "2"))
    name = "transfer_probe_resnet18"
    parts = [figures[f"{name}_{part}"] for part in ("setup_s", "first_step_s", "train_s")]
    assert all(part > 0 for part in parts) and sum(parts) <= figures[f"{name}_s"] + 1e-6
    assert (
        0 <= figures[f"{name}_val_accuracy"] <= 1 and figures[f"{name}_steps"] == 2 * 1
    )  # 18 // 64: 1 a epoch
    assert figures["photos_decode_s"] > 0
    assert f"{name}_target_s" not in figures  # the targets are for 224 px
    # The network the rows start from: torchvision's, imported, at the size asked for.
    loaded = model_from_checkpoint(imported_network("resnet18", tmp_path / "work", 32))
    assert loaded.spec.input.size == 32 and len(loaded.classes) == 1000


def test_every_case_is_a_train_command_the_parser_takes():
    parser = build_parser()
    for case in CASES:
        args = parser.parse_args(["train", "--recipe", case.recipe, "--init", "x.pt", *case.options])
        assert args.recipe == case.recipe and case.target_s is not None
