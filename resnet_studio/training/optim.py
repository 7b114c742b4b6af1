"""The optimizer a config names, its learning rate per step, and gradient norms per block."""

from __future__ import annotations

import math

import torch

from resnet_studio.training.config import TrainConfig, lr_factor


def make_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = model.parameters()
    if cfg.transfer is not None:  # what a transfer recipe froze stays out: no update, no weight decay
        params = (p for p in model.parameters() if p.requires_grad)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov and cfg.momentum > 0,
            weight_decay=cfg.weight_decay,
        )
    betas = (cfg.momentum, 0.999)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)


def set_lr(optimizer: torch.optim.Optimizer, cfg: TrainConfig, step: int, total: int) -> None:
    """The schedule's learning rate for `step` (0-based) of `total`."""
    lr = cfg.lr * lr_factor(cfg.schedule, step, total, cfg.warmup_fraction)
    for group in optimizer.param_groups:
        group["lr"] = lr


def grad_norms(groups: list[list[torch.nn.Parameter]]) -> tuple[float, ...]:
    """L2 norm of each group's gradients, with one host sync for all of them; NaN for a group that
    gets none (a fitted whitening stem is fixed: "no gradient" is not "a vanishing one")."""
    norms = []
    for group in groups:
        grads = [p.grad.detach().float().norm() for p in group if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack(grads)) if grads else torch.full((), math.nan))
    device = norms[0].device
    return tuple(torch.stack([n.to(device) for n in norms]).cpu().tolist())
