"""Video decoding: ``read_frames`` over pluggable backends (decord, PyAV, torchcodec) and a frame-count probe.

Every backend returns the same frames for the same indices as uint8 ``(T, H, W, 3)``; indices past the
real end of the video (containers often over-report their frame count) are clamped to the last frame
that actually decodes. Any unreadable input raises :class:`VideoDecodeError` naming path and cause.

decord's and torchcodec's seeking return other frames than asked for on some files (open GOPs, e.g. MPEG-4
Part 2 with B-frames as in HMDB/UCF AVIs; MPEG-TS; AVI with codec delay): :mod:`vai_data.decode_probe`
recognises them once per path and both backends hand them to the PyAV decoder.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from functools import partial

import numpy as np
import torch

from .arguments import check_short_side_limit, positive_int
from .decode_probe import note_rerouted, seek_probe
from .errors import VideoDecodeError
from .pathio import exists, is_native, local_path
from .video_stream import display_steps, kept_size, pick_video_stream, resize_frames, upright_size

logger = logging.getLogger(__name__)

BACKENDS = ("decord", "pyav", "torchcodec")


_MISSING = "file does not exist (check data_root and the split file's path column)"


def _check_file(path: str) -> str:
    """The local file to decode, or a VideoDecodeError for a missing or empty one (native paths: one stat)."""
    if is_native(path):
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            raise VideoDecodeError(path, _MISSING) from None
        except OSError as e:
            raise VideoDecodeError(path, f"cannot access it ({e.strerror or e})") from None
        local = path
    else:
        if not exists(path):
            raise VideoDecodeError(path, _MISSING)
        local = local_path(path)
        size = os.path.getsize(local)
    if size == 0:
        raise VideoDecodeError(path, "file is empty (0 bytes); re-download or re-encode it")
    return local


def _video_stream(container, path: str):
    """The video stream vai decodes (:func:`vai_data.video_stream.pick_video_stream`), or a VideoDecodeError
    saying why there is none we can decode."""
    stream = pick_video_stream(container)
    if stream is None:
        raise VideoDecodeError(path, "no video stream in the container")
    if stream.codec_context is None:
        raise VideoDecodeError(
            path,
            "unknown video codec (FFmpeg has no decoder for it); re-encode it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4",
        )
    return stream


def probe_video(path: str | os.PathLike) -> tuple[int, int, int]:
    """Return ``(num_frames, width, height)`` from container metadata (the count may over-report, which
    read_frames clamps); the size is the upright picture's, as the decoders return it (a phone video's
    rotation applied, read from an MP4/MOV file's headers: :mod:`vai_data.mov_display_matrix`)."""
    return _probe_container(path, with_size=True)


def _probe_container(path: str, with_size: bool) -> tuple[int, int, int]:
    """:func:`probe_video`; without ``with_size`` the size is the stored picture's (no header read for
    the rotation: :func:`probe_num_frames` needs only the count)."""
    import av

    path = os.fspath(path)  # (a pathlib.Path)
    local = _check_file(path)
    try:
        with av.open(local) as container:
            stream = _video_stream(container, path)
            n = stream.frames
            if n and container.format.name == "avi":
                # an AVI header's frame count can be anything (1,000,000 for 12 frames); its index lists
                # every frame's chunk
                listed = len(getattr(stream, "index_entries", None) or ())
                n = min(n, listed) if listed else n
            if not n and stream.duration is not None and stream.average_rate:
                n = int(round(float(stream.duration * stream.time_base * stream.average_rate)))
            if not n:  # no metadata at all: count by demuxing packets (no decoding)
                n = sum(1 for p in container.demux(stream) if p.size)
            width, height = int(stream.codec_context.width), int(stream.codec_context.height)
            if with_size:
                width, height = upright_size(width, height, display_steps(container, stream, local))
            return int(n), width, height
    except VideoDecodeError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise VideoDecodeError(path, f"not a readable video ({type(e).__name__}: {e})") from None


def probe_num_frames(path: str | os.PathLike) -> int:
    """Frame count from container metadata (cheap; may over-report, which read_frames clamps)."""
    return _probe_container(path, with_size=False)[0]


def _decord_batch(vr, indices: list[int]) -> torch.Tensor:
    """``vr.get_batch`` handed to torch through DLPack (no copy, unlike ``.asnumpy()``)."""
    from decord.bridge import to_torch

    return to_torch(vr.get_batch(indices))


