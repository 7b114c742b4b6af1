"""Where the images sit: the penultimate features of the shipped demo ResNet-20 (checked against the
output layer), their PCA, t-SNE and UMAP (each the same on every call), the lasso's polygon test,
the live panel's alignment and sample, and `resnet-studio embedding --json`."""

import json

import numpy as np
import pytest
import torch

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec
from resnet_studio.cli import main
from resnet_studio.data.transforms import normalize
from resnet_studio.inspection import embedding
from resnet_studio.inspection.channels import Cancelled
from resnet_studio.inspection.embedding import (
    align,
    inside_polygon,
    pca,
    penultimate_features,
    project,
    sample_indices,
    unavailable,
)
from resnet_studio.inspection.evaluate import validation_images
from resnet_studio.nn.checkpoint import model_from_checkpoint, save_checkpoint

SPEC = ArchitectureSpec(
    name="Tiny",
    input=InputSpec(3, 32),
    classes=10,
    stem=StemSpec(channels=8),
    stages=(StageSpec("basic", 1, 8, 2), StageSpec("basic", 1, 16, 2)),
)


@pytest.fixture(scope="module")
def trained():
    """The shipped ResNet-20 trained on the demo shapes (98.95%) and 300 of its validation images."""
    loaded = model_from_checkpoint("resnet20-demo")
    images, _ = validation_images(loaded, limit_val=300)
    return loaded, images


def test_the_features_are_what_the_output_layer_reads_and_the_model_keeps_its_mode(trained):
    loaded, images = trained
    model = loaded.model.train()
    features = penultimate_features(model, images.images, loaded.mean, loaded.std, batch_size=128)
    assert model.training  # put back as it was
    assert features.vectors.shape == (300, 64) and features.vectors.dtype == np.float32
    model.eval()
    with torch.no_grad():
        logits = model(normalize(images.images, loaded.mean, loaded.std))
        from_features = model.head.fc(torch.from_numpy(features.vectors))
    assert torch.allclose(from_features, logits, atol=1e-4)
    assert np.array_equal(features.predictions, logits.argmax(1).numpy())
    # Trained: the classes sit apart. Each image's nearest class centre in the PCA plane is its own
    # class far more often than chance (10%).
    points = pca(features.vectors)
    labels = images.labels.numpy()
    centres = np.stack([points[labels == k].mean(0) for k in range(10)])
    nearest = np.argmin(((points[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    assert (features.predictions == labels).mean() > 0.9 and (nearest == labels).mean() > 0.4
    with pytest.raises(Cancelled):
        penultimate_features(model, images.images, loaded.mean, loaded.std, cancelled=lambda: True)


def test_pca_is_the_top_two_components_with_fixed_signs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)) * np.array([5.0, 2.0, 0.5, 0.4, 0.3, 0.2])
    points = pca(x)
    assert points.shape == (200, 2)
    assert np.allclose(points.mean(0), 0, atol=1e-5)
    assert points[:, 0].var() > points[:, 1].var() > x[:, 2].var()  # the two widest directions
    # The same points whatever the order of the columns' signs: flipping a feature flips nothing.
    flipped = x * np.array([-1, 1, 1, 1, 1, 1])
    assert np.allclose(np.abs(pca(flipped)), np.abs(points), atol=1e-5)
    assert np.array_equal(pca(x), points)
    assert pca(x[:1]).shape == (1, 2) and pca(np.zeros((0, 6))).shape == (0, 2)


def test_each_projection_is_the_same_on_every_call_and_keeps_the_classes_apart(trained):
    loaded, images = trained
    vectors = penultimate_features(loaded.model, images.images, loaded.mean, loaded.std).vectors
    for method in ("pca", "tsne"):
        first, second = project(vectors, method), project(vectors, method)
        assert first.shape == (300, 2) and np.isfinite(first).all()
        assert np.array_equal(first, second), method
        labels = images.labels.numpy()
        centres = np.stack([first[labels == k].mean(0) for k in range(10)])
        nearest = np.argmin(((first[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        assert (nearest == labels).mean() > (0.4 if method == "pca" else 0.8), method
    assert project(vectors[:3], "tsne").shape == (3, 2)  # too few for neighbours: their PCA


def test_umap_is_the_same_on_every_call():
    pytest.importorskip("umap")
    x = np.random.default_rng(1).normal(size=(120, 8)).astype(np.float32)
    first = project(x, "umap")
    assert first.shape == (120, 2) and np.array_equal(first, project(x, "umap"))


def test_a_method_without_its_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(embedding.NEEDS, "umap", ("no_such_module_here", "umap-learn", "pip install x"))
    assert "umap-learn" in unavailable("umap") and "pip install" in unavailable("umap")
    assert unavailable("pca") is None and "unknown method" in unavailable("mds")
    with pytest.raises(ValueError, match="umap-learn"):
        project(np.zeros((10, 4)), "umap")


def test_the_lasso_keeps_the_points_inside_its_polygon():
    points = np.array([[0.5, 0.5], [2, 2], [0.1, 0.9], [1.5, 0.5], [-1, 0]])
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]])
    assert inside_polygon(points, square).tolist() == [True, False, True, False, False]
    # A concave L: the notch is outside.
    ell = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]])
    assert inside_polygon(np.array([[0.5, 1.5], [1.5, 1.5], [1.5, 0.5]]), ell).tolist() == [True, False, True]
    assert not inside_polygon(points, square[:2]).any()  # two points enclose nothing


