"""Optional dataset attributes the engine uses (duck-typed, so vai-train never imports a data library).

A dataset may define ``set_epoch(epoch)``, ``bad_samples``, ``collate_fn`` and ``device_transform``
(vai_data's datasets do). They are looked up through ``torch.utils.data.Subset`` wrappers (e.g. from
``random_split``) and ``ConcatDataset`` parts, so wrapping a dataset does not silently drop them:
``set_epoch`` and ``bad_samples`` reach every part, and the parts must agree on ``collate_fn`` and
``device_transform`` (they share batches). A batch that carries
``flip_pending`` (per-sample flags of clips the dataset left to be mirrored on the device) or
``resize_pending`` (per-sample ``(h, w, out_h, out_w)`` rows of padded clip regions the dataset left to be
resized on the device) gets them passed on, ``device_transform(inputs, flip_pending=...,
resize_pending=...)``; without a ``device_transform`` to take them such a batch is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.utils.data import ConcatDataset, DataLoader, Subset


def dataset_parts(dataset: Any) -> list:
    """The datasets inside ``Subset`` and ``ConcatDataset`` wrappers (each wrapper's own attributes aside):
    where the engine must reach every part, e.g. ``set_epoch`` and ``bad_samples`` of concatenated splits."""
    if isinstance(dataset, Subset):
        return dataset_parts(dataset.dataset)
    if isinstance(dataset, ConcatDataset):
        return [part for inner in dataset.datasets for part in dataset_parts(inner)]
    return [dataset]


def set_dataset_epoch(dataset: Any, epoch: int) -> None:
    """Call ``set_epoch(epoch)`` of the dataset, or of every part of a ``Subset``/``ConcatDataset`` that has
    one (a concatenation of vai_data datasets would otherwise repeat epoch 0's clips)."""
    own = getattr(dataset, "set_epoch", None)
    if callable(own):
        own(epoch)
        return
    for part in dataset_parts(dataset):
        fn = getattr(part, "set_epoch", None)
        if callable(fn):
            fn(epoch)


def total_bad_samples(dataset: Any) -> int | None:
    """``bad_samples`` of the dataset, or summed over the parts of a ``Subset``/``ConcatDataset`` that count
    them; None when none does."""
    own = getattr(dataset, "bad_samples", None)
    if own is not None:
        return int(own)
    counts = [getattr(p, "bad_samples", None) for p in dataset_parts(dataset)]
    counts = [int(c) for c in counts if c is not None]
    return sum(counts) if counts else None


def _alike(a: Any, b: Any) -> bool:
    """``a is b`` or ``a == b`` (as a plain bool; values whose ``==`` is not one, e.g. tensors, are unlike)."""
    if a is b:
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError, RuntimeError):
        return False


def dataset_attr(dataset: Any, name: str, default: Any = None) -> Any:
    """``getattr(dataset, name)``, looking through ``Subset`` wrappers and into the parts of a
    ``ConcatDataset`` (a wrapper's own attribute first); ``default`` when none has it.

    The parts of a concatenation share one batch, so they must agree: their values must be the same object
    or compare equal (vai_data's datasets share one ``collate_fn``, and their ``device_transform`` compares
    equal when they normalise alike); parts that disagree, or where only some have it, raise ``ValueError``.
    """
    if hasattr(dataset, name):
        return getattr(dataset, name)
    if isinstance(dataset, Subset):
        return dataset_attr(dataset.dataset, name, default)
    if not isinstance(dataset, ConcatDataset):
        return default
    values = [dataset_attr(part, name, default) for part in dataset.datasets]
    first = values[0] if values else default
    for i, value in enumerate(values[1:], 1):
        if not _alike(value, first):
            raise ValueError(
                f"the parts of this ConcatDataset have different values of {name} (part 0: {_short(first)},"
                f" part {i}: {_short(value)}) but share its batches: build them with the same options, or set"
                f" the concatenation's own {name}"
            )
    return first


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


FLIP_PENDING = "flip_pending"
RESIZE_PENDING = "resize_pending"
PENDING_KEYS = (FLIP_PENDING, RESIZE_PENDING)  # work a dataset left to its device_transform


def device_input_func(loader: DataLoader, reshape: Callable) -> Callable:
    """``fn(inputs, batch=None)`` for inputs already on the device: the loader's dataset's
    ``device_transform`` (e.g. vai_data's normalisation of uint8 clips, ``normalise_on_device=True``, and
    the flips and resizes it left pending, from ``batch["flip_pending"]`` and ``batch["resize_pending"]``),
    then ``reshape``."""
    device_transform = dataset_attr(loader.dataset, "device_transform")

    def apply(inputs, batch=None):
        pending = {k: batch[k] for k in PENDING_KEYS if k in batch} if isinstance(batch, Mapping) else {}
        if device_transform is None:
            if pending:  # the labels were remapped for flips / the clips are uncropped regions: refuse
                raise ValueError(
                    f"the batch carries {' and '.join(pending)} but its dataset has no device_transform to "
                    "finish the clips (a wrapper other than Subset hides it?): give the wrapper the "
                    "dataset's device_transform, or build the dataset with flip_on_device=False and "
                    "resize_on_device=False"
                )
            return reshape(inputs)
        if FLIP_PENDING in pending:
            flags = torch.as_tensor(pending[FLIP_PENDING])
            if isinstance(inputs, torch.Tensor):  # as the inputs came (pinned batches copy asynchronously)
                flags = flags.to(inputs.device, non_blocking=True)
            pending[FLIP_PENDING] = flags
        # resize_pending rows stay on the host: they choose the slices of each clip's region
        return reshape(device_transform(inputs, **pending))

    return apply


def _label_list(labels: Any) -> list:
    """A ``labels`` attribute as a list of ints (single-label) or tuples of class indices (multi-label)."""
    if isinstance(labels, torch.Tensor):
        if labels.ndim == 2:  # multi-hot rows
            return [tuple(int(c) for c in row.nonzero().flatten()) for row in labels]
        return [int(x) for x in labels.flatten()]
    return [tuple(int(c) for c in x) if isinstance(x, (list, tuple)) else int(x) for x in labels]


def _per_sample(dataset: Any, name: str, convert: Callable[[Any], list]) -> list | None:
    """A per-sample list attribute through ``Subset`` (indexed; only where the inner dataset has one entry
    per sample) and ``ConcatDataset`` (joined) wrappers; None when the dataset, or a part, has none."""
    own = getattr(dataset, name, None)
    if own is not None:
        return convert(own)
    if isinstance(dataset, Subset):
        inner = _per_sample(dataset.dataset, name, convert)
        if inner is None or len(inner) != len(dataset.dataset):
            return None
        return [inner[int(i)] for i in dataset.indices]
    if isinstance(dataset, ConcatDataset):
        parts = [_per_sample(d, name, convert) for d in dataset.datasets]
        if any(p is None for p in parts):
            return None
        return [x for part in parts for x in part]
    return None


def dataset_video_ids(dataset: Any) -> list[int] | None:
    """One video id per sample from the dataset's ``video_ids`` (vai_data's datasets have it), through
    ``Subset`` and ``ConcatDataset`` wrappers; None when it, or a part, has none."""
    return _per_sample(dataset, "video_ids", lambda ids: [int(v) for v in ids])


def dataset_labels(dataset: Any) -> list | None:
    """The labels a dataset exposes as ``labels`` (vai_data's split datasets: one per split row), one per
    sample, through ``Subset`` (indexed; only where the inner dataset has one label per sample) and
    ``ConcatDataset`` (joined) wrappers; None when the dataset, or a part, exposes none."""
    return _per_sample(dataset, "labels", _label_list)