def _decord_read(
    path: str, indices: np.ndarray, short_side: int | None, exact: bool, size_hint
) -> np.ndarray | torch.Tensor:
    import decord

    local = _check_file(path)
    # cached per path: one dictionary lookup after a file's first call
    probe = seek_probe(local)
    problem = probe.problem
    if problem is None and probe.several_streams:
        problem = "several video streams, and decord cannot be told which one to decode"
    if problem is not None:
        # decord's get_batch would silently return other frames: PyAV's decoder is exact on these files
        note_rerouted(path, problem)
        return _pyav_read(path, indices, short_side, exact, local)
    try:
        # at the stored size (upright: decord rotates phone videos), resized afterwards: decord's own scaling
        # (width=, height=) costs more than the resize and fails on some sizes (48, 72)
        vr = decord.VideoReader(local, ctx=decord.cpu(0), num_threads=1)
    except Exception as e:  # decord raises DECORDError / RuntimeError with long C++ traces
        # decord refuses files whose tail is damaged; PyAV decodes what is there (or raises the error)
        logger.debug("decord cannot open %s (%s); trying PyAV", path, str(e).splitlines()[0][:200])
        try:
            return _pyav_read(path, indices, short_side, exact, local)
        except VideoDecodeError as e2:
            raise VideoDecodeError(path, f"decord cannot open it and {e2.cause}") from None
    n = len(vr)
    if n <= 0:
        raise VideoDecodeError(path, "the video has no frames")
    clamped = np.minimum(indices, n - 1).tolist()
    try:
        return _decode_resized(
            partial(_decord_batch, vr), clamped, short_side, exact, probe.size or size_hint
        )
    except _DecodeFailed as e:
        # metadata over-reports frames or the tail is truncated: decode sequentially to find what exists
        logger.debug("decord failed on %s (%s); falling back to sequential PyAV decoding", path, e.__cause__)
        return _pyav_read(path, indices, short_side, exact, local)


def _pyav_read(
    path: str, indices: np.ndarray, short_side: int | None, exact: bool, local: str | None = None
) -> np.ndarray:
    """vai's PyAV decoder; ``local``: the file another backend already checked (not checked again)."""
    from .decode_pyav import _pyav_read as read  # imported late: decode_pyav builds on this module

    return read(path, indices, short_side, exact=exact, local=local)


# stored-size frames decoded at once by decord and torchcodec, each part resized before the next decodes: a
# dense clip of a 1080p video would otherwise hold ~200 MB of full-size frames per worker
_PART_BYTES = 64 << 20


class _DecodeFailed(Exception):
    """The decoder call of :func:`_decode_resized` failed (its error is the ``__cause__``): the caller falls
    back to PyAV; an error of vai's own resize is not caught as one."""


