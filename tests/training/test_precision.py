"""Precision chosen by measurement: `auto` times float32 and bf16 on a copy of the network; a run
records its choice in config.json and its notes, and a resume keeps it."""

import json

import pytest
import torch

from resnet_studio.benchmarks.precision_check import equal_steps
from resnet_studio.errors import UserError
from resnet_studio.nn.model import build_model
from resnet_studio.training import Started, Step, TrainConfig, Trainer
from resnet_studio.training.device import DeviceSettings, settings_for
from resnet_studio.training.precision import (
    MATRIX_FLAGS,
    TRIAL_MIN_STEPS,
    choose_precision,
    cpu_flags,
    matrix_units,
    run_precision,
)


def test_asked_precisions_are_kept_without_measuring(tiny_spec):
    model = build_model(tiny_spec)
    for asked in ("fp32", "bf16"):
        choice = choose_precision(asked, model, 8, 3, 32, 10, channels_last=True)
        assert choice.precision == asked and choice.fp32_images_per_s is None and "asked" in choice.note()


def test_auto_measures_a_copy_and_leaves_the_run_untouched(tiny_spec):
    torch.manual_seed(3)
    model = build_model(tiny_spec).train()
    weights = {k: v.clone() for k, v in model.state_dict().items()}  # BatchNorm statistics too
    rng = torch.get_rng_state()
    choice = choose_precision("auto", model, 8, 3, 32, 10, channels_last=True, rounds=1)
    assert torch.equal(torch.get_rng_state(), rng)  # the run's random stream is where it was
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert set(matrix_units()) <= set(MATRIX_FLAGS) and set(matrix_units()) <= cpu_flags()
    if matrix_units():  # measured: both speeds, and bf16 kept only where it is 15% faster
        assert choice.fp32_images_per_s > 0 and choice.bf16_images_per_s > 0
        assert (choice.precision == "bf16") == (choice.bf16_vs_fp32 >= 1.15)
        assert "measured" in choice.reason
    else:  # nothing to gain: float32 without a trial
        assert choice.precision == "fp32" and choice.fp32_images_per_s is None


def test_a_cpu_without_matrix_units_trains_in_fp32_without_a_trial(tiny_spec):
    choice = choose_precision("auto", build_model(tiny_spec), 8, 3, 32, 10, channels_last=True, units=())
    assert choice.precision == "fp32" and choice.bf16_vs_fp32 is None and choice.fp32_images_per_s is None
    assert "no bf16 matrix units" in choice.reason


def test_where_a_trial_cannot_matter_nothing_is_timed(tiny_spec):
    model = build_model(tiny_spec)
    cpu = settings_for(torch.device("cpu"), threads=2)
    shape = dict(batch=8, channels=3, size=32, classes=10, budget=None, resumed=None, distributed=False)

    def settle(asked="auto", amp=None, settings=cpu, **kw):
        return run_precision(asked, amp, settings, model, **{**shape, "total_steps": 10_000, **kw})

    gpu = DeviceSettings(torch.device("cuda"), True, torch.bfloat16, 2)
    assert settle(settings=gpu) == (gpu, None)  # a GPU keeps its own mixed precision
    for kw in (
        dict(total_steps=TRIAL_MIN_STEPS - 1),  # a short run, such as a test's
        dict(budget=30.0),
        dict(resumed=""),  # a run from before precision was recorded: as it trained
        dict(distributed=True),
    ):
        settings, choice = settle(**kw)
        assert choice.precision == "fp32" and settings.amp_dtype is None and choice.fp32_images_per_s is None
    settings, choice = settle(amp=True)  # the older switch, given explicitly
    assert choice.precision == "bf16" and settings.amp_dtype == torch.bfloat16
    assert "bf16" in settings.describe()
    for asked in ("auto", "bf16"):  # a resume trains as its checkpoint's config says
        settings, choice = settle(asked, resumed="bf16")
        assert settings.amp_dtype == torch.bfloat16 and choice.reason == "as the run started"
    settings, choice = settle("fp32", resumed="bf16")  # unless told otherwise
    assert settings.amp_dtype is None and choice.reason == "asked for"


def config(**kw) -> TrainConfig:
    base = dict(epochs=2, batch_size=64, lr=0.05, threads=1, schedule="cosine")
    return TrainConfig(**{**base, **kw})


def test_a_bf16_run_records_its_precision_and_resumes_exactly(tiny_spec, demo_slice, tmp_path):
    data = demo_slice(256, 64)  # 4 steps an epoch
    straight = [
        e.loss
        for e in Trainer(tiny_spec, config(precision="bf16"), tmp_path / "a", data=data).events()
        if isinstance(e, Step)
    ]
    saved = json.loads((tmp_path / "a" / "config.json").read_text())
    assert saved["precision"] == "bf16" and saved["precision_trial"]["reason"] == "asked for"
    assert "bf16" in saved["device_used"]
    trainer = Trainer(tiny_spec, config(precision="bf16"), tmp_path / "b", data=data)
    for event in trainer.events():
        if isinstance(event, Started):
            assert "precision: bf16 (asked for)" in event.notes
        if isinstance(event, Step) and event.step == 5:
            trainer.stop()
    # A resume trains as the run started (its checkpoint's config), though the config says auto.
    resumed = list(Trainer(None, config(), resume=tmp_path / "b", data=data).events())
    assert "precision: bf16 (as the run started)" in resumed[0].notes
    assert [e.loss for e in resumed if isinstance(e, Step)] == straight[5:]


def test_a_short_auto_run_pays_for_no_trial_and_says_why(tiny_spec, demo_slice, tmp_path):
    events = list(Trainer(tiny_spec, config(epochs=1), tmp_path / "run", data=demo_slice(128, 64)).events())
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["precision"] == "fp32" and saved["precision_trial"]["fp32_images_per_s"] is None
    why = "a short run" if matrix_units() else "no bf16 matrix units"
    assert why in events[0].notes[-1] and events[0].notes[-1].startswith("precision: fp32")


def test_the_equal_steps_check_trains_both_precisions_from_the_same_start(tiny_spec, demo_slice):
    figures = equal_steps(tiny_spec, demo_slice(128, 64), steps=2, batch_size=64)
    assert figures["fp32_note"] == "precision: fp32 (asked for)"
    assert figures["bf16_note"] == "precision: bf16 (asked for)"
    assert 0 <= figures["fp32_accuracy"] <= 1 and 0 <= figures["bf16_accuracy"] <= 1
    assert figures["bf16_minus_fp32"] == round(figures["bf16_accuracy"] - figures["fp32_accuracy"], 4)


def test_train_takes_precision_on_the_command_line(tmp_path):
    from resnet_studio.cli import build_parser
    from resnet_studio.cli.train import _plan

    parser = build_parser()
    args = parser.parse_args(
        ["train", "--preset", "resnet20", "--precision", "bf16", "--out", str(tmp_path / "r")]
    )
    assert _plan(args)[1].precision == "bf16"
    assert _plan(parser.parse_args(["train", "--preset", "resnet20"]))[1].precision == "auto"
    with pytest.raises(SystemExit) as refused:  # argparse: one line, status 2
        parser.parse_args(["train", "--preset", "resnet20", "--precision", "fp16"])
    assert refused.value.code == 2
    with pytest.raises(UserError, match="precision: must be one of auto, fp32, bf16"):
        TrainConfig.from_dict({"precision": "half"}, "config.json: ")
