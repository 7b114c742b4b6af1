"""The Train tab's live embedding with a real training run: a frame is the PCA of the same
validation images each epoch, turned to lie as the one before; frames that would cost more than
5% of the run's time are skipped, the last epoch's never; a hovered point shows its image."""

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec
from resnet_studio.inspection.embedding import pca, penultimate_features
from resnet_studio.training import TrainConfig, Trainer
from resnet_studio.ui.common.background import wait_for_background
from resnet_studio.ui.train.embedding_panel import LiveEmbedding

TINY = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),))


@pytest.fixture(scope="module")
def trainer(demo_slice):
    trainer = Trainer(TINY, TrainConfig(epochs=1, batch_size=64, threads=2), data=demo_slice(256, 96))
    for _ in trainer.events():
        pass
    return trainer


def test_frames_follow_the_epochs_within_their_share_of_the_run(qtbot, trainer):
    panel = LiveEmbedding()
    qtbot.addWidget(panel)
    panel.resize(420, 360)
    panel.show()
    panel.new_run(epochs=3)
    assert panel.redraw() and panel.empty.isVisible()  # nothing yet: says when it appears
    panel.epoch_ended(trainer, 1, run_s=100.0)
    qtbot.waitUntil(lambda: panel.frame is not None and not panel.busy, timeout=30_000)
    first = panel.frame
    snapshot, data = trainer.snapshot(), trainer.data
    features = penultimate_features(snapshot.model, data.val.images, snapshot.mean, snapshot.std)
    assert np.allclose(first.points, pca(features.vectors), atol=1e-4)  # 96 images: all of them
    assert np.array_equal(first.labels, data.val.labels.numpy()) and first.epoch == 1
    assert panel.redraw() and panel.cloud.points.shape == (96, 2) and not panel.empty.isVisible()

    # The next epoch, as far into the run as the first frame cost: drawing it would take the share
    # far above 5% (whatever this machine's speed), so it waits.
    assert panel.spent_s > 0
    panel.epoch_ended(trainer, 2, run_s=panel.spent_s)
    assert not panel.busy and panel.skipped == 1 and panel.frame is first
    # The last epoch is drawn all the same, turned to lie as the frame before (same weights here:
    # the same picture, whichever way the PCA's axes came out).
    panel.epoch_ended(trainer, 3, run_s=1.0)
    qtbot.waitUntil(lambda: panel.frame is not first and not panel.busy, timeout=30_000)
    assert panel.frame.epoch == 3 and np.allclose(panel.frame.points, first.points, atol=1e-4)
    assert panel.frames == 2 and panel.share == pytest.approx(panel.spent_s / 1.0)
    panel.redraw()
    assert "Epoch 3" in panel.note.text()

    # Hovering a point shows its image and class.
    cloud = panel.cloud
    pixels = np.array([[cloud.pixel_of(i).x(), cloud.pixel_of(i).y()] for i in range(96)])
    gaps = np.sqrt(((pixels[:, None] - pixels[None]) ** 2).sum(-1)) + np.eye(96) * 1e9
    index = int(gaps.min(1).argmax())
    at = QPointF(cloud.pixel_of(index))
    none = Qt.MouseButton.NoButton
    move = QMouseEvent(
        QEvent.Type.MouseMove, at, cloud.mapToGlobal(at), none, none, Qt.KeyboardModifier.NoModifier
    )
    qtbot.wait(20)  # pyqtgraph takes at most 100 moves a second
    QApplication.sendEvent(cloud.viewport(), move)  # the mouse over the point
    qtbot.waitUntil(lambda: cloud.preview.isVisible(), timeout=5_000)
    true = trainer.data.classes[int(panel.frame.labels[index])]
    assert cloud.preview.caption.text().startswith(f"a {true}")

    # A new run forgets the old one's frames, and an old frame arriving late is dropped.
    panel.epoch_ended(trainer, 3, run_s=1.0)
    assert panel.busy  # the last epoch's frame is being made when the new run starts
    panel.new_run(epochs=2)
    assert not panel.busy
    wait_for_background()
    qtbot.wait(50)
    assert panel.frame is None and panel.frames == 0 and panel.spent_s == 0.0
