"""What a `folder:` data source holds, at a glance: its class folders, how many images each has for
training and validation, and a few decoded samples per class (Setup's folder grid).

The classes and the files counted are the ones training uses (`sources._folder`'s layout rules:
`PATH/<class>/*`, or `PATH/train/<class>/*` with `val/`, `validation/` or `test/` beside it), so
the grid never promises a class that training then leaves out without saying so. Counting reads
names only; only the samples are decoded (a few per class), so a folder of 20,000 photos is
summarised in a fraction of a second. A file that cannot be decoded is skipped for the next one
of its class and named in `unreadable`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from resnet_studio.data.folder_listing import VAL_FOLDER_NAMES, class_names, listing
from resnet_studio.data.images import ImageError, load_image_with_preview
from resnet_studio.data.preprocessing import Preprocessing, studio_preparation
from resnet_studio.errors import UserError

PER_CLASS = 4  # samples decoded per class
MAX_CLASSES_SAMPLED = 8  # classes beyond these are counted, not sampled (a 1,000-class folder)
TRIES_PER_SAMPLE = 3  # files tried per sample before a class shows fewer (its files unreadable)


@dataclass(frozen=True)
class Sample:
    path: Path
    image: np.ndarray  # the network's input, uint8 (C, H, W): what pinning it shows the network
    picture: np.ndarray  # the whole photo, RGB (h, w, 3), at most the thumbnail's side


@dataclass
class ClassOverview:
    name: str
    train: int  # image files that train (all of the class's files when validation is split off)
    val: int  # image files in the validation folder; 0 when validation is split from train
    samples: list[Sample] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.train == 0


@dataclass
class FolderOverview:
    root: Path
    classes: list[ClassOverview]
    val_folder: str | None  # "val", "validation" or "test"; None: 10% of each class validates
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (file, why) among those tried

    @property
    def images(self) -> int:
        return sum(c.train + c.val for c in self.classes)

    @property
    def usable(self) -> list[ClassOverview]:
        return [c for c in self.classes if not c.empty]

    def problems(self) -> list[str]:
        """What keeps training from using the folder as the grid shows it, one line each."""
        lines = []
        empty = [c.name for c in self.classes if c.empty]
        if empty:
            lines.append(f"left out, no images: {', '.join(empty)}")
        if len(self.usable) < 2:
            lines.append(
                f"training needs at least 2 class folders with images, found {len(self.usable)} "
                "(expected PATH/<class>/* or PATH/train/<class>/* with PATH/val/<class>/*)"
            )
        return lines


def folder_overview(
    root: str | Path,
    image_size: int | Preprocessing = 32,
    channels: int = 3,
    *,
    per_class: int = PER_CLASS,
    thumbnail: int = 96,
) -> FolderOverview:
    """The folder's classes, counts and `per_class` samples of each of its first classes; raises
    `UserError` when `root` is no folder. The samples (which may be pinned and shown to the
    network) are prepared as evaluation prepares images for a network trained here at `image_size`
    (from 64 px: resized with a margin, centre crop; `studio_preparation`)."""
    if isinstance(image_size, int):
        image_size = studio_preparation(image_size)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"folder:{root}: no such folder")
    train_dir = root / "train"
    val_dir = next((root / n for n in VAL_FOLDER_NAMES if (root / n).is_dir()), None)
    layout = train_dir if train_dir.is_dir() and class_names(train_dir) else root
    if layout == root:
        val_dir = None  # PATH/<class>/*: a val/ beside the classes is not a class, and not used
    names = class_names(layout)
    train_files = listing(layout, names)
    val_files = listing(val_dir, names) if val_dir is not None else []
    train_counts = np.bincount([label for _, label in train_files], minlength=len(names))
    val_counts = np.bincount([label for _, label in val_files], minlength=len(names))
    by_class: list[list[Path]] = [[] for _ in names]
    for path, label in train_files:
        by_class[label].append(path)
    overview = FolderOverview(
        root,
        [ClassOverview(name, int(train_counts[i]), int(val_counts[i])) for i, name in enumerate(names)],
        val_dir.name if val_dir is not None else None,
    )
    sampled = [c for c in overview.classes if not c.empty][:MAX_CLASSES_SAMPLED]
    for entry in sampled:
        files = by_class[names.index(entry.name)]
        entry.samples = _samples(files, per_class, image_size, channels, thumbnail, overview.unreadable)
    return overview


def _samples(
    files: list[Path],
    count: int,
    size: int | Preprocessing,
    channels: int,
    thumbnail: int,
    unreadable: list[tuple[Path, str]],
) -> list[Sample]:
    """`count` decodable files spread over the class's list (not its first few, which are often
    alike); an unreadable one gives way to the file after it."""
    picks = sorted({i * len(files) // count for i in range(min(count, len(files)))})
    samples: list[Sample] = []
    tried: set[int] = set()
    for start in picks:
        for index in range(start, min(len(files), start + TRIES_PER_SAMPLE)):
            if index in tried:
                continue
            tried.add(index)
            try:
                image, picture = load_image_with_preview(files[index], size, channels, thumbnail)
            except ImageError as exc:
                unreadable.append((files[index], str(exc)))
                continue
            samples.append(Sample(files[index], image, picture))
            break
    return samples
