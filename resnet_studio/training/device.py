"""The device and the fastest sound settings for it, chosen from measurements on each kind.

Measured for ResNet-20, batch 128 (see `resnet-studio bench`):
- 2-core CPU: channels_last runs ~30% faster than NCHW (457 -> 599 images/s at 2 threads);
  bf16 autocast is ~10x slower without AVX512-BF16, so the CPU trains in float32.
- CUDA: bf16 autocast (fp16 + loss scaling where bf16 is missing) with channels_last, data kept
  on the device, cuDNN autotuning on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from resnet_studio.errors import UserError
from resnet_studio.training.events import counted


@dataclass(frozen=True)
class DeviceSettings:
    device: torch.device
    channels_last: bool
    amp_dtype: torch.dtype | None  # autocast dtype, None for float32
    threads: int  # torch intra-op threads (CPU work)

    @property
    def needs_grad_scaler(self) -> bool:
        return self.amp_dtype == torch.float16

    def describe(self) -> str:
        name = str(self.device)
        if self.device.type == "cuda":
            name += f" ({torch.cuda.get_device_name(self.device)})"
        precision = {None: "float32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.amp_dtype]
        layout = "channels_last" if self.channels_last else "NCHW"
        return f"{name}, {precision}, {layout}, {counted(self.threads, 'CPU thread')}"


def available_devices() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found


def describe_devices() -> list[tuple[str, str]]:
    """(name, label) of each device, e.g. ("cuda:0", "cuda:0 · NVIDIA H200, 140 GB")."""
    described = []
    for name in available_devices():
        label = name
        if name.startswith("cuda"):
            props = torch.cuda.get_device_properties(int(name.split(":")[1]))
            label = f"{name} · {props.name}, {props.total_memory / 1e9:.0f} GB"
        elif name == "mps":
            label = "mps · Apple GPU"
        elif name == "cpu":
            label = f"cpu · {os.cpu_count() or 1} cores"
        described.append((name, label))
    return described


def choose_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available on this machine (try auto or cpu)")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps: Apple's MPS is not available on this machine (try auto or cpu)")
    if kind not in ("cpu", "cuda", "mps"):
        raise UserError(f"--device {name}: unknown device (use auto, cpu, cuda or mps)")
    return torch.device(name)


def settings_for(
    device: torch.device,
    channels_last: bool | None = None,
    amp: bool | None = None,
    threads: int | None = None,
) -> DeviceSettings:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        bf16 = torch.cuda.is_bf16_supported()
        amp_dtype = (torch.bfloat16 if bf16 else torch.float16) if amp in (None, True) else None
        default_layout = True
    elif device.type == "mps":
        amp_dtype, default_layout = None, False
    else:
        amp_dtype = torch.bfloat16 if amp else None
        default_layout = True
    return DeviceSettings(
        device=device,
        channels_last=default_layout if channels_last is None else channels_last,
        amp_dtype=amp_dtype,
        threads=threads or os.cpu_count() or 1,
    )


def device_memory(device: torch.device) -> int | None:
    """Bytes of memory the device has: a GPU's own, else this machine's (None if unknown)."""
    if device.type == "cuda":
        try:
            return int(torch.cuda.get_device_properties(device).total_memory)
        except (RuntimeError, AssertionError):
            return None
    from resnet_studio.architecture.cost import machine_memory

    return machine_memory()
