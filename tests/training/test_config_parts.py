"""TrainConfig in three parts (the recipe's, the machine's, the probes'), and the flat configs of
runs made before the split still loading: config.json files and checkpoints alike."""

import dataclasses
import json

import pytest
import torch

from resnet_studio.errors import UserError
from resnet_studio.nn.checkpoint import load_checkpoint, model_from_checkpoint
from resnet_studio.training import TrainConfig, Trainer, run_training
from resnet_studio.training.config import MachineSettings, ProbeSettings, RecipeSettings, resumed_config

# A run folder's config.json as `resnet-studio train --preset resnet20 --data demo --epochs 1
# --limit-train 256 --limit-val 64` wrote it before the split: every field flat, beside what the
# run measured and where it ran.
OLD_CONFIG_JSON = {
    "data": "demo",
    "epochs": 1,
    "steps": None,
    "budget": None,
    "val_fraction": 0.0,
    "val_every": 1,
    "batch_size": 128,
    "optimizer": "sgd",
    "lr": 0.1,
    "momentum": 0.9,
    "nesterov": True,
    "weight_decay": 0.0005,
    "schedule": "onecycle",
    "warmup_fraction": 0.15,
    "label_smoothing": 0.0,
    "tta": False,
    "tta_shift": 0,
    "augment": True,
    "augmentation": "crop-flip",
    "crop_padding": 4,
    "crop_fill": "zeros",
    "zero_init_residual": False,
    "init": None,
    "transfer": None,
    "limit_train": 256,
    "limit_val": 64,
    "data_memory": None,
    "device": "auto",
    "threads": None,
    "channels_last": None,
    "amp": None,
    "precision": "fp32",
    "log_every": None,
    "grad_norms": False,
    "grad_norm_interval": 0.5,
    "activation_interval": 0.3,
    "contributions": False,
    "contribution_interval": 2.0,
    "seed": 0,
    "download": False,
    "distributed": False,
    "tensorboard": False,
    "sync_batchnorm": False,
    "precision_trial": {
        "precision": "fp32",
        "reason": "a short run: timing both would cost more than it could save",
        "fp32_images_per_s": None,
        "bf16_images_per_s": None,
    },
    "device_used": "cpu, float32, channels_last, 2 CPU threads",
    "versions": {"resnet_studio": "0.1.0", "torch": "2.14.1+cu130", "python": "3.11.7"},
}


NOT_FIELDS = ("device_used", "versions", "precision_trial")

# That run's checkpoints/last.pt "config": the same 43 fields, flat, without what the run measured.
OLD_CHECKPOINT_CONFIG = {key: value for key, value in OLD_CONFIG_JSON.items() if key not in NOT_FIELDS}


def names(part: type) -> list[str]:
    return [f.name for f in dataclasses.fields(part)]


def test_the_three_parts_split_every_field_once():
    recipe, machine, probes = names(RecipeSettings), names(MachineSettings), names(ProbeSettings)
    assert (len(recipe), len(machine), len(probes)) == (27, 9, 7)
    assert names(TrainConfig) == recipe + machine + probes  # none twice, none left out
    assert set(names(TrainConfig)) == set(OLD_CONFIG_JSON) - set(NOT_FIELDS) == set(OLD_CHECKPOINT_CONFIG)
    assert {"lr", "epochs", "data", "seed", "augmentation"} <= set(recipe)
    assert {"device", "threads", "precision", "distributed"} <= set(machine)
    assert {"grad_norm_interval", "activation_interval", "contribution_interval"} <= set(probes)


def test_the_parts_are_frozen_checked_and_compose():
    cfg = TrainConfig(epochs=2, threads=2, contributions=True)
    assert cfg.recipe == RecipeSettings(epochs=2)
    assert cfg.machine == MachineSettings(threads=2)
    assert cfg.probes == ProbeSettings(contributions=True)
    assert TrainConfig.of(cfg.recipe, cfg.machine, cfg.probes) == cfg
    assert TrainConfig.of(machine=MachineSettings(device="cpu")) == TrainConfig(device="cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.machine.threads = 4  # type: ignore[misc]
    with pytest.raises(UserError, match="lr"):
        RecipeSettings(lr=0)
    with pytest.raises(UserError, match="device"):
        MachineSettings(device="gpu")
    with pytest.raises(UserError, match="contribution_interval"):
        ProbeSettings(contribution_interval=-1.0)
    with pytest.raises(UserError, match="distributed"):  # a rule between two parts: on the whole
        TrainConfig.of(RecipeSettings(budget=60.0), MachineSettings(distributed=True))
    with pytest.raises(UserError, match="seed"):
        dataclasses.replace(cfg, seed=-1)


def test_an_old_config_json_loads_field_for_field():
    cfg = TrainConfig.from_dict(OLD_CONFIG_JSON, "config.json: ")
    assert cfg.to_dict() == {k: v for k, v in OLD_CONFIG_JSON.items() if k not in NOT_FIELDS}
    assert cfg.recipe.data == "demo" and cfg.machine.precision == OLD_CONFIG_JSON["precision"]
    assert resumed_config(OLD_CONFIG_JSON, "config.json: ", epochs=2).epochs == 2
    with pytest.raises(UserError, match="config.json: threads"):
        TrainConfig.from_dict({**OLD_CONFIG_JSON, "threads": 0}, "config.json: ")


def test_a_checkpoint_keeps_the_recipe_and_the_machine(tiny_spec, small_demo, tmp_path):
    run = tmp_path / "run"
    cfg = TrainConfig(epochs=1, batch_size=64, threads=2, grad_norms=True)
    run_training(Trainer(tiny_spec, cfg, run, data=small_demo))
    saved = load_checkpoint(run / "checkpoints" / "last.pt")["config"]
    assert list(saved) == names(RecipeSettings) + names(MachineSettings)
    chosen = dataclasses.replace(cfg.recipe, augmentation="crop-flip")  # "auto" as the run chose it
    assert TrainConfig.from_dict(saved).recipe == chosen
    config_json = json.loads((run / "config.json").read_text())
    assert config_json["grad_norms"] is True and set(names(TrainConfig)) <= set(config_json)


def test_a_run_with_old_flat_configs_loads_and_resumes(tiny_spec, small_demo, tmp_path):
    """A run whose config.json and checkpoints hold the old flat configs (written by code from
    before the split): its checkpoint classifies, and it resumes to a longer run."""
    run = tmp_path / "run"
    fitted = {"batch_size": 64, "threads": 2, "epochs": 1, "limit_train": None, "limit_val": None}
    run_training(Trainer(tiny_spec, TrainConfig(**fitted), run, data=small_demo))
    (run / "config.json").write_text(json.dumps({**OLD_CONFIG_JSON, **fitted}))
    for name in ("last.pt", "best.pt"):
        path = run / "checkpoints" / name
        state = torch.load(path, weights_only=True)
        state["config"] = {**OLD_CHECKPOINT_CONFIG, **fitted}
        torch.save(state, path)
    loaded = model_from_checkpoint(run / "checkpoints" / "best.pt")
    assert loaded.config == {**OLD_CHECKPOINT_CONFIG, **fitted}
    saved = json.loads((run / "config.json").read_text())
    resumed = resumed_config(saved, "config.json: ", epochs=2)
    finished = run_training(Trainer(None, resumed, resume=run, data=small_demo))
    assert finished.status == "completed" and finished.epoch == 2 and finished.step == 16
    assert json.loads((run / "config.json").read_text())["epochs"] == 2
