"""Real-data test on the shared CIFAR-10 JPEG archive: it runs in CI, and skips only elsewhere when
../shared is absent (the `cifar_archive` fixture)."""

import tarfile
from pathlib import Path

import pytest

from resnet_studio.data import load_data


@pytest.fixture(scope="module")
def cifar_slice(tmp_path_factory, cifar_archive: Path) -> Path:
    """The first 60 training and 20 test images of each class, extracted to a temporary folder."""
    root = tmp_path_factory.mktemp("cifar")
    with tarfile.open(cifar_archive) as tar:
        members = []
        for member in tar:
            parts = Path(member.name).parts
            if member.isfile() and len(parts) >= 3 and parts[-3] in ("train", "test"):
                limit = 60 if parts[-3] == "train" else 20
                if int(Path(parts[-1]).stem) < limit:
                    members.append(member)
        tar.extractall(root, members=members, filter="data")
    top = next(p for p in root.rglob("train") if p.is_dir()).parent
    return top


def test_folder_source_reads_the_cifar_layout(cifar_slice):
    data = load_data(f"folder:{cifar_slice}", limit_train=300)
    assert data.classes == [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    assert len(data.train) == 300 and len(data.val) == 200 and data.skipped == 0
    assert data.train.images.shape[1:] == (3, 32, 32)
    assert data.train.labels.bincount().tolist() == [30] * 10
