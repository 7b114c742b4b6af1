"""`resnet-studio import`: where the weights come from (a file, torch's hub cache, never the network
unasked), the one-line messages when they cannot, and the checkpoint every command then takes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import socket

import pytest
import torch
import torchvision
from PIL import Image
from torchvision.models import get_model_weights

from resnet_studio.cli import main
from resnet_studio.nn.checkpoint import load_checkpoint
from resnet_studio.nn.torchvision_import import download, torchvision_weights


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """An empty torch hub, and no way out: a connection attempt fails the test at once instead of
    hanging on a machine without network."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))

    def refuse(*args, **kwargs):
        raise AssertionError("the network was tried")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tv") / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return path


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_offline_without_the_file_says_which_url_and_where_in_one_line(tmp_path, capsys):
    weights = get_model_weights("resnet50").DEFAULT
    code, out, err = run(capsys, "import", "torchvision:resnet50", "--out", tmp_path / "r50.pt")
    cache = tmp_path / "torch-home" / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth"
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert weights.url in err and str(cache) in err and "--from" in err and "--download" in err
    assert not (tmp_path / "r50.pt").exists() and not cache.exists()


def test_the_named_weights_are_those_asked_for(tmp_path, capsys):
    code, _, err = run(capsys, "import", "torchvision:resnet50=IMAGENET1K_V1", "--out", tmp_path / "x.pt")
    assert code == 2 and get_model_weights("resnet50").IMAGENET1K_V1.url in err
    assert torchvision_weights("resnet50").name == "IMAGENET1K_V2"  # torchvision's DEFAULT
    assert torchvision_weights("resnet50", "IMAGENET1K_V1").preprocessing["resize"] == 256


def test_weights_in_torchs_hub_cache_are_used_offline(resnet18_file, tmp_path, capsys):
    cache = tmp_path / "torch-home" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(resnet18_file.read_bytes())
    code, out, _ = run(capsys, "import", "torchvision:resnet18", "--out", tmp_path / "r18.pt")
    assert code == 0 and str(cache) in out and "11,689,512 parameters" in out
    state = load_checkpoint(tmp_path / "r18.pt")
    assert torch.equal(
        state["model"]["stage4.block2.bn2.running_var"], torch.load(cache)["layer4.1.bn2.running_var"]
    )
    assert state["config"]["source"] == "torchvision:resnet18=IMAGENET1K_V1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["resnet50"], "resnet50: expected torchvision:NAME[=WEIGHTS]"),
        (["torchvision:resnet20"], "'resnet20' is not one of torchvision's ResNet family"),
        (["torchvision:resnet18=IMAGENET1K_V9"], "no such weights; choose one of IMAGENET1K_V1"),
        (
            ["torchvision:resnet34", "--from", "FILE"],
            "the weights do not fit torchvision's resnet34: 96 missing (layer1.2.conv1.weight",
        ),
        (["torchvision:resnet18", "--from", "TEXT"], "not a readable state dict"),
        (["torchvision:resnet18", "--from", "NOWHERE"], "no such file"),
        (["torchvision:resnet18", "--from", "WRAPPED"], "not a state dict (a dictionary of tensors"),
    ],
)
def test_bad_requests_are_one_line_naming_the_problem(args, message, resnet18_file, tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not weights")
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"weights": [1, 2, 3]}, wrapped)
    files = {"FILE": resnet18_file, "TEXT": text, "NOWHERE": tmp_path / "nowhere.pth", "WRAPPED": wrapped}
    args = [files.get(a, a) for a in args]
    code, _, err = run(capsys, "import", *args, "--out", tmp_path / "out.pt")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out.pt").exists()


def test_a_renamed_or_reshaped_weight_is_named(resnet18_file, tmp_path, capsys):
    weights = torch.load(resnet18_file)
    weights["classifier.weight"] = weights.pop("fc.weight")
    weights["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    path = tmp_path / "edited.pth"
    torch.save(weights, path)
    code, _, err = run(capsys, "import", "torchvision:resnet18", "--from", path, "--out", tmp_path / "o.pt")
    assert code == 2
    assert "1 missing (fc.weight)" in err and "1 unexpected (classifier.weight)" in err
    assert "layer1.0.conv1.weight: 64x64x1x1 in the file, 64x64x3x3 in the network" in err


def test_the_imported_checkpoint_classifies_and_starts_training(resnet18_file, tmp_path, capsys):
    out = tmp_path / "r18.pt"
    assert run(capsys, "import", "torchvision:resnet18", "--from", resnet18_file, "--out", out)[0] == 0
    photo = tmp_path / "photo.png"
    Image.new("RGB", (300, 200), (200, 40, 40)).save(photo)
    code, text, _ = run(capsys, "classify", out, photo, "--json", "--top", "3")
    categories = get_model_weights("resnet18").DEFAULT.meta["categories"]
    assert code == 0 and all(entry["class"] in categories for entry in json.loads(text)[0]["top"])
    code, text, _ = run(capsys, "classify", out, photo)
    first = text.splitlines()[0]
    assert code == 0 and first.startswith("1000 classes known: tench, goldfish") and "(980 more)" in first

    # train --init: the weights start a network for other classes (new output layer).
    from resnet_studio.nn.model import build_model
    from resnet_studio.training.setup import load_initial_weights

    spec = dataclasses.replace(_spec(out), classes=10)
    model = build_model(spec)
    notes = load_initial_weights(model, str(out), [f"c{i}" for i in range(10)])
    assert "new output layer" in notes[0]
    assert torch.equal(model.stem.conv.weight, torch.load(resnet18_file)["conv1.weight"])


def _spec(path):
    from resnet_studio.nn.checkpoint import checkpoint_spec

    return checkpoint_spec(load_checkpoint(path))


def test_download_goes_through_a_temporary_file_and_reports_progress(tmp_path):
    """The studio's download (a file:// URL here: no network): chunks reported, the file complete,
    nothing left beside it."""
    source = tmp_path / "weights.bin"
    source.write_bytes(bytes(range(256)) * 1000)
    target = tmp_path / "hub" / "checkpoints" / "weights.bin"
    seen: list[tuple[int, int]] = []
    download(source.as_uri(), target, lambda done, total: seen.append((done, total)), chunk=100_000)
    assert target.read_bytes() == source.read_bytes()
    assert seen[0] == (0, 256_000) and seen[-1] == (256_000, 256_000) and len(seen) == 4
    assert [p.name for p in target.parent.iterdir()] == ["weights.bin"]

    def cancel(done, total):
        if done:
            raise KeyboardInterrupt

    other = tmp_path / "hub" / "checkpoints" / "other.bin"
    with pytest.raises(KeyboardInterrupt):
        download(source.as_uri(), other, cancel, chunk=100_000)
    assert [p.name for p in target.parent.iterdir()] == ["weights.bin"]  # no half file

    # A name with a hash prefix (as torchvision's files have) must match the content's SHA-256.
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    download(source.as_uri(), target.parent / f"w-{digest[:8]}.pth", lambda done, total: None)
    with pytest.raises(RuntimeError, match="SHA-256 does not start with 00000000"):
        download(source.as_uri(), target.parent / "w-00000000.pth", lambda done, total: None)
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(["weights.bin", f"w-{digest[:8]}.pth"])


def test_help_says_nothing_downloads_unasked(capsys):
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Nothing is downloaded unless you add --download" in text and "--from" in text
