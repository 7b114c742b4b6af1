"""Transfer recipes (`--recipe transfer-probe|transfer-finetune|transfer-full` with `--init`): the
probe's head is the head that backpropagation through the frozen network trains, fine-tuning
leaves the frozen part bit for bit as it was, and starting from trained weights beats random ones."""

import json

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec
from resnet_studio.cli import main
from resnet_studio.data.sources import DataSet, DataSplits
from resnet_studio.data.transforms import normalize
from resnet_studio.errors import UserError
from resnet_studio.inspection.evaluate import evaluate
from resnet_studio.nn.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from resnet_studio.nn.model import build_model
from resnet_studio.training import (
    Evaluated,
    Featurizing,
    Planned,
    Started,
    Step,
    TrainConfig,
    Trainer,
    transfer_probe,
)
from resnet_studio.training.recipes import RECIPES, get_recipe
from resnet_studio.training.transfer import evaluation_view

MEAN, STD = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]  # the starting weights' normalisation, not the data's


def tiny_spec(classes: int = 5) -> ArchitectureSpec:
    return ArchitectureSpec(
        name="Tiny",
        input=InputSpec(3, 16),
        classes=classes,
        stem=StemSpec(channels=4, kernel=3, stride=1),
        stages=(StageSpec("basic", 1, 8, 1), StageSpec("basic", 1, 8, 2)),
        shortcut="projection",
    )


@pytest.fixture
def init(tmp_path):
    """Starting weights trained for 5 other classes: random weights and random BatchNorm
    statistics, so that a frozen part run in training mode would show."""
    torch.manual_seed(1)
    model = build_model(tiny_spec())
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    path = tmp_path / "init.pt"
    save_checkpoint(
        path,
        {
            "architecture": tiny_spec().to_dict(),
            "model": model.state_dict(),
            "classes": [f"old{i}" for i in range(5)],
            "normalization": {"mean": MEAN, "std": STD},
        },
    )
    return path


def tiny_data(train: int = 24, val: int = 12) -> DataSplits:
    """3 classes told apart by their dominant colour, 16x16, held in memory."""
    g = torch.Generator().manual_seed(0)

    def images(n: int) -> DataSet:
        labels = torch.arange(n) % 3
        x = torch.randint(0, 120, (n, 3, 16, 16), generator=g, dtype=torch.uint8)
        x[torch.arange(n), labels] += 120
        return DataSet(x, labels)

    return DataSplits("memory", ["a", "b", "c"], images(train), images(val), [0.3] * 3, [0.2] * 3)


def config(init, transfer, **kw) -> TrainConfig:
    base = get_recipe(f"transfer-{transfer}").config(init=str(init), threads=2, seed=3)
    return TrainConfig(**{**base.to_dict(), **kw})


def body(state: dict) -> dict:
    """Everything but the output layer."""
    return {k: v for k, v in state.items() if not k.startswith("head.fc.")}


def test_the_probes_head_is_the_head_backpropagation_through_the_frozen_network_trains(tmp_path, init):
    data = tiny_data()
    cfg = config(
        init, "probe", epochs=4, batch_size=24, optimizer="sgd", lr=0.2, weight_decay=1e-3,
        schedule="constant", augment=False,
    )  # fmt: skip
    events = list(Trainer(tiny_spec(), cfg, tmp_path / "run", data=data).events())
    assert events[-1].status == "completed", events[-1]
    started = next(e for e in events if isinstance(e, Started))
    assert any("frozen" in note and "stem, stage1, stage2" in note for note in started.notes)
    passes = [e for e in events if isinstance(e, Featurizing)]
    assert passes and passes[-1].done == passes[-1].total == 2 * 24 + 12  # mirrors of the training images
    # The reference: the whole network in eval mode, gradients through it, the same optimiser.
    initial = load_checkpoint(tmp_path / "run" / "checkpoints" / "init.pt")
    model = build_model(tiny_spec(3))
    model.load_state_dict(initial["model"])
    model.eval()
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("head.fc."))
    optimizer = torch.optim.SGD(
        model.head.fc.parameters(), lr=0.2, momentum=0.9, nesterov=True, weight_decay=1e-3
    )
    x = normalize(data.train.images, MEAN, STD, size=16).requires_grad_(True)
    for _ in range(4):
        optimizer.zero_grad()
        F.cross_entropy(model(x), data.train.labels).backward()
        optimizer.step()
    trained = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    for key in ("head.fc.weight", "head.fc.bias"):
        assert not torch.allclose(trained["model"][key], initial["model"][key], atol=1e-3)
        torch.testing.assert_close(trained["model"][key], model.state_dict()[key], atol=2e-5, rtol=1e-4)
    # The checkpoint holds the whole network: the frozen part as it came, and it evaluates
    # through the whole network as the probe's validation (on features) said.
    started_from = load_checkpoint(init)["model"]
    assert all(torch.equal(v, started_from[k]) for k, v in body(trained["model"]).items())
    assert trained["normalization"] == {"mean": MEAN, "std": STD}
    loaded = model_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    result = evaluate(loaded.model, data.val, loaded.classes, loaded.mean, loaded.std, size=16)
    last = [e for e in events if isinstance(e, Evaluated)][-1]
    assert result.accuracy == last.accuracy and result.loss == pytest.approx(last.loss, abs=1e-5)


