"""Every export format round-trips: the exported model's outputs equal the checkpoint's."""

import subprocess
import sys

import pytest
import torch
from PIL import Image

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec, get_preset
from resnet_studio.data import demo
from resnet_studio.data.images import load_image
from resnet_studio.data.transforms import normalize
from resnet_studio.errors import UserError
from resnet_studio.export import export_checkpoint
from resnet_studio.nn.checkpoint import model_from_checkpoint
from resnet_studio.training import TrainConfig, Trainer, run_training

BOTTLENECK = ArchitectureSpec(
    name="Bottleneck net",
    stem=StemSpec(16),
    # The second stage is ResNeXt-like (4 groups, inner width 64 / 4 * 32 / 64 * 4 = 32): every
    # export must carry the grouped convolutions.
    stages=(
        StageSpec("bottleneck", 1, 32, 1),
        StageSpec("bottleneck", 2, 64, 2, groups=4, width_per_group=32),
    ),
    downsample_by="maxpool",
)


@pytest.fixture(scope="module", params=["resnet20", "bottleneck", "cifar-fast"])
def checkpoint(request, tmp_path_factory, demo_splits):
    """A briefly trained checkpoint (BatchNorm statistics no longer at their defaults)."""
    from resnet_studio.data.sources import DataSet, DataSplits, channel_stats

    train = DataSet(demo_splits.train.images[:256], demo_splits.train.labels[:256])
    val = DataSet(demo_splits.val.images[:64], demo_splits.val.labels[:64])
    data = DataSplits("demo", list(demo_splits.classes), train, val, *channel_stats(train.images))
    spec = BOTTLENECK if request.param == "bottleneck" else get_preset(request.param)
    run = tmp_path_factory.mktemp(request.param) / "run"
    run_training(Trainer(spec, TrainConfig(epochs=1, batch_size=64, threads=2), run, data=data))
    return run / "checkpoints" / "best.pt"


def inputs() -> torch.Tensor:
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(7))


def reference(checkpoint) -> torch.Tensor:
    with torch.no_grad():
        return model_from_checkpoint(checkpoint).model(inputs())


# TorchScript is what users of C++ and mobile runtimes load; torch 2.9+ marks torch.jit.load as
# deprecated in favour of torch.export, which those runtimes do not read. Only that warning is muted.
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_round_trips(checkpoint, tmp_path):
    report = export_checkpoint(checkpoint, "torchscript", tmp_path / "model.pt")
    assert report.max_abs_diff <= 1e-5 and report.path.is_file()
    loaded = torch.jit.load(str(report.path))
    assert torch.allclose(loaded(inputs()), reference(checkpoint), atol=1e-5, rtol=0)


def test_onnx_round_trips_with_any_batch_size(checkpoint, tmp_path):
    import onnxruntime

    report = export_checkpoint(checkpoint, "onnx", tmp_path / "model.onnx")
    assert report.max_abs_diff <= 1e-5
    session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {"image": inputs().numpy()})[0])  # 3 images, exported with 4
    assert torch.allclose(got, reference(checkpoint), atol=1e-5, rtol=0)


def test_python_source_runs_in_a_fresh_interpreter_without_resnet_studio(checkpoint, tmp_path):
    report = export_checkpoint(checkpoint, "python", tmp_path / "network.py")
    source = report.path.read_text()
    assert "resnet_studio" not in source.split('"""', 2)[2]  # only the docstring names the studio
    torch.save(inputs(), tmp_path / "inputs.pt")
    script = (
        "import sys\n"
        "sys.modules['resnet_studio'] = None  # any import of the studio would fail here\n"
        "import torch, network\n"
        f"model = network.load({str(checkpoint)!r})\n"
        "fresh = network.build_model()\n"
        "assert not model.training and fresh.training\n"
        "with torch.no_grad():\n"
        "    out = model(torch.load('inputs.pt'))\n"
        "torch.save(out, 'outputs.pt')\n"
        "from PIL import Image\n"  # preprocess takes PIL images, numpy arrays and tensors alike
        "import numpy as np\n"
        "photo = Image.open('photo.png')\n"
        "array = np.asarray(photo)\n"
        "a = network.preprocess(photo)\n"
        "assert torch.equal(a, network.preprocess(array))\n"
        "assert torch.equal(a, network.preprocess(torch.from_numpy(array).permute(2, 0, 1)))\n"
        "assert network.preprocess([photo, photo.convert('RGBA')]).shape == (2, 3, 32, 32)\n"
        "assert network.preprocess(photo.resize((96, 64)).convert('L')).shape == (1, 3, 32, 32)\n"
        "torch.save(a, 'preprocessed.pt')\n"
        "print(len(network.CLASSES), network.MEAN)\n"
    )
    photo, _ = demo.generate(1, seed=3)
    Image.fromarray(photo[0].transpose(1, 2, 0)).save(tmp_path / "photo.png")
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            script.replace("import torch, network", "sys.path.insert(0, '.')\nimport torch, network"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("10 [")
    got = torch.load(tmp_path / "outputs.pt")
    assert torch.allclose(got, reference(checkpoint), atol=1e-5, rtol=0)
    loaded = model_from_checkpoint(checkpoint)  # the studio prepares the same photo identically
    studio = normalize(
        torch.from_numpy(load_image(tmp_path / "photo.png", 32))[None], loaded.mean, loaded.std
    )
    assert torch.allclose(torch.load(tmp_path / "preprocessed.pt"), studio, atol=1e-6)


def test_export_errors_name_the_problem(tmp_path):
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    with pytest.raises(UserError, match="bad.pt"):
        export_checkpoint(tmp_path / "bad.pt", "torchscript", tmp_path / "out.pt")
    with pytest.raises(UserError, match="choose one of"):
        export_checkpoint(tmp_path / "bad.pt", "tflite", tmp_path / "out.x")
    assert not (tmp_path / "out.pt").exists()
