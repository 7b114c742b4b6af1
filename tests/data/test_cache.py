"""The on-disk image cache of a folder larger than the memory budget (`data/cache.py`, `stored.py`):
built once, resumed after an interruption, rebuilt where files changed, read bit for bit as the
in-memory path holds the images, never written through a link."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
import torch

from resnet_studio.benchmarks.photolike import make_photo_folder, photo_like
from resnet_studio.data import cache
from resnet_studio.data.cache_location import CACHE_FOLDER
from resnet_studio.data.sources import load_data
from resnet_studio.data.stored import StoredImages
from resnet_studio.data.transforms import batches, epoch_order, random_crop_flip
from resnet_studio.errors import UserError
from resnet_studio.training.state import Controls

ON_DISK = 1  # a memory budget of one byte: every folder goes to the cache


@pytest.fixture
def photos(tmp_path, monkeypatch):
    """36 training and 4 validation JPEGs of 64x48 in 4 classes; the user's cache folder in tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    return make_photo_folder(tmp_path / "photos", 40, classes=4, width=64, height=48)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(cache, "CHUNK", 4)  # 9 chunks of training images instead of one


class Seen:
    """A progress callback that remembers what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))


def _markers(root) -> list:
    return sorted((root / CACHE_FOLDER).glob("train-*/chunks/*.json"))


def _same_images(a, b) -> bool:
    return all(
        torch.equal(x.images[:], y.images[:]) and torch.equal(x.labels, y.labels)
        for x, y in ((a.train, b.train), (a.val, b.val))
    )


def test_a_cache_is_built_used_interrupted_resumed_and_rebuilt_after_a_file_changes(photos, small_chunks):
    source = f"folder:{photos}"
    in_memory = load_data(source, image_size=16)
    assert isinstance(in_memory.train.images, torch.Tensor) and "held in memory" in in_memory.storage

    # Interrupted after its second chunk, as Ctrl-C interrupts it (the command line asks to stop).
    controls = Controls()
    controls.on_preparing = lambda done, total: controls.stop.set() if done >= 8 else None
    with pytest.raises(UserError, match="stopped while preparing the image cache"):
        load_data(source, image_size=16, data_memory=ON_DISK, progress=controls.preparing)
    finished = len(_markers(photos))
    assert 2 <= finished < 9

    # Resumed: the finished chunks are kept, only the rest is decoded.
    seen = Seen()
    cached = load_data(source, image_size=16, data_memory=ON_DISK, progress=seen)
    assert seen.calls[0] == (4 * finished, 40) and seen.calls[-1] == (40, 40)
    assert isinstance(cached.train.images, StoredImages) and "on-disk cache" in cached.storage
    assert _same_images(cached, in_memory)
    assert (cached.mean, cached.std) == (in_memory.mean, in_memory.std)

    # Used: a second load decodes nothing.
    again = Seen()
    load_data(source, image_size=16, data_memory=ON_DISK, progress=again)
    assert again.calls == []

    # Killed (kill -9) while writing chunk 0: no marker, half-written rows, a temporary file left.
    markers = _markers(photos)
    folder = markers[0].parent.parent
    markers[0].unlink()
    with open(folder / cache.DATA_FILE, "r+b") as data:
        data.write(b"\xff" * 700)
    (folder / "chunks" / ".000000.json.0123abcd.tmp").write_text("{")
    seen = Seen()
    assert _same_images(load_data(source, image_size=16, data_memory=ON_DISK, progress=seen), in_memory)
    assert seen.calls[0] == (32, 40)
    assert not list((folder / "chunks").glob("*.tmp"))

    # A file changes: its chunk alone is decoded again, and the cache shows the new picture.
    changed = sorted((photos / "train" / "class_2").glob("*.jpg"))[3]
    photo_like(0, 4, 999, 64, 48).save(changed, "JPEG", quality=90)
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    seen = Seen()
    rebuilt = load_data(source, image_size=16, data_memory=ON_DISK, progress=seen)
    assert seen.calls[0] == (32, 40)
    fresh = load_data(source, image_size=16)
    assert _same_images(rebuilt, fresh) and not _same_images(rebuilt, in_memory)


def test_a_batch_from_the_cache_equals_the_in_memory_batch_for_the_same_seed(photos):
    source = f"folder:{photos}"
    held = load_data(source, image_size=16, val_fraction=0.25, seed=3)
    cached = load_data(source, image_size=16, val_fraction=0.25, seed=3, data_memory=ON_DISK)
    assert isinstance(cached.train.images, StoredImages)  # a held-out view of the cache, nothing read
    assert _same_images(held, cached)
    for data in (held, cached):
        order = epoch_order(len(data.train), seed=3, epoch=1)
        generator = torch.Generator().manual_seed(7)
        data.batch = [(random_crop_flip(x, generator), y) for x, y in batches(data.train, 8, order, True)]
    assert len(held.batch) == 3
    for (x, y), (cx, cy) in zip(held.batch, cached.batch, strict=True):
        assert torch.equal(x, cx) and torch.equal(y, cy)


def test_unreadable_files_are_skipped_and_counted_as_in_memory(photos):
    (photos / "train" / "class_1" / "broken.jpg").write_bytes(b"not a jpeg")
    held = load_data(f"folder:{photos}", image_size=16)
    cached = load_data(f"folder:{photos}", image_size=16, data_memory=ON_DISK)
    assert held.skipped == cached.skipped == 1
    assert _same_images(held, cached)


def test_a_link_in_the_caches_place_is_never_written_through(photos, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (photos / CACHE_FOLDER).symlink_to(elsewhere)
    data = load_data(f"folder:{photos}", image_size=16, data_memory=ON_DISK)
    assert list(elsewhere.iterdir()) == []
    assert str(tmp_path / "user-cache" / "resnet-studio") in data.storage
    assert _same_images(data, load_data(f"folder:{photos}", image_size=16))


def test_a_link_in_the_data_files_place_is_refused(photos, tmp_path):
    load_data(f"folder:{photos}", image_size=16, data_memory=ON_DISK)
    data_file = next((photos / CACHE_FOLDER).glob("train-*")) / cache.DATA_FILE
    target = tmp_path / "precious"
    target.write_bytes(b"keep")
    data_file.unlink()
    data_file.symlink_to(target)
    with pytest.raises(UserError, match="symbolic link"):
        load_data(f"folder:{photos}", image_size=16, data_memory=ON_DISK)
    assert target.read_bytes() == b"keep"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to a read-only folder")
def test_a_read_only_data_folder_gets_its_cache_in_the_users_cache_folder(photos, tmp_path):
    os.chmod(photos, 0o555)
    try:
        data = load_data(f"folder:{photos}", image_size=16, data_memory=ON_DISK)
    finally:
        os.chmod(photos, 0o755)
    assert not (photos / CACHE_FOLDER).exists()
    assert str(tmp_path / "user-cache" / "resnet-studio" / "folders") in data.storage
    assert isinstance(data.val.images, StoredImages) and np.array_equal(
        data.val.images.numpy(), load_data(f"folder:{photos}", image_size=16).val.images.numpy()
    )


def test_a_waiting_rank_takes_up_the_cache_once_the_first_rank_has_prepared_it(photos, monkeypatch):
    monkeypatch.setattr(cache, "WAIT_POLL_S", 0.02)
    source, found = f"folder:{photos}", {}

    def other_rank() -> None:  # torchrun's rank 1: it never decodes, it waits for rank 0's cache
        found["data"] = load_data(source, image_size=16, data_memory=ON_DISK, prepares=False)

    waiting = threading.Thread(target=other_rank)
    waiting.start()
    time.sleep(0.2)
    assert waiting.is_alive() and not _markers(photos)
    first = load_data(source, image_size=16, data_memory=ON_DISK)  # rank 0
    waiting.join(10)
    assert isinstance(found["data"].train.images, StoredImages) and _same_images(found["data"], first)


def test_two_processes_preparing_one_cache_decode_it_once(photos, small_chunks):
    """Two runs (or the studio and a command) on one large folder at once: the second waits for
    the first's preparation (a lock beside the cache) and takes it up, instead of decoding it again
    and unlinking the first one's markers."""
    source, start, found = f"folder:{photos}", threading.Barrier(2), {}

    def prepare(name: str) -> None:
        seen = Seen()
        start.wait()
        found[name] = (load_data(source, image_size=16, data_memory=ON_DISK, progress=seen), seen)

    runs = [threading.Thread(target=prepare, args=(name,)) for name in ("first", "second")]
    for run in runs:
        run.start()
    for run in runs:
        run.join(60)
    (a, seen_a), (b, seen_b) = found["first"], found["second"]
    assert _same_images(a, b) and isinstance(a.train.images, StoredImages)

    def decoded(seen: Seen) -> int:  # progress counts images prepared, from where it started
        return seen.calls[-1][0] - seen.calls[0][0] if seen.calls else 0

    # Each split decoded once, by one of the two (not always the same one for both splits): the
    # 40 images once, not twice over.
    assert decoded(seen_a) + decoded(seen_b) == 40
    assert len(_markers(photos)) == 9  # every chunk's marker kept