def test_fine_tuning_leaves_the_frozen_part_bit_identical(tmp_path, init):
    # Block contributions every step put the whole network in eval mode and back in training
    # mode: the frozen part must stay in eval mode all the same.
    cfg = config(init, "finetune", epochs=2, batch_size=8, contributions=True, contribution_interval=0.0)
    events = list(Trainer(tiny_spec(), cfg, tmp_path / "run", data=tiny_data()).events())
    assert events[-1].status == "completed", events[-1]
    before = load_checkpoint(init)["model"]
    after = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["model"]
    frozen = [k for k in before if k.startswith(("stem.", "stage1."))]
    assert any("running_var" in k for k in frozen) and any("num_batches_tracked" in k for k in frozen)
    assert all(torch.equal(after[k], before[k]) for k in frozen)
    # The last stage trained, its BatchNorm statistics included, and so did the new output layer.
    assert not torch.equal(after["stage2.block1.conv1.weight"], before["stage2.block1.conv1.weight"])
    assert not torch.equal(after["stage2.block1.bn1.running_mean"], before["stage2.block1.bn1.running_mean"])
    assert after["head.fc.weight"].shape == (3, 8)
    config_json = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config_json["transfer"] == "finetune" and config_json["init"] == str(init)


def test_a_probe_stopped_in_its_feature_pass_or_its_epochs_resumes_to_the_same_head(
    tmp_path, init, monkeypatch
):
    monkeypatch.setattr(transfer_probe, "CPU_PASS_BATCH", 4)  # 2 images and their mirrors a pass
    monkeypatch.setattr(transfer_probe, "EVENT_INTERVAL", 0.0)  # an event after each
    cfg = config(init, "probe", epochs=3, batch_size=8)
    whole = list(Trainer(tiny_spec(), cfg, tmp_path / "whole", data=tiny_data()).events())
    assert whole[-1].status == "completed"

    def stopped_at(kind: type, resume: bool) -> list:
        trainer = Trainer(None if resume else tiny_spec(), cfg, tmp_path / "cut", data=tiny_data(),
                          resume=tmp_path / "cut" if resume else None)  # fmt: skip
        events = []
        for event in trainer.events():
            events.append(event)
            if isinstance(event, kind):
                trainer.stop()
        return events

    cut = stopped_at(Featurizing, resume=False)
    assert cut[-1].status == "stopped" and cut[-1].step == 0
    assert sum(isinstance(e, Featurizing) for e in cut) == 1  # stopped after the first pass of 4
    cut = stopped_at(Evaluated, resume=True)  # the pass again, then the first epoch
    assert cut[-1].status == "stopped" and 0 < cut[-1].step < whole[-1].step
    assert any(isinstance(e, Featurizing) for e in cut)
    resumed = list(Trainer(None, cfg, resume=tmp_path / "cut", data=tiny_data()).events())
    assert resumed[-1].status == "completed" and resumed[-1].step == whole[-1].step
    a = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["model"]
    torch.testing.assert_close(a["head.fc.weight"], b["head.fc.weight"], atol=1e-6, rtol=0)


