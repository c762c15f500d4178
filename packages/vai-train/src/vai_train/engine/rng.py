"""Capture and restore python/numpy/torch(/CUDA) RNG states as tensors, so ``weights_only`` loading works."""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate, get_worker_info


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get_rng_state() -> dict[str, Any]:
    """RNG states in a form ``torch.load(weights_only=True)`` accepts (tensors, ints, tuples)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore states written by :func:`get_rng_state`."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def worker_init_fn(worker_id: int) -> None:
    """Seed numpy and python in a DataLoader worker from torch's per-worker seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def epoch_seed(seed: int, epoch: int, rank: int = 0, salt: int = 0) -> int:
    """A deterministic 63-bit seed for (seed, epoch, rank, salt) — DataLoader generators per epoch."""
    x = (seed * 1_000_003 + epoch * 7_919 + rank * 104_729 + salt * 15_485_863) & 0x7FFFFFFFFFFFFFFF
    return x


class EpochSeededCollate:
    """A train loader's collate for persistent workers: in a DataLoader worker, the first batch it collates
    in each epoch first reseeds the worker's torch, numpy and python RNGs from (seed, epoch, rank, worker
    id), so randomness drawn in the collate (mixup/CutMix) is a function of the epoch, as with workers
    started afresh each epoch, and a resumed run draws what the uninterrupted one drew. The epoch is set by
    ``set_loader_epoch`` through shared memory that the workers inherit or receive as they start."""

    def __init__(self, collate_fn: Callable | None, seed: int, rank: int = 0):
        self.collate_fn = collate_fn if collate_fn is not None else default_collate
        self.seed, self.rank = int(seed), int(rank)
        self.epoch = multiprocessing.RawValue("q", 0)
        self._seeded_epoch: int | None = None  # per process: the epoch this worker last reseeded for

    def __getstate__(self) -> dict:
        state = {**self.__dict__, "_seeded_epoch": None}
        if multiprocessing.context.get_spawning_popen() is None:  # a plain copy: an epoch of its own
            state["epoch"] = int(self.epoch.value)
        return state  # (to a worker being started, the shared epoch itself)

    def __setstate__(self, state: dict) -> None:
        if isinstance(state["epoch"], int):
            state["epoch"] = multiprocessing.RawValue("q", state["epoch"])
        self.__dict__.update(state)

    def __call__(self, batch: list) -> Any:
        info = get_worker_info()
        if info is not None:
            epoch = self.epoch.value
            if epoch != self._seeded_epoch:
                seed = epoch_seed(self.seed, epoch, self.rank, salt=info.id + 1)
                torch.manual_seed(seed)
                np.random.seed(seed % 2**32)
                random.seed(seed)
                self._seeded_epoch = epoch
        return self.collate_fn(batch)
