"""Batch collation that keeps uint8 clips in their channels-last memory layout.

With ``normalise_on_device=True`` a dataset returns each ``video`` as a ``(C, T, H, W)`` view of a
``(T, H, W, C)`` buffer (the layout decoders and resize kernels produce). ``torch``'s default collate
would copy every clip into a ``(C, T, H, W)``-contiguous batch, a channel de-interleave that costs
about as much as the float normalisation it replaces. ``collate_clips`` stacks the ``(T, H, W, C)``
buffers instead (a plain copy) and returns the batch as an ``(N, C, T, H, W)`` view, which
``DeviceNormalize`` makes contiguous on the device for free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate, get_worker_info

from .pending_resize import RESIZE_PENDING


def is_channels_last_clip(video: Any) -> bool:
    """True for a ``(C, T, H, W)`` tensor (C > 1) whose channels are innermost in memory: the permuted view
    of a dense ``(T, H, W, C)`` buffer, or of a crop of one (datasets return crops uncopied; the stacking
    copy into the batch is the only one)."""
    if not isinstance(video, torch.Tensor) or video.ndim != 4:
        return False
    (c, t, h, w), (sc, st, sh, sw) = video.shape, video.stride()  # (unrolled: this runs per sample)
    return c > 1 and sc == 1 and (t == 1 or st >= c) and (h == 1 or sh >= c) and (w == 1 or sw >= c)


def stack_channels_last(videos: Sequence[torch.Tensor]) -> torch.Tensor:
    """Stack ``(C, T, H, W)`` channels-last clips (or crop views of them) into an ``(N, C, T, H, W)``
    channels-last batch, in shared memory inside a DataLoader worker (as ``default_collate`` does) so it
    reaches the main process uncopied."""
    frames = [v.permute(1, 2, 3, 0) for v in videos]
    first = frames[0]
    if any(f.shape != first.shape or f.dtype != first.dtype for f in frames):
        shapes = sorted({tuple(v.shape) for v in videos})
        raise ValueError(f"cannot batch clips of different shapes or dtypes: {shapes}")
    out = _batch_buffer((len(frames), *first.shape), first)
    return torch.stack(frames, 0, out=out).permute(0, 4, 1, 2, 3)


def stack_channels_last_padded(videos: Sequence[torch.Tensor]) -> torch.Tensor:
    """``stack_channels_last`` for clips whose heights and widths differ (``resize_on_device`` regions):
    each clip goes to the top-left corner of an ``(N, C, T, max H, max W)`` batch, the rest is zeros."""
    frames = [v.permute(1, 2, 3, 0) for v in videos]
    first = frames[0]
    if any(
        f.shape[0] != first.shape[0] or f.shape[3] != first.shape[3] or f.dtype != first.dtype for f in frames
    ):
        shapes = sorted({(tuple(v.shape), str(v.dtype)) for v in videos})
        raise ValueError(f"cannot batch clips of different frame counts, channels or dtypes: {shapes}")
    if all(f.shape == first.shape for f in frames):
        return stack_channels_last(videos)
    height, width = max(f.shape[1] for f in frames), max(f.shape[2] for f in frames)
    out = _batch_buffer((len(frames), first.shape[0], height, width, first.shape[3]), first)
    if out is None:
        out = first.new_empty((len(frames), first.shape[0], height, width, first.shape[3]))
    for i, f in enumerate(frames):
        h, w = f.shape[1:3]
        out[i, :, :h, :w] = f
        out[i, :, h:] = 0
        out[i, :, :h, w:] = 0
    return out.permute(0, 4, 1, 2, 3)


def _batch_buffer(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor | None:
    """Where a batch of ``like``'s dtype goes: shared memory in a DataLoader worker, a numpy-allocated
    buffer in other CPU processes, ``None`` (let torch allocate) otherwise."""
    if get_worker_info() is not None:
        storage = like._typed_storage()._new_shared(math.prod(shape), device=like.device)
        return like.new(storage).resize_(*shape)
    if like.device.type == "cpu" and not like.requires_grad:
        return _numpy_buffer(shape, like)
    return None


def _numpy_buffer(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor | None:
    """An uninitialised CPU tensor from numpy's allocator, which asks the kernel for huge pages on large
    arrays: a fresh 38 MB batch then costs ~700 page faults instead of ~9,400 (3x faster to fill; in
    DataLoader workers the batch lives in shared memory instead). ``None`` for dtypes numpy lacks."""
    try:
        dtype = torch.empty(0, dtype=like.dtype).numpy().dtype
    except (TypeError, RuntimeError):
        return None
    return torch.from_numpy(np.empty(shape, dtype=dtype))


def collate_clips(samples: Sequence[Any]) -> Any:
    """``default_collate`` for sample dicts, except that channels-last ``video`` clips stay channels-last,
    and clips with a ``resize_pending`` entry (regions of different sizes still to be resized on the
    device) are padded into one batch, their ``(h, w, out_h, out_w)`` rows stacked into an ``(N, 4)``
    tensor (see :mod:`vai_data.transforms.pending_resize`)."""
    if not samples or not isinstance(samples[0], dict) or not is_channels_last_clip(samples[0].get("video")):
        return default_collate(samples)
    videos = [s["video"] for s in samples]
    if not all(is_channels_last_clip(v) for v in videos):
        videos = [v.permute(1, 2, 3, 0).contiguous().permute(3, 0, 1, 2) for v in videos]
    pending = any(RESIZE_PENDING in s for s in samples)
    if pending and not all(RESIZE_PENDING in s for s in samples):
        raise ValueError(
            f"some samples of the batch have '{RESIZE_PENDING}' and others not (datasets with and without "
            "resize_on_device in one loader?): give them the same resize_on_device"
        )
    skip = ("video", RESIZE_PENDING)
    batch = default_collate([{k: v for k, v in s.items() if k not in skip} for s in samples])
    if pending:
        rows = [tuple(s[RESIZE_PENDING]) for s in samples]
        if any(len(r) != 4 or r[:2] != tuple(v.shape[-2:]) for r, v in zip(rows, videos, strict=True)):
            raise ValueError(
                f"'{RESIZE_PENDING}' rows must be (h, w, out_h, out_w) with (h, w) the clip's size"
            )
        batch["video"] = stack_channels_last_padded(videos)
        batch[RESIZE_PENDING] = torch.tensor(rows, dtype=torch.int64)
    else:
        batch["video"] = stack_channels_last(videos)
    return batch
