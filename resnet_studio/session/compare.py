"""What a plain-vs-residual comparison shows, in a paragraph: the studio ends the comparison with it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TwinResult:
    """One network of the pair at the end of its run."""

    accuracy: float | None  # last validation accuracy, a fraction
    loss: float | None  # last smoothed training loss
    grads: Sequence[float] = ()  # last gradient norms per block, stem first and head last


def early_to_late(grads: Sequence[float]) -> float | None:
    """How much gradient the first block gets against the last block (stem and head left out)."""
    blocks = list(grads)[1:-1]
    if len(blocks) < 2 or blocks[-1] <= 0:
        return None
    return blocks[0] / blocks[-1]


def summarize(network: str, residual: TwinResult, plain: TwinResult) -> str:
    """One paragraph: how far apart the twins ended and what the gradients say about why."""
    if residual.accuracy is None or plain.accuracy is None:
        return f"{network}: the comparison ended before both networks were evaluated."
    gap = (residual.accuracy - plain.accuracy) * 100
    figures = (
        f"With the same data, settings and length of training, residual {network} reached "
        f"{residual.accuracy:.1%} validation accuracy and its plain twin, the same layers without "
        f"shortcuts, {plain.accuracy:.1%}"
    )
    if residual.loss is not None and plain.loss is not None:
        figures += f" (training loss {residual.loss:.3f} against {plain.loss:.3f})"
    if gap >= 5:
        verdict = (
            "The plain network learned far less: more layers without shortcuts are harder to "
            "optimise, the degradation problem that residual learning solves."
        )
    elif gap >= 1:
        verdict = "The plain network learned less: the shortcuts already help at this depth."
    elif gap > -1:
        verdict = (
            "Both learned about as well: this pair is too shallow, or trained too long, to show "
            "degradation. Try a deeper pair (Presets > ResNet-56 or ResNet-110) or a shorter budget."
        )
    else:
        verdict = (
            "The plain network did better here: at this depth and length shortcuts brought "
            "nothing. A deeper pair (ResNet-56, ResNet-110) shows the opposite."
        )
    paragraph = f"{figures}. {verdict}"
    plain_flow, residual_flow = early_to_late(plain.grads), early_to_late(residual.grads)
    if plain_flow is not None and residual_flow is not None:
        paragraph += (
            f" Gradient flow at the end: the first block received {residual_flow:.0%} of the last "
            f"block's gradient in the residual network and {plain_flow:.0%} in the plain one"
        )
        if plain_flow < min(1.0, residual_flow / 2):
            paragraph += ": without shortcuts the signal fades on its way back to the early blocks."
        elif plain_flow < residual_flow / 2:
            paragraph += ": without shortcuts less of it reaches the early blocks."
        else:
            paragraph += "."
    return paragraph


def summarize_degradation(names: Sequence[str], results: Sequence[TwinResult], classes: int) -> str:
    """He et al.'s figure 1 in words. `names` and `results`: the network, its plain twin, the
    network three times as deep and its plain twin, trained with the same settings and steps on
    data of `classes` classes."""
    if len(results) != 4 or any(r.loss is None for r in results):
        return "The degradation experiment ended before all four networks had trained."
    losses = [float(r.loss) for r in results]  # type: ignore[arg-type]
    shallow, shallow_plain, deep, deep_plain = losses

    def described(i: int) -> str:
        accuracy = results[i].accuracy
        shown = f", {accuracy:.1%} validation accuracy" if accuracy is not None else ""
        return f"{names[i]} training loss {losses[i]:.3f}{shown}"

    parts = ["With the same data, settings and number of steps: " + "; ".join(map(described, range(4))) + "."]
    chance = math.log(classes)  # the loss of a network that has learned nothing
    stuck = [names[i] for i in range(4) if losses[i] > 0.97 * chance]
    # The residual networks are the yardstick: while one of them has learned nothing, the run was
    # too short to say anything about depth. A plain network stuck at chance beside them is the
    # result itself (the quick settings' 150 steps: plain-56 at chance, ResNet-56 as good as ResNet-20).
    if names[0] in stuck or names[2] in stuck:
        parts.append(
            f"{' and '.join(stuck)} had not yet learned anything (loss near {chance:.2f}, chance): "
            "train longer (the button's menu: Setup's length) before reading the comparison."
        )
        if names[0] not in stuck and shallow < shallow_plain:
            parts.append(
                f"So far the shallower pair shows what shortcuts do: training loss {shallow:.3f} with "
                f"them against {shallow_plain:.3f} without."
            )
        return " ".join(parts)
    if deep_plain > shallow_plain * 1.02:
        parts.append(
            f"The deeper plain network trains worse than the shallower one: {names[3]} ends with the "
            f"higher training loss although it could represent everything {names[1]} does. That is "
            "the degradation problem, and not overfitting, since the training loss is the worse one."
        )
        if names[3] in stuck:
            parts.append(
                f"{names[3]} has not even left chance (loss near {chance:.2f}) in the steps in which "
                f"{names[2]}, as deep but with shortcuts, learned."
            )
    else:
        parts.append(
            "Here the deeper plain network trains as well as the shallower one: degradation needs "
            "more depth or a longer run to show (He et al. trained 64,000 steps)."
        )
    if deep <= shallow * 1.02:
        parts.append(
            f"With shortcuts, depth does not hurt: {names[2]} trains at least as well as {names[0]}."
        )
    else:
        parts.append(f"With shortcuts the deeper network, {names[2]}, still trails {names[0]} this early.")
    if deep < deep_plain:
        parts.append(
            f"At the greater depth the shortcuts are worth {deep_plain - deep:.3f} of training loss."
        )
    return " ".join(parts)
