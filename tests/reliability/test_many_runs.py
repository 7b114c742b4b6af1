"""Many runs and many results: a project listing hundreds of runs opens without the UI thread
reading them, followed runs are read a little at a time and let go when their project closes."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from pathlib import Path

import pytest

from resnet_studio.architecture import get_preset
from resnet_studio.runs.runinfo import summarize_run
from resnet_studio.training.config import TrainConfig

_UI_READS: list[str] = []  # metrics files opened on the main thread, while `_WATCHED` is set
_WATCHED: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _WATCHED and threading.current_thread() is threading.main_thread():
        name = str(args[0])
        if name.endswith("metrics.jsonl") and name.startswith(_WATCHED[0]):
            _UI_READS.append(name)


_installed: list[bool] = []


@pytest.fixture
def ui_thread_reads(tmp_path):
    """`watch()` starts listing every metrics file under tmp_path that the main (UI) thread
    opens, and returns that list."""
    if not _installed:  # an audit hook cannot be removed: one for the session, idle outside tests
        sys.addaudithook(_audit)
        _installed.append(True)
    _UI_READS.clear()

    def watch() -> list[str]:
        _WATCHED[:] = [str(tmp_path)]
        return _UI_READS

    yield watch
    _WATCHED.clear()


def _record(kind: str, epoch: int, step: int, accuracy: float = 0.5) -> str:
    line = {"kind": kind, "epoch": epoch, "step": step, "loss": 1.0, "accuracy": accuracy, "lr": 0.1}
    return json.dumps({**line, "images_per_s": 100.0, "time": step / 10}) + "\n"


_ARCHITECTURE = json.dumps(get_preset("resnet20").to_dict())
_CONFIG = json.dumps(TrainConfig(epochs=3).to_dict())


def make_run(folder: Path, epochs_done: int = 2, status: str = "completed") -> Path:
    """A run folder written directly (no training): what the studio reads of one."""
    folder.mkdir(parents=True)
    (folder / "architecture.json").write_text(_ARCHITECTURE)
    (folder / "config.json").write_text(_CONFIG)
    (folder / "status.json").write_text(json.dumps({"status": status}))
    lines = []
    for epoch in range(1, epochs_done + 1):
        lines += [_record("train", epoch, epoch * 10 - 5), _record("val", epoch, epoch * 10, 0.1 * epoch)]
    (folder / "metrics.jsonl").write_text("".join(lines))
    return folder


def test_following_reads_only_what_was_appended_and_keeps_the_summary(tmp_path):
    from resnet_studio.runs.following import RunFollower

    run = make_run(tmp_path / "run", epochs_done=1, status="running")
    follower = RunFollower(run)
    first = follower.poll()
    assert [r.kind for r in first.records] == ["train", "val"]
    assert first.summary == summarize_run(run)
    assert follower.poll() is None  # nothing changed: nothing read
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write(_record("train", 2, 15) + _record("val", 2, 20, 0.7))
    (run / "status.json").write_text(json.dumps({"status": "completed"}))
    second = follower.poll()
    assert [(r.kind, r.step) for r in second.records] == [("train", 15), ("val", 20)]  # only the new lines
    assert follower.reader.offset == (run / "metrics.jsonl").stat().st_size
    assert second.summary == summarize_run(run)
    assert second.summary.epochs_done == 2 and second.summary.best_accuracy == 0.7
    assert second.summary.status == "completed"
    shutil.rmtree(run)
    assert follower.poll().summary is None  # gone: no longer followed


def test_a_project_of_300_runs_opens_without_the_ui_thread_reading_them(qtbot, tmp_path, ui_thread_reads):
    from resnet_studio.project import Project, save_project
    from resnet_studio.ui import MainWindow

    runs = [make_run(tmp_path / "runs" / f"run-{i:03d}") for i in range(300)]
    project = tmp_path / "many.rsproj"
    save_project(Project(get_preset("resnet20"), {}, [f"runs/{r.name}" for r in runs]), project)
    window = MainWindow()
    qtbot.addWidget(window)
    opened_on_ui_thread = ui_thread_reads()
    assert window.open_file(project)
    assert window.train_view.followed == {}  # curves are made later, a few per pass of the event loop
    progress = window.train_view.progress
    qtbot.waitUntil(
        lambda: len(window.train_view.followed) >= 12 and "epoch 2/3" in progress.text(), timeout=60_000
    )
    assert opened_on_ui_thread == []  # every metrics file was read on a worker thread
    followed = window.training.on_disk
    qtbot.waitUntil(lambda: not followed.busy and len(followed.summaries) == 12, timeout=30_000)
    newest = {run.resolve() for run in runs[-12:]}
    assert set(window.train_view.followed) == newest and len(window.train_view.plots.runs) == 12
    assert all(followed.summaries[path].epochs_done == 2 for path in newest)
    assert len(window.training.run_dirs) == 300  # every run stays in the project
    resaved = tmp_path / "resaved.rsproj"
    assert window.save_as(resaved)
    assert len(json.loads(resaved.read_text())["runs"]) == 300
    # Closing the project lets its runs go: no longer followed, no curves, not in the next project.
    window.new_file()
    assert followed.followers == {} and window.train_view.followed == {}
    assert window.train_view.plots.runs == [] and window.training.run_dirs == []
    window.document.undo_stack.setClean()


def test_a_followed_run_whose_folder_is_deleted_is_let_go(qtbot, tmp_path):
    from resnet_studio.ui.common.training_controller import TrainingController

    run = make_run(tmp_path / "runs" / "doomed", status="running")
    controller = TrainingController(tmp_path / "runs")
    gone: list[Path] = []
    controller.unfollowed.connect(gone.append)
    assert controller.follow(run)
    qtbot.waitUntil(lambda: run.resolve() in controller.on_disk.summaries, timeout=30_000)
    shutil.rmtree(run)
    qtbot.waitUntil(lambda: gone == [run.resolve()], timeout=10_000)
    assert controller.on_disk.followers == {} and not controller.on_disk.timer.isActive()


def _kept_bytes(prediction) -> int:
    """The bytes a listed result holds on to: its pictures and arrays."""
    arrays = (prediction.image, prediction.preview, getattr(prediction, "thumbnail", None))
    return sum(a.nbytes for a in arrays if a is not None) + len(
        getattr(prediction, "preview_jpeg", None) or b""
    )


def test_a_classified_photo_keeps_a_few_kilobytes_and_can_still_be_shown_and_inspected(
    qtbot, tmp_path, tiny_spec
):
    import numpy as np
    from PIL import Image

    from resnet_studio.data.images import load_image
    from resnet_studio.nn.checkpoint import save_checkpoint
    from resnet_studio.nn.model import build_model
    from resnet_studio.ui import MainWindow

    checkpoint = tmp_path / "tiny.pt"
    save_checkpoint(
        checkpoint,
        {
            "architecture": tiny_spec.to_dict(),
            "model": build_model(tiny_spec).eval().state_dict(),
            "classes": [f"class{i}" for i in range(10)],
            "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3},
        },
    )
    photos = tmp_path / "photos"
    photos.mkdir()
    y, x = np.mgrid[0:480, 0:640]
    for i in range(4):  # photo-sized, smooth like a photograph
        rgb = np.stack([(x * (i + 1)) % 256, (y * 2 + i * 40) % 256, (x + y) // 5 % 256], axis=-1)
        Image.fromarray(rgb.astype(np.uint8)).save(photos / f"photo{i}.jpg", quality=90)
    window = MainWindow()
    qtbot.addWidget(window)
    window.model_source.use_checkpoint(str(checkpoint))
    view = window.classify_view
    view.classify_paths([str(photos)])
    qtbot.waitUntil(lambda: not view.busy, timeout=30_000)
    assert len(view.predictions) == 4 and all(p.top for p in view.predictions)
    kept = [_kept_bytes(p) for p in view.predictions]
    print("bytes kept per result:", kept)
    assert max(kept) < 16_000, kept  # was ~86 KB: a 192x144 RGB preview and the network's input
    assert all(p.preview_jpeg for p in view.predictions)  # shown when selected...
    assert not view.picture.pixmap().isNull() and view.picture.pixmap().width() == 192
    assert view.detail.inspect_button.isEnabled()
    chosen = view.selected()
    view.detail.inspect_button.click()  # ...and inspected: the file is read again
    inspect = window.inspect_view
    qtbot.waitUntil(lambda: inspect.analysis is not None and inspect.busy == 0, timeout=30_000)
    assert np.array_equal(inspect.analysis.image, load_image(chosen.path, 32, 3))
    window.document.undo_stack.setClean()
