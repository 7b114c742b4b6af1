"""Shared fixtures: tiny networks and tiny data, so that real training takes seconds."""

from __future__ import annotations

import os
import random
import tarfile
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The suite runs in two worker processes (pyproject.toml's addopts), each training with two threads
# on CI's two cores: OpenMP's threads sleep while they wait instead of spinning, so that one
# worker's waiting threads do not take the cores the other's need (the suite: 288 s -> 218 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# QSettings (recent files, geometry) go to a throwaway folder, never the user's own config.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="resnet-studio-tests-")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec  # noqa: E402
from resnet_studio.data.sources import DataSet, DataSplits, channel_stats, load_data  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _work_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own temporary folder: what a command writes to the working directory
    by default (`runs/NAME-TIME/` of a `train` without --out, even a refused one) never lands in
    the clone."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Every test starts from the same random state: the weights and inputs a test draws in its
    own body never depend on which tests ran before it in its worker (pytest-xdist shares them out
    differently from run to run). Module- and session-scoped fixtures are made before this runs:
    those that draw random numbers seed themselves."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture
def tiny_spec() -> ArchitectureSpec:
    """Two small stages: trains on a few hundred images in a second or two."""
    return ArchitectureSpec(
        name="Tiny",
        input=InputSpec(3, 32),
        classes=10,
        stem=StemSpec(channels=8, kernel=3, stride=1),
        stages=(StageSpec("basic", 1, 8, 2), StageSpec("basic", 1, 16, 2)),
        shortcut="projection",
    )


@pytest.fixture(scope="session")
def demo_splits() -> DataSplits:
    return load_data("demo")


@pytest.fixture(scope="session")
def demo_slice(demo_splits: DataSplits):
    """`demo_slice(train, val)`: a seeded random `train` training images and the first `val`
    validation images of the demo set, with the whole set's normalisation."""

    def make(train: int, val: int) -> DataSplits:
        return DataSplits(
            "demo",
            demo_splits.classes,
            demo_splits.train.subset(train, 0),
            DataSet(demo_splits.val.images[:val], demo_splits.val.labels[:val]),
            demo_splits.mean,
            demo_splits.std,
        )

    return make


@pytest.fixture
def small_demo(demo_splits: DataSplits) -> DataSplits:
    """512 training and 256 validation images of the demo set."""
    train = DataSet(demo_splits.train.images[:512], demo_splits.train.labels[:512])
    val = DataSet(demo_splits.val.images[:256], demo_splits.val.labels[:256])
    mean, std = channel_stats(train.images)
    return DataSplits("demo", list(demo_splits.classes), train, val, mean, std)


def _find_shared_archive() -> Path:
    """`shared/data/cifar10-jpeg.tar.gz` beside the clone or beside any folder above it (a clone in
    /work/main and a worktree in /work/wt/NAME both find /work/shared); $CIFAR10_JPEG_ARCHIVE names
    it for a clone elsewhere."""
    if os.environ.get("CIFAR10_JPEG_ARCHIVE"):
        return Path(os.environ["CIFAR10_JPEG_ARCHIVE"])
    relative = Path("shared") / "data" / "cifar10-jpeg.tar.gz"
    clone = Path(__file__).resolve().parents[1]
    for folder in clone.parents:
        if (folder / relative).is_file():
            return folder / relative
    return clone.parent / relative  # absent: named in the message


CIFAR_ARCHIVE = _find_shared_archive()
# The fixed slice of the CIFAR-10 test set the shipped weights are checked on in CI: the first 100
# test images of each class (files 0000.jpg-0099.jpg), 1,000 in all.
CIFAR_SLICE_PER_CLASS = 100


@pytest.fixture(scope="session")
def cifar_archive() -> Path:
    """The shared CIFAR-10 JPEG archive. In CI (CI=true) it must be there: a missing archive fails
    the test instead of skipping it; elsewhere the real-data tests skip."""
    if not CIFAR_ARCHIVE.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CIFAR_ARCHIVE} is missing: CI runs the real-data tests")
        pytest.skip(f"{CIFAR_ARCHIVE} absent")
    return CIFAR_ARCHIVE


def _extract_cifar_test(archive: Path, root: Path, per_class: int | None) -> Path:
    """The CIFAR-10 test images (`per_class` of each class, the lowest-numbered; None: all) as
    `test/<class>/*.jpg`, with a one-image-per-class `train/` so the folder source accepts it."""
    with tarfile.open(archive) as tar:
        members = []
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3:
                continue
            number = int(Path(parts[-1]).stem)
            wanted_test = parts[-3] == "test" and (per_class is None or number < per_class)
            if wanted_test or (parts[-3] == "train" and number == 0):
                members.append(member)
        tar.extractall(root, members=members, filter="data")
    return next(p for p in root.rglob("test") if p.is_dir()).parent


@pytest.fixture(scope="session")
def cifar_test_folder(cifar_archive: Path, tmp_path_factory) -> Path:
    """The whole CIFAR-10 test set (10,000 JPEG files): only the slow full-set check uses it."""
    return _extract_cifar_test(cifar_archive, tmp_path_factory.mktemp("cifar-test"), None)


@pytest.fixture(scope="session")
def cifar_test_slice(cifar_archive: Path, tmp_path_factory) -> Path:
    """The fixed 1,000-image slice of the CIFAR-10 test set (CIFAR_SLICE_PER_CLASS of each class)."""
    return _extract_cifar_test(cifar_archive, tmp_path_factory.mktemp("cifar-slice"), CIFAR_SLICE_PER_CLASS)


@pytest.fixture(scope="session")
def demo_picture_folder(tmp_path_factory):
    """`demo_picture_folder(count)`: a folder source (`folder:PATH`) of `count` demo pictures as PNG
    files in class folders, the same under train/ and val/ (a folder source needs both; only
    one split is decoded where only the validation images are read)."""
    from PIL import Image

    from resnet_studio.data import demo

    def make(count: int) -> str:
        root = tmp_path_factory.mktemp("pictures")
        pictures, labels = demo.generate(count, seed=7)
        for i, (picture, label) in enumerate(zip(pictures, labels, strict=True)):
            for split in ("train", "val"):
                folder = root / split / demo.CLASSES[label]
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(picture.transpose(1, 2, 0)).save(folder / f"{i}.png")
        return f"folder:{root}"

    return make
