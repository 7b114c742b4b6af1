"""Retake the README's screenshots from the current app, as a user would make them.

    .venv/bin/python resources/screenshots/retake.py              # every quick one
    .venv/bin/python resources/screenshots/retake.py build classify
    .venv/bin/python resources/screenshots/retake.py --all        # the long ones too (~30 min)
    .venv/bin/python resources/screenshots/retake.py --list

Each screenshot is a function below: it builds the studio's `MainWindow`, drives it (a workspace
chosen, files dropped as real drag-and-drop events, Train pressed, an experiment run), waits for
the background work and writes the window to `resources/screenshots/NAME.png` at the size the
README gives. Those that train for minutes are marked long: they run when named or with --all.
Nothing is read from the user's settings or written to their runs folder (a temporary folder
stands in for both), and the pictures classified are drawn here, never copied from a data set.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(ROOT))  # the clone's package, even where another one is installed


@dataclasses.dataclass(frozen=True)
class Shot:
    name: str
    take: Callable[..., None]  # drives a shown window: take(window, work_folder)
    size: tuple[int, int] = (1280, 800)
    theme: str = "light"
    long: str = ""  # why it takes minutes; empty for a quick one


SHOTS: dict[str, Shot] = {}


def shot(name: str, size: tuple[int, int] = (1280, 800), theme: str = "light", long: str = ""):
    def register(take: Callable[..., None]) -> Callable[..., None]:
        SHOTS[name] = Shot(name, take, size, theme, long)
        return take

    return register


# -- waiting as a user would ---------------------------------------------------------------------


def wait_until(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")
        QApplication.processEvents()
        time.sleep(0.02)


def settle(window) -> None:
    """Let every background job (images decoded, a model loaded, maps computed) finish and draw."""
    from PySide6.QtCore import QThreadPool
    from PySide6.QtWidgets import QApplication

    from resnet_studio.ui.common.background import wait_for_background

    for _ in range(20):
        QApplication.processEvents()
        wait_for_background(60_000)
        QApplication.processEvents()
        if QThreadPool.globalInstance().activeThreadCount() == 0:
            break
    window.train_view.redraw_all()
    for _ in range(5):
        QApplication.processEvents()
        time.sleep(0.05)


def drop_files(window, paths: list[Path]) -> None:
    """Drag files from a file manager and drop them on the window (enter, move, drop)."""
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, QDragEnterEvent(QPoint(400, 300), *args))
    QApplication.sendEvent(window, QDragMoveEvent(QPoint(400, 300), *args))
    QApplication.sendEvent(window, QDropEvent(QPointF(400, 300), *args))


def click(button) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


# -- pictures to classify, drawn here --------------------------------------------------------------


def cat_photo(folder: Path) -> Path:
    """A tabby cat's face drawn in code, blurred and noisy like a photo (the shipped CIFAR-10
    weights call it a cat, ~94%)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    size = 320
    rng = np.random.default_rng(0)
    y = np.mgrid[0:size, 0:size][0] / size
    wall = np.stack([200 - 60 * y, 190 - 70 * y, 175 - 80 * y], -1)  # warm, darker below
    image = Image.fromarray(wall.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    fur, dark, pink, white = (196, 128, 64), (120, 72, 36), (226, 150, 150), (240, 240, 240)

    def at(*points: tuple[float, float]) -> list[tuple[float, float]]:
        return [(x * 1.25, y * 1.25) for x, y in points]

    for side in (1, -1):  # ears, then their pink insides
        draw.polygon(
            at(*((128 + side * (128 - x), y) for x, y in ((52, 110), (66, 22), (116, 78)))), fill=fur
        )
        draw.polygon(
            at(*((128 + side * (128 - x), y) for x, y in ((66, 96), (72, 44), (104, 80)))), fill=pink
        )
    draw.ellipse(at((40, 60), (216, 236)), fill=fur)
    draw.ellipse(at((84, 150), (172, 236)), fill=(236, 214, 190))  # muzzle
    for k in range(-2, 3):  # tabby stripes
        draw.line(at((128 + 14 * k, 70), (128 + 10 * k, 118)), fill=dark, width=9)
    for cx in (92, 164):
        draw.ellipse(at((cx - 20, 112), (cx + 20, 146)), fill=(150, 180, 60))
        draw.ellipse(at((cx - 5, 114), (cx + 5, 144)), fill=(20, 20, 10))
    draw.polygon(at((116, 166), (140, 166), (128, 180)), fill=(200, 110, 110))
    draw.line(at((128, 180), (128, 194)), fill=dark, width=4)
    for whisker in (184, 194):
        draw.line(at((104, whisker), (40, whisker - 12)), fill=white, width=2)
        draw.line(at((152, whisker), (216, whisker - 12)), fill=white, width=2)
    image = image.filter(ImageFilter.GaussianBlur(2.5))
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 6, (size, size, 3))
    # Framed as CIFAR-10 frames its cats: the face fills the picture.
    photo = Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).crop((40, 40, 280, 280))
    path = folder / "cat.jpg"
    photo.save(path, quality=92)
    return path


