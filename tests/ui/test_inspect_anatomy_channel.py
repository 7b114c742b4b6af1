"""Inspect > Image's side tabs with real widgets: the chosen block opened up (every step, the ratio,
the two switches) and what the clicked channel looks for (its top images, the optimised image,
Cancel, Save, a tap the index lacks, data that cannot be loaded, a model changed mid-search)."""

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_studio.data import demo
from resnet_studio.data.transforms import normalize
from resnet_studio.inspection.anatomy import block_anatomy
from resnet_studio.inspection.channels import index_channels
from resnet_studio.inspection.evaluate import validation_images
from resnet_studio.nn.checkpoint import model_from_checkpoint
from resnet_studio.ui.common.background import wait_for_background
from resnet_studio.ui.common.model_source import ModelSource
from resnet_studio.ui.common.training_controller import TrainingController
from resnet_studio.ui.inspect.block_anatomy import top_class
from resnet_studio.ui.inspect.inspect_view import InspectView

IMAGES = 40  # validation images indexed: all the folder's


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_checkpoint):
    return tiny_checkpoint(tmp_path_factory.mktemp("anatomy") / "tiny.pt")


@pytest.fixture(scope="module")
def data(demo_picture_folder):
    return demo_picture_folder(IMAGES)


@pytest.fixture
def view(qtbot, tmp_path, checkpoint, data):
    source = ModelSource(TrainingController(tmp_path / "runs"))
    source.use_checkpoint(str(checkpoint))
    inspect = InspectView(source)
    inspect.looks_for.limit_val = IMAGES
    inspect.looks_for.data.setText(data)
    inspect.resize(1280, 760)
    inspect.show()
    qtbot.addWidget(inspect)
    yield inspect
    inspect.looks_for.cancel()
    wait_for_background()


def analysed(view, qtbot, block="stage2.block1", row=3):
    image = demo.generate(1, seed=3)[0][0]
    view.set_image(image, "demo.png")
    qtbot.waitUntil(lambda: view.analysis is not None and not view.busy, timeout=30_000)
    view.block.setCurrentText(block)
    view.maps.setCurrentRow(row)
    return image


def test_the_anatomy_shows_every_step_the_ratio_and_the_prediction_without_each_path(view, qtbot, checkpoint):
    image = analysed(view, qtbot, row=12)
    channel = view.maps.item(12).data(256)  # Qt.UserRole: the channel of that tile
    view.side.setCurrentWidget(view.anatomy)
    anatomy_view = view.anatomy
    qtbot.waitUntil(lambda: anatomy_view.answer is not None, timeout=30_000)
    assert view.findChild(type(anatomy_view), "blockAnatomy") is anatomy_view

    loaded = model_from_checkpoint(str(checkpoint))
    x = normalize(torch.from_numpy(image)[None], loaded.mean, loaded.std, size=loaded.input_size)
    expected = block_anatomy(loaded.model, x, "stage2.block1")
    tiles = [anatomy_view.tiles.item(i).text() for i in range(anatomy_view.tiles.count())]
    assert [t.split("\n")[0] for t in tiles] == [s.name for s in expected.stages]
    for text, stage in zip(tiles, expected.stages, strict=True):
        assert "x".join(map(str, stage.tensor.shape)) in text and f"norm {stage.norm:.1f}" in text
    # x has 8 channels, the others 16: channel 12 of x is shown as 12 mod 8, and says so.
    assert channel == 12 and "channel 4 of 8" in tiles[0] and "channel" not in tiles[1].split("\n", 1)[1]
    assert f"= {expected.ratio:.2f}" in anatomy_view.ratio.text()
    assert "shortcut carries a 1x1 convolution (a projection)" in anatomy_view.ratio.text()

    before = top_class(expected.probabilities.numpy(), loaded.classes)
    assert before in anatomy_view.prediction.text()
    anatomy_view.drop_branch.setChecked(True)
    text = anatomy_view.prediction.text()
    assert "without the branch" in text and top_class(expected.without_branch.numpy(), loaded.classes) in text
    anatomy_view.drop_shortcut.setChecked(True)  # one path at a time
    assert not anatomy_view.drop_branch.isChecked()
    text = anatomy_view.prediction.text()
    assert (
        "without the shortcut" in text
        and top_class(expected.without_shortcut.numpy(), loaded.classes) in text
    )
    assert before in text  # the prediction before stays beside the one after

    # Another channel redraws from the answer kept; the stem is no block to open up.
    view.maps.setCurrentRow(1)
    assert anatomy_view.tiles.count() == len(expected.stages) and anatomy_view.channel == view.maps.item(
        1
    ).data(256)
    view.block.setCurrentText("stem")
    assert anatomy_view.answer is None and "not a residual block" in anatomy_view.status.text()


def test_the_top_images_are_the_index_s_for_the_clicked_channel(view, qtbot, checkpoint, data):
    analysed(view, qtbot, row=5)
    channel = view.maps.item(5).data(256)
    view.side.setCurrentWidget(view.looks_for)
    panel = view.looks_for
    qtbot.waitUntil(lambda: panel.indexed is not None, timeout=30_000)
    assert view.findChild(type(panel), "channelView") is panel
    assert view.findChild(object, "channelPlot") is view.channel_plot

    loaded = model_from_checkpoint(str(checkpoint))
    images, _ = validation_images(loaded, data, limit_val=IMAGES)
    assert len(images) == IMAGES
    index = index_channels(loaded.model, images.images, loaded.mean, loaded.std)
    top = index.top("stage2.block1", channel)
    shown = [panel.gallery.item(i).data(256) for i in range(panel.gallery.count())]
    assert shown == [t.index for t in top] and len(shown) == 9
    assert [np.array_equal(a, b) for a, b in zip(panel.crops, index.crops(top), strict=True)] == [True] * 9
    # Another channel and block: a sort of the same index, no new search.
    kept = panel.indexed
    view.block.setCurrentText("stem")
    view.maps.setCurrentRow(2)
    assert panel.indexed is kept
    assert [panel.gallery.item(i).data(256) for i in range(9)] == [t.index for t in index.top("stem", 2)]
    # A tap the index lacks (an ImageNet stem before its max-pool) gets a message.
    panel.choose("stem.relu", 0)
    assert panel.gallery.count() == 0 and "not indexed" in panel.status.text()


