"""The generated photo-like folder: a `folder:` source of real JPEGs, the same on every call."""

import numpy as np
from PIL import Image

from resnet_studio.benchmarks.photolike import make_photo_folder, photo_like
from resnet_studio.data.sources import load_data


def test_a_generated_folder_loads_as_a_folder_source_with_every_class(tmp_path):
    root = make_photo_folder(tmp_path / "photos", 40, classes=4, width=96, height=72)
    files = sorted(root.rglob("*.jpg"))
    assert len(files) == 40
    with Image.open(files[0]) as image:
        assert image.format == "JPEG" and image.size == (96, 72)
    splits = load_data(f"folder:{root}", image_size=32)
    assert splits.classes == ["class_0", "class_1", "class_2", "class_3"]
    assert len(splits.train) == 36 and len(splits.val) == 4
    stamp = files[0].stat().st_mtime_ns
    make_photo_folder(root, 40, classes=4, width=96, height=72)  # kept, not written again
    assert files[0].stat().st_mtime_ns == stamp


def test_images_are_a_pure_function_of_their_arguments_and_differ_between_classes():
    a = np.asarray(photo_like(1, 5, 7, 64, 48))
    assert np.array_equal(a, np.asarray(photo_like(1, 5, 7, 64, 48)))
    assert not np.array_equal(a, np.asarray(photo_like(2, 5, 7, 64, 48)))
    assert a.std() > 20  # light and shapes, not a flat colour that decodes faster than a photo
