"""Optional dataset attributes the engine uses (duck-typed, so vai-train never imports a data library).

A dataset may define ``set_epoch(epoch)``, ``bad_samples``, ``collate_fn`` and ``device_transform``
(vai_data's datasets do). They are looked up through ``torch.utils.data.Subset`` wrappers (e.g. from
``random_split``), so wrapping a dataset does not silently drop them. A batch that carries
``flip_pending`` (per-sample flags of clips the dataset left to be mirrored on the device) gets them
passed on, ``device_transform(inputs, flip_pending=...)``; without a ``device_transform`` to take them
such a batch is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset


def dataset_attr(dataset: Any, name: str, default: Any = None) -> Any:
    """``getattr(dataset, name)``, looking through ``Subset`` wrappers; ``default`` when none has it."""
    while True:
        if hasattr(dataset, name):
            return getattr(dataset, name)
        if not isinstance(dataset, Subset):
            return default
        dataset = dataset.dataset


FLIP_PENDING = "flip_pending"


def device_input_func(loader: DataLoader, reshape: Callable) -> Callable:
    """``fn(inputs, batch=None)`` for inputs already on the device: the loader's dataset's
    ``device_transform`` (e.g. vai_data's normalisation of uint8 clips, ``normalise_on_device=True``, and
    the flips it left pending, from ``batch["flip_pending"]``), then ``reshape``."""
    device_transform = dataset_attr(loader.dataset, "device_transform")

    def apply(inputs, batch=None):
        pending = batch.get(FLIP_PENDING) if isinstance(batch, Mapping) else None
        if device_transform is None:
            if pending is not None:  # the labels were remapped for flips nothing would do: refuse
                raise ValueError(
                    "the batch carries flip_pending flags but its dataset has no device_transform to mirror "
                    "the flagged clips (a wrapper other than Subset hides it?): give the wrapper the "
                    "dataset's device_transform, or build the dataset with flip_on_device=False"
                )
            return reshape(inputs)
        if pending is None:
            return reshape(device_transform(inputs))
        flags = torch.as_tensor(pending)
        if isinstance(inputs, torch.Tensor):  # as the inputs came (pinned batches copy asynchronously)
            flags = flags.to(inputs.device, non_blocking=True)
        return reshape(device_transform(inputs, flip_pending=flags))

    return apply
