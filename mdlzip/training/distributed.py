"""Data-parallel training on several processes (torch.distributed, as torchrun starts them): the contract.

`torchrun --nproc-per-node N -m mdlzip compress --distributed FILE` starts N processes (ranks),
each with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in its environment (several
machines join through torchrun's --nnodes and --rdzv-* flags). Inside `process_group(device)`:

- every rank makes the same calls with the same input and options, and trains on its own device
  (`rank_device`: GPU LOCAL_RANK of its machine, or the CPU);
- every training is DistributedDataParallel (train.fit): each rank draws its batches from its own
  shard of the chunks (chunk i on rank i % N) with its own generator, the gradients are averaged
  over the ranks, so the weights stay the same on all of them;
- what is decided rather than trained is rank 0's and broadcast (`from_main`, `sync_from_main`):
  the pruning masks and weights, the trials' choices (alpha, width), leaving the model out;
- rank 0 alone codes and writes; on the others the library's calls return None.

Outside it nothing here acts: one process trains exactly as it always has, bit for bit. How many
processes trained, on which devices, may change the weights (so the archive), never whether the
archive decodes: it stores the weights, and the decoder never trains.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import timedelta

from .. import runtime
from ..errors import OptionError

# How long a rank may wait in a collective: the others wait while rank 0 alone codes the input with the
# adaptive statistics to decide whether the model pays (pipeline._declines), about 2 h per GB at cm's
# 150 KB/s; torch's defaults (10 min for nccl, 30 for gloo) would end a large input's run there.
WAIT = timedelta(hours=24)

_rank, _world = 0, 1  # this process's rank and the number of processes; (0, 1) outside process_group


def check_launched() -> None:
    """Distributed training needs the environment torchrun gives each process."""
    if "WORLD_SIZE" not in os.environ:
        raise OptionError("--distributed runs under torchrun (torchrun --nproc-per-node N -m mdlzip ... "
                          "--distributed): WORLD_SIZE is not set")


def rank_device(device: str) -> str:
    """This rank's device: its machine's GPU LOCAL_RANK for cuda (or auto where CUDA is present), else the CPU."""
    runtime.check_device(device)
    if ":" in device:
        raise OptionError(f"with --distributed each process takes GPU LOCAL_RANK of its machine: device cuda, not {device}")
    if device == "cpu" or str(runtime.resolve_device(device)) == "cpu":
        return "cpu"
    return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"


@contextmanager
def process_group(device: str = "auto"):
    """Join torchrun's processes for the calls inside (nccl between GPUs, gloo between CPUs); yields
    this rank's device name."""
    global _rank, _world
    import torch
    import torch.distributed as dist

    check_launched()
    mine = rank_device(device)
    if mine != "cpu":
        torch.cuda.set_device(runtime.resolve_device(mine))
    dist.init_process_group("gloo" if mine == "cpu" else "nccl", timeout=WAIT)
    _rank, _world = dist.get_rank(), dist.get_world_size()
    try:
        yield mine
    finally:
        _rank, _world = 0, 1
        dist.destroy_process_group()


def world() -> tuple[int, int]:
    """(this process's rank, the number of processes): (0, 1) outside `process_group`."""
    return _rank, _world


def is_main() -> bool:
    """Whether this process codes and writes: rank 0, or the only process."""
    return _rank == 0


def from_main(obj):
    """`obj` as rank 0 has it, on every rank (picklable; itself in one process)."""
    if _world == 1:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def sync_from_main(tensors: Iterable) -> None:
    """Each tensor, in place, as rank 0 has it (nothing in one process)."""
    if _world == 1:
        return
    import torch.distributed as dist

    for t in tensors:
        dist.broadcast(t, src=0)


def data_parallel(model, device):
    """What training calls: the model in DistributedDataParallel where several ranks train (each
    backward pass averages the gradients over them), else the model itself."""
    if _world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