def demo_pictures(folder: Path) -> list[Path]:
    """One generated picture of each demo shape (named after it), a text file and a cut JPEG."""
    from PIL import Image

    from resnet_studio.data import demo

    folder.mkdir(parents=True, exist_ok=True)
    pictures, labels = demo.generate(40, seed=11)
    paths, seen = [], set()
    for picture, label in zip(pictures, labels, strict=True):
        name = demo.CLASSES[int(label)]
        if name in seen:
            continue
        seen.add(name)
        path = folder / f"{name}-{len(seen)}.jpg"
        Image.fromarray(picture.transpose(1, 2, 0)).resize((64, 64), Image.Resampling.BICUBIC).save(
            path, quality=95
        )
        paths.append(path)
    (folder / "readme.txt").write_text("notes about these pictures\n")
    broken = folder / "scan-broken.jpg"
    broken.write_bytes(paths[0].read_bytes()[:300])
    return [*paths, folder / "readme.txt", broken]


# -- the screenshots -----------------------------------------------------------------------------


def _workspace(window, name: str) -> None:
    from resnet_studio.ui.common.workspaces import Workspace

    window.show_workspace(Workspace.named(name))
    settle(window)


@shot("build")
def build(window, work: Path) -> None:
    """ResNet-20 on the canvas, as the studio opens."""
    window.canvas.fit()


@shot("build-dark-small", size=(1024, 640), theme="dark")
def build_dark_small(window, work: Path) -> None:
    window.canvas.fit()


@shot("build-resnext50")
def build_resnext50(window, work: Path) -> None:
    """The ResNeXt-50 32x4d preset: grouped 3x3 convolutions drawn on its blocks."""
    window.load_preset("resnext50_32x4d")
    settle(window)


@shot("train-first-visit-1280x800")
def train_first_visit(window, work: Path) -> None:
    _workspace(window, "train")
    wait_until(lambda: window.train_view.pinned is not None, 60, "the demo samples")


@shot("train-first-visit-1024x640", size=(1024, 640))
def train_first_visit_small(window, work: Path) -> None:
    train_first_visit(window, work)


@shot("first-launch-classify")
def first_launch_classify(window, work: Path) -> None:
    """A photo of a cat dropped on a freshly opened window: the shipped CIFAR-10 weights answer."""
    drop_files(window, [cat_photo(work)])
    wait_until(
        lambda: window.classify_view.table.rowCount() == 1 and not window.classify_view.busy,
        120,
        "the answer",
    )


@shot("first-launch-inspect")
def first_launch_inspect(window, work: Path) -> None:
    """`resnet-studio --workspace inspect open cat.jpg`: its feature maps and Grad-CAM."""
    _workspace(window, "inspect")
    window.open_image(str(cat_photo(work)), inspect=True)
    wait_until(lambda: getattr(window.inspect_view, "last_cam", None) is not None, 120, "Grad-CAM")


def _demo_weights(window) -> None:
    window.model_source.use_checkpoint("resnet20-demo")


@shot("classify")
def classify(window, work: Path) -> None:
    """Ten demo pictures, a text file and a broken JPEG dropped on the window (the demo weights)."""
    _demo_weights(window)
    paths = demo_pictures(work / "pictures")
    drop_files(window, paths)
    view = window.classify_view
    wait_until(lambda: view.table.rowCount() == len(paths) and not view.busy, 120, "the answers")
    rows = [r for r in range(view.table.rowCount()) if view.table.item(r, 1).text().startswith("crescent")]
    view.table.selectRow(rows[0] if rows else 0)


