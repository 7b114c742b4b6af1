import numpy as np
import pytest
import torch
from PIL import Image

from resnet_studio.data import load_data, parse_source
from resnet_studio.data.transforms import batches, epoch_order, normalize, random_crop_flip
from resnet_studio.errors import UserError


def _class_folders(root, classes=("cats", "dogs"), per_class=10, size=(40, 40)):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            colour = (255, 0, 0) if c == 0 else (0, 0, 255)
            Image.new("RGB", size, colour).save(root / name / f"{i}.png")


def test_demo_source(demo_splits):
    assert demo_splits.classes[:3] == ["circle", "ring", "square"]
    assert demo_splits.train.images.shape == (20_000, 3, 32, 32)
    assert len(demo_splits.val) == 2_000
    assert all(0.2 < m < 0.8 for m in demo_splits.mean) and all(0.1 < s < 0.5 for s in demo_splits.std)


def test_limits_take_a_seeded_subset():
    a = load_data("demo", limit_train=100, limit_val=50, seed=3)
    b = load_data("demo", limit_train=100, limit_val=50, seed=3)
    assert len(a.train) == 100 and len(a.val) == 50
    assert torch.equal(a.train.labels, b.train.labels)
    assert torch.bincount(a.train.labels).tolist() == [10] * 10  # balanced across classes
    assert not torch.equal(a.train.labels, load_data("demo", limit_train=100, seed=4).train.labels)


def test_folder_with_train_and_val(tmp_path):
    _class_folders(tmp_path / "train")
    _class_folders(tmp_path / "val", per_class=3)
    (tmp_path / "train" / "cats" / "notes.txt").write_text("not an image")
    (tmp_path / "train" / "dogs" / "broken.png").write_bytes(b"\x89PNG broken")
    data = load_data(f"folder:{tmp_path}", image_size=16)
    assert data.classes == ["cats", "dogs"]
    assert len(data.train) == 20 and len(data.val) == 6
    assert data.skipped == 1  # broken.png; notes.txt is not an image name and is not counted
    assert data.train.images.shape[1:] == (3, 16, 16)
    cats = data.train.images[data.train.labels == 0]
    assert cats[:, 0].float().mean() > 250  # red


def test_large_folders_decode_in_worker_processes_with_the_same_result(tmp_path, monkeypatch):
    """From worker_pool.PROCESS_MIN files on, the decoding runs in spawned processes: same images, same
    order, the broken file skipped and counted as with threads."""
    from resnet_studio.data import worker_pool

    _class_folders(tmp_path / "train")
    _class_folders(tmp_path / "val", per_class=3)
    (tmp_path / "train" / "dogs" / "broken.png").write_bytes(b"\x89PNG broken")
    threads = load_data(f"folder:{tmp_path}", image_size=16)
    monkeypatch.setattr(worker_pool, "PROCESS_MIN", 5)
    processes = load_data(f"folder:{tmp_path}", image_size=16)
    assert processes.skipped == threads.skipped == 1
    assert torch.equal(processes.train.images, threads.train.images)
    assert torch.equal(processes.train.labels, threads.train.labels)
    assert torch.equal(processes.val.images, threads.val.images)


def _load_while_killing_a_worker(folder) -> tuple[object, list[int]]:
    """Load `folder` while a thread SIGKILLs the first decoding process that appears: the load's
    result or its UserError, and the pids killed."""
    import multiprocessing
    import os
    import signal
    import threading

    done = threading.Event()
    before = {process.pid for process in multiprocessing.active_children()}  # not this load's
    killed: list[int] = []

    def kill_first_worker() -> None:
        while not done.is_set():
            try:
                workers = [p for p in multiprocessing.active_children() if p.pid not in before]
            except RuntimeError:  # the pool added a worker while the children were listed
                workers = []
            if workers:
                os.kill(workers[0].pid, signal.SIGKILL)
                killed.append(workers[0].pid)
                return
            done.wait(0.005)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    try:
        return load_data(f"folder:{folder}", image_size=16), killed
    except UserError as exc:
        return exc, killed
    finally:
        done.set()
        killer.join()


# CPython's own pool thread may trip on its process table while a worker is being added as the
# pool breaks ("dictionary changed size during iteration"): the pool is broken either way and the
# load reports it; the warning is CPython's, and nothing of ours is hidden by ignoring it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_decoding_process_that_dies_is_a_message_naming_the_folder(tmp_path, monkeypatch):
    """A worker killed mid-load (the kernel's OOM killer, a decoder crash) breaks the pool: the
    user gets the folder and what happened, not a BrokenProcessPool (or, when it dies while the
    pool starts another, an OSError or ValueError) traceback. A worker killed before it got any
    work may go unnoticed while the other one decodes everything: then every image is there."""
    import multiprocessing

    from resnet_studio.data import worker_pool

    _class_folders(tmp_path, per_class=40)
    expected = load_data(f"folder:{tmp_path}", image_size=16)  # threads
    monkeypatch.setattr(worker_pool, "PROCESS_MIN", 5)
    messages = []
    for _ in range(3):  # about 1 load in 40 outlives the kill (measured): 3 tries all but never do
        outcome, killed = _load_while_killing_a_worker(tmp_path)
        assert killed, "no decoding process was seen, so none was killed"
        # No worker is left waiting for work: one started as the pool broke used to hang the load.
        assert multiprocessing.active_children() == []
        if isinstance(outcome, UserError):
            messages.append(str(outcome))
            if len(messages) == 2:
                break
        else:
            assert torch.equal(outcome.train.images, expected.train.images)
            assert torch.equal(outcome.val.labels, expected.val.labels)
    assert messages, "three loads lost a worker and none said so"
    for message in messages:
        assert message.startswith(f"{tmp_path}: ")
        assert "a process decoding its images stopped unexpectedly" in message


