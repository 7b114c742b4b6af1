"""The three writers and the check that every export gets."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from resnet_studio.errors import UserError
from resnet_studio.export.python_source import standalone_source
from resnet_studio.export.report import FORMATS, ExportReport
from resnet_studio.fileio import NotARegularFile, atomic_write, atomic_write_text, check_writable_target
from resnet_studio.nn.checkpoint import LoadedModel, model_from_checkpoint

TOLERANCE = 1e-4  # float32; measured differences are ~1e-6


def export_model(checkpoint: str | Path, format: str, out: Path, inputs: int) -> ExportReport:
    if format not in FORMATS:
        raise UserError(f"--format {format}: choose one of {', '.join(FORMATS)}")
    try:  # before any work: a link, pipe, device or folder at --out is never replaced
        check_writable_target(out)
    except NotARegularFile as exc:
        raise UserError(f"{out}: {exc.strerror}") from None
    if format == "torchvision":
        from resnet_studio.export.torchvision_format import export_torchvision

        return export_torchvision(checkpoint, out, inputs)
    loaded = model_from_checkpoint(checkpoint)
    model = loaded.model.float().eval()
    generator = torch.Generator().manual_seed(0)
    size, channels = loaded.input_size, loaded.channels
    x = torch.randn(inputs, channels, size, size, generator=generator)
    with torch.no_grad():
        expected = model(x)
    writer = {"torchscript": _torchscript, "onnx": _onnx, "python": _python}[format]
    with tempfile.TemporaryDirectory(prefix="resnet-studio-export-") as scratch:
        # Python imports only a .py file: the staged copy is one whatever --out is called.
        staged = Path(scratch) / ("model.py" if format == "python" else f"model{out.suffix or '.bin'}")
        with warnings_silenced():  # torch.jit and the exporter warn of their own deprecations
            run = writer(loaded, x, staged)
            got = run(x)
        diff = float((got - expected).abs().max())
        if not np.isfinite(diff) or diff > TOLERANCE:
            raise UserError(
                f"{format} export of {loaded.path} does not reproduce the model: max abs difference "
                f"{diff:.2e} > {TOLERANCE:.0e}; nothing was written to {out}"
            )
        try:
            atomic_write(out, lambda handle: handle.write(staged.read_bytes()))
        except OSError as exc:
            raise UserError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return ExportReport(out, format, diff, inputs)


Runner = Callable[[Tensor], Tensor]


def _torchscript(loaded: LoadedModel, x: Tensor, path: Path) -> Runner:
    with torch.no_grad():
        traced = torch.jit.trace(loaded.model, x[:1])
    torch.jit.save(traced, str(path))
    reloaded = torch.jit.load(str(path))
    return lambda batch: reloaded(batch).detach()


def _onnx(loaded: LoadedModel, x: Tensor, path: Path) -> Runner:
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"ONNX export needs the {' and '.join(missing)} package: pip install 'resnet-studio[onnx]'"
        )
    batch = torch.export.Dim("batch", min=1)
    # The exporter reports its progress on stdout; the command line prints its own summary.
    with contextlib.redirect_stdout(io.StringIO()):
        torch.onnx.export(
            loaded.model,
            (x,),
            str(path),
            input_names=["image"],
            output_names=["logits"],
            dynamic_shapes={"x": {0: batch}},
            dynamo=True,
            external_data=False,
        )
    import onnx

    onnx.checker.check_model(str(path))
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda batch: torch.from_numpy(session.run(None, {"image": batch.numpy()})[0])
    from onnx.reference import ReferenceEvaluator  # slow, but needs nothing more

    evaluator: Any = ReferenceEvaluator(str(path))  # its run() returns a list of arrays
    return lambda batch: torch.from_numpy(evaluator.run(None, {"image": batch.numpy()})[0])


# The exported file is checked in a separate interpreter: were anything in it to run code, it runs
# there with a time limit, never inside this process (which a generated file could otherwise change).
CHECK_SCRIPT = """
import importlib.util, sys
import torch
source, checkpoint, inputs, outputs = sys.argv[1:5]
spec = importlib.util.spec_from_file_location("exported_model", source)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
network = module.load(checkpoint)
with torch.no_grad():
    torch.save(network(torch.load(inputs, weights_only=True)).detach(), outputs)
"""
CHECK_SECONDS = 300  # importing torch and one forward pass: seconds, minutes on a loaded machine


def _python(loaded: LoadedModel, _x: Tensor, path: Path) -> Runner:
    try:
        source = standalone_source(loaded)
    except ValueError as exc:
        raise UserError(f"{loaded.path}: cannot export as Python: {exc}") from None
    atomic_write_text(path, source)

    def run(batch: Tensor) -> Tensor:
        inputs, outputs = path.with_name("inputs.pt"), path.with_name("outputs.pt")
        torch.save(batch, inputs)
        command = [sys.executable, "-c", CHECK_SCRIPT, str(path), str(loaded.path), str(inputs), str(outputs)]
        try:
            result = subprocess.run(
                command,
                cwd=path.parent,
                capture_output=True,
                timeout=CHECK_SECONDS,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise UserError(
                f"python export of {loaded.path}: the exported file's check did not finish in "
                f"{CHECK_SECONDS} s; nothing was written"
            ) from None
        if result.returncode != 0 or not outputs.is_file():
            lines = result.stderr.decode("utf-8", "backslashreplace").strip().splitlines() or ["no output"]
            raise UserError(
                f"python export of {loaded.path}: the exported file fails in a fresh interpreter "
                f"({lines[-1][:200]}); nothing was written"
            )
        return torch.load(outputs, map_location="cpu", weights_only=True)

    return run


@contextlib.contextmanager
def warnings_silenced():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