@shot("inspect")
def inspect(window, work: Path) -> None:
    """A demo crescent's feature maps and Grad-CAM at stage2.block2 (the demo weights)."""
    _demo_weights(window)
    _workspace(window, "inspect")
    view = window.inspect_view
    crescent = next(p for p in demo_pictures(work / "pictures") if p.name.startswith("crescent"))
    view.open_image(str(crescent))
    wait_until(lambda: getattr(view, "last_cam", None) is not None and not view.busy, 120, "Grad-CAM")
    view.block.setCurrentText("stage2.block2")  # as a user picks it in the Block box
    settle(window)
    wait_until(lambda: not view.busy, 120, "the block's maps")


@shot("inspect-resnet50-224")
def inspect_resnet50_224(window, work: Path) -> None:
    """A torchvision ResNet-50 with seeded random weights, imported with its ImageNet class names
    and preparation, on a generated 640x480 photo at 224 px (the weights do not matter here: the
    legibility of 112- to 7-pixel maps does)."""
    from resnet_studio.ui.shell.bench_224 import _imported, _photo

    checkpoint, _ = _imported("resnet50", work)
    window.model_source.use_checkpoint(str(checkpoint))
    _workspace(window, "inspect")
    view = window.inspect_view
    view.open_image(str(_photo(work / "photo.jpg")))
    wait_until(lambda: getattr(view, "last_cam", None) is not None and not view.busy, 300, "Grad-CAM")
    view.block.setCurrentText("stage2.block4")
    settle(window)
    wait_until(lambda: not view.busy, 300, "the block's maps")


def _cat_at_a_channel(window, work: Path, tab: str) -> None:
    """The cat photo in Inspect at stage2.block1, channel 5 clicked, the side tab `tab` shown."""
    _workspace(window, "inspect")
    view = window.inspect_view
    view.open_image(str(cat_photo(work)))
    wait_until(lambda: getattr(view, "last_cam", None) is not None and not view.busy, 120, "Grad-CAM")
    view.block.setCurrentText("stage2.block1")
    settle(window)
    view.maps.setCurrentRow(5)  # as a user clicks a tile
    view.side.setCurrentWidget(getattr(view, tab))


@shot("inspect-anatomy")
def inspect_anatomy(window, work: Path) -> None:
    """Inspect > Image > Block anatomy: the cat through stage2.block1 (shipped weights), its
    shortcut dropped for this image."""
    _cat_at_a_channel(window, work, "anatomy")
    view = window.inspect_view.anatomy
    wait_until(lambda: view.answer is not None, 60, "the anatomy")
    view.drop_shortcut.setChecked(True)


