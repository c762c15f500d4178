"""Optional dataset attributes the engine uses (duck-typed, so vai-train never imports a data library).

A dataset may define ``set_epoch(epoch)``, ``bad_samples``, ``collate_fn`` and ``device_transform``
(vai_data's datasets do). They are looked up through ``torch.utils.data.Subset`` wrappers (e.g. from
``random_split``), so wrapping a dataset does not silently drop them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader, Subset


def dataset_attr(dataset: Any, name: str, default: Any = None) -> Any:
    """``getattr(dataset, name)``, looking through ``Subset`` wrappers; ``default`` when none has it."""
    while True:
        if hasattr(dataset, name):
            return getattr(dataset, name)
        if not isinstance(dataset, Subset):
            return default
        dataset = dataset.dataset


def device_input_func(loader: DataLoader, reshape: Callable) -> Callable:
    """The inputs function for batches already on the device: the loader's dataset's ``device_transform``
    (e.g. vai_data's normalisation of uint8 clips, ``normalise_on_device=True``), then ``reshape``."""
    device_transform = dataset_attr(loader.dataset, "device_transform")
    if device_transform is None:
        return reshape
    return lambda inputs: reshape(device_transform(inputs))
