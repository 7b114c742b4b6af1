"""torch.distributed helpers: `torchrun ... -m resnet_studio train --distributed` trains with DDP.

gloo on CPU, nccl on GPU; each rank sees its own shard of every epoch's order; rank 0 alone
writes the run directory. Without --distributed none of this runs.
"""

from __future__ import annotations

import contextlib
import os

import torch
import torch.distributed as dist
from torch import Tensor, nn

from resnet_studio.errors import UserError


def rank_and_world(distributed: bool) -> tuple[int, int]:
    """Join the process group set up by torchrun (once) and return (rank, world size)."""
    if not distributed:
        return 0, 1
    if not dist.is_initialized():
        if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
            raise UserError(
                "--distributed: start the command with torchrun, e.g. "
                "torchrun --nproc-per-node 2 -m resnet_studio train --distributed ..."
            )
        backend = "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
        dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()


def first_rank(distributed: bool) -> bool:
    """Whether this process is rank 0 (the one that writes the run folder), without joining the
    process group: torchrun says so in RANK."""
    return not distributed or os.environ.get("RANK", "0") == "0"


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def local_world_size() -> int:
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def wrap(model: nn.Module, config: object, device: torch.device) -> nn.Module:
    """DistributedDataParallel around `model` (its parameters stay shared with the wrapper)."""
    if getattr(config, "sync_batchnorm", False):
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def shard(order: Tensor, rank: int, world: int, used: int) -> Tensor:
    """This rank's part of an epoch's order: the first `used * world` items, dealt round-robin."""
    if world == 1:
        return order
    return order[: used * world][rank::world]


def finish(together: bool = True) -> None:
    """End this process's part. `together` (the run ended normally): first wait for every rank,
    so that none tears its connections down while another still uses them (rank 0 validates and
    writes alone after the others' last step; a rank that left first was seen to abort in gloo's
    teardown, "terminate called without an active exception"). After a failure, no waiting: the
    other ranks may be gone."""
    if not dist.is_initialized():
        return
    if together:
        with contextlib.suppress(RuntimeError):  # a rank that is gone ends the wait with an error
            dist.barrier()
    dist.destroy_process_group()
