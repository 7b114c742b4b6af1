"""A standalone PyTorch source file for a trained network: it needs only torch.

The blocks are copied from `resnet_studio.nn.blocks` as they are (that module imports only torch);
the network is assembled from the architecture, embedded as data, with the same module names,
so the checkpoint's `state_dict` loads unchanged.
"""

from __future__ import annotations

import ast
import inspect
import pprint

import resnet_studio
from resnet_studio.nn import blocks
from resnet_studio.nn.checkpoint import LoadedModel
from resnet_studio.nn.model import Head

# The user's text (the network's name, its class names) enters this file only as Python literals
# written by repr() and pprint: never in the docstring or a comment, where a quote or a backslash
# in a name would end the string and turn the rest of the name into code.
HEADER = '''"""A standalone PyTorch network exported by ResNet Studio {version}: NAME below says which.

Needs only torch.
    model = load("best.pt")      # the network with the checkpoint's weights, in eval mode
    model = build_model()        # the same network, freshly initialised
Inputs: float32 (N, {channels}, {size}, {size}), pixels scaled to [0, 1], then normalised per channel
with MEAN and STD (`preprocess` prepares PIL images, numpy arrays and tensors of any size).
Outputs: logits over CLASSES.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NAME = {name}
ARCHITECTURE = {architecture}
SIZE = {size}  # input side in pixels
CHANNELS = {channels}
CLASSES = {classes}
MEAN = {mean}
STD = {std}
'''

NETWORK = '''

class ResNet(nn.Module):
    """stem -> stage1 ... stageN (each a Sequential of block1 ... blockK) -> head."""

    def __init__(self, spec: dict = ARCHITECTURE) -> None:
        super().__init__()
        stem = spec["stem"]
        if stem.get("kind") == "whiten":  # fixed whitening filters (from the weights), no padding
            layers = [
                ("whiten", nn.Conv2d(spec["input"]["channels"], stem["channels"], stem["kernel"],
                                     stem["stride"], bias=False)),
                ("relu", nn.ReLU(inplace=True)),
            ]
        else:
            layers = [
                ("conv", nn.Conv2d(spec["input"]["channels"], stem["channels"], stem["kernel"],
                                   stem["stride"], stem["kernel"] // 2, bias=False)),
                ("bn", nn.BatchNorm2d(stem["channels"])),
                ("relu", nn.ReLU(inplace=True)),
            ]
        if stem.get("maxpool"):
            layers.append(("maxpool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
        self.stem = nn.Sequential(OrderedDict(layers))
        channels = stem["channels"]
        self.stage_names = []
        for s, stage in enumerate(spec["stages"], start=1):
            stage_blocks = OrderedDict()
            for b in range(1, stage["count"] + 1):
                stride = stage["stride"] if b == 1 else 1
                block = BLOCKS[stage["block"]]
                stage_blocks[f"block{b}"] = block(channels, stage["channels"], stride, spec["shortcut"],
                                                  spec.get("projection_bn", True),
                                                  pool=spec.get("downsample_by") == "maxpool",
                                                  groups=stage.get("groups", 1),
                                                  width_per_group=stage.get("width_per_group", 64))
                channels = stage["channels"]
            self.add_module(f"stage{s}", nn.Sequential(stage_blocks))
            self.stage_names.append(f"stage{s}")
        preact = spec["stages"][-1]["block"] == "preact"
        self.head = Head(channels, spec["classes"], spec["head"].get("dropout", 0.0), preact)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.head(x)


def build_model() -> ResNet:
    """The network, freshly initialised."""
    return ResNet()


def load(checkpoint_path: str, map_location: str = "cpu") -> ResNet:
    """The network with a ResNet Studio checkpoint's weights, in eval mode (weights_only: a
    checkpoint cannot run code)."""
    state = torch.load(checkpoint_path, map_location=map_location, weights_only=True)
    model = build_model()
    model.load_state_dict(state["model"])
    return model.eval()


def preprocess(images) -> Tensor:
    """Images -> the network's input: float32 (N, C, SIZE, SIZE), normalised with MEAN and STD.

    Takes a PIL image or a list of them, a numpy array or a tensor: (H, W), (H, W, C) or
    (N, H, W, C) as image libraries give them, (C, H, W) or (N, C, H, W) as torch has them; uint8
    pixels, or floats from 0 to 1. Any size: the shorter side is resized to SIZE and the centre
    cropped, as ResNet Studio prepares images; RGBA loses its alpha, colour and grey convert.
    """
    if isinstance(images, (list, tuple)):
        return torch.cat([preprocess(image) for image in images])
    if hasattr(images, "convert") and hasattr(images, "getbands"):  # a PIL image
        images = images.convert("RGB")
        images = torch.frombuffer(bytearray(images.tobytes()), dtype=torch.uint8).view(
            images.height, images.width, 3
        )
    x = torch.as_tensor(images)
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"expected 2 to 4 dimensions, got shape {tuple(x.shape)}")
    if x.shape[1] not in (1, 3, 4) and x.shape[-1] in (1, 3, 4):
        x = x.permute(0, 3, 1, 2)  # channels last -> channels first
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    x = x[:, :3]  # no alpha
    if x.shape[1] != CHANNELS:
        x = x.mean(1, keepdim=True) if CHANNELS == 1 else x[:, :1].expand(-1, CHANNELS, -1, -1)
    height, width = x.shape[-2:]
    if min(height, width) != SIZE:
        scale = SIZE / min(height, width)
        target = (max(SIZE, round(height * scale)), max(SIZE, round(width * scale)))
        x = F.interpolate(x, size=target, mode="bilinear", antialias=True, align_corners=False)
    top, left = (x.shape[-2] - SIZE) // 2, (x.shape[-1] - SIZE) // 2
    x = x[..., top : top + SIZE, left : left + SIZE]
    mean = torch.tensor(MEAN).view(1, -1, 1, 1)
    std = torch.tensor(STD).view(1, -1, 1, 1)
    return (x - mean) / std
'''


def _blocks_source() -> str:
    """nn/blocks.py from its first definition to its end, less `__all__`."""
    source = inspect.getsource(blocks)
    start = source.index("\ndef conv3x3")
    end = source.index("\n__all__")
    return source[start:end].rstrip() + "\n"


def standalone_source(loaded: LoadedModel) -> str:
    spec = loaded.spec
    header = HEADER.format(
        name=repr(spec.name),
        version=resnet_studio.__version__,
        channels=spec.input.channels,
        size=spec.input.size,
        architecture=pprint.pformat(spec.to_dict(), sort_dicts=False),  # Python literals, not JSON
        classes=repr(list(loaded.classes)),
        mean=repr(list(loaded.mean)),
        std=repr(list(loaded.std)),
    )
    head = "\n\n" + inspect.getsource(Head)
    source = header + "\n" + _blocks_source() + head + NETWORK
    expected: dict[str, object] = {
        "NAME": spec.name,
        "CLASSES": list(loaded.classes),
        "ARCHITECTURE": spec.to_dict(),
    }
    _check_literals(source, expected)
    return source


def _check_literals(source: str, expected: dict[str, object]) -> None:
    """Parse (never run) the generated file and check that each of the user's texts reads back as
    the literal it was meant to be: a second guard, after repr(), against text turned into code."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"the generated file does not parse (line {exc.lineno})") from None
    found = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
    }
    for key, value in expected.items():
        if key not in found or ast.literal_eval(found[key]) != value:
            raise ValueError(f"the generated file does not hold {key} as a literal")
