"""Residual blocks in torchvision's vocabulary: `BasicBlock`, `Bottleneck`, `PreActBlock`.

`shortcut` is the network-wide kind ("projection", "zero-pad" or "none"); a block uses a
`downsample` module only where its output shape differs from its input's. `projection_bn=False`
makes a projection a bare 1x1 convolution (the reference article's Keras code). `pool=True` shrinks
by max-pooling instead of striding: the strided convolution runs at stride 1 and an s x s max-pool
follows it, and the shortcut sees the input pooled the same way (ResNet-9, airbench). `groups`
splits the 3x3 convolutions into groups (ResNeXt); `width_per_group` sets a bottleneck's inner width
to cout / 4 * width_per_group / 64 * groups, as torchvision's (64: the plain quarter).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def conv3x3(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A of He et al. 2015: strided identity, extra channels filled with zeros; no weights."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra = cout - cin

    def forward(self, x: Tensor) -> Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra)) if self.extra else x


def make_downsample(cin: int, cout: int, stride: int, shortcut: str, norm: bool = True) -> nn.Module | None:
    """The shortcut's module where the shape changes; None where the identity will do."""
    if shortcut == "none" or (stride == 1 and cin == cout):
        return None
    if shortcut == "zero-pad":
        return ZeroPadShortcut(cin, cout, stride)
    conv = conv1x1(cin, cout, stride)
    return nn.Sequential(conv, nn.BatchNorm2d(cout)) if norm else conv


def make_pool(stride: int, pool: bool) -> nn.Module | None:
    """The max-pool that replaces a stride, or None. `ceil_mode` keeps the sizes of a padded
    strided convolution: 15 pixels become 8 either way."""
    return nn.MaxPool2d(stride, stride, ceil_mode=True) if pool and stride > 1 else None


def pooled(pool: nn.Module | None, x: Tensor) -> Tensor:
    """`x` through a block's max-pool, or `x` itself for a block without one."""
    return x if pool is None else pool(x)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions, BN after each, ReLU after the addition."""

    expansion = 1

    def __init__(
        self,
        cin: int,
        cout: int,
        stride: int = 1,
        shortcut: str = "projection",
        projection_bn: bool = True,
        pool: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
    ) -> None:
        super().__init__()
        self.pool = make_pool(stride, pool)
        step = 1 if self.pool is not None else stride  # what the convolutions stride
        self.conv1 = conv3x3(cin, cout, step, groups)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = conv3x3(cout, cout, 1, groups)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.residual = shortcut != "none"
        self.downsample = make_downsample(cin, cout, step, shortcut, projection_bn)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(pooled(self.pool, self.conv1(x))))
        out = self.bn2(self.conv2(out))
        if self.residual:
            x = pooled(self.pool, x)
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2

    def branch_end(self) -> nn.Module:
        """The layer whose output is the branch F(x), before the shortcut is added."""
        return self.bn2


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carries the stride, as torchvision's v1.5), 1x1 expand to `cout`."""

    expansion = 4

    def __init__(
        self,
        cin: int,
        cout: int,
        stride: int = 1,
        shortcut: str = "projection",
        projection_bn: bool = True,
        pool: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
    ) -> None:
        super().__init__()
        inner = cout // self.expansion * width_per_group // 64 * groups
        self.pool = make_pool(stride, pool)
        step = 1 if self.pool is not None else stride
        self.conv1 = conv1x1(cin, inner)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = conv3x3(inner, inner, step, groups)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv3 = conv1x1(inner, cout)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.residual = shortcut != "none"
        self.downsample = make_downsample(cin, cout, step, shortcut, projection_bn)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(pooled(self.pool, self.conv2(out))))
        out = self.bn3(self.conv3(out))
        if self.residual:
            x = pooled(self.pool, x)
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3

    def branch_end(self) -> nn.Module:
        return self.bn3


class PreActBlock(nn.Module):
    """He et al. 2016: BN-ReLU-conv twice, addition with nothing after it."""

    expansion = 1

    def __init__(
        self,
        cin: int,
        cout: int,
        stride: int = 1,
        shortcut: str = "projection",
        projection_bn: bool = True,
        pool: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
    ) -> None:
        super().__init__()
        self.pool = make_pool(stride, pool)
        step = 1 if self.pool is not None else stride
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = conv3x3(cin, cout, step, groups)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = conv3x3(cout, cout, 1, groups)
        self.relu = nn.ReLU(inplace=False)  # `x` is still needed by the shortcut
        self.residual = shortcut != "none"
        # The 2016 paper's projection is a bare 1x1 convolution: `projection_bn` does not apply.
        self.downsample = make_downsample(cin, cout, step, shortcut, norm=False)

    def forward(self, x: Tensor) -> Tensor:
        pre = self.relu(self.bn1(x))
        out = pooled(self.pool, self.conv1(pre))
        out = self.conv2(self.relu(self.bn2(out)))
        if not self.residual:
            return out
        # The projection sees the pre-activated input; the identity sees the raw input (2016 paper).
        if self.downsample is None:
            return out + pooled(self.pool, x)
        return out + self.downsample(pooled(self.pool, pre))

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2

    def branch_end(self) -> nn.Module:
        return self.conv2


BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck] | type[PreActBlock]] = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
    "preact": PreActBlock,
}

__all__ = ["BLOCKS", "BasicBlock", "Bottleneck", "PreActBlock", "ZeroPadShortcut"]