def _resident_kb(path_part: str) -> int:
    """Kilobytes of this process's resident memory in mappings of files whose path holds
    `path_part` (Linux: /proc/self/smaps): what the cache's pages cost in resident memory."""
    total, counting = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()
            if "-" in head[0] and ":" not in head[0]:  # a mapping's header line
                counting = len(head) >= 6 and path_part in head[-1]
            elif counting and head[0] == "Rss:":
                total += int(head[1])
    return total


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="Linux's smaps counts mapped pages")
def test_training_from_the_cache_keeps_its_pages_out_of_resident_memory(tmp_path, tiny_spec):
    from resnet_studio.training import TrainConfig, Trainer
    from resnet_studio.training.events import Started

    root = make_photo_folder(tmp_path / "photos", 80, classes=4, width=64, height=48)
    cfg = TrainConfig(data=f"folder:{root}", steps=2, batch_size=16, data_memory=20_000, threads=1)
    trainer = Trainer(tiny_spec, cfg)
    events = list(trainer.events())
    started = next(e for e in events if isinstance(e, Started))
    assert any("above the memory budget of 20.0 KB: read from the on-disk cache" in n for n in started.notes)
    cache_bytes = sum(f.stat().st_size for f in (root / CACHE_FOLDER).glob("*/images.u8"))
    assert cache_bytes > 10 * 20_000  # many times the budget
    assert trainer.data is not None and isinstance(trainer.data.train.images, StoredImages)
    # Two batches, the whitening sample, the statistics and the validation pass all read the
    # cache; the pages each touched went back after it: at most a few rows' pages stay mapped.
    assert _resident_kb(CACHE_FOLDER) * 1024 < cache_bytes / 10
    # What reading the whole cache again leaves resident, for comparison: not bounded without it.
    everything = trainer.data.train.images
    before = _resident_kb(CACHE_FOLDER)
    everything._mapping.array.sum()  # the map read directly, pages not handed back
    assert _resident_kb(CACHE_FOLDER) - before > cache_bytes / 2 / 1024


