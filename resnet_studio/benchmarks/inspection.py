"""What Inspect computes, timed on the shipped ResNet-20 (`resnet-studio bench --inspection`): a
block opened up for one image, the top images of a channel over the validation images, an image
optimised to excite a channel, and the embedding's features and projections.

Each figure is the core's work as the studio runs it on its worker threads (one thread for one
image, as the studio does beside a training run); painting the answer adds a few milliseconds.
Targets: README, "What to expect on a 2-core CPU".
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

BLOCK = "stage2.block1"  # the block and channel the README's screenshots show
CHANNEL = 5
ANATOMY_REPEATS = 7


def run_inspection_bench(
    data: str | None = None,
    *,
    images: int = 5000,
    points: int = 2000,
    steps: int = 256,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """The figures (`anatomy_ms`, `channel_top9_s`, `channel_optimise_s`, `embedding_features_s`,
    `embedding_pca_ms`, `embedding_tsne_s`) on `data` (default: CIFAR-10, the weights' data; the
    demo images where CIFAR-10 is not on this machine), `images` of them indexed, `points` drawn."""
    import numpy as np
    import torch

    from resnet_studio.data.transforms import normalize
    from resnet_studio.errors import UserError
    from resnet_studio.inspection.anatomy import block_anatomy
    from resnet_studio.inspection.channels import index_channels
    from resnet_studio.inspection.classify import one_thread
    from resnet_studio.inspection.embedding import penultimate_features, project
    from resnet_studio.inspection.evaluate import validation_images
    from resnet_studio.inspection.maximise import colour_sqrt, maximise_channel
    from resnet_studio.nn.checkpoint import model_from_checkpoint

    say = log or (lambda _text: None)
    loaded = model_from_checkpoint("resnet20-cifar10")
    model, mean, std = loaded.model.eval(), loaded.mean, loaded.std

    # What the studio's search waits for: the images read (decoded, for a folder), their one pass,
    # the colour statistics the optimisation later uses, and the channel's top 9 cropped.
    began = time.perf_counter()
    try:
        val, source = validation_images(loaded, data, limit_val=images)
    except UserError as exc:
        if data is not None:
            raise
        say(f"CIFAR-10 not found ({exc}): the demo images instead")
        began = time.perf_counter()
        val, source = validation_images(loaded, "demo", limit_val=images)
    index = index_channels(model, val.images, mean, std)
    colour = colour_sqrt(val.images)
    index.crops(index.top(BLOCK, CHANNEL))
    figures: dict[str, Any] = {"inspection_data": source, "inspection_images": len(val)}
    figures["channel_top9_s"] = round(time.perf_counter() - began, 2)
    say(f"top 9 of channel {CHANNEL} over {len(val)} images, read and indexed: {figures['channel_top9_s']} s")

    x = normalize(val.images[:1], mean, std, size=loaded.input_size)
    took = []
    with one_thread():
        for _ in range(ANATOMY_REPEATS):
            began = time.perf_counter()
            block_anatomy(model, x, BLOCK)
            took.append((time.perf_counter() - began) * 1000)
    figures["anatomy_ms"] = round(statistics.median(took[1:]), 1)  # the first warms the caches
    say(f"anatomy of {BLOCK}: {figures['anatomy_ms']} ms")

    began = time.perf_counter()
    maximise_channel(model, BLOCK, CHANNEL, mean, std, colour=colour, steps=steps)
    figures["channel_optimise_s"] = round(time.perf_counter() - began, 2)
    say(f"an image optimised to excite it ({steps} steps): {figures['channel_optimise_s']} s")

    began = time.perf_counter()
    with one_thread():  # as the studio's Embedding computes them
        features = penultimate_features(model, val.images[:points], mean, std, size=loaded.input_size)
    figures["embedding_features_s"] = round(time.perf_counter() - began, 2)
    vectors = np.asarray(features.vectors)
    for method, key, scale, unit in (
        ("pca", "embedding_pca_ms", 1000, "ms"),
        ("tsne", "embedding_tsne_s", 1, "s"),
    ):
        began = time.perf_counter()
        project(vectors, method)
        figures[key] = round((time.perf_counter() - began) * scale, 2 if unit == "s" else 1)
        say(f"{method} of {len(vectors)} points: {figures[key]} {unit}")
    figures["inspection_threads"] = torch.get_num_threads()
    return figures
