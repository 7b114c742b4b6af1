import numpy as np
import pytest
import torch
from PIL import Image

from resnet_studio.data import demo
from resnet_studio.inspection.classify import classify_files, expand_paths
from resnet_studio.inspection.evaluate import evaluate
from resnet_studio.nn import build_model
from resnet_studio.nn.checkpoint import model_from_checkpoint
from resnet_studio.training import TrainConfig, Trainer, run_training


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_slice):
    """A tiny network trained for a few seconds; its run folder."""
    from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec

    spec = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),))
    data = demo_slice(1024, 300)
    run = tmp_path_factory.mktemp("run")
    run_training(Trainer(spec, TrainConfig(epochs=2, batch_size=64, threads=2), run, data=data))
    return run


def test_evaluation_table_and_confusion_agree(demo_splits):
    model = build_model(__import__("resnet_studio").architecture.get_preset("resnet20"))
    val = demo_splits.val.subset(200, 0)
    result = evaluate(model, val, demo_splits.classes, demo_splits.mean, demo_splits.std)
    assert result.confusion.shape == (10, 10) and result.confusion.sum() == 200
    rows = result.per_class
    assert sum(r["correct"] for r in rows) == round(result.accuracy * 200)
    assert [r["correct"] + r["incorrect"] for r in rows] == result.confusion.sum(1).tolist()
    text = result.table()
    assert text.splitlines()[0].split() == ["Category", "Correct", "Incorrect", "Accuracy"]
    assert "Overall accuracy" in text and "half-disc" in text
    assert set(result.to_dict()) == {"accuracy", "loss", "per_class", "confusion"}


def test_evaluate_matches_a_hand_computed_accuracy(trained, demo_splits):
    loaded = model_from_checkpoint(trained)
    val = demo_splits.val.subset(300, 1)
    result = evaluate(loaded.model, val, loaded.classes, loaded.mean, loaded.std)
    x = (val.images.float() / 255 - torch.tensor(loaded.mean).view(1, 3, 1, 1)) / torch.tensor(
        loaded.std
    ).view(1, 3, 1, 1)
    with torch.no_grad():
        predicted = loaded.model(x).argmax(1)
    assert result.accuracy == pytest.approx((predicted == val.labels).float().mean().item())


def test_classify_files_of_many_kinds(trained, tmp_path):
    loaded = model_from_checkpoint(trained)
    images, labels = demo.generate(20, seed=9)
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(images[i].transpose(1, 2, 0)).save(folder / f"{i}.png")
    Image.fromarray(images[4].transpose(1, 2, 0)).resize((300, 200)).save(tmp_path / "big.jpg")
    Image.fromarray(images[5].transpose(1, 2, 0)).convert("L").save(tmp_path / "gray.png")
    Image.fromarray(images[6].transpose(1, 2, 0)).convert("RGBA").save(tmp_path / "alpha.png")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty.png").write_bytes(b"")
    paths = [
        folder,
        tmp_path / "big.jpg",
        tmp_path / "gray.png",
        tmp_path / "alpha.png",
        tmp_path / "notes.txt",
        tmp_path / "empty.png",
        tmp_path / "missing.png",
    ]
    results = classify_files(loaded, paths, top_k=3)
    assert len(results) == 10
    good = [r for r in results if r.error is None]
    assert len(good) == 7
    for r in good:
        assert len(r.top) == 3 and r.top[0][1] >= r.top[1][1] >= r.top[2][1]
        assert all(name in demo.CLASSES for name, _ in r.top)
        assert 0 < sum(p for _, p in r.top) <= 1.0001
    errors = {r.path.rsplit("/", 1)[-1]: r.error for r in results if r.error}
    assert errors["notes.txt"].startswith("not an image")
    assert errors["empty.png"] == "empty file"
    assert "No such file" in errors["missing.png"]
    assert results[0].to_dict()["top"][0].keys() == {"class", "probability"}
    assert set(results[-1].to_dict()) == {"path", "error"}


def test_expand_paths_walks_folders_for_every_file_but_hidden_ones(tmp_path):
    """#27: a folder's `readme.md` is listed (its answer says it is not an image), never dropped
    without a word; hidden files and folders are left out."""
    (tmp_path / "a").mkdir()
    (tmp_path / ".git").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "a" / "x.png")
    (tmp_path / "a" / "readme.md").write_text("#")
    (tmp_path / "a" / ".DS_Store").write_bytes(b"\0")
    (tmp_path / ".git" / "HEAD").write_text("ref")
    assert [p.name for p in expand_paths([tmp_path])] == ["readme.md", "x.png"]
    assert np.array_equal([p.name for p in expand_paths([tmp_path / "a" / "readme.md"])], ["readme.md"])


