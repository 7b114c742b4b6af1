"""Import from torchvision and export back, exactly, without the internet: a torchvision network
with seeded random weights and random BatchNorm statistics stands in for the pretrained one."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torchvision
from torchvision.models import get_model_weights

from resnet_studio.architecture import InputSpec, get_preset
from resnet_studio.cli import main
from resnet_studio.nn.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from resnet_studio.nn.model import build_model
from resnet_studio.nn.torchvision_import import preprocessing_of

TOLERANCE = 1e-4


def random_torchvision(name: str, seed: int = 0) -> torch.nn.Module:
    """torchvision's `name` with seeded random weights, BatchNorm statistics and affine parameters
    far from their defaults (so that a BN mapped to the wrong place shows), in eval mode."""
    torch.manual_seed(seed)
    model = torchvision.models.get_model(name)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.2)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.2)
                module.num_batches_tracked.fill_(1234)
        model.fc.bias.normal_(0, 0.1)
    return model.eval()


@pytest.fixture(autouse=True)
def no_hub_cache(tmp_path, monkeypatch):
    """An empty torch hub: nothing comes from a cache (or the network) by accident."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


def _logits(model: torch.nn.Module, size: int, seed: int = 1) -> torch.Tensor:
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model(x)


MAX_DIFFS: dict[str, float] = {}  # the measured differences, printed with -s


# wide_resnet50_2 is `slow` (7 s of CI's time: 69 M random weights made, saved, imported and
# exported): its weights' names and shapes translate one to one in tests/nn/test_torchvision_family.py,
# and its forward is resnet50's Bottleneck with wider middles, whose logits are checked exactly here.
@pytest.mark.parametrize(
    "name",
    ["resnet18", "resnet50", "resnext50_32x4d", pytest.param("wide_resnet50_2", marks=pytest.mark.slow)],
)
def test_import_and_export_are_exact(name, tmp_path, capsys):
    reference = random_torchvision(name)
    source = tmp_path / f"{name}.pth"
    torch.save(reference.state_dict(), source)
    out = tmp_path / f"{name}.pt"
    assert main(["import", f"torchvision:{name}", "--from", str(source), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out

    # The checkpoint: loadable with weights_only=True, holding the weights' metadata.
    weights = get_model_weights(name).DEFAULT
    state = load_checkpoint(out)
    assert state["classes"] == weights.meta["categories"] and len(state["classes"]) == 1000
    transform = weights.transforms()
    expected = {
        "resize": transform.resize_size[0],
        "crop": transform.crop_size[0],
        "interpolation": transform.interpolation.value,
        "mean": list(transform.mean),
        "std": list(transform.std),
    }
    assert state["preprocessing"] == expected == preprocessing_of(transform)
    assert state["normalization"] == {"mean": expected["mean"], "std": expected["std"]}
    assert state["input_size"] == transform.crop_size[0]

    # The same logits as torchvision's network with the same weights.
    loaded = model_from_checkpoint(out)
    assert loaded.preprocessing == expected
    expected_logits = _logits(reference, 64)
    diff = float((_logits(loaded.model, 64) - expected_logits).abs().max())
    MAX_DIFFS[f"import {name} 64px"] = diff
    assert diff <= TOLERANCE
    if name == "resnet18":  # once at the weights' own resolution
        diff224 = float((_logits(loaded.model, 224) - _logits(reference, 224)).abs().max())
        MAX_DIFFS[f"import {name} 224px"] = diff224
        assert diff224 <= TOLERANCE

    # Export back: torchvision's own network takes the state dict strictly, with the same logits.
    back = tmp_path / f"{name}-back.pth"
    assert main(["export", str(out), "--format", "torchvision", "--out", str(back)]) == 0
    exported = torch.load(back, map_location="cpu", weights_only=True)
    fresh = torchvision.models.get_model(name, num_classes=1000)
    fresh.load_state_dict(exported, strict=True)
    fresh.eval()
    assert list(exported) == list(reference.state_dict())
    assert all(torch.equal(exported[k], v) for k, v in reference.state_dict().items())
    diff_back = float((_logits(fresh, 64) - expected_logits).abs().max())
    MAX_DIFFS[f"export {name} 64px"] = diff_back
    assert diff_back <= TOLERANCE
    print(MAX_DIFFS)


def test_a_fine_tuned_member_exports_with_its_own_classes(tmp_path, tiny_spec, capsys):
    """A family member with 10 classes (as after fine-tuning) exports for
    torchvision.models.resnet18(num_classes=10); a network outside the family is refused by name."""
    spec = dataclasses.replace(get_preset("resnet18"), classes=10, input=InputSpec(3, 32))
    model = build_model(spec).eval()
    common = {
        "classes": [f"c{i}" for i in range(10)],
        "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3},
    }
    ckpt = tmp_path / "tuned.pt"
    save_checkpoint(ckpt, {"architecture": spec.to_dict(), "model": model.state_dict(), **common})
    out = tmp_path / "tuned.pth"
    assert main(["export", str(ckpt), "--format", "torchvision", "--out", str(out)]) == 0
    theirs = torchvision.models.resnet18(num_classes=10)
    theirs.load_state_dict(torch.load(out, weights_only=True), strict=True)
    assert float((_logits(theirs.eval(), 32) - _logits(model, 32)).abs().max()) <= TOLERANCE

    other = tmp_path / "tiny.pt"
    save_checkpoint(
        other, {"architecture": tiny_spec.to_dict(), "model": build_model(tiny_spec).state_dict(), **common}
    )
    capsys.readouterr()
    assert main(["export", str(other), "--format", "torchvision", "--out", str(tmp_path / "no.pth")]) == 2
    err = capsys.readouterr().err
    assert "Tiny is not one of torchvision's ResNet family" in err and "stem" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "no.pth").exists()
