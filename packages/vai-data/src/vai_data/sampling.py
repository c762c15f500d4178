"""Frame-index samplers matching upstream PyVideoAI: TSN sparse segments and dense (SlowFast-style) clips.

``sparse_indices``/``dense_indices``/``add_neighbours`` return a ``LongTensor`` of 0-based indices into the
video's frame range; ``sparse_train_frames``/``dense_frames``/``add_neighbour_frames`` the same as a list
(what the datasets use per sample: no tensor calls). Randomness only through the optional
``torch.Generator``, or uniform [0, 1) numbers the caller drew (datasets draw theirs from a per-sample
generator), so a seed gives the same clips everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import torch

from .arguments import is_int, nonnegative_int


def long_tensor(values: Sequence[int]) -> torch.Tensor:
    """A LongTensor of a few Python ints through numpy: ``torch.tensor(list)`` takes its generic conversion
    path, 3x slower, and a sample builds one of these between decodes, when every call runs cold."""
    return torch.from_numpy(np.array(values, dtype=np.int64))


def _check(num_video_frames: int, name: str, value: int) -> None:
    """Both counts are ints >= 1: a float frame count would be truncated, a float segment count fails deep in
    torch, and ``True`` is not a count (one ValueError naming the argument instead)."""
    if type(num_video_frames) is not int or type(value) is not int:  # (fast path: plain ints, per sample)
        if not is_int(num_video_frames):
            raise ValueError(f"num_video_frames={num_video_frames!r} must be an int")
        if not is_int(value):
            raise ValueError(f"{name}={value!r} must be an int")
    if num_video_frames < 1:
        raise ValueError(f"num_video_frames={num_video_frames}: a video needs at least one frame")
    if value < 1:
        raise ValueError(f"{name}={value} must be at least 1")


def _check_generator(generator) -> None:
    """Refuse a seed (or numpy generator) passed as ``generator``: torch's own error says neither which
    argument nor what to pass."""
    if generator is not None and not isinstance(generator, torch.Generator):
        seed = generator if is_int(generator) else "seed"
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__} "
            f"(use torch.Generator().manual_seed({seed}))"
        )


def sparse_indices(
    num_video_frames: int,
    num_segments: int,
    train: bool,
    generator: torch.Generator | None = None,
    uniform: Sequence[float] | None = None,
) -> torch.Tensor:
    """TSN sampling: split ``[0, N)`` at ``s_i = int(N*i/T)``; train picks frame ``s_i + int(u_i * w_i)``
    in each ``[s_i, s_{i+1})`` of width ``w_i`` for uniform [0, 1) draws ``u_i`` (``torch.rand(T)`` from
    ``generator``, or the ``T`` numbers given as ``uniform``), test takes ``s_i``. A video shorter than T
    is sampled as upstream does: each frame repeated ``r = ceil(T/N)`` times (``[0, 0, 1, 1, ...]``), the
    segments taken over those ``N*r`` entries."""
    _check(num_video_frames, "num_segments", num_segments)  # (before torch.rand sees a bad count)
    _check_generator(generator)
    if not train:
        starts, _, r = _segments(int(num_video_frames), int(num_segments))
        return long_tensor([start // r for start in starts])
    if uniform is None:
        uniform = torch.rand(num_segments, generator=generator).tolist()
    return long_tensor(sparse_train_frames(num_video_frames, num_segments, uniform))


def sparse_test_indices(n: int, num_segments: int, view: int, num_views: int) -> torch.Tensor:
    """Sparse test indices for temporal view ``view`` of ``num_views``: in each segment the frame
    ``view/num_views`` of the way into it, ``int(N*(i + view/num_views)/T)`` (view 0: the segment starts,
    upstream's test indices), over the repeated frames of a video shorter than T as
    :func:`sparse_indices`. Views differ wherever a segment holds at least two frames."""
    _check(n, "num_segments", num_segments)
    if not 0 <= view < max(num_views, 1):
        raise ValueError(f"view={view} must be in [0, num_views={num_views})")
    if num_views <= 1:
        return sparse_indices(n, num_segments, train=False)
    t, v = int(num_segments), int(num_views)
    r = -(-t // n) if n < t else 1
    return long_tensor([n * r * (i * v + view) // (t * v) // r for i in range(t)])


def sparse_train_frames(
    num_video_frames: int, num_segments: int, uniform: Sequence[float] | Callable[[], float]
) -> list[int]:
    """Train-mode TSN indices as a list, from one uniform [0, 1) number per segment (see
    :func:`sparse_indices`), or from a function drawing them in segment order (e.g. the ``random`` method
    of a ``random.Random``; its numbers are trusted to lie in [0, 1)); plain Python: for 8-32 segments
    cheaper than any tensor call."""
    _check(num_video_frames, "num_segments", num_segments)
    starts, widths, r = _segments(int(num_video_frames), int(num_segments))
    if callable(uniform):  # (one pass: the draws in segment order)
        return [(s + min(int(uniform() * w), w - 1)) // r for s, w in zip(starts, widths, strict=True)]
    if len(uniform) != num_segments or not all(0.0 <= u < 1.0 for u in uniform):
        raise ValueError(
            f"uniform must hold num_segments={num_segments} numbers in [0, 1), got {list(uniform)}"
        )
    return [(s + min(int(u * w), w - 1)) // r for s, w, u in zip(starts, widths, uniform, strict=True)]


@lru_cache(maxsize=4096)
def _segments(n: int, t: int) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """Per (frames, segments): the segments' starts and widths over the video's frames, each repeated ``r``
    times when the video is shorter than ``t`` (upstream's ``[0, 0, 1, 1, ...]``: entry ``j`` is frame
    ``j // r``), and ``r``; the same for every clip of a video, so computed once."""
    r = -(-t // n) if n < t else 1
    starts = [n * r * i // t for i in range(t + 1)]
    return tuple(starts[:-1]), tuple(b - a for a, b in zip(starts[:-1], starts[1:], strict=True)), r


def dense_start_positions(num_video_frames: int, clip_len: int, stride: int) -> int:
    """Number of valid clip starts for a clip spanning ``(clip_len-1)*stride+1`` frames: ``N - span + 1``,
    or for a video shorter than the span, over its frames repeated ``ceil(span/N)`` times (as upstream
    samples such videos; see :func:`dense_frames`)."""
    return _dense_layout(int(num_video_frames), (clip_len - 1) * stride + 1)[0]


def _dense_layout(n: int, span: int) -> tuple[int, int]:
    """(number of clip starts, repeats ``r``): a video shorter than ``span`` is sampled over its frames
    each repeated ``r = ceil(span/n)`` times (entry ``j`` is frame ``j // r``)."""
    r = -(-span // n) if n < span else 1
    return n * r - span + 1, r


def dense_indices(
    num_video_frames: int,
    clip_len: int,
    stride: int,
    train: bool,
    num_clips: int = 1,
    clip_idx: int = 0,
    generator: torch.Generator | None = None,
    uniform: float | None = None,
) -> torch.Tensor:
    """Dense clip of ``clip_len`` frames every ``stride``: random start in train (``int(u * S)`` of the
    ``S`` possible starts for a uniform [0, 1) draw ``u`` from ``generator``, or ``uniform`` when given);
    in test the middle start ``S // 2`` for one clip, else start ``round((S-1)/(num_clips-1)*clip_idx)``
    so clips spread over both ends. A video shorter than the clip's span ``(clip_len-1)*stride+1`` is
    sampled as upstream does: over its frames each repeated ``ceil(span/N)`` times, so its clips still
    cover the whole video (and train starts still vary)."""
    _check_generator(generator)
    if train and uniform is None:
        uniform = float(torch.rand(1, generator=generator))
    return long_tensor(dense_frames(num_video_frames, clip_len, stride, train, num_clips, clip_idx, uniform))


def dense_frames(
    num_video_frames: int,
    clip_len: int,
    stride: int,
    train: bool,
    num_clips: int = 1,
    clip_idx: int = 0,
    uniform: float | None = None,
) -> list[int]:
    """:func:`dense_indices` as a list, the train start drawn from the given ``uniform`` number (required
    in train); plain Python, as :func:`sparse_train_frames`."""
    _check(num_video_frames, "clip_len", clip_len)
    if not is_int(stride) or stride < 1:
        raise ValueError(f"stride={stride!r} must be an int >= 1")
    if not is_int(num_clips) or num_clips < 1:
        raise ValueError(f"num_clips={num_clips!r} must be an int >= 1")
    if not is_int(clip_idx) or not 0 <= clip_idx < num_clips:
        raise ValueError(f"clip_idx={clip_idx!r} must be an int in [0, num_clips={num_clips})")
    n_starts, r = _dense_layout(int(num_video_frames), (clip_len - 1) * stride + 1)
    if train:
        if uniform is None:
            raise ValueError("train=True needs the uniform [0, 1) number that places the clip's start")
        try:
            u = float(uniform)
        except (
            TypeError,
            ValueError,
            RuntimeError,
        ):  # (e.g. several numbers: torch's error names no argument)
            got = (
                f"a tensor of shape {tuple(uniform.shape)}"
                if isinstance(uniform, torch.Tensor)
                else repr(uniform)
            )
            raise ValueError(f"uniform must be one number in [0, 1) (the clip's start), got {got}") from None
        if not 0.0 <= u < 1.0:
            raise ValueError(f"uniform={uniform} must be in [0, 1)")
        start = int(u * n_starts)
    elif num_clips <= 1:
        start = n_starts // 2
    else:
        start = int(round((n_starts - 1) / (num_clips - 1) * clip_idx))
    return [(start + k * stride) // r for k in range(clip_len)]


def add_neighbours(
    indices: torch.Tensor | np.ndarray | Sequence[int], num_neighbours: int, num_video_frames: int
) -> torch.Tensor:
    """Follow each index by ``num_neighbours`` consecutive frames (optical-flow stacks), clamped to the
    video; returns ``(len(indices) * (1 + num_neighbours),)`` in segment-major order. ``indices``: a 1-D
    integer tensor, array or sequence of frames of the video (``0 <= i < num_video_frames``)."""
    frames = _frame_list(indices)
    add_neighbour_frames([], num_neighbours, num_video_frames)  # (its argument checks first)
    bad = next((i for i in frames if not 0 <= i < num_video_frames), None)
    if bad is not None:
        raise ValueError(
            f"indices must be frames of the video, 0 <= i < num_video_frames={num_video_frames}; got {bad}"
        )
    return long_tensor(add_neighbour_frames(frames, num_neighbours, num_video_frames))


def _frame_list(indices) -> list[int]:
    """``indices`` (1-D integer tensor, array or sequence) as a list of ints; floats (which would be
    truncated), bools and other dimensions are refused in one line."""
    if isinstance(indices, (torch.Tensor, np.ndarray)):
        integer = (
            indices.dtype.kind in "iu"
            if isinstance(indices, np.ndarray)
            else not (indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool)
        )
        if not integer:
            raise TypeError(f"indices must be integer frame indices, got {indices.dtype} values")
        if indices.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {tuple(indices.shape)}")
        return indices.tolist()
    try:
        frames = list(indices)
    except TypeError:
        raise TypeError(
            f"indices must be a sequence of frame indices, got {type(indices).__name__}"
        ) from None
    bad = next((i for i in frames if not is_int(i)), None)
    if bad is not None:
        raise TypeError(f"indices must be integer frame indices, got {bad!r}")
    return [int(i) for i in frames]


def add_neighbour_frames(frames: Sequence[int], num_neighbours: int, num_video_frames: int) -> list[int]:
    """:func:`add_neighbours` on a list of ints."""
    nonnegative_int("num_neighbours", num_neighbours)
    if not is_int(num_video_frames) or num_video_frames < 1:  # (else indices would turn negative)
        raise ValueError(f"num_video_frames={num_video_frames!r}: a video needs at least one frame")
    last = num_video_frames - 1
    return [min(i + k, last) for i in frames for k in range(num_neighbours + 1)]


def sparse_indices_with_neighbours(
    num_video_frames: int,
    num_segments: int,
    num_neighbours: int,
    train: bool,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sparse sampling over the frames where a full neighbour stack fits, then the neighbours appended."""
    _check(num_video_frames, "num_segments", num_segments)
    nonnegative_int("num_neighbours", num_neighbours)
    usable = max(num_video_frames - num_neighbours, 1)
    base = sparse_indices(usable, num_segments, train, generator)
    return add_neighbours(base, num_neighbours, num_video_frames)
