"""`bench`'s bare loop is the engine's own step with nothing around it: from the same seed, after
the same steps, it holds the weights the engine's run ends with, so that engine/bare compares like
with like (an optimiser, schedule or augmentation written a second time would drift)."""

import torch

from resnet_studio.architecture.presets import get_preset
from resnet_studio.benchmarks.throughput import BATCH, bare_steps, bare_training, bench_config, bench_data
from resnet_studio.training.engine import Trainer, run_training


def test_the_bare_loop_ends_with_the_engines_weights():
    data = bench_data(BATCH * 3)  # one epoch of three steps: the schedule's whole length for both
    trainer = Trainer(get_preset("resnet20"), bench_config("cpu", "fp32"), data=data)
    finished = run_training(trainer)
    assert finished.status == "completed" and finished.step == 3
    assert trainer.model is not None
    engine = trainer.model.state_dict()

    loop = bare_training(data, "cpu", "fp32")
    untrained = {name: tensor.clone() for name, tensor in loop.model.state_dict().items()}
    assert list(bare_steps(loop)) == [1, 2, 3]
    bare = loop.model.state_dict()

    assert bare.keys() == engine.keys()
    for name, tensor in engine.items():
        torch.testing.assert_close(bare[name], tensor, msg=lambda m, name=name: f"{name}: {m}")
    # The steps moved the weights: a loop that trained nothing could not pass the check above.
    assert any(not torch.equal(untrained[name], bare[name]) for name in bare)
