"""Precision chosen by measurement: `auto` times float32 and bf16 on a copy of the network."""

import torch

from resnet_studio.nn.model import build_model
from resnet_studio.training.precision import MATRIX_FLAGS, choose_precision, cpu_flags, matrix_units


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
    choice = choose_precision("auto", model, 8, 3, 32, 10, channels_last=True, steps=1)
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
        assert "no bf16 matrix units" in choice.reason