def _decode_resized(
    decode, indices: list[int], short_side: int | None, exact: bool, size: tuple[int, int] | None
) -> torch.Tensor:
    """``decode(indices)`` (uint8 ``(T, H, W, 3)`` at the stored size) brought to :func:`kept_size` with
    :func:`resize_frames`, in parts of at most ``_PART_BYTES`` of stored-size frames (``size``: the
    expected ``(width, height)``; None when unknown: the first part is 2 frames). A clip in several parts
    decodes each wanted frame once, in order (a repeat in a later part would make the decoder seek back
    and decode its group of pictures again). The first part fixes the output size: a later part of
    another size (a resolution change) is resized to it."""
    step = 2 if size is None else max(1, _PART_BYTES // (3 * size[0] * size[1]))
    order = None
    if len(indices) > step:
        wanted, order = np.unique(indices, return_inverse=True)
        indices = wanted.tolist()
    parts, start, out_size = [], 0, None
    while start < len(indices):
        try:
            frames = decode(indices[start : start + step])
        except Exception as e:  # decord and torchcodec raise their own types (DECORDError, RuntimeError, ...)
            raise _DecodeFailed(e) from e
        start += step
        h, w = frames.shape[1:3]
        step = max(1, _PART_BYTES // (3 * w * h))
        if out_size is None:
            out_size = kept_size(w, h, short_side, exact)
        parts.append(frames if out_size == (w, h) else resize_frames(frames, *out_size))
    out = parts[0] if len(parts) == 1 else torch.cat(parts)
    if order is not None and not np.array_equal(order, np.arange(len(order))):
        out = out[torch.from_numpy(order)]
    return out


def _torchcodec_decoder():
    """torchcodec's ``VideoDecoder`` class where its FFmpeg libraries load, else one ImportError line."""
    try:
        from torchcodec.decoders import VideoDecoder

        # recent torchcodec imports without FFmpeg (its image decoders do not need it) and fails at the
        # first VideoDecoder instead, with a message that does not say so
        ops = sys.modules.get(VideoDecoder.__module__.split(".")[0] + "._core.ops")
        if getattr(ops, "_FFMPEG_AVAILABLE", True) is False:
            raise OSError("FFmpeg's shared libraries were not found")
    except Exception as e:  # ImportError, or OSError/RuntimeError when its FFmpeg libraries are missing
        raise ImportError(
            f"the torchcodec backend needs torchcodec and FFmpeg's shared libraries in a version it supports: "
            f"pip install torchcodec and FFmpeg (vai-data's [torchcodec] extra; {type(e).__name__}: "
            f"{(str(e).splitlines() or [''])[0][:120]}; without a system FFmpeg, `vai-data link-ffmpeg DIR` "
            f"prints the LD_LIBRARY_PATH that lends it PyAV's); or use backend='decord' or 'pyav'"
        ) from None
    return VideoDecoder


def torchcodec_available() -> bool:
    """True when ``backend="torchcodec"`` can decode here (torchcodec and FFmpeg's libraries load)."""
    try:
        _torchcodec_decoder()
    except ImportError:
        return False
    return True


def _torchcodec_read(
    path: str, indices: np.ndarray, short_side: int | None, exact: bool, size_hint
) -> torch.Tensor:
    VideoDecoder = _torchcodec_decoder()
    local = _check_file(path)
    probe = seek_probe(local)
    if probe.problem is not None:  # torchcodec would return other frames, silently, or fail part-way
        note_rerouted(path, probe.problem, "torchcodec")
        return _pyav_read(path, indices, short_side, exact, local)
    # the stream PyAV decodes (torchcodec's own choice may differ)
    kwargs = {} if probe.stream_index is None else {"stream_index": probe.stream_index}
    # at the stored size (upright), resized afterwards: torchcodec's Resize transform costs 1.3-1.6x more per
    # clip than decoding at the stored size and resizing with resize_frames
    try:
        dec = VideoDecoder(local, dimension_order="NHWC", **kwargs)
        n = dec.metadata.num_frames or len(dec)
    except Exception as e:  # torchcodec's own types (RuntimeError, ValueError, ...)
        failure = e
    else:
        clamped = np.minimum(indices, n - 1).tolist()
        try:
            return _decode_resized(
                lambda part: dec.get_frames_at(indices=part).data,
                clamped,
                short_side,
                exact,
                probe.size or size_hint,
            )
        except _DecodeFailed as e:
            failure = e.__cause__
    # torchcodec stops at a damaged packet (a truncated tail whose index still lists every frame) or at frames
    # the header over-reports, and names no missing codec: PyAV's decoder counts the frames that do decode
    # and clamps to them, or says why the file cannot be read
    cause = (str(failure).splitlines() or [type(failure).__name__])[0][:200]
    logger.debug("torchcodec failed on %s (%s); falling back to PyAV", path, cause)
    try:
        return _pyav_read(path, indices, short_side, exact, local)
    except VideoDecodeError as e2:
        raise VideoDecodeError(path, f"torchcodec cannot decode it ({cause}) and {e2.cause}") from None


def _pyav_backend_read(
    path: str, indices: np.ndarray, short_side: int | None, exact: bool, size_hint
) -> np.ndarray:
    return _pyav_read(path, indices, short_side, exact)  # (it learns the size from the first frame)


_READERS = {"decord": _decord_read, "pyav": _pyav_backend_read, "torchcodec": _torchcodec_read}


def frame_index_array(indices: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    """``indices`` as a 1-D int64 array; refuses empty, non-integer (1.5, "3", None) and boolean indices
    with one line, instead of truncating floats or failing deep inside a decoder."""
    values = np.asarray(indices.tolist() if isinstance(indices, torch.Tensor) else indices)
    if values.size == 0:
        raise ValueError("read_frames needs at least one frame index")
    if (
        values.dtype.kind == "f"
        and np.isfinite(values).all()
        and (values == np.round(values)).all()
        and np.abs(values).max() < 2.0**63
    ):
        values = values.astype(np.int64)  # whole numbers as floats (e.g. from numpy arithmetic)
    if values.dtype.kind not in "iu":
        shown = values.reshape(-1)[:20].tolist() if values.dtype.kind in "fbc" else indices
        raise ValueError(f"frame indices must be integers, got {shown!r}"[:300])
    if values.dtype.kind == "u" and values.size and int(values.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"frame index {int(values.max())} is too large")
    return values.astype(np.int64, copy=False).reshape(-1)


def read_frames(
    path: str | os.PathLike,
    indices: Sequence[int] | np.ndarray | torch.Tensor,
    backend: str = "decord",
    short_side: int | None = None,
    size_hint: tuple[int, int] | None = None,
    exact: bool = True,
) -> torch.Tensor:
    """Decode frames ``indices`` (0-based, any order, repeats allowed) of a video as uint8 ``(T, H, W, 3)``.

    ``short_side`` resizes the frames keeping the aspect ratio (at most
    :data:`vai_data.arguments.MAX_SHORT_SIDE`): every backend decodes at the stored size and resizes with
    :func:`vai_data.video_stream.resize_frames` (antialiased bilinear, the kernel JPEG frames are resized
    with), a few frames at a time. With ``exact=False`` frames whose short side is under twice ``short_side`` keep their
    stored size, for a caller that fuses the resize with its crop (:func:`vai_data.video_stream.kept_size`).
    ``size_hint=(width, height)`` of the source (e.g. from a split file) sizes those parts when the file's
    probe has no size.
    """
    path = os.fspath(path)
    if backend not in _READERS:
        raise ValueError(f"unknown video backend {backend!r}; choose one of {list(BACKENDS)}")
    if short_side is not None:
        short_side = positive_int("short_side", short_side, " (or None: the stored size)")
        check_short_side_limit("short_side", short_side)
    idx = frame_index_array(indices)
    if (idx < 0).any():
        raise ValueError(f"negative frame index in {idx.tolist()} for {path}")
    arr = _READERS[backend](path, idx, short_side, exact, size_hint)
    if isinstance(arr, torch.Tensor):
        return arr.contiguous()
    return torch.from_numpy(np.ascontiguousarray(arr))
