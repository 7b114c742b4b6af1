"""bf16 inference where it pays: the same top-1 answers as float32 on real CIFAR-10 test photos
(the shared archive: run in CI, skipped elsewhere when ../shared is absent), and the rule that
decides where bf16 is used."""

import tarfile
from pathlib import Path

import pytest
import torch

from resnet_studio.data.sources import load_data
from resnet_studio.inspection.evaluate import evaluate
from resnet_studio.inspection.inference_precision import MIN_BATCH, PAYS_AT, bf16_speedup, inference_dtype
from resnet_studio.nn.checkpoint import model_from_checkpoint
from resnet_studio.nn.cpu_features import matrix_units

PER_CLASS = 30  # 300 test images: at 99.5%, at most 1 answer may change (0 of 1,000 did)


@pytest.fixture(scope="module")
def cifar_test_slice(tmp_path_factory, cifar_archive: Path) -> Path:
    """The first `PER_CLASS` test images of each class (and one training image each, which the
    folder source asks for), extracted to a temporary folder."""
    root = tmp_path_factory.mktemp("cifar-slice")
    with tarfile.open(cifar_archive) as tar:
        members = []
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3 or parts[-3] not in ("train", "test"):
                continue
            if int(Path(parts[-1]).stem) < (PER_CLASS if parts[-3] == "test" else 1):
                members.append(member)
        tar.extractall(root, members=members, filter="data")
    return next(p for p in root.rglob("test") if p.is_dir()).parent


def test_bf16_gives_float32s_top_class_on_cifar10_test_photos(cifar_test_slice):
    """The shipped ResNet-20, with its mirror and shift averaging as evaluated, in both formats."""
    loaded = model_from_checkpoint("resnet20-cifar10")
    data = load_data(f"folder:{cifar_test_slice}", limit_train=10)
    assert len(data.val) == 10 * PER_CLASS and data.classes == loaded.classes
    assert loaded.tta and loaded.tta_shift == 1
    results = {
        dtype: evaluate(
            loaded.model,
            data.val,
            loaded.classes,
            loaded.mean,
            loaded.std,
            size=32,
            amp_dtype=dtype,
            keep_predictions=True,
            tta=loaded.tta,
            tta_shift=loaded.tta_shift,
        )
        for dtype in (None, torch.bfloat16)
    }
    same = (results[None].predictions == results[torch.bfloat16].predictions).mean()
    assert same >= 0.995, same
    assert results[None].accuracy > 0.85  # the slice is answered as the weights promise
    assert abs(results[torch.bfloat16].accuracy - results[None].accuracy) <= 0.005


def test_bf16_is_used_only_for_batches_on_a_cpu_where_it_was_measured_to_pay():
    assert inference_dtype("cuda", 256) is None  # a GPU's inference is its caller's to choose
    assert inference_dtype("cpu", MIN_BATCH - 1) is None  # one image: float32, exact and as fast
    chosen = inference_dtype("cpu", 256)
    if not matrix_units():
        assert chosen is None  # emulated bf16 is slower: not even measured
        return
    speedup = bf16_speedup()
    assert speedup > 0 and bf16_speedup() == speedup  # measured once per process
    assert chosen == (torch.bfloat16 if speedup >= PAYS_AT else None)
