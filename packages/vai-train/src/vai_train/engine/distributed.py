"""torchrun-only distributed helpers: init from env vars, samplers, gathering to rank 0, broadcasts."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and device of this process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(local_rank: int = 0, device: str | None = None) -> torch.device:
    """``device`` if given ("cpu", "cuda", "cuda:1"), else this rank's GPU when CUDA works, else CPU."""
    if device and device != "auto":
        try:
            d = torch.device(device)
        except RuntimeError as e:
            raise ValueError(
                f"--device {device}: not a device ({e}); use cpu, cuda, cuda:N or auto"
            ) from None
        if d.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"--device {device}: CUDA is not available here (no GPU visible, or torch built without"
                " CUDA); use --device cpu, or --device auto to take a GPU only when there is one"
            )
        if d.type == "cuda" and d.index is None:
            d = torch.device("cuda", local_rank)
        return d
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_distributed(device: str | None = None) -> DistInfo:
    """Initialise torch.distributed from torchrun's env vars when WORLD_SIZE > 1 (nccl on CUDA, gloo on CPU)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(local_rank, device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method="env://")
        logger.info(
            "distributed: rank %d/%d (local %d), backend %s, device %s",
            rank,
            world_size,
            local_rank,
            backend,
            dev,
        )
    return DistInfo(rank, world_size, local_rank, dev)


def cleanup_distributed() -> None:
    """Destroy the process group if one was created. Unreachable objects that still hold it (a DDP
    model's reducer, finished gloo work, often in reference cycles) are collected first, while the
    interpreter is whole: freed during interpreter shutdown instead, gloo's threads can abort the process
    (SIGABRT, "terminate called without an active exception") after the run has finished."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def refuse_under_torchrun(command: str) -> None:
    """One line when started by torchrun with several processes: every rank would write the same files."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError(
            f"{command} runs as one process: start it without torchrun (WORLD_SIZE is {os.environ['WORLD_SIZE']})"
        )


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


class ShardSampler(Sampler[int]):
    """Rank r gets indices r, r+W, r+2W, …: no padding, no duplicates, so gathered metrics are exact."""

    def __init__(self, length: int, rank: int, world_size: int):
        self.length, self.rank, self.world_size = length, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world_size))


def gather_to_main(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor | None:
    """Concatenate every rank's ``tensor`` (first dims may differ, even be 0) on rank 0 in rank order."""
    if not info.distributed:
        return tensor
    comm_device = info.device if dist.get_backend() == "nccl" else torch.device("cpu")
    metas = all_gather_object((tensor.shape[0], tuple(tensor.shape[1:]), str(tensor.dtype)), info)
    sizes = [m[0] for m in metas]
    # a rank without samples (tiny split, many ranks) takes its shape/dtype from one that has some
    ref = next((m for m in metas if m[0] > 0), metas[0])
    dtype = getattr(torch, ref[2].replace("torch.", ""))
    t = (
        tensor.to(comm_device, dtype)
        if tensor.shape[0]
        else torch.zeros((0, *ref[1]), dtype=dtype, device=comm_device)
    )
    padded = torch.zeros((max(sizes), *ref[1]), dtype=dtype, device=comm_device)
    padded[: t.shape[0]] = t
    chunks = [torch.zeros_like(padded) for _ in range(info.world_size)]
    dist.all_gather(chunks, padded.contiguous())
    if not info.is_main:
        return None
    return torch.cat([c[:n] for c, n in zip(chunks, sizes, strict=True)]).to(tensor.device)


def reorder_shards(t: torch.Tensor, world_size: int) -> torch.Tensor:
    """Undo ShardSampler interleaving: rows gathered rank by rank -> original dataset order."""
    if world_size == 1:
        return t
    n = t.shape[0]
    order = torch.cat([torch.arange(r, n, world_size) for r in range(world_size)])
    out = torch.empty_like(t)
    out[order] = t
    return out


def all_reduce_sum(values: list[float], info: DistInfo) -> list[float]:
    """Sum floats over ranks (float64)."""
    if not info.distributed:
        return list(values)
    dev = info.device if dist.get_backend() == "nccl" else torch.device("cpu")
    t = torch.tensor(values, dtype=torch.float64, device=dev)
    dist.all_reduce(t)
    return t.tolist()


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank (decisions such as early stopping)."""
    if not info.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_object(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's ``obj`` as a list indexed by rank."""
    if not info.distributed:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_tensors(tensors: Iterable[torch.Tensor], info: DistInfo) -> None:
    """Overwrite each tensor in place with rank 0's (BatchNorm statistics, EMA weights), so every rank
    holds exactly the state rank 0 checkpoints. Tensors off the backend's device (e.g. an EMA model's
    CPU ``n_averaged`` under nccl) travel through a copy."""
    if not info.distributed:
        return
    comm_device = info.device if dist.get_backend() == "nccl" else torch.device("cpu")
    with torch.no_grad():
        for t in tensors:
            if t.device == comm_device and t.is_contiguous():
                dist.broadcast(t.data, src=0)
            else:
                buf = t.data.to(comm_device).contiguous()
                dist.broadcast(buf, src=0)
                t.data.copy_(buf)