def test_a_broken_pool_is_told_from_other_errors():
    """Starting a worker in a pool that just broke fails with OSError or ValueError; those count as
    the break only when the pool is broken (a real pool, its worker killed)."""
    import multiprocessing
    import os
    import signal
    import time
    from concurrent.futures import ProcessPoolExecutor

    from resnet_studio.data.worker_pool import broke

    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        assert pool.submit(abs, -3).result() == 3
        assert not broke(pool, OSError("handle is closed")) and not broke(pool, ValueError("x"))
        (worker,) = pool._processes.values()
        os.kill(worker.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not pool._broken and time.monotonic() < deadline:
            time.sleep(0.01)
        assert broke(pool, OSError("handle is closed")) and broke(pool, ValueError("bad fds_to_keep"))
    finally:
        pool.shutdown()


def test_single_folder_is_split_ninety_ten_per_class(tmp_path):
    _class_folders(tmp_path, per_class=20)
    data = load_data(f"folder:{tmp_path}")
    assert len(data.train) == 36 and len(data.val) == 4
    assert data.val.labels.tolist() == [0, 0, 1, 1]
    again = load_data(f"folder:{tmp_path}")
    assert torch.equal(again.val.images, data.val.images)


def test_folder_problems_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such folder"):
        load_data(f"folder:{tmp_path / 'missing'}")
    (tmp_path / "only").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "only" / "a.png")
    with pytest.raises(UserError, match="at least 2 class folders"):
        load_data(f"folder:{tmp_path}")
    with pytest.raises(UserError, match="unknown source"):
        parse_source("imagenet")
    with pytest.raises(UserError, match="needs a path"):
        parse_source("folder:")


def test_cifar_absent_offline_says_where_to_put_it(tmp_path):
    with pytest.raises(UserError) as info:
        load_data(f"cifar10:{tmp_path}")
    message = str(info.value)
    assert "CIFAR-10 not found in" in message and "cifar-10-batches-py" in message and "--download" in message
    assert not any(tmp_path.iterdir())  # nothing was downloaded or created


def test_crop_flip_is_reproducible_and_shifts_content():
    x = torch.zeros(64, 3, 32, 32, dtype=torch.uint8)
    x[:, :, 8:24, 8:24] = 255
    a = random_crop_flip(x, torch.Generator().manual_seed(0))
    b = random_crop_flip(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and a.dtype == torch.uint8 and torch.equal(a, b)
    # Each image is the square moved by at most 4 pixels; the area stays the same unless cut.
    assert (a.float().sum(dim=(1, 2, 3)) == x[0].float().sum()).all()
    assert len({tuple(img[0].nonzero()[0].tolist()) for img in a}) > 10


def test_reflected_padding_shows_the_border_mirrored_never_black():
    x = torch.full((64, 1, 8, 8), 200, dtype=torch.uint8)
    x[:, :, 0, :] = 100  # the top row differs, so a crop that moved down shows its reflection
    zeros = random_crop_flip(x, torch.Generator().manual_seed(0), pad=2, flip=False)
    reflected = random_crop_flip(x, torch.Generator().manual_seed(0), pad=2, flip=False, fill="reflect")
    assert (zeros == 0).any() and not (reflected == 0).any()
    shifted = (zeros[:, 0] == 0).all(dim=2)[:, 0]  # first row black: the crop began above the image
    assert shifted.any() and (reflected[shifted, 0, 0, :] != 0).all()
    # Reflection repeats the rows next to the edge: row -1 is row 1, row -2 is row 2 (value 200).
    assert set(reflected[:, 0].unique().tolist()) == {100, 200}
    with pytest.raises(ValueError, match="reflect padding of 8 px needs images larger than 8x8"):
        random_crop_flip(x, torch.Generator(), pad=8, fill="reflect")


def test_flip_mirrors_the_image():
    x = torch.zeros(200, 1, 4, 4, dtype=torch.uint8)
    x[:, :, :, 0] = 255
    out = random_crop_flip(x, torch.Generator().manual_seed(1), pad=0)
    flipped = out[:, 0, 0, 3] == 255
    assert 60 < int(flipped.sum()) < 140 and torch.equal(out[flipped][:, :, :, 3], x[flipped][:, :, :, 0])


def test_normalize_and_batches():
    x = torch.full((4, 3, 8, 8), 51, dtype=torch.uint8)
    y = normalize(x, [0.2, 0.2, 0.2], [0.5, 0.5, 0.5], size=16, channels_last=True)
    assert y.shape == (4, 3, 16, 16) and y.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(y, torch.zeros_like(y), atol=1e-5)
    from resnet_studio.data.sources import DataSet

    data = DataSet(torch.zeros(10, 1, 2, 2, dtype=torch.uint8), torch.arange(10))
    order = epoch_order(10, seed=0, epoch=0)
    assert torch.equal(order, epoch_order(10, seed=0, epoch=0))
    assert not torch.equal(order, epoch_order(10, seed=0, epoch=1))
    got = [labels.tolist() for _, labels in batches(data, 4, order, drop_last=True)]
    assert len(got) == 2 and sorted(sum(got, [])) == sorted(order[:8].tolist())
    assert [len(lb) for _, lb in batches(data, 4, start=1)] == [4, 2]
    shard = order[:6][1::2]  # one rank's part of the order, as distributed training deals it
    assert [lb.tolist() for _, lb in batches(data, 3, shard)] == [shard.tolist()]
    assert np.array_equal(next(batches(data, 3))[1].numpy(), [0, 1, 2])
