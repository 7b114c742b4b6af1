"""Per-layer output shape, parameters and multiply-accumulates, computed from the spec alone.

No model is built, so the builder can re-analyse a ResNet-110 on every edit. The figures follow the
usual convention: parameters are trainable weights (BatchNorm's scale and shift included, running
statistics not); MACs count convolutions and the classifier, one per multiply-add. A test checks
every figure against the built `nn.Module`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from resnet_studio.architecture.spec import ArchitectureSpec, validate


def block_name(stage: int, block: int) -> str:
    """Block `block` of stage `stage` (both 1-based) as the analysis, the model's modules, feature
    maps and gradient norms all name it: "stage2.block1"."""
    return f"stage{stage}.block{block}"


def short_block_name(name: str) -> str:
    """ "stage2.block1" -> "s2 b1", for labels where space is short; other names stay as they are."""
    return name.replace("stage", "s", 1).replace(".block", " b", 1) if name.startswith("stage") else name


@dataclass(frozen=True)
class LayerInfo:
    name: str  # module name in the built model, e.g. "stage2.block1"
    type: str  # "stem", "basic", "bottleneck", "preact", "head"
    output_shape: tuple[int, ...]  # (C, H, W), or (classes,) for the head
    params: int
    macs: int
    # "identity", "projection", "projection-bare" (1x1 conv without BN), "zero-pad" or ""
    # (no shortcut, or not a block)
    shortcut: str = ""


@dataclass(frozen=True)
class Analysis:
    name: str
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, ...]
    layers: tuple[LayerInfo, ...]

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def to_dict(self) -> dict:
        """The `summary --json` object of DESIGN.md."""
        return {
            "name": self.name,
            "params": self.params,
            "macs": self.macs,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "layers": [{**asdict(layer), "output_shape": list(layer.output_shape)} for layer in self.layers],
        }


def si_units(n: float) -> str:
    """1234567 -> "1.23M": counts for people to read (the exact figure stays in the data)."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(int(n))


def _out(size: int, stride: int) -> int:
    return (size - 1) // stride + 1


def _conv(cin: int, cout: int, k: int, out_size: int, groups: int = 1) -> tuple[int, int]:
    params = cin * cout * k * k // groups  # each output sees only its group's inputs
    return params, params * out_size * out_size


def block_figures(
    kind: str,
    cin: int,
    cout: int,
    stride: int,
    shortcut: str,
    size: int,
    projection_bn: bool = True,
    pool: bool = False,
    groups: int = 1,
    width_per_group: int = 64,
) -> tuple[int, int, int, str]:
    """(params, macs, output side, shortcut used) of one residual block fed `size` x `size`;
    with `pool`, the strided convolution runs at the input's size and a max-pool shrinks it;
    `groups` splits the 3x3 convolutions, `width_per_group` widens a bottleneck's inside."""
    out = _out(size, stride)
    strided = size if pool else out  # the side the block's strided convolution computes
    params = macs = 0

    def add(p_m: tuple[int, int]) -> None:
        nonlocal params, macs
        params += p_m[0]
        macs += p_m[1]

    if kind == "bottleneck":
        inner = cout // 4 * width_per_group // 64 * groups
        add(_conv(cin, inner, 1, size))
        add(_conv(inner, inner, 3, strided, groups))
        add(_conv(inner, cout, 1, out))
        params += 2 * (inner + inner + cout)
    else:
        add(_conv(cin, cout, 3, strided, groups))
        add(_conv(cout, cout, 3, out, groups))
        # basic: BN after each conv; preact: BN before each conv.
        params += 2 * (cout + cout) if kind == "basic" else 2 * (cin + cout)

    # A pooled block's shortcut is pooled alike, so it needs a projection only for new channels.
    changes_shape = (stride != 1 and not pool) or cin != cout
    if shortcut == "none":
        used = ""
    elif not changes_shape:
        used = "identity"
    elif shortcut == "projection":
        # The pre-activation paper's projection is always a bare 1x1 convolution.
        normalised = projection_bn and kind != "preact"
        used = "projection" if normalised else "projection-bare"
        add(_conv(cin, cout, 1, out))
        if normalised:
            params += 2 * cout
    else:
        used = "zero-pad"
    return params, macs, out, used


def analyze(spec: ArchitectureSpec) -> Analysis:
    """Analyse a spec; raises `SpecError` if it is invalid."""
    validate(spec)
    layers: list[LayerInfo] = []
    size = spec.input.size
    stem = spec.stem
    size = stem.output_size(size)
    params, macs = _conv(spec.input.channels, stem.channels, stem.kernel, size)
    if stem.kind == "conv":
        params += 2 * stem.channels  # BatchNorm's scale and shift
    if stem.maxpool:
        size = _out(size, 2)
    layers.append(LayerInfo("stem", "stem", (stem.channels, size, size), params, macs))

    channels = stem.channels
    for s, stage in enumerate(spec.stages, start=1):
        for b in range(1, stage.count + 1):
            stride = stage.stride if b == 1 else 1
            params, macs, size, used = block_figures(
                stage.block,
                channels,
                stage.channels,
                stride,
                spec.shortcut,
                size,
                spec.projection_bn,
                spec.downsample_by == "maxpool",
                stage.groups,
                stage.width_per_group,
            )
            channels = stage.channels
            layers.append(
                LayerInfo(block_name(s, b), stage.block, (channels, size, size), params, macs, used)
            )

    head_params = channels * spec.classes + spec.classes
    if spec.stages[-1].block == "preact":
        head_params += 2 * channels  # the final BN + ReLU of a pre-activation network
    layers.append(LayerInfo("head", "head", (spec.classes,), head_params, channels * spec.classes))
    return Analysis(
        name=spec.name,
        input_shape=(spec.input.channels, spec.input.size, spec.input.size),
        output_shape=(spec.classes,),
        layers=tuple(layers),
    )
