"""Receptive fields from the spec: which input pixels can reach one position of a block's output.

The classic recurrence over the convolutions and pools on the longest path (Araujo et al. 2019,
"Computing receptive fields of convolutional neural networks"): a layer of kernel k, stride s and
padding p turns (size r, jump j, centre c of the first position) into (r + (k-1) j, j s,
c + ((k-1)/2 - p) j). A residual block's shortcut (identity, 1x1 projection or strided zero-pad)
sees a subset of what its branch sees, with the same jump and centre, so the branch decides.
Exact for the network as built (`nn/model.py`, `nn/blocks.py`); the tests compare it with the
input pixels a gradient actually reaches.
"""

from __future__ import annotations

from dataclasses import dataclass

from resnet_studio.architecture.spec import ArchitectureSpec, StageSpec


@dataclass(frozen=True)
class Field:
    size: float  # pixels of the input on a side
    jump: float  # input pixels between two neighbouring output positions
    centre: float  # the input coordinate of output position 0's centre

    def through(self, kernel: int, stride: int = 1, padding: int = 0) -> Field:
        return Field(
            self.size + (kernel - 1) * self.jump,
            self.jump * stride,
            self.centre + ((kernel - 1) / 2 - padding) * self.jump,
        )

    def box(self, row: int, col: int, image_size: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), bottom and right exclusive, of the input pixels that reach
        output position (row, col), clipped to the image."""
        half = (self.size - 1) / 2
        top, left = self.centre + row * self.jump - half, self.centre + col * self.jump - half
        return (
            max(0, round(top)),
            max(0, round(left)),
            min(image_size, round(top + self.size)),
            min(image_size, round(left + self.size)),
        )


def _block(field: Field, stage: StageSpec, stride: int, pool: bool) -> Field:
    step = 1 if pool and stride > 1 else stride  # a pooled block convolves at stride 1, then pools
    # a bottleneck's 1x1 reduction, then the 3x3 convolution that carries the stride (all kinds)
    field = (field.through(1) if stage.block == "bottleneck" else field).through(3, step, 1)
    if pool and stride > 1:
        field = field.through(stride, stride)
    return field.through(1) if stage.block == "bottleneck" else field.through(3, 1, 1)


def receptive_fields(spec: ArchitectureSpec) -> dict[str, Field]:
    """{"stem": ..., "stage1.block1": ..., ...}: the field of one position of each tap's output."""
    stem = spec.stem
    field = Field(1.0, 1.0, 0.0)
    field = field.through(stem.kernel, stem.stride, 0 if stem.kind == "whiten" else stem.kernel // 2)
    if stem.maxpool:
        field = field.through(3, 2, 1)
    fields = {"stem": field}
    pool = spec.downsample_by == "maxpool"
    for s, stage in enumerate(spec.stages, start=1):
        for b in range(1, stage.count + 1):
            field = _block(field, stage, stage.stride if b == 1 else 1, pool)
            fields[f"stage{s}.block{b}"] = field
    return fields
