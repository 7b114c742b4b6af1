"""The network's output layer follows the data: a preset names 10 classes, a folder may hold 3 or
12. New runs adapt (and say so); resumed runs refuse other classes; `init` weights trained for other
classes fine-tune everything but the output layer (transfer learning)."""

import json

import pytest
import torch
from PIL import Image

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec
from resnet_studio.errors import UserError
from resnet_studio.nn.checkpoint import model_from_checkpoint
from resnet_studio.training import Started, TrainConfig, Trainer, run_training

COLOURS = [(230, 30, 30), (30, 200, 40), (40, 60, 230), (240, 220, 30)]


def class_folder(root, classes: int, per_class: int = 8):
    """A folder data set with train/ and val/ subfolders: one flat colour per class."""
    for split, count in (("train", per_class), ("val", 2)):
        for c in range(classes):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (16, 16), COLOURS[c]).save(folder / f"{i}.png")
    return f"folder:{root}"


def spec(classes: int) -> ArchitectureSpec:
    return ArchitectureSpec(
        name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 8, 1),), classes=classes
    )


def config(data: str, **kw) -> TrainConfig:
    return TrainConfig(**{"data": data, "epochs": 1, "batch_size": 8, "lr": 0.05, "threads": 2, **kw})


def events_of(trainer: Trainer) -> list:
    return list(trainer.events())


@pytest.mark.parametrize("declared", [10, 2])  # more outputs than classes, and fewer
def test_a_new_run_gets_one_output_per_class_of_its_data(tmp_path, declared):
    data = class_folder(tmp_path / "data", classes=3)
    trainer = Trainer(spec(declared), config(data), tmp_path / "run")
    events = events_of(trainer)
    started = next(e for e in events if isinstance(e, Started))
    assert f"output layer: 3 classes, as in the data (the architecture said {declared})" in started.notes
    assert events[-1].status == "completed"
    # The run folder and its checkpoints describe the network that trained, and load.
    assert json.loads((tmp_path / "run" / "architecture.json").read_text())["classes"] == 3
    loaded = model_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert loaded.classes == ["class0", "class1", "class2"]
    assert loaded.model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)
    assert trainer.snapshot().model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


def test_a_matching_network_is_left_as_it_is(tmp_path):
    data = class_folder(tmp_path / "data", classes=3)
    events = events_of(Trainer(spec(3), config(data), tmp_path / "run"))
    assert not any("output layer" in note for note in events[0].notes)


def test_a_resumed_run_refuses_data_with_other_classes(tmp_path):
    root = tmp_path / "data"
    data = class_folder(root, classes=3)
    run_training(Trainer(spec(10), config(data), tmp_path / "run"))
    for split in ("train", "val"):  # the folder gains a class after the run
        (root / split / "class3").mkdir()
        Image.new("RGB", (16, 16), COLOURS[3]).save(root / split / "class3" / "0.png")
    trainer = Trainer(None, config(data, epochs=2), resume=tmp_path / "run")
    with pytest.raises(
        UserError, match="was trained for the classes class0, class1, class2; the data now has"
    ):
        events_of(trainer)


def test_init_from_other_classes_keeps_all_but_the_output_layer(tmp_path):
    first = tmp_path / "three"
    run_training(Trainer(spec(3), config(class_folder(tmp_path / "d3", classes=3)), first))
    start = torch.load(first / "checkpoints" / "last.pt", weights_only=True)["model"]
    # A tiny learning rate: one step leaves the weights where they started.
    cfg = config(class_folder(tmp_path / "d4", classes=4), steps=1, lr=1e-9, init=str(first))
    trainer = Trainer(spec(3), cfg, tmp_path / "four")
    events = events_of(trainer)
    assert events[-1].status == "completed"
    assert any(
        "a new output layer for the data's 4 classes starts from random weights" in n for n in events[0].notes
    )
    tuned = torch.load(tmp_path / "four" / "checkpoints" / "last.pt", weights_only=True)["model"]
    body = [k for k in start if not k.startswith("head.fc.") and k.endswith((".weight", ".bias"))]
    assert body and all(torch.allclose(start[k], tuned[k], atol=1e-6) for k in body)
    assert tuned["head.fc.weight"].shape[0] == 4 and start["head.fc.weight"].shape[0] == 3


def test_more_classes_than_a_network_may_have_is_refused_by_name():
    from resnet_studio.architecture.spec import MAX_CLASSES
    from resnet_studio.training.setup import fit_outputs

    names = [f"c{i}" for i in range(MAX_CLASSES + 1)]
    with pytest.raises(UserError, match="data: 100,001 classes; a network has at most 100,000 outputs"):
        fit_outputs(spec(10), names, None)
    assert fit_outputs(spec(10), names[:MAX_CLASSES], None)[0].classes == MAX_CLASSES
