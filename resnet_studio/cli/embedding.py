"""`embedding`: the penultimate features of the validation images drawn in two dimensions (PCA,
t-SNE or UMAP), what the studio's Inspect > Embedding shows."""

from __future__ import annotations

import argparse
import time
from typing import Any

from resnet_studio.cli.common import (
    DEVICES,
    StderrProgress,
    checkpoint_help,
    positive_int,
    print_json,
    seed_int,
)
from resnet_studio.errors import UserError


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "embedding",
        help="where the validation images sit: their penultimate features in 2-D by PCA, t-SNE or UMAP",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help=checkpoint_help())
    p.add_argument("--method", choices=["pca", "tsne", "umap"], default="pca")
    p.add_argument("--data", metavar="SPEC", help="default: the data the checkpoint was trained on")
    p.add_argument("--limit-val", type=positive_int, default=2000, metavar="N", help="default 2000")
    p.add_argument(
        "--seed", type=seed_int, default=0, help="the projection's seed, 0 to 4294967295 (default 0)"
    )
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--json", action="store_true", help="every image's point, class and prediction")
    p.set_defaults(handler=cmd_embedding)


def cmd_embedding(args: argparse.Namespace) -> int:
    from resnet_studio.inspection.embedding import (
        TITLES,
        embedding_dict,
        penultimate_features,
        project,
        unavailable,
    )
    from resnet_studio.inspection.evaluate import validation_images
    from resnet_studio.nn.checkpoint import model_from_checkpoint
    from resnet_studio.training.device import choose_device

    why = unavailable(args.method)
    if why is not None:
        raise UserError(f"--method {args.method}: {why}")
    loaded = model_from_checkpoint(args.checkpoint)
    images, source = validation_images(loaded, args.data, limit_val=args.limit_val)
    model = loaded.model.to(choose_device(args.device))
    with StderrProgress("features", unit="image") as progress:
        features = penultimate_features(
            model, images.images, loaded.mean, loaded.std, size=loaded.input_size, progress=progress
        )
    began = time.perf_counter()
    points = project(features.vectors, args.method, seed=args.seed)
    seconds = time.perf_counter() - began
    result = embedding_dict(points, images.labels.numpy(), features, loaded.classes, args.method, source)
    result["seconds"] = round(seconds, 3)
    if args.json:
        print_json(result)
        return 0
    correct = int((features.predictions == images.labels.numpy()).sum())
    print(
        f"{TITLES[args.method]} of the {features.vectors.shape[1]}-wide penultimate features of "
        f"{len(points)} images of {source} ({correct / max(1, len(points)):.1%} answered right) in "
        f"{seconds:.2f} s"
    )
    for k, name in enumerate(loaded.classes):
        mine = points[images.labels.numpy() == k]
        if len(mine):
            x, y = mine.mean(axis=0)
            print(f"  {name:<16} {len(mine):6d} images, centre ({x:8.2f}, {y:8.2f})")
    return 0
