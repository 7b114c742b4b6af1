"""Setup's summary of a photo folder agrees with what training loads from it: the same classes
(an empty class folder left out and named), counts by file name, samples that skip broken files."""

from PIL import Image

from resnet_studio.data import load_data
from resnet_studio.data.folder_overview import folder_overview


def _photos(folder, count, colour, size=(24, 18)):
    folder.mkdir(parents=True)
    for i in range(count):
        Image.new("RGB", size, colour).save(folder / f"{i:02d}.png")


def test_a_class_per_folder_without_val_is_summarised_as_training_sees_it(tmp_path):
    _photos(tmp_path / "red", 5, (250, 0, 0))
    _photos(tmp_path / "blue", 3, (0, 0, 250))
    (tmp_path / "blue" / "00.png").write_bytes(b"\x89PNG broken")  # the first sample tried
    (tmp_path / "blue" / "readme.txt").write_text("not an image name: not counted")
    (tmp_path / "empty").mkdir()
    (tmp_path / "val").mkdir()  # beside classes, a val/ is neither a class nor used

    overview = folder_overview(tmp_path, image_size=16, per_class=2, thumbnail=12)
    assert [(c.name, c.train, c.val) for c in overview.classes] == [
        ("blue", 3, 0),
        ("empty", 0, 0),
        ("red", 5, 0),
    ]
    assert overview.val_folder is None and overview.images == 8
    assert [c.name for c in overview.usable] == load_data(f"folder:{tmp_path}", image_size=16).classes
    assert overview.problems() == ["left out, no images: empty"]
    assert [p.name for p, _ in overview.unreadable] == ["00.png"]
    blue, _, red = overview.classes
    assert [s.path.name for s in blue.samples] == ["01.png", "02.png"]  # 00.png gave way to 01.png
    assert [s.path.name for s in red.samples] == ["00.png", "02.png"]  # spread over the class
    sample = red.samples[0]
    assert sample.image.shape == (3, 16, 16) and sample.image[0].min() > 240
    assert sample.picture.shape == (9, 12, 3)  # the whole photo, at most the thumbnail's side


def test_one_class_is_no_training_set_and_says_so(tmp_path):
    _photos(tmp_path / "train" / "only", 2, (0, 200, 0))
    overview = folder_overview(tmp_path, per_class=1)
    assert [(c.name, c.train) for c in overview.classes] == [("only", 2)]
    assert "training needs at least 2 class folders with images, found 1" in overview.problems()[0]
