"""Data-parallel training of one fold over several processes (``torchrun``, PyTorch DDP).

Every process holds a replica of the fold's model; each epoch all of them draw the same sample
order from the fold's seed and take every ``world``-th sample of it, so the global batch is the one
a single process would see at ``batch_size`` and DDP's gradient average equals its gradient (up to
BatchNorm, whose statistics stay per process on a CPU; CUDA runs use SyncBatchNorm). Process 0
writes every output; the others only train.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler


def active() -> bool:
    """Whether this process is one of a DDP group."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def init_from_env() -> torch.device | None:
    """Join the process group ``torchrun`` describes in the environment; the CUDA device of this
    process, or None when not launched by ``torchrun`` (or on the CPU)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or active():
        return None
    cuda = torch.cuda.is_available()
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    if not cuda:
        return None
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.cuda.set_device(device)
    return device


def replicate(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` as a DDP replica (with SyncBatchNorm on CUDA, where it is supported)."""
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


class ShardedEpochs(Sampler[int]):
    """This process's share of each epoch: ``order(epoch)[rank::world]``.

    ``order`` must give every process the same indices for an epoch (draw them from a generator
    seeded with the fold's seed and the epoch); :meth:`set_epoch` moves to the next epoch.
    """

    def __init__(self, order: Callable[[int], torch.Tensor], length: int):
        self.order, self.length, self.epoch = order, length, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        return iter(self.order(self.epoch)[rank() :: world_size()].tolist())

    def __len__(self) -> int:
        return len(range(rank(), self.length, world_size()))