def test_cancel_stops_an_optimisation_and_save_writes_both_pngs(view, qtbot, tmp_path):
    analysed(view, qtbot)
    view.side.setCurrentWidget(view.looks_for)
    panel = view.looks_for
    qtbot.waitUntil(lambda: panel.indexed is not None, timeout=30_000)
    panel.steps = 1_000_000  # would run for hours
    panel.optimise()
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=30_000)
    assert panel.cancel_button.isEnabled()
    panel.cancel()
    assert wait_for_background(30_000)  # the worker stopped: a million steps would not
    qtbot.wait(50)
    assert panel.optimised is None and "cancelled" in panel.optimised_caption.text()
    assert panel.optimise_button.isEnabled()

    panel.steps = 4
    panel.optimise()
    qtbot.waitUntil(lambda: panel.optimised is not None, timeout=30_000)
    assert not panel.optimised_picture.pixmap().isNull()
    written = panel.save(tmp_path / "out")
    names = sorted(p.name for p in written)
    tap, channel = panel.wanted
    assert names == [f"{tap}-channel{channel}-optimised.png", f"{tap}-channel{channel}-top9.png"]
    with Image.open(tmp_path / "out" / names[0]) as optimised:
        assert optimised.size == (256, 256)
    with Image.open(tmp_path / "out" / names[1]) as sheet:
        assert sheet.size == (3 * 96 + 2 * 4, 3 * 96 + 2 * 4)
    assert not list((tmp_path / "out").glob(".*.tmp"))  # atomic writes leave no temporary file
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "elsewhere.png")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / f"{tap}-channel{channel}-top9.png").symlink_to(tmp_path / "elsewhere.png")
    assert panel.save(tmp_path / "linked") == [] and "Cannot save" in panel.status.text()
    assert not (tmp_path / "elsewhere.png").exists()


def test_unloadable_data_is_a_message_and_a_new_model_drops_the_old_search(
    view, qtbot, tmp_path, data, checkpoint, tiny_checkpoint
):
    analysed(view, qtbot)
    panel = view.looks_for
    panel.data.setText(str(tmp_path / "nowhere"))  # not a data source
    view.side.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: "Cannot search" in panel.status.text(), timeout=30_000)
    assert panel.indexed is None and panel.find_button.isEnabled()

    panel.data.setText(data)
    wider = tiny_checkpoint(tmp_path / "wider.pt", widths=(8, 24), seed=1)
    panel.find_top()
    view.source.use_checkpoint(str(wider))  # mid-search: that search stops, a new one starts
    assert panel.indexing
    qtbot.waitUntil(lambda: panel.indexed is not None, timeout=60_000)
    assert panel.indexed.index.channels("stage2.block1") == 24
    # A search that finished as other weights answer: its answer, already queued for the UI
    # thread, is dropped, never shown.
    narrower = tiny_checkpoint(tmp_path / "narrower.pt", widths=(8, 12), seed=2)
    view.source.use_checkpoint(str(checkpoint))  # the 16-channel weights: a new search
    assert wait_for_background(30_000)  # done on its worker; its answer not yet delivered
    view.source.use_checkpoint(str(narrower))
    qtbot.waitUntil(lambda: panel.indexed is not None, timeout=60_000)
    assert panel.indexed.index.channels("stage2.block1") == 12


def test_an_anatomy_of_the_old_weights_is_dropped_when_other_weights_answer(
    view, qtbot, tmp_path, tiny_checkpoint
):
    analysed(view, qtbot, block="stage2.block1")
    view.side.setCurrentWidget(view.anatomy)
    assert view.anatomy.asked is not None  # under way, for the first weights
    view.source.use_checkpoint(str(tiny_checkpoint(tmp_path / "wider.pt", widths=(8, 24), seed=1)))
    qtbot.waitUntil(lambda: view.anatomy.answer is not None, timeout=30_000)
    assert view.anatomy.answer.stages[-1][1].shape[0] == 24  # the first answer shown is the new one


def test_the_prediction_says_it_is_one_view_where_the_caption_averages_the_mirror(qtbot):
    """The shipped CIFAR-10 weights answer Classify and the caption averaged over the mirror; the
    anatomy's pass is one view, so its percentage may differ a little, and it says why."""
    from resnet_studio.ui.inspect.block_anatomy import BlockAnatomyView

    image = demo.generate(1, seed=3)[0][0]
    panel = BlockAnatomyView()
    qtbot.addWidget(panel)
    for weights, averaged in (("resnet20-cifar10", True), ("resnet20-demo", False)):
        panel.request(lambda w=weights: model_from_checkpoint(w), image, "stage2.block1", (weights,))
        qtbot.waitUntil(lambda: not panel.busy and panel.answer is not None, timeout=30_000)
        assert panel.answer.averaged_elsewhere is averaged
        assert ("one view, not averaged with the mirror" in panel.prediction.text()) is averaged
