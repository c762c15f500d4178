"""Frame-index samplers matching upstream PyVideoAI: TSN sparse segments and dense (SlowFast-style) clips.

All return a ``LongTensor`` of 0-based indices into the video's frame range; randomness only through
the optional ``torch.Generator`` so a seed gives the same clips everywhere.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch


def _check(num_video_frames: int, name: str, value: int) -> None:
    if num_video_frames < 1:
        raise ValueError(f"num_video_frames={num_video_frames}: a video needs at least one frame")
    if value < 1:
        raise ValueError(f"{name}={value} must be at least 1")


def sparse_indices(
    num_video_frames: int, num_segments: int, train: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """TSN sampling: split ``[0, N)`` at ``s_i = int(N*i/T)``; train picks a random frame in each
    ``[s_i, s_{i+1})``, test takes ``s_i``. Videos shorter than T repeat frames (``[0, 0, 1, 1, ...]``)."""
    _check(num_video_frames, "num_segments", num_segments)
    lo, width_f32, last = _segments(int(num_video_frames), int(num_segments))
    if not train:
        return torch.from_numpy(lo.copy())
    # float32 product and truncation as torch computes them (numpy: one C call each, no tensor dispatch)
    offsets = (torch.rand(num_segments, generator=generator).numpy() * width_f32).astype(np.int64)
    return torch.from_numpy(lo + np.minimum(offsets, last))


@lru_cache(maxsize=4096)
def _segments(n: int, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (frames, segments): segment starts, widths (at least 1) as float32, and the last offset in
    each segment - the same for every clip of a video, so computed once (read-only arrays)."""
    starts = np.arange(t + 1, dtype=np.int64) * n // t
    lo = starts[:-1]
    width = np.maximum(starts[1:] - lo, 1)
    out = (lo, width.astype(np.float32), width - 1)
    for a in out:
        a.flags.writeable = False
    return out


def dense_start_positions(num_video_frames: int, clip_len: int, stride: int) -> int:
    """Number of valid clip starts for a clip spanning ``(clip_len-1)*stride+1`` frames (at least 1)."""
    span = (clip_len - 1) * stride + 1
    return max(num_video_frames - span + 1, 1)


def dense_indices(
    num_video_frames: int,
    clip_len: int,
    stride: int,
    train: bool,
    num_clips: int = 1,
    clip_idx: int = 0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Dense clip of ``clip_len`` frames every ``stride``: random start in train; in test the middle start
    for one clip, else start ``round((S-1)/(num_clips-1)*clip_idx)`` so clips spread over both ends.
    Frames past the end of a short video repeat the last frame."""
    _check(num_video_frames, "clip_len", clip_len)
    if stride < 1:
        raise ValueError(f"stride={stride} must be at least 1")
    if not 0 <= clip_idx < max(num_clips, 1):
        raise ValueError(f"clip_idx={clip_idx} must be in [0, num_clips={num_clips})")
    n_starts = dense_start_positions(num_video_frames, clip_len, stride)
    if train:
        start = int(torch.randint(n_starts, (1,), generator=generator))
    elif num_clips <= 1:
        start = (n_starts - 1) // 2
    else:
        start = int(round((n_starts - 1) / (num_clips - 1) * clip_idx))
    idx = start + torch.arange(clip_len, dtype=torch.long) * stride
    return idx.clamp(max=num_video_frames - 1)


def add_neighbours(indices: torch.Tensor, num_neighbours: int, num_video_frames: int) -> torch.Tensor:
    """Follow each index by ``num_neighbours`` consecutive frames (optical-flow stacks), clamped to the
    video; returns ``(len(indices) * (1 + num_neighbours),)`` in segment-major order."""
    if num_neighbours < 0:
        raise ValueError(f"num_neighbours={num_neighbours} must be >= 0")
    offsets = torch.arange(num_neighbours + 1, dtype=torch.long)
    return (indices[:, None] + offsets[None, :]).clamp(max=num_video_frames - 1).reshape(-1)


def sparse_indices_with_neighbours(
    num_video_frames: int,
    num_segments: int,
    num_neighbours: int,
    train: bool,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sparse sampling over the frames where a full neighbour stack fits, then the neighbours appended."""
    usable = max(num_video_frames - num_neighbours, 1)
    base = sparse_indices(usable, num_segments, train, generator)
    return add_neighbours(base, num_neighbours, num_video_frames)
