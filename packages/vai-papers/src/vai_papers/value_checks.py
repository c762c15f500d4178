"""When the losses check their targets' *values*, so training on an accelerator is sync-free.

The losses give one clear line for a misconfigured target (a class index out of range, a -1 mask given
to a loss that cannot mask, rows that are not distributions). Those checks read values on the host
(``min``, ``max``, ``any``); on a CUDA (or any non-CPU) tensor each read waits for the device, once per
training step, where vai-train's loop otherwise never waits. So: on CPU the values are checked on every
call; on another device only until one call's checks have passed for that loss instance (the first
batch catches a wrong label format or config), then never again. Shape and dtype checks (metadata, no
read) run on every call everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["reads_sync", "run_value_checks"]

_CHECKED = "_device_values_checked"  # the per-instance flag (a plain attribute: not in state_dict)


def reads_sync(tensor: torch.Tensor) -> bool:
    """Whether reading ``tensor``'s values on the host waits for its device (any non-CPU tensor)."""
    return tensor.device.type != "cpu"


def run_value_checks(owner: object, tensor: torch.Tensor, check: Callable[[torch.Tensor], None]) -> None:
    """``check(tensor)`` (it reads values and raises a one-line error) on every CPU call; on a device that
    syncs, only until it has passed once for ``owner`` (a loss instance), then no read at all."""
    syncs = reads_sync(tensor)
    if syncs and getattr(owner, _CHECKED, False):
        return
    check(tensor)
    if syncs:
        setattr(owner, _CHECKED, True)