def test_a_probe_plans_its_head_into_a_time_budget(tmp_path, init):
    """The budget counts the feature pass; the head's steps fill the rest, schedule completed."""
    cfg = config(init, "probe", budget=2.0, batch_size=8)
    events = list(Trainer(tiny_spec(), cfg, tmp_path / "run", data=tiny_data()).events())
    planned = [e for e in events if isinstance(e, Planned)]
    steps = [e for e in events if isinstance(e, Step)]
    assert events[-1].status == "completed" and planned and planned[-1].total_steps == steps[-1].step
    assert steps[-1].progress == 1.0 and (tmp_path / "run" / "checkpoints" / "best.pt").is_file()


def test_transfer_from_the_shipped_weights_beats_random_weights_in_as_many_steps(tmp_path, demo_slice):
    """The demo shapes, from ResNet-20's CIFAR-10 weights (`transfer-full`) and from random weights
    (the `quick` recipe, made for training from scratch), 24 steps of 32 images each."""
    data = demo_slice(768, 300)
    spec = model_from_checkpoint("resnet20-cifar10").spec
    common = dict(steps=24, batch_size=32, threads=2, seed=0, data="demo")
    transfer = get_recipe("transfer-full").config(init="resnet20-cifar10", **common)
    scratch = get_recipe("quick").config(**common)
    accuracy = {}
    for name, cfg in (("transfer", transfer), ("scratch", scratch)):
        events = list(Trainer(spec, cfg, tmp_path / name, data=data).events())
        accuracy[name] = events[-1].best_accuracy
    assert accuracy["transfer"] > accuracy["scratch"] + 0.05, accuracy


def test_a_transfer_recipe_without_starting_weights_is_one_clear_error(capsys):
    code = main(["train", "--recipe", "transfer-probe", "--data", "demo"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "transfer-probe" in err and "--init WEIGHTS" in err and "Traceback" not in err
    with pytest.raises(UserError, match="transfer-finetune: needs starting weights"):
        Trainer(tiny_spec(), get_recipe("transfer-finetune").config())
    with pytest.raises(UserError, match="transfer-probe: runs in one process"):
        Trainer(tiny_spec(), get_recipe("transfer-probe").config(init="resnet20-cifar10", distributed=True))


def test_the_transfer_recipes_are_listed_and_explicit_options_override_them(tmp_path, init, capsys):
    assert {"transfer-probe", "transfer-finetune", "transfer-full"} <= set(RECIPES)
    main(["recipes"])
    listed = capsys.readouterr().out
    assert all(f"transfer-{kind} " in listed for kind in ("probe", "finetune", "full"))
    folder = tmp_path / "photos"
    for label, colour in enumerate(((220, 40, 40), (40, 200, 60))):
        (folder / f"c{label}").mkdir(parents=True)
        for i in range(10):
            Image.new("RGB", (20, 18), tuple(max(0, c - 9 * i) for c in colour)).save(
                folder / f"c{label}" / f"{i}.png"
            )
    out = tmp_path / "run"
    args = ["train", "--recipe", "transfer-probe", "--init", init, "--data", f"folder:{folder}"]
    code = main([str(a) for a in [*args, "--epochs", "2", "--batch-size", "6", "--out", out]])
    err = capsys.readouterr().err
    assert code == 0, err
    # 18 training images split off, with their mirrors, and 2 validation images
    assert "features of 38 images (mirrors included)" in err and "note: transfer-probe: frozen" in err
    saved = json.loads((out / "config.json").read_text())
    assert (saved["transfer"], saved["epochs"], saved["batch_size"], saved["optimizer"]) == (
        "probe",
        2,
        6,
        "adamw",
    )
    code = main(["classify", str(out), str(folder / "c1" / "0.png"), "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 0 and answer[0]["top"][0]["class"] in ("c0", "c1")


def test_the_evaluation_view_is_the_centre_crop_of_a_store_with_a_margin():
    stored = torch.arange(2 * 3 * 20 * 20, dtype=torch.int64).view(2, 3, 20, 20)
    assert torch.equal(evaluation_view(stored, 16), stored[..., 2:18, 2:18])
    assert torch.equal(evaluation_view(stored, 20), stored)
    assert evaluation_view(stored[..., :17, :], 16).shape[-2:] == (16, 16)  # (17 - 16) / 2 rounds to 0
