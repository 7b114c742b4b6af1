"""A residual block opened up: every intermediate tensor of one image's pass through one block.

The block's own modules are run step by step in the order of its `forward` (conv, BN, ReLU, the
branch F(x), the shortcut, their sum, the output), so that the learner sees what each layer does
to the image, and the last step is checked against the block's real output. Two lesions answer
"what does each path carry?": the network's prediction for this image with the block's branch
dropped (output = act(shortcut(x))) or its shortcut dropped (output = act(F(x))).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from resnet_studio.nn.blocks import BasicBlock, Bottleneck, PreActBlock, pooled
from resnet_studio.nn.model import ResNet


@dataclass(frozen=True)
class Stage:
    name: str  # "x", "conv1", "bn1", "relu1", ..., "F(x)", "shortcut(x)", "F(x) + shortcut(x)", "output"
    tensor: Tensor = field(repr=False)  # float32 (C, H, W) on the CPU

    @property
    def norm(self) -> float:
        return float(self.tensor.double().norm())


@dataclass(frozen=True)
class Anatomy:
    block: str
    kind: str  # "basic", "bottleneck" or "preact"
    shortcut: str  # "identity", "projection", "zero-pad" or "none" (a plain block)
    stages: tuple[Stage, ...]
    probabilities: Tensor = field(repr=False)  # softmax over the classes, the whole network
    without_branch: Tensor | None = field(repr=False, default=None)  # the same, F(x) dropped
    without_shortcut: Tensor | None = field(repr=False, default=None)  # the same, shortcut dropped

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    @property
    def ratio(self) -> float | None:
        """||F(x)|| / ||shortcut(x)||; None for a plain block."""
        if self.shortcut == "none":
            return None
        passed = self.stage("shortcut(x)").norm
        return self.stage("F(x)").norm / passed if passed > 0 else float("inf")

    def to_dict(self, classes: list[str], top_k: int = 3) -> dict:
        def top(p: Tensor | None) -> list[dict] | None:
            if p is None:
                return None
            values, indices = p.topk(min(top_k, len(p)))
            return [
                {"class": classes[int(i)], "probability": float(v)}
                for v, i in zip(values, indices, strict=True)
            ]

        return {
            "block": self.block,
            "kind": self.kind,
            "shortcut": self.shortcut,
            "stages": [{"name": s.name, "shape": list(s.tensor.shape), "norm": s.norm} for s in self.stages],
            "ratio": self.ratio,
            "prediction": top(self.probabilities),
            "without_branch": top(self.without_branch),
            "without_shortcut": top(self.without_shortcut),
        }


def shortcut_kind(block: nn.Module) -> str:
    if not getattr(block, "residual", False):
        return "none"
    downsample = block.downsample
    if downsample is None:
        return "identity"
    return "zero-pad" if type(downsample).__name__ == "ZeroPadShortcut" else "projection"


def _basic(block: BasicBlock, x: Tensor) -> tuple[list[tuple[str, Tensor]], Tensor | None]:
    steps = [("x", x)]
    out = block.conv1(x)
    steps.append(("conv1", out))
    if block.pool is not None:
        out = block.pool(out)
        steps.append(("max-pool", out))
    out = block.bn1(out)
    steps.append(("bn1", out))
    out = torch.relu(out)
    steps.append(("relu", out))
    out = block.conv2(out)
    steps.append(("conv2", out))
    out = block.bn2(out)
    steps.append(("F(x)", out))
    passed = None
    if block.residual:
        x = pooled(block.pool, x)
        passed = x if block.downsample is None else block.downsample(x)
    return steps, passed


def _bottleneck(block: Bottleneck, x: Tensor) -> tuple[list[tuple[str, Tensor]], Tensor | None]:
    steps = [("x", x)]
    out = block.conv1(x)
    steps.append(("conv1 (1x1)", out))
    out = block.bn1(out)
    steps.append(("bn1", out))
    out = torch.relu(out)
    steps.append(("relu1", out))
    out = block.conv2(out)
    steps.append(("conv2 (3x3)", out))
    if block.pool is not None:
        out = block.pool(out)
        steps.append(("max-pool", out))
    out = block.bn2(out)
    steps.append(("bn2", out))
    out = torch.relu(out)
    steps.append(("relu2", out))
    out = block.conv3(out)
    steps.append(("conv3 (1x1)", out))
    out = block.bn3(out)
    steps.append(("F(x)", out))
    passed = None
    if block.residual:
        x = pooled(block.pool, x)
        passed = x if block.downsample is None else block.downsample(x)
    return steps, passed


def _preact(block: PreActBlock, x: Tensor) -> tuple[list[tuple[str, Tensor]], Tensor | None]:
    steps = [("x", x)]
    out = block.bn1(x)
    steps.append(("bn1", out))
    pre = torch.relu(out)
    steps.append(("relu1", pre))
    out = block.conv1(pre)
    steps.append(("conv1", out))
    if block.pool is not None:
        out = block.pool(out)
        steps.append(("max-pool", out))
    out = block.bn2(out)
    steps.append(("bn2", out))
    out = torch.relu(out)
    steps.append(("relu2", out))
    out = block.conv2(out)
    steps.append(("F(x)", out))
    passed = None
    if block.residual:  # the projection sees the pre-activated input, the identity the raw one
        passed = (
            pooled(block.pool, x) if block.downsample is None else block.downsample(pooled(block.pool, pre))
        )
    return steps, passed


def _block_input(model: ResNet, block: nn.Module, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(the block's input, its real output, the network's logits) from one forward pass."""
    seen: dict[str, Tensor] = {}

    def keep_input(_module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        seen["in"] = inputs[0].clone()

    def keep_output(_module: nn.Module, _inputs: tuple[Tensor, ...], out: Tensor) -> None:
        seen["out"] = out.clone()  # a later in-place ReLU must not change what is compared

    hooks = [block.register_forward_pre_hook(keep_input), block.register_forward_hook(keep_output)]
    try:
        logits = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return seen["in"], seen["out"], logits


def _replaced(model: ResNet, block: nn.Module, x: Tensor, output: Tensor) -> Tensor:
    """The network's softmax for `x` with `block`'s output replaced by `output`."""
    hook = block.register_forward_hook(lambda _m, _i, _out: output)
    try:
        return torch.softmax(model(x)[0].float(), 0)
    finally:
        hook.remove()


@torch.no_grad()
def block_anatomy(model: ResNet, x: Tensor, block_name: str) -> Anatomy:
    """The anatomy of block `block_name` ("stage2.block1") for the one normalised image `x`
    (1, C, H, W); the model is evaluated in eval mode and left in the mode it was in."""
    blocks = dict(model.named_blocks())
    if block_name not in blocks:
        raise KeyError(f"no block {block_name!r}; the blocks are {', '.join(blocks)}")
    block = blocks[block_name]
    was_training = model.training
    model.eval()
    try:
        block_in, real_out, logits = _block_input(model, block, x)
        if isinstance(block, Bottleneck):
            kind, (steps, passed) = "bottleneck", _bottleneck(block, block_in)
        elif isinstance(block, PreActBlock):
            kind, (steps, passed) = "preact", _preact(block, block_in)
        else:
            kind, (steps, passed) = "basic", _basic(block, block_in)
        branch = steps[-1][1]
        activate = kind != "preact"  # a pre-activation block adds and stops: no ReLU after the sum
        without_branch = without_shortcut = None
        if passed is not None:
            total = branch + passed
            steps += [("shortcut(x)", passed), ("F(x) + shortcut(x)", total)]
            out = torch.relu(total) if activate else total
            without_branch = _replaced(model, block, x, torch.relu(passed) if activate else passed)
            without_shortcut = _replaced(model, block, x, torch.relu(branch) if activate else branch)
        else:
            out = torch.relu(branch) if activate else branch
        steps.append(("output", out))
        if not torch.equal(out, real_out):  # the steps must be the block's own computation
            raise RuntimeError(f"{block_name}: the anatomy's output differs from the block's")
    finally:
        model.train(was_training)
    return Anatomy(
        block_name,
        kind,
        shortcut_kind(block),
        tuple(Stage(name, t[0].detach().float().cpu()) for name, t in steps),
        torch.softmax(logits[0].float(), 0).cpu(),
        None if without_branch is None else without_branch.cpu(),
        None if without_shortcut is None else without_shortcut.cpu(),
    )