# Beside the clone, as the tests find it; CIFAR10_JPEG names it where a worktree has it elsewhere.
CIFAR_JPEG = Path(os.environ.get("CIFAR10_JPEG") or ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz")


@shot("inspect-channel", long="indexes 5,000 CIFAR-10 test images and optimises an image (~1 min)")
def inspect_channel(window, work: Path) -> None:
    """Inspect > Image > Looks for: stage2.block1's channel 5 (shipped weights), its top 9 of the
    CIFAR-10 test images (the JPEG copy beside the project, extracted) and its optimised image."""
    window.inspect_view.looks_for.data.setText(f"folder:{_cifar_test_images(work)}")
    _cat_at_a_channel(window, work, "looks_for")
    view = window.inspect_view.looks_for
    wait_until(lambda: view.indexed is not None, 600, "the top images")
    view.optimise()
    wait_until(lambda: view.optimised is not None, 600, "the optimised image")


def _cifar_test_images(work: Path) -> Path:
    """The CIFAR-10 JPEG archive beside the project, extracted once into the temporary folder as
    `cifar10` (kept for the next retake): the screenshots show a path a user could have typed, not
    the scratch folder's random name."""
    import tarfile

    folder = Path(tempfile.gettempdir()) / "cifar10"
    if (folder / "test").is_dir():
        return folder
    if not CIFAR_JPEG.is_file():
        raise FileNotFoundError(f"{CIFAR_JPEG}: the CIFAR-10 JPEG archive is needed for this screenshot")
    with tarfile.open(CIFAR_JPEG) as archive:
        archive.extractall(work / "cifar10", filter="data")
    shutil.move(work / "cifar10", folder)
    return folder


@shot("inspect-embedding", long="t-SNE of 2,000 CIFAR-10 test images' features, shipped ResNet-20 (~1 min)")
def inspect_embedding(window, work: Path) -> None:
    """Inspect > Embedding: the shipped CIFAR-10 ResNet-20's penultimate features of 2,000 test
    images by t-SNE, a cluster lassoed (its images below) and one point hovered."""
    import numpy as np

    _workspace(window, "inspect")
    view = window.inspect_view.embedding
    window.inspect_view.tabs.setCurrentWidget(view)
    view.data.setText(f"folder:{_cifar_test_images(work)}")
    view.method.setCurrentIndex(view.method.findData("tsne"))
    click(view.draw_button)
    wait_until(lambda: view.shown is not None and not view.busy, 600, "the t-SNE")
    settle(window)
    # A lasso round the heart of the automobiles' cluster, as a user draws it.
    points, labels = view.points[: view.data_in.count], view.data_in.labels
    mine = points[labels == view.data_in.classes.index("automobile")]
    centre = np.median(mine, axis=0)
    radius = np.percentile(np.linalg.norm(mine - centre, axis=1), 45)
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    view.cloud.box.drawn.emit(centre + radius * np.stack([np.cos(angles), 1.15 * np.sin(angles)], 1))
    # A cat among the dogs, hovered.
    cats = np.nonzero(labels == view.data_in.classes.index("cat"))[0]
    dogs = points[labels == view.data_in.classes.index("dog")].mean(axis=0)
    nearest = int(cats[np.argmin(np.linalg.norm(points[cats] - dogs, axis=1))])
    view._hovered(nearest, view.cloud.pixel_of(nearest))


@shot("evaluate")
def evaluate(window, work: Path) -> None:
    """Inspect > Validation set > Evaluate: the demo weights on the 2,000 validation images."""
    _demo_weights(window)
    _workspace(window, "inspect")
    view = window.inspect_view.validation
    window.inspect_view.tabs.setCurrentWidget(view)
    click(view.evaluate_button)
    wait_until(lambda: view.evaluation is not None, 300, "the evaluation")


# -- the long ones: they train -----------------------------------------------------------------------


@shot("train", long="Plain vs residual with the defaults: about 2.5 minutes on 2 cores")
def train(window, work: Path) -> None:
    _workspace(window, "train")
    view = window.train_view
    wait_until(lambda: view.pinned is not None, 60, "the demo samples")
    view.compare()
    wait_until(
        lambda: len(view.runs) == 2 and not view.training and not view.controller.queue, 1800, "the pair"
    )


@shot(
    "train-plain-vs-residual-1024x640",
    size=(1024, 640),
    long="Plain vs residual at 1024x640, taken while the plain twin trains: about 2 minutes",
)
def train_during_comparison(window, work: Path) -> None:
    _workspace(window, "train")
    view = window.train_view
    wait_until(lambda: view.pinned is not None, 60, "the demo samples")
    view.compare()
    wait_until(lambda: len(view.runs) == 2 and len(view.runs[1].steps) >= 25, 1800, "the plain twin's steps")


@shot("train-degradation", long="the degradation experiment, four networks: about 10 minutes")
def train_degradation(window, work: Path) -> None:
    _workspace(window, "train")
    view = window.train_view
    wait_until(lambda: view.pinned is not None, 60, "the demo samples")
    view.degradation()
    wait_until(
        lambda: len(view.runs) == 4 and not view.training and not view.controller.queue, 3600, "the four"
    )


@shot("train-contributions", long="ResNet-20 trained 2 epochs on the demo data: about 3 minutes")
def train_contributions(window, work: Path) -> None:
    _workspace(window, "train")
    view = window.train_view
    wait_until(lambda: view.pinned is not None, 60, "the demo samples")
    view.setup.epochs.setValue(2)
    click(view.train_button)
    wait_until(lambda: view.runs and not view.training, 1800, "the run")
    view.plots.block_views.setCurrentWidget(view.plots.contribution_view)


_PROBE: dict[str, Path] = {}  # the transfer probe's photos and checkpoint, shared by its two shots


def _photos_and_weights(work: Path) -> tuple[Path, Path]:
    """300 photo-like 640x480 JPEGs in 5 classes, and torchvision's ResNet-18 with seeded random
    weights imported as File > Import torchvision Weights… makes it (no download here)."""
    from resnet_studio.benchmarks.photolike import make_photo_folder
    from resnet_studio.benchmarks.transfer import imported_network

    photos = make_photo_folder(work / "photos", 300, classes=5)
    return photos, imported_network("resnet18", work)


@shot(
    "train-transfer-probe",
    long="ResNet-18 features of 300 photos at 224 px, then its new output layer: ~1 min",
)
def train_transfer_probe(window, work: Path) -> None:
    """Setup as a user fills it: Data folder, Start from the imported ResNet-18, Recipe
    transfer-probe; Train, and the run to its end."""
    photos, weights = _photos_and_weights(work)
    _workspace(window, "train")
    view = window.train_view
    setup = view.setup
    setup.data_kind.setCurrentText("folder")
    setup.data_path.setText(str(photos))
    setup.init.set_value(str(weights))
    setup.init.chosen.emit(str(weights))
    index = setup.recipe.findData("transfer-probe")
    setup.recipe.setCurrentIndex(index)
    setup.recipe.activated.emit(index)
    settle(window)
    click(view.train_button)
    wait_until(lambda: view.runs and not view.training, 900, "the probe")
    _PROBE["photos"] = photos
    _PROBE["checkpoint"] = Path(view.controller.last_run_dir) / "checkpoints" / "best.pt"


@shot("classify-transfer-probe", long="after train-transfer-probe (or its own probe, headless: ~1 min)")
def classify_transfer_probe(window, work: Path) -> None:
    """One of the user's photos answered by the network the probe trained."""
    if "checkpoint" not in _PROBE or not _PROBE["checkpoint"].is_file():
        from resnet_studio.cli import main as command

        photos, weights = _photos_and_weights(work)
        out = work / "runs" / "probe"
        command(
            [
                "train",
                "--init",
                str(weights),
                "--recipe",
                "transfer-probe",
                "--data",
                f"folder:{photos}",
                "--out",
                str(out),
            ]
        )
        _PROBE.update(photos=photos, checkpoint=out / "checkpoints" / "best.pt")
    window.model_source.use_checkpoint(str(_PROBE["checkpoint"]))
    photos = sorted((_PROBE["photos"] / "val").glob("class_*/*.jpg"))  # the photos it never trained on
    drop_files(window, photos)
    view = window.classify_view
    wait_until(lambda: view.table.rowCount() == len(photos) and not view.busy, 120, "the answers")
    # the surest answer shown: a network of random ImageNet weights probed on 270 photos is unsure of some
    sure = max(range(len(photos)), key=lambda row: float(view.table.item(row, 3).text().rstrip("%")))
    view.table.selectRow(sure)


def _trained_twins(work: Path, epochs: int, with_residual: bool = True) -> tuple[Path, Path]:
    """ResNet-20 and plain-20 trained alike on the demo data with the quick recipe (as
    `resnet-studio train --preset P --recipe quick --data demo --seed 0 --epochs N`), headless."""
    from resnet_studio.architecture import get_preset
    from resnet_studio.training import Trainer, run_training
    from resnet_studio.training.recipes import get_recipe

    folders = []
    for preset in ("resnet20", "plain20") if with_residual else ("plain20",):
        # Shared by the shots of one call; named as the window shows them ("plain-20").
        folder = work.parent / "twins" / f"{epochs}-epochs" / preset.replace("20", "-20")
        if not (folder / "checkpoints" / "best.pt").is_file():
            config = get_recipe("quick").config(epochs=epochs, seed=0)
            run_training(Trainer(get_preset(preset), config, folder))
        folders.append(folder)
    return folders[0], folders[-1]


def _experiment(window, work: Path, kind: str, epochs: int, limit: int, shipped: bool = False) -> None:
    """`kind` on ResNet-20 (the shipped `resnet20-demo` where `shipped`) beside plain-20."""
    residual, plain = _trained_twins(work, epochs, with_residual=not shipped)
    os.chdir(residual.parent)  # the Model line names the checkpoint "resnet-20", not a temporary path
    window.model_source.use_checkpoint("resnet20-demo" if shipped else residual.name)
    window.training.remember(plain)
    _workspace(window, "inspect")
    view = window.inspect_view.experiments
    window.inspect_view.tabs.setCurrentWidget(view)
    view.versus.setCurrentIndex(view.versus.findData(str(plain)))
    view.limit.setValue(limit)
    click(
        {"lesion": view.lesion_button, "similarity": view.similarity_button}.get(kind, view.landscape_button)
    )
    wait_until(lambda: view.result is not None, 3600, f"the {kind} experiment")


@shot("why-lesion", long="trains plain-20 3 epochs (~2 minutes), then the lesion study beside resnet20-demo")
def why_lesion(window, work: Path) -> None:
    _experiment(window, work, "lesion", 3, 1000, shipped=True)


@shot(
    "why-similarity", long="trains plain-20 3 epochs (~2 minutes), then block similarity beside resnet20-demo"
)
def why_similarity(window, work: Path) -> None:
    _experiment(window, work, "similarity", 3, 500, shipped=True)


@shot(
    "why-landscape", long="trains ResNet-20 and plain-20 2 epochs each, then a 21x21 landscape (~10 minutes)"
)
def why_landscape(window, work: Path) -> None:
    _experiment(window, work, "landscape", 2, 256)


# -- taking them ---------------------------------------------------------------------------------


def take(shot: Shot, out: Path, scratch: Path) -> Path:
    from PySide6.QtWidgets import QApplication

    from resnet_studio.ui.common.feature_tiles import write_png
    from resnet_studio.ui.common.qt_messages import drop_harmless_qt_messages
    from resnet_studio.ui.common.theme import apply_theme
    from resnet_studio.ui.shell.main_window import MainWindow

    if QApplication.instance() is None:
        drop_harmless_qt_messages()  # as the app does: Qt's propagateSizeHints() line, once a window
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ResNet Studio")
    app.setOrganizationName("ResNet Studio")
    apply_theme(app, shot.theme)
    work = scratch / shot.name
    work.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    window = MainWindow()
    window.train_view.runs_root = work / "runs"
    window.resize(*shot.size)
    window.show()
    QApplication.processEvents()
    try:
        shot.take(window, work)
        settle(window)
        path = out / f"{shot.name}.png"
        write_png(window.grab(), str(path))
        return path
    finally:
        window.train_view.stop_and_wait()
        window.document.undo_stack.setClean()  # never asks to save
        window.close()
        window.deleteLater()
        QApplication.processEvents()
        os.chdir(cwd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="screenshots to retake (default: the quick ones)"
    )
    parser.add_argument("--all", action="store_true", help="the long ones too (they train for minutes)")
    parser.add_argument("--list", action="store_true", help="name every screenshot, long ones marked")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the PNGs (default: %(default)s)")
    parser.add_argument(
        "--size", metavar="WxH", help="another window size, to check a layout (with --out elsewhere)"
    )
    args = parser.parse_args(argv)
    if args.list:
        for s in SHOTS.values():
            print(f"{s.name}\t{s.size[0]}x{s.size[1]}\t{'long: ' + s.long if s.long else 'quick'}")
        return 0
    unknown = [name for name in args.names if name not in SHOTS]
    if unknown:
        parser.error(f"no screenshot named {', '.join(unknown)} (see --list)")
    chosen = [SHOTS[n] for n in args.names] or [s for s in SHOTS.values() if args.all or not s.long]
    if args.size:
        width, height = (int(n) for n in args.size.lower().split("x"))
        chosen = [dataclasses.replace(s, size=(width, height)) for s in chosen]
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="resnet-studio-screenshots-"))
    # A first launch: the user's settings (recent files, window size, the tour) are never read.
    os.environ["XDG_CONFIG_HOME"] = str(scratch / "config")
    try:
        for s in chosen:
            began = time.monotonic()
            path = take(s, args.out, scratch)
            print(f"{path}  ({time.monotonic() - began:.0f} s)", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
