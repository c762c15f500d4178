"""Which on-the-device options (``flip_on_device``, ``resize_on_device``) a ``VideoClipDataset`` can use:
``None`` turns one on wherever it applies, ``True`` where it cannot raises naming the missing condition."""

from __future__ import annotations


def resolve_option(name: str, requested: bool | None, missing: str | None) -> bool:
    """An on-the-device option: ``None`` means on unless a condition is ``missing``; ``True`` with a
    condition missing raises, naming it."""
    if requested is None:
        return missing is None
    if requested and missing is not None:
        raise ValueError(f"{name}=True needs {missing}")
    return bool(requested)


def resolve_flip_on_device(ds, requested: bool | None, on_device: bool) -> bool:
    """``flip_on_device``: ``None`` turns it on wherever it applies (see the VideoClipDataset docstring)."""
    reason = None
    if not on_device:
        reason = "normalise_on_device=True (the device transform does the flips)"
    elif not (ds.train and ds.horizontal_flip):
        reason = "train=True and horizontal_flip=True"
    elif ds.flow is not None:
        reason = "RGB clips (flow flips also negate u, in the worker)"
    elif ds.train_transform is not None:
        reason = "no train_transform (it runs after the flip, in the worker)"
    return resolve_option("flip_on_device", requested, reason)


def resolve_resize_on_device(ds, requested: bool | None, on_device: bool) -> bool:
    """``resize_on_device``: ``None`` turns it on wherever it applies (see the VideoClipDataset docstring)."""
    reason = None
    if not on_device:
        reason = "normalise_on_device=True (the device transform does the resizes)"
    elif not ds.train:
        reason = "train=True (test clips are resized in the worker, once for all their crops)"
    elif ds.flow is not None:
        reason = "RGB clips (flow clips are resized in the worker)"
    elif ds.train_transform is not None or ds.train_spatial_transform is not None:
        reason = "no train_transform or train_spatial_transform (they work on the resized crop)"
    return resolve_option("resize_on_device", requested, reason)
