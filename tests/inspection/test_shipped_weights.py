"""The trained weights that ship with the package: they answer correctly, on real data, by name."""

import json
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from resnet_studio.cli import main
from resnet_studio.data import demo
from resnet_studio.data.sources import load_data
from resnet_studio.inspection.classify import classify_files
from resnet_studio.inspection.evaluate import evaluate
from resnet_studio.nn.checkpoint import load_checkpoint, model_from_checkpoint
from resnet_studio.nn.shipped import (
    DEFAULT,
    INDEX,
    default_weights,
    read_index,
    resolve,
    shipped_weights,
    weights_folder,
)

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def test_the_package_ships_a_cifar10_and_a_demo_resnet20_with_their_provenance():
    weights = shipped_weights()
    assert {"resnet20-cifar10", "resnet20-demo"} <= set(weights)
    cifar = weights["resnet20-cifar10"]
    assert default_weights() is cifar and cifar.name == DEFAULT
    # Issue #10 asks for >= 90%; these weights reach 90.37% (157 epochs in three runs on a 2-core CPU):
    # the figure stated is checked on the test set below, and must not fall.
    assert cifar.accuracy >= 0.9037 and "test set" in cifar.evaluated_on
    assert "resnet-studio train" in cifar.command and "--seed" in cifar.command
    assert cifar.recipe and isinstance(cifar.seed, int)
    for shipped in weights.values():
        state = load_checkpoint(shipped.name)  # by name, read with weights_only=True
        assert "optimizer" not in state  # slim: weights and what inference needs
        assert shipped.path.stat().st_size < 2_000_000
        assert resolve(shipped.name) == shipped.path
    loaded = model_from_checkpoint("resnet20-cifar10")
    assert loaded.classes == CIFAR_CLASSES and loaded.spec.name == "ResNet-20"


def test_a_broken_weights_index_gives_no_shipped_model_instead_of_an_error(tmp_path):
    """A damaged installation: the studio starts with no model rather than failing."""
    good = json.loads((weights_folder() / INDEX).read_text())[0]
    (tmp_path / good["file"]).write_bytes((weights_folder() / good["file"]).read_bytes())
    for broken in ("", "{not json", '{"name": "x"}', "[1, 2]", "null", "\xff\xfe"):
        (tmp_path / INDEX).write_text(broken, encoding="latin-1")
        assert read_index(tmp_path) == {}
    entries = [
        {**good, "name": "no-accuracy", "accuracy": "high"},
        {k: v for k, v in good.items() if k != "seed"},
        {**good, "name": "missing-file", "file": "gone.pt"},
        {**good, "name": "escapes", "file": "../" + good["file"]},  # stays inside the folder
        good,
    ]
    (tmp_path / INDEX).write_text(json.dumps(entries))
    found = read_index(tmp_path)
    assert set(found) == {good["name"], "escapes"}
    assert found["escapes"].path == tmp_path / good["file"]
    (tmp_path / INDEX).unlink()
    assert read_index(tmp_path) == {}


def test_an_existing_file_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet20-cifar10").write_text("mine")
    assert resolve("resnet20-cifar10") == Path("resnet20-cifar10")
    assert resolve("resnet20-demo") == shipped_weights()["resnet20-demo"].path


def test_the_demo_weights_classify_new_demo_images(tmp_path, capsys):
    pictures, labels = demo.generate(40, seed=123)  # images the model never saw
    paths = []
    for i, picture in enumerate(pictures):
        path = tmp_path / f"{i:02d}.png"
        Image.fromarray(picture.transpose(1, 2, 0)).save(path)
        paths.append(str(path))
    assert main(["classify", "resnet20-demo", *paths, "--top", "1", "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)
    truth = {str(tmp_path / f"{i:02d}.png"): demo.CLASSES[int(label)] for i, label in enumerate(labels)}
    correct = sum(a["top"][0]["class"] == truth[a["path"]] for a in answers)
    assert correct >= 36  # 90%


# The shipped weights' exact score on the fixed slice (tests/conftest.py: the first 100 test images
# of each class, 1,000 in all): 906 right. Computed once with these weights through `evaluate` with
# their own TTA (mirror and one-pixel shifts), on 1 and on 2 threads alike: inference is
# deterministic, so any other count means the weights, the decoding or the inference changed.
SLICE_CORRECT = 906


def _evaluate_shipped(folder: Path):
    loaded = model_from_checkpoint("resnet20-cifar10")
    data = load_data(f"folder:{folder}", limit_train=10)
    assert data.classes == loaded.classes
    assert loaded.tta and loaded.tta_shift == 1  # evaluated, and answering, with mirror and shifts
    result = evaluate(
        loaded.model,
        data.val,
        loaded.classes,
        loaded.mean,
        loaded.std,
        size=32,
        tta=loaded.tta,
        tta_shift=loaded.tta_shift,
    )
    return data, result


def test_shipped_cifar10_weights_score_exactly_as_computed_on_a_fixed_test_slice(cifar_test_slice):
    """1,000 real CIFAR-10 test images decoded from their JPEG files, scored exactly."""
    data, result = _evaluate_shipped(cifar_test_slice)
    assert len(data.val) == 1_000 and data.val.labels.bincount().tolist() == [100] * 10
    assert round(result.accuracy * 1_000) == SLICE_CORRECT


@pytest.mark.slow  # the whole test set: about 10x the slice's decoding and inference
def test_shipped_cifar10_weights_reach_their_stated_accuracy_on_the_test_set(cifar_test_folder):
    """The real CIFAR-10 test set (10,000 images): the figure in weights.json, reproduced. The slice
    above catches any change to the weights or to inference in CI; this reproduces the stated figure
    itself, which only changes when the weights do (run it then: pytest -m slow)."""
    shipped = shipped_weights()["resnet20-cifar10"]
    torch.set_num_threads(os.cpu_count() or 1)
    data, result = _evaluate_shipped(cifar_test_folder)
    assert len(data.val) == 10_000
    assert result.accuracy >= shipped.accuracy - 0.0005
    assert result.accuracy >= 0.9037


def test_shipped_cifar10_weights_name_the_class_of_real_test_photos(cifar_test_slice):
    """The first five test images of every class, read from their JPEG files as a user's photos."""
    files = sorted(
        path
        for name in CIFAR_CLASSES
        for path in (cifar_test_slice / "test" / name).glob("*.jpg")
        if int(path.stem) < 5
    )
    assert len(files) == 50
    results = classify_files(model_from_checkpoint("resnet20-cifar10"), [str(p) for p in files], top_k=1)
    correct = [r.top[0][0] == os.path.basename(os.path.dirname(r.path)) for r in results]
    assert sum(correct) >= 43, [r.path for r, ok in zip(results, correct, strict=True) if not ok]


@pytest.mark.parametrize("command", ["classify", "evaluate"])
def test_help_lists_the_shipped_names(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "resnet20-cifar10" in capsys.readouterr().out