def test_a_file_in_the_caches_place_sends_the_cache_to_the_users_cache_folder(photos, tmp_path):
    (photos / CACHE_FOLDER).write_text("someone's notes")
    data = load_data(f"folder:{photos}", image_size=16, data_memory=ON_DISK)
    assert (photos / CACHE_FOLDER).read_text() == "someone's notes"
    assert str(tmp_path / "user-cache" / "resnet-studio" / "folders") in data.storage


def test_data_memory_on_the_command_line_is_a_size_and_a_bad_one_is_named(capsys):
    from resnet_studio.cli import build_parser, main
    from resnet_studio.cli.common import parse_size
    from resnet_studio.cli.train import _plan

    assert parse_size("2GB", "--data-memory") == 2 * 10**9
    assert parse_size("500MB", "--data-memory") == 500 * 10**6
    assert parse_size("1.5GiB", "--data-memory") == 3 * 2**29
    args = build_parser().parse_args(["train", "--preset", "resnet20", "--data-memory", "2GB"])
    assert _plan(args)[1].data_memory == 2 * 10**9
    assert main(["train", "--preset", "resnet20", "--data-memory", "lots", "--steps", "1"]) == 2
    assert "--data-memory 'lots': expected a size" in capsys.readouterr().err


def test_a_split_of_unreadable_files_only_is_counted_as_in_memory(photos):
    for image in (photos / "val").rglob("*.jpg"):
        image.write_bytes(b"not a jpeg")
    with pytest.raises(UserError, match="no validation images"):
        load_data(f"folder:{photos}", image_size=16, data_memory=ON_DISK)
    with pytest.raises(UserError, match="no validation images"):
        load_data(f"folder:{photos}", image_size=16)


def test_images_cached_with_a_margin_give_the_in_memory_views_and_statistics(photos):
    """A 32-px network with a margin of 8 (as a 64-px one gets): the training split stored 40 x 40,
    evaluation views of it (held-out validation images, statistics) cropped on read."""
    from resnet_studio.data.preprocessing import Preprocessing

    prep = Preprocessing(resize=40, crop=32)
    options = dict(image_size=prep, val_fraction=0.25, seed=3, train_margin=True)
    held = load_data(f"folder:{photos}", **options)
    cached = load_data(f"folder:{photos}", **options, data_memory=ON_DISK)
    assert isinstance(cached.train.images, StoredImages) and isinstance(cached.val.images, StoredImages)
    assert tuple(cached.train.images.shape[-2:]) == (40, 40) and tuple(cached.val.images.shape[-2:]) == (
        32,
        32,
    )
    assert _same_images(held, cached)
    assert (held.mean, held.std) == (cached.mean, cached.std)
    view = cached.train_eval_view()
    assert torch.equal(view[:], held.train_eval_view()[:]) and tuple(view.shape[-2:]) == (32, 32)


@pytest.mark.parametrize("kind", ["link", "folder"])
def test_a_link_or_a_folder_in_the_locks_place_is_refused_by_name(photos, tmp_path, kind):
    source = f"folder:{photos}"
    load_data(source, image_size=16, data_memory=ON_DISK)
    folder = next((photos / CACHE_FOLDER).glob("train-*"))
    (folder / "manifest.json").unlink()  # the next run prepares it again, taking the lock
    lock = folder / cache.LOCK_FILE
    lock.unlink()
    target = tmp_path / "someone-elses-file"
    target.write_text("kept")
    if kind == "link":
        lock.symlink_to(target)
    else:
        lock.mkdir()
    with pytest.raises(UserError, match=r"\.preparing"):
        load_data(source, image_size=16, data_memory=ON_DISK)
    assert target.read_text() == "kept"
