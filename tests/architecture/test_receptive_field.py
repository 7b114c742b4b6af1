"""Receptive fields from the spec equal the input pixels a gradient actually reaches."""

import pytest
import torch

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec, get_preset
from resnet_studio.architecture.receptive_field import receptive_fields
from resnet_studio.nn import build_model


def reached(model, tap: str, positions: list[tuple[int, int]], size: int, trials: int = 4) -> list[tuple]:
    """For each output position of the tap, the bounding box of the input pixels whose gradient is
    non-zero, over a few random inputs (a max-pool passes one pixel per window, ReLUs stop some
    paths: the union over inputs covers the field). One batched pass: in eval mode every image's
    gradient is its own."""
    module = model.stem if tap == "stem" else dict(model.named_blocks())[tap]
    n = len(positions) * trials
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, model.spec.input.channels, size, size, generator=generator, requires_grad=True)
    out = {}
    hook = module.register_forward_hook(lambda _m, _i, o, kept=out: kept.update(o=o))
    model(x)
    hook.remove()
    rows_cols = torch.tensor([positions[i % len(positions)] for i in range(n)])
    out["o"][torch.arange(n), :, rows_cols[:, 0], rows_cols[:, 1]].sum().backward()
    seen = (x.grad.abs().sum(1) > 0).view(trials, len(positions), size, size).any(0)
    boxes = []
    for where in seen:
        rows, cols = torch.nonzero(where.any(1)).flatten(), torch.nonzero(where.any(0)).flatten()
        boxes.append((int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1))
    return boxes


SPECS = {
    "resnet20": get_preset("resnet20"),
    "cifar-fast (whitening, max-pool downsampling)": get_preset("cifar-fast"),
    "stem max-pool, bottleneck, pre-activation": ArchitectureSpec(
        name="Mixed",
        input=InputSpec(3, 64),
        classes=4,
        stem=StemSpec(channels=8, kernel=7, stride=2, maxpool=True),
        stages=(StageSpec("bottleneck", 1, 16, 1), StageSpec("preact", 2, 16, 2)),
    ),
}


@pytest.mark.parametrize("name", list(SPECS))
def test_the_field_of_every_tap_is_what_its_gradient_reaches(name):
    spec = SPECS[name]
    # Seeded: a max-pool passes one pixel of its window, so for some weights (2 of 20 seeds) no
    # random input reaches a field's edge rows through it; which weights a test gets must not
    # depend on the tests run before it in the same process.
    torch.manual_seed(0)
    model = build_model(spec).eval()
    size = spec.input.size
    fields = receptive_fields(spec)
    assert list(fields) == ["stem"] + [block for block, _ in model.named_blocks()]
    taps = list(fields)
    for tap in taps:
        module = model.stem if tap == "stem" else dict(model.named_blocks())[tap]
        with torch.no_grad():
            side = {}
            hook = module.register_forward_hook(lambda _m, _i, o, kept=side: kept.update(s=o.shape[-1]))
            model(torch.zeros(1, spec.input.channels, size, size))
            hook.remove()
        positions = [(side["s"] // 2, side["s"] // 2), (0, side["s"] - 1)]  # the centre, a corner
        want = [fields[tap].box(row, col, size) for row, col in positions]
        assert want == reached(model, tap, positions, size), tap


def test_resnet20s_last_block_sees_more_than_the_image_and_its_first_a_small_patch():
    fields = receptive_fields(get_preset("resnet20"))
    assert fields["stem"].size == 3
    assert fields["stage1.block1"].size == 7  # two more 3x3 convolutions
    assert fields["stage3.block3"].size > 32 and fields["stage3.block3"].jump == 4
    assert fields["stage3.block3"].box(4, 4, 32) == (0, 0, 32, 32)