def test_a_frame_is_turned_to_lie_as_the_one_before():
    rng = np.random.default_rng(2)
    before = rng.normal(size=(50, 2)).astype(np.float32)
    turn = np.array([[0.0, -1.0], [-1.0, 0.0]])  # a rotation and a mirror
    after = before @ turn + 3.0
    aligned = align(before, after)
    assert np.allclose(aligned, before - before.mean(0), atol=1e-5)
    assert align(None, after) is after and align(before[:10], after) is after


def test_the_live_sample_is_fixed_and_sorted():
    a, b = sample_indices(2000, 500), sample_indices(2000, 500)
    assert np.array_equal(a, b) and len(np.unique(a)) == 500 and np.all(np.diff(a) > 0)
    assert sample_indices(40, 500).tolist() == list(range(40))


def test_embedding_from_the_command_line(trained, capsys):
    loaded, _ = trained
    assert main(["embedding", "resnet20-demo", "--method", "pca", "--limit-val", "120", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == "pca" and result["images"] == 120 and result["features"] == 64
    assert result["classes"] == list(loaded.classes) and len(result["points"]) == 120
    first = result["points"][0]
    assert set(first) == {"index", "x", "y", "class", "predicted"} and first["class"] in loaded.classes
    assert main(["embedding", "resnet20-demo", "--method", "tsne", "--limit-val", "60"]) == 0
    out = capsys.readouterr().out
    assert "t-SNE of the 64-wide penultimate features of 60 images of demo" in out


def test_embedding_refuses_a_method_it_cannot_run(capsys, monkeypatch):
    monkeypatch.setitem(embedding.NEEDS, "umap", ("no_such_module_here", "umap-learn", "pip install x"))
    assert main(["embedding", "resnet20-demo", "--method", "umap"]) == 2
    assert "umap-learn, which is not installed" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["-5", "99999999999999999999", "1.5"])
def test_a_seed_scikit_learn_would_refuse_is_one_clear_error(seed, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["embedding", "resnet20-demo", "--method", "tsne", "--seed", seed])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--seed" in err and "Traceback" not in err


def test_a_checkpoint_written_by_hand_is_embedded_with_its_class_names(tmp_path, capsys):
    """No run folder: the CLI takes any checkpoint, and names the classes the checkpoint names."""
    torch.manual_seed(0)
    from resnet_studio.nn import build_model

    model = build_model(SPEC)
    path = tmp_path / "hand.pt"
    save_checkpoint(
        path,
        {
            "architecture": SPEC.to_dict(),
            "model": model.state_dict(),
            "classes": [f"c{i}" for i in range(10)],
            "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3},
            "config": {"data": "demo"},
        },
    )
    assert main(["embedding", str(path), "--limit-val", "30", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["points"]) == 30 and {p["class"] for p in result["points"]} <= set(result["classes"])
    assert result["classes"] == [f"c{i}" for i in range(10)]