def test_flip_tta_averages_each_image_with_its_mirror(trained, demo_splits):
    """With TTA an image and its mirror get the same answer, and accuracy matches a hand-written
    average of the two views' logits; a checkpoint trained with --tta classifies that way too."""
    from resnet_studio.data.sources import DataSet
    from resnet_studio.inspection.classify import predict

    loaded = model_from_checkpoint(trained)
    val = demo_splits.val.subset(300, 1)
    mirrored = DataSet(val.images.flip(3), val.labels)
    args = (loaded.classes, loaded.mean, loaded.std)
    plain = evaluate(loaded.model, val, *args)
    tta = evaluate(loaded.model, val, *args, tta=True)
    assert evaluate(loaded.model, mirrored, *args, tta=True).accuracy == tta.accuracy
    x = (val.images.float() / 255 - torch.tensor(loaded.mean).view(1, 3, 1, 1)) / torch.tensor(
        loaded.std
    ).view(1, 3, 1, 1)
    with torch.no_grad():
        predicted = ((loaded.model(x) + loaded.model(x.flip(3))) / 2).argmax(1)
    assert tta.accuracy == pytest.approx((predicted == val.labels).float().mean().item())
    assert tta.confusion.sum() == plain.confusion.sum() == 300
    image = val.images[:1].numpy()
    loaded.config["tta"] = True
    assert predict(loaded, image) == predict(loaded, image[..., ::-1].copy())


def test_shift_tta_weighs_the_mirror_pair_half_and_each_shifted_pair_a_quarter(trained, demo_splits):
    """Translation TTA against a hand-written average: the pair (image, mirror) at weight 1/2 and
    the pair moved one pixel up-left and one down-right (borders mirrored) at 1/4 each. A checkpoint
    that asks for it answers that way in Classify and in its evaluation."""
    import torch.nn.functional as F

    from resnet_studio.inspection.classify import predict
    from resnet_studio.inspection.tta import shifted, tta_logits, tta_passes

    loaded = model_from_checkpoint(trained)
    model = loaded.model.eval()
    val = demo_splits.val.subset(200, 2)
    x = (val.images.float() / 255 - torch.tensor(loaded.mean).view(1, 3, 1, 1)) / torch.tensor(
        loaded.std
    ).view(1, 3, 1, 1)
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    up_left, down_right = padded[..., 2:34, 2:34], padded[..., 0:32, 0:32]
    assert torch.equal(shifted(x, -1, -1, 1), up_left) and torch.equal(shifted(x, 1, 1, 1), down_right)
    assert torch.equal(down_right[..., 1:, 1:], x[..., :-1, :-1])  # moved down-right by one pixel

    def pair(v):
        return (model(v) + model(v.flip(3))) / 2

    with torch.no_grad():
        expected = pair(x) / 2 + pair(up_left) / 4 + pair(down_right) / 4
        assert torch.allclose(tta_logits(model, x, flip=True, shift=1), expected, atol=1e-5)
        assert torch.allclose(tta_logits(model, x, flip=True, shift=0), pair(x), atol=1e-6)
        assert torch.equal(tta_logits(model, x, flip=False, shift=1), model(x))  # shifts need the mirror
        assert not torch.allclose(expected, pair(x), atol=1e-3)  # the shifted views do count
    assert (tta_passes(False, 0), tta_passes(True, 0), tta_passes(True, 1)) == (1, 2, 6)

    result = evaluate(model, val, loaded.classes, loaded.mean, loaded.std, tta=True, tta_shift=1)
    assert result.accuracy == pytest.approx((expected.argmax(1) == val.labels).float().mean().item())
    loaded.config.update(tta=True, tta_shift=1)
    assert loaded.tta_shift == 1
    answer = predict(loaded, val.images[:1].numpy(), top_k=1)[0][0]
    best = torch.softmax(expected[0], 0).max(0)
    assert answer == (loaded.classes[int(best.indices)], pytest.approx(float(best.values), abs=1e-5))
    loaded.config["tta_shift"] = "9"  # a hand-edited file: ignored, never a crash
    assert loaded.tta_shift == 0
