"""Classification of image files: top-k classes per image, or a message for that image alone."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch

from resnet_studio.data.images import ImageError, load_image, load_image_with_preview
from resnet_studio.data.transforms import normalize
from resnet_studio.inspection.inference_precision import inference_dtype
from resnet_studio.inspection.prediction import Prediction
from resnet_studio.inspection.tta import tta_logits
from resnet_studio.nn.checkpoint import LoadedModel


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given; folders walked (sorted) for every file but hidden ones (a name starting
    with "."), so that a `notes.txt` beside the photos gets its own "not an image" answer instead
    of vanishing (#27); hidden files (.DS_Store, a .git folder) are no one's pictures."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            found.append(path)
    return found


@contextmanager
def one_thread() -> Iterator[None]:
    """One intra-op thread for the work inside: one image's pass on a CPU that other work keeps
    busy (a training run, other programs). Two threads then wait at every layer for the core the
    other holds: a ResNet-50 answer took 1,370 ms of wall and CPU time with two threads and 140 ms
    with one while two other processes kept both cores busy (on an idle machine two threads win
    little on one image). The process's setting is restored after."""
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.inference_mode()
def predict(
    loaded: LoadedModel, images: np.ndarray | torch.Tensor, top_k: int = 5
) -> list[list[tuple[str, float]]]:
    """Top-k (class, probability) for each uint8 image (N, C, H, W) already at the input size; a
    batch in bf16 where that pays (`inference_precision`), a single image in float32."""
    x = torch.as_tensor(images)
    x = normalize(x, loaded.mean, loaded.std, size=loaded.input_size)
    device = next(loaded.model.parameters()).device
    x = x.to(device)
    dtype = inference_dtype(device, len(x))
    autocast = torch.autocast(device.type, dtype=dtype) if dtype else nullcontext()
    with one_thread() if len(x) == 1 and device.type == "cpu" else nullcontext(), autocast:
        logits = tta_logits(loaded.model, x, flip=loaded.tta, shift=loaded.tta_shift)  # as evaluated
    probs = torch.softmax(logits, dim=1).cpu()
    k = min(top_k, probs.shape[1])
    values, indices = probs.topk(k, dim=1)
    return [
        [(loaded.classes[int(i)], float(v)) for v, i in zip(row_v, row_i, strict=True)]
        for row_v, row_i in zip(values, indices, strict=True)
    ]


def classify_files(
    loaded: LoadedModel,
    paths: Iterable[str | os.PathLike[str]],
    top_k: int = 5,
    batch_size: int = 64,
    preview: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Prediction]:
    """Classify every image; an unreadable one gets an `error` and the rest go on. With `preview`,
    each prediction keeps its input image and a picture that size (the studio shows them)."""
    results: list[Prediction] = []
    pending: list[tuple[Prediction, np.ndarray]] = []

    def flush() -> None:
        if pending:
            tops = predict(loaded, np.stack([image for _, image in pending]), top_k)
            for (prediction, _), top in zip(pending, tops, strict=True):
                prediction.top = top
            pending.clear()

    files = expand_paths(paths)
    for done, path in enumerate(files):
        if progress is not None:
            progress(done, len(files))
        prediction = Prediction(str(path))
        results.append(prediction)
        try:
            if preview:
                image, prediction.preview = load_image_with_preview(
                    path, loaded.preparation, loaded.channels, preview
                )
                prediction.image = image
            else:
                image = load_image(path, loaded.preparation, loaded.channels)
        except ImageError as exc:
            prediction.error = str(exc)
            continue
        pending.append((prediction, image))
        if len(pending) == batch_size:
            flush()
    flush()
    return results


def classify_picture(loaded: LoadedModel, rgb: np.ndarray, name: str, top_k: int = 5) -> Prediction:
    """Classify an RGB (h, w, 3) uint8 picture that is not a file (pasted from the clipboard)."""
    from PIL import Image

    from resnet_studio.data.images import prepare

    picture = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    image = prepare(picture, loaded.preparation, loaded.channels)
    prediction = Prediction(name, image=image, preview=rgb[..., :3])
    prediction.top = predict(loaded, image[None], top_k)[0]
    return prediction
