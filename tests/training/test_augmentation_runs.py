"""Networks of 64 px and more train on random resized crops of photos stored with a margin and
evaluate on their centre; their checkpoints say so, and every reader of them agrees."""

import json

import pytest
import torch

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec
from resnet_studio.benchmarks.photolike import make_photo_folder
from resnet_studio.data.augmentation import eval_view
from resnet_studio.data.preprocessing import Preprocessing
from resnet_studio.data.sources import DataSet, DataSplits
from resnet_studio.data.transforms import normalize
from resnet_studio.inspection.evaluate import evaluate_checkpoint
from resnet_studio.nn.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from resnet_studio.nn.model import build_model
from resnet_studio.training import Evaluated, Step, TrainConfig, Trainer
from resnet_studio.training.augmentation import checkpoint_record, resolved_config, run_preparation
from resnet_studio.training.setup import whitening_sample


def spec64(**kw) -> ArchitectureSpec:
    return ArchitectureSpec(
        name="Tiny64",
        input=InputSpec(3, 64),
        classes=2,
        stem=StemSpec(channels=8, kernel=3, stride=2),
        stages=(StageSpec("basic", 1, 8, 2),),
        shortcut="projection",
        **kw,
    )


@pytest.fixture
def photos(tmp_path):
    """20 training and 4 validation JPEGs of 96x72, two classes."""
    return make_photo_folder(tmp_path / "photos", 24, classes=2, width=96, height=72)


def config(photos, **kw) -> TrainConfig:
    base = dict(data=f"folder:{photos}", epochs=1, batch_size=4, lr=0.05, threads=1, log_every=1)
    return TrainConfig(**{**base, **kw})


def test_a_64_px_network_trains_on_resized_crops_and_its_checkpoint_records_them(photos, tmp_path):
    trainer = Trainer(spec64(), config(photos), tmp_path / "run")
    events = list(trainer.events())
    assert events[-1].status == "completed"
    data = trainer.data
    assert data.train.images.shape[-2:] == (74, 74) and data.val.images.shape[-2:] == (64, 64)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["augmentation"] == "resized-crop-flip"
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["augmentation"]["kind"] == "resized-crop-flip" and state["augmentation"]["train_side"] == 74
    assert state["augmentation"]["scale"] == [0.08, 1.0]
    assert state["preprocessing"] == {
        "resize": 74,
        "crop": 64,
        "interpolation": "bilinear",
        "mean": data.mean,
        "std": data.std,
        "convention": "studio",
    }
    # Classify, Inspect and `evaluate` prepare the files as the run's validation did.
    loaded = model_from_checkpoint(tmp_path / "run")
    assert (loaded.preparation.resize, loaded.preparation.crop) == (74, 64)
    result, images, _ = evaluate_checkpoint(loaded)
    assert torch.equal(images.images, data.val.images)
    last_eval = [e for e in events if isinstance(e, Evaluated)][-1]
    assert result.accuracy == pytest.approx(last_eval.accuracy)


def test_a_run_stopped_mid_epoch_resumes_with_the_same_crops(photos, tmp_path):
    cfg = config(photos, epochs=2)  # 5 steps an epoch
    straight = [e.loss for e in Trainer(spec64(), cfg, tmp_path / "a").events() if isinstance(e, Step)]
    trainer = Trainer(spec64(), cfg, tmp_path / "b")
    for event in trainer.events():
        if isinstance(event, Step) and event.step == 3:
            trainer.stop()
    resumed = [e.loss for e in Trainer(None, cfg, resume=tmp_path / "b").events() if isinstance(e, Step)]
    assert len(straight) == 10 and resumed == straight[3:]


def test_auto_is_resolved_by_input_size_and_old_runs_keep_pad_crop_flip(tiny_spec):
    assert resolved_config(TrainConfig(), spec64(), None).augmentation == "resized-crop-flip"
    assert resolved_config(TrainConfig(), tiny_spec, None).augmentation == "crop-flip"
    old_run = {"config": {k: v for k, v in TrainConfig().to_dict().items() if k != "augmentation"}}
    assert TrainConfig.from_dict(old_run["config"]).augmentation == "auto"  # old config.json loads
    assert resolved_config(TrainConfig(), spec64(), old_run).augmentation == "crop-flip"
    chosen = resolved_config(TrainConfig(augmentation="crop-flip"), spec64(), None)
    assert run_preparation(chosen, spec64()) == 64  # prepared at the input size, as before
    # a 32-px run's checkpoint: pad-crop-flip, no evaluation transform beyond the studio's own
    images, labels = torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64)
    demo = DataSplits("demo", ["a"], DataSet(images, labels), DataSet(images, labels), [0.5] * 3, [0.2] * 3)
    record = checkpoint_record(resolved_config(TrainConfig(), tiny_spec, None), demo)
    assert record == {"augmentation": {"kind": "crop-flip", "flip": True, "padding": 4, "fill": "zeros"}}


def test_weights_started_from_keep_their_own_resize(tmp_path):
    spec = spec64()
    prep = Preprocessing(80, 64, "bilinear", (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "torchvision")
    state = {
        "architecture": spec.to_dict(),
        "classes": ["a", "b"],
        "normalization": {"mean": list(prep.mean), "std": list(prep.std)},
        "preprocessing": prep.to_dict(),
        "input_size": 64,
        "model": build_model(spec).state_dict(),
    }
    save_checkpoint(tmp_path / "imported.pt", state)
    cfg = TrainConfig(init=str(tmp_path / "imported.pt"), augmentation="resized-crop-flip")
    assert run_preparation(cfg, spec) == prep
    # resumed, the run keeps what its checkpoint recorded, whether or not the --init file is there
    (tmp_path / "imported.pt").unlink()
    assert run_preparation(cfg, spec, {"preprocessing": prep.to_dict()}) == prep
    assert run_preparation(TrainConfig(augmentation="resized-crop-flip"), spec).resize == 74


def test_a_whitening_stem_is_fitted_on_the_evaluation_view():
    images = torch.randint(0, 256, (20, 3, 74, 74), dtype=torch.uint8)
    labels = torch.zeros(20, dtype=torch.int64)
    data = DataSplits("x", ["a"], DataSet(images, labels), DataSet(images[:2, :, 5:69, 5:69], labels[:2]))
    data.mean, data.std, data.crop = [0.5] * 3, [0.25] * 3, 64
    sample = whitening_sample(data, 0, 64)
    draw = torch.randperm(20, generator=torch.Generator().manual_seed(0))[: len(sample)]
    assert torch.equal(sample, normalize(eval_view(images[draw], 64), data.mean, data.std))
