"""Checkpoints whose metadata lies: each is refused with the field named, never a traceback and
never a silent "nan%"."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from resnet_studio.cli import main
from resnet_studio.data.preprocessing import Preprocessing
from resnet_studio.nn.checkpoint import load_checkpoint, model_from_checkpoint
from resnet_studio.nn.shipped import resolve

GOOD = load_checkpoint("resnet20-demo")
GOOD.pop("path")


def tampered(**changes):
    state = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value is None:
            state.pop(key)
        else:
            state[key] = value
    return state


def narrower():
    arch = copy.deepcopy(GOOD["architecture"])
    arch["stages"][0]["channels"] = 24
    return arch


PREP = {
    "resize": 36,
    "crop": 32,
    "interpolation": "bilinear",
    "mean": GOOD["normalization"]["mean"],
    "std": GOOD["normalization"]["std"],
}


def prep(**changes):
    """The optional `preprocessing` of imported weights, valid for resnet20-demo, then changed."""
    return tampered(preprocessing={k: v for k, v in {**PREP, **changes}.items() if v is not None})


CASES = {
    "fewer class names than outputs": (tampered(classes=GOOD["classes"][:9]), "classes: 9 names"),
    "integer class names": (tampered(classes=list(range(10))), "classes: must be a list of class names"),
    "repeated class names": (tampered(classes=["a"] * 10), "names must be unique"),
    "normalisation not an object": (tampered(normalization=[0.5, 0.5]), "normalization: must be an object"),
    "a std of zero": (
        tampered(normalization={"mean": GOOD["normalization"]["mean"], "std": [0.0, 0.2, 0.2]}),
        "normalization.std: must be positive",
    ),
    "a mean of text": (
        tampered(normalization={"mean": ["a", "b", "c"], "std": GOOD["normalization"]["std"]}),
        "normalization.mean: must be 3 finite numbers",
    ),
    "weights of another network": (tampered(architecture=narrower()), "of another shape"),
    "an input size that contradicts": (tampered(input_size=64), "input_size: 64 differs"),
    "an invalid architecture": (tampered(architecture={"stages": []}), "its architecture is invalid"),
    "a weight named by a number": (
        tampered(model={**GOOD["model"], 7: torch.zeros(1)}),
        "model: must be a dictionary of weights named by text",
    ),
    "preprocessing not an object": (tampered(preprocessing=[256, 224]), "preprocessing: must be an object"),
    "preprocessing with an unknown field": (prep(antialias=True), "preprocessing.antialias: unknown field"),
    "preprocessing without resize": (prep(resize=None), "preprocessing.resize: is required"),
    "a crop of text": (prep(crop="32"), "preprocessing.crop: must be a whole number of pixels"),
    "a resize of true": (prep(resize=True), "preprocessing.resize: must be a whole number of pixels"),
    "a crop other than the input": (prep(crop=28), "preprocessing.crop: 28 differs from the architecture's"),
    "a crop larger than the resize": (prep(resize=30), "preprocessing.crop: 32 is larger than the resized"),
    "an unknown interpolation": (
        prep(interpolation="lanczos"),
        "preprocessing.interpolation: must be one of",
    ),
    "a mean unlike the normalisation": (prep(mean=[0.5, 0.5, 0.5]), "preprocessing.mean: differs from"),
}


def test_a_valid_preprocessing_loads_and_reaches_the_model(tmp_path):
    path = tmp_path / "prepared.pt"
    torch.save(prep(), path)
    loaded = model_from_checkpoint(path)
    assert loaded.preprocessing == PREP  # the checkpoint's object as written
    assert loaded.preparation == Preprocessing.from_dict(PREP)  # what every path prepares with
    assert model_from_checkpoint("resnet20-demo").preprocessing is None


@pytest.mark.parametrize("case", CASES)
def test_a_crafted_checkpoint_is_refused_with_the_field_named(case, tmp_path, capsys):
    state, expected = CASES[case]
    path = tmp_path / "crafted.pt"
    torch.save(state, path)
    image = resolve("resnet20-demo").parent.parent / "screenshots"  # any folder: refused before
    for command in (
        ["classify", path, image],
        ["evaluate", path, "--limit-val", "10"],
        ["export", path, "--format", "python", "--out", tmp_path / "x.py"],
        ["train", "--init", path, "--steps", "1", "--limit-train", "64", "--out", tmp_path / "run"],
    ):
        code = main([str(a) for a in command])
        err = capsys.readouterr().err
        assert code == 2 and expected in err and "crafted.pt" in err, (command[0], err)
        assert "Traceback" not in err and "nan" not in err


def test_a_slim_checkpoint_cannot_be_resumed_and_says_why(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    torch.save(GOOD, run / "checkpoints" / "last.pt")  # the shipped, slim kind: no optimizer
    (run / "config.json").write_text(json.dumps(GOOD["config"]))
    code = main(["train", "--resume", str(run)])
    err = capsys.readouterr().err
    assert code == 2 and "cannot resume from it: it lacks optimizer" in err


def test_a_refused_pickle_gets_a_short_plain_message(tmp_path, capsys):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "resnet-studio.checkpoint", "x": Evil()}, path)
    code = main(["classify", str(path), str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "refused" in err and "could run code" in err
    assert "\x1b[" not in err and "PyTorch 2.6" not in err and len(err) < 300
