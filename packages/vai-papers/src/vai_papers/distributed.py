"""The number of training processes, as the papers' LR rules scale with it."""

from __future__ import annotations

import os

import torch


def world_size() -> int:
    """Processes of this run: torch.distributed's when it is initialised (vai-train does so before it
    builds the optimiser), else torchrun's ``$WORLD_SIZE``, else 1."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    raw = os.environ.get("WORLD_SIZE", "1").strip() or "1"
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"WORLD_SIZE={raw!r} is not a number of processes") from None
    if n < 1:
        raise ValueError(f"WORLD_SIZE={n} must be at least 1")
    return n
