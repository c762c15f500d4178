"""Resizes a dataset leaves to the training device (``VideoClipDataset(resize_on_device=...)``).

A train clip read from JPEG frames or a video stored above (or below) the size its random scale asks for
needs an antialiased resize of its crop: about 200 µs per 224² output frame on a CPU core, a third of decoding
the frame, and the largest cost left in a data worker. A dataset that leaves it to the device returns the
source region the crop covers, uncopied, with ``sample["resize_pending"] = (h, w, out_h, out_w)``: the
region's size and the size it is to be resized to. ``collate_clips`` pads a batch's regions into one
``(N, C, T, max h, max w)`` tensor (top-left aligned, zero padding) with the ``(N, 4)`` rows of
``resize_pending``, and ``apply_pending_resize`` (which ``DeviceNormalize`` calls) resizes each clip's
region on the device: on a GPU a few small kernels per clip (one call for the whole batch when its
regions share a size) instead of milliseconds of a worker's CPU time.

On the CPU the result equals the worker's own resize bit for bit (the same kernel on the same pixels);
on CUDA the uint8 frames are resized in float32 and rounded back, which the CUDA test expects within one
grey level of the CPU.
"""

from __future__ import annotations

import torch
from torchvision.transforms.v2 import functional as F

from .validate import resizable

RESIZE_PENDING = "resize_pending"  # sample/batch key: (h, w, out_h, out_w) per clip, see the module doc


def _pending_rows(pending, n: int, single: bool) -> list[tuple[int, int, int, int]]:
    if (
        isinstance(pending, (list, tuple))
        and len(pending) == 4
        and all(isinstance(p, torch.Tensor) and p.ndim == 1 for p in pending)
    ):  # what torch's default_collate makes of the samples' (h, w, out_h, out_w) tuples
        raise ValueError(
            "resize_pending is four column tensors, as torch's default collate batches it: batch the dataset "
            "with collate_fn=dataset.collate_fn (it pads the regions and stacks the rows), or build it with "
            "resize_on_device=False"
        )
    if isinstance(pending, torch.Tensor):
        rows = pending
    else:
        rows = torch.as_tensor(pending)
        rows = rows.long().reshape(0, 4) if rows.numel() == 0 else rows  # [] would be float32 (0,)
    shape_ok = rows.shape == (4,) if single else rows.shape == (n, 4)
    if not shape_ok or rows.is_floating_point() or rows.dtype == torch.bool:
        want = "(4,)" if single else f"({n}, 4)"
        raise ValueError(
            f"resize_pending must be integer (h, w, out_h, out_w) rows of shape {want}, one per clip; got "
            f"shape {tuple(rows.shape)} of {rows.dtype}"
        )
    return [tuple(r) for r in rows.reshape(n, 4).tolist()]


def apply_pending_resize(video: torch.Tensor, pending) -> torch.Tensor:
    """Resize each clip of a padded ``(N, C, T, H, W)`` batch (or one ``(C, T, H, W)`` clip) from its valid
    top-left region to its output size, as ``resize_pending`` rows ``(h, w, out_h, out_w)`` say (an
    ``(N, 4)`` tensor, or 4 numbers for one clip; kept on the host: they choose the slices). Antialiased
    bilinear, uint8 stays uint8; the output is channels-last like the collated batches. Every clip's output
    size must be the same; a batch with nothing to resize is returned as is."""
    if video.ndim not in (4, 5):
        raise ValueError(f"expected (N, C, T, H, W) or (C, T, H, W), got shape {tuple(video.shape)}")
    single = video.ndim == 4
    batch = video[None] if single else video
    n, c, t, height, width = batch.shape
    rows = _pending_rows(pending, n, single)
    bad = [r for r in rows if not (1 <= r[0] <= height and 1 <= r[1] <= width and r[2] >= 1 and r[3] >= 1)]
    if bad:
        raise ValueError(
            f"resize_pending rows {bad[:3]} do not fit clips of {height}x{width} (each needs 1 <= h <= "
            f"{height}, 1 <= w <= {width} and a positive output size)"
        )
    sizes = {r[2:] for r in rows}
    if len(sizes) > 1:
        raise ValueError(
            f"the clips of a batch must share one output size; resize_pending asks for {sorted(sizes)}"
        )
    if n == 0:
        return video
    oh, ow = rows[0][2:]
    if (height, width) == (oh, ow) and all(r[:2] == (oh, ow) for r in rows):
        return video
    if all(r[:2] == rows[0][:2] for r in rows):  # one region size (e.g. one stored size, fixed scale)
        h, w = rows[0][:2]
        out = _resize_clips(batch[..., :h, :w], oh, ow)  # one call for the whole batch
    else:  # one clip at a time: slices of the batch, no gathering copies, no index tensors to send
        out = torch.empty((n, t, oh, ow, c), dtype=batch.dtype, device=batch.device).permute(0, 4, 1, 2, 3)
        for i, (h, w, _, _) in enumerate(rows):
            out[i] = _resize_clips(batch[i : i + 1, :, :, :h, :w], oh, ow)[0]
    return out[0] if single else out


def _resize_clips(clips: torch.Tensor, oh: int, ow: int) -> torch.Tensor:
    """``(n, C, T, h, w)`` -> ``(n, C, T, oh, ow)``: every frame resized as the dataset's resized crop does."""
    n, c, t, h, w = clips.shape
    if (h, w) == (oh, ow):
        return clips
    frames = clips.transpose(1, 2).reshape(n * t, c, h, w)  # a view of the padded channels-last batch
    return (
        F.resize(resizable(frames, oh, ow), [oh, ow], antialias=True).reshape(n, t, c, oh, ow).transpose(1, 2)
    )
