"""Frame sources: one video's frames behind a common ``read(indices, short_side, exact)`` interface.

A source knows its frame count and decodes only the requested 0-based indices (relative to the
split row's ``start``) to uint8 ``(T, H, W, 3)``, resized when ``short_side`` is given.
With ``exact=False`` a source may return frames whose short side is not the one asked for (under twice it:
JPEG frames after DCT scaling, video frames at their stored size, also below it) so the caller can fuse the
last resize with its crop.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from . import jpeg
from .decode import read_frames
from .decode_probe import verdicts_shared_in
from .errors import VideoDecodeError
from .jpeg import JpegDecodeError, dct_scale_dims, decode_jpeg, undecodable
from .pathio import read_bytes
from .split_file import frame_pattern_problem
from .transforms.clip import short_side_size
from .video_stream import resize_frames


def resize_short_side_thwc(frames: torch.Tensor, short_side: int | None) -> torch.Tensor:
    """Resize uint8 ``(T, H, W, C)`` so the shorter side is exactly ``short_side`` (no-op when it is)."""
    if short_side is None:
        return frames
    h, w = frames.shape[1:3]
    if min(h, w) == short_side:
        return frames
    out_h, out_w = short_side_size(h, w, short_side)
    return resize_frames(frames, out_w, out_h)


def stack_decoded(
    images: list[np.ndarray], short_side: int | None, path: str, exact: bool = True
) -> torch.Tensor:
    """Stack decoded frames and bring them to ``short_side`` with one batched resize; with
    ``exact=False`` frames the decoder already brought near ``short_side`` (never below) are kept as is."""
    tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in images]
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        if short_side is None:
            raise VideoDecodeError(path, f"frames have different sizes {sorted(shapes)}")
        tensors = [resize_short_side_thwc(t[None], short_side)[0] for t in tensors]
        if len({tuple(t.shape) for t in tensors}) > 1:
            raise VideoDecodeError(path, f"frames have different aspect ratios {sorted(shapes)}")
    return resize_short_side_thwc(torch.stack(tensors), short_side if exact else None)


def _decode_into_one_buffer(
    blobs: list[bytes], short_side: int | None, colorspace: str, repeats: dict[int, int] | None = None
) -> np.ndarray | None:
    """simplejpeg decodes every frame straight into one ``(T, H, W, 3)`` array (no per-frame arrays, no
    stacking copy); ``repeats`` maps positions to the earlier position holding the same frame, which is
    copied instead of decoded. ``None`` when a frame needs the general path (other size, not a baseline
    JPEG, unreadable) - that path then decodes and reports."""
    sj = jpeg._simplejpeg
    header, decode = sj.decode_jpeg_header, sj.decode_jpeg
    # (every call here runs cold, between decodes: without DCT scaling the decoder gets no `**kw`, which
    # costs about a microsecond a frame; unscaled, it writes exactly the header's size, so only scaled
    # decodes check the shape)
    try:
        h, w, _, _ = header(blobs[0])
        dims = dct_scale_dims(w, h, short_side)
        # numpy's allocator: torch.empty of this size often came back as fresh pages (a page fault per
        # 4 KiB, +25% decode time) where numpy's buffers were reused
        if dims is None:
            kw = None
            buf = np.empty((len(blobs), h, w, 3), np.uint8)
            decode(blobs[0], colorspace=colorspace, buffer=buf[0])
        else:
            kw = {"min_width": dims[0], "min_height": dims[1]}
            buf = np.empty((len(blobs), dims[1], dims[0], 3), np.uint8)
            if decode(blobs[0], colorspace=colorspace, buffer=buf[0], **kw).shape != buf.shape[1:]:
                return None  # the decoder reduced by another factor than dct_scale_dims's
        for i in range(1, len(blobs)):
            if repeats and i in repeats:
                continue
            fh, fw, _, _ = header(blobs[i])
            if fh != h or fw != w:  # every frame of a clip shares the first frame's size and reduction
                return None
            if kw is None:
                decode(blobs[i], colorspace=colorspace, buffer=buf[i])
            else:
                decode(blobs[i], colorspace=colorspace, buffer=buf[i], **kw)
    except (ValueError, TypeError):
        return None
    for i, j in (repeats or {}).items():
        buf[i] = buf[j]
    return buf


class UnreadableFrameError(VideoDecodeError):
    """A frame's bytes that no JPEG decoder reads; ``position`` is its index in the decoded list, so a
    source can name the frame (a frame folder: its file)."""

    def __init__(self, path: str, position: int, cause: str):
        self.position = position
        super().__init__(path, cause)


def _unreadable_cause(blob: bytes, error: Exception) -> str:
    """A readable reason for an undecodable frame (built only on error: Pillow's messages name an
    in-memory ``BytesIO`` rather than the data)."""
    if isinstance(error, JpegDecodeError):  # decode_jpeg's own one line (not a JPEG, truncated data)
        return str(error)
    return str(undecodable(blob, error))  # another decoder's error, worded as decode_jpeg words its own


def decode_jpeg_frames(
    blobs: list[bytes], short_side: int | None, path: str, exact: bool = True, bgr: bool = False
) -> np.ndarray:
    """Decode JPEG byte strings to a uint8 ``(T, H, W, 3)`` array, RGB or with ``bgr`` the channels
    reversed (simplejpeg writes BGR at no extra cost; see :func:`vai_data.transforms.clip.hflip_bgr`).
    ``short_side`` as in :func:`stack_decoded`. The same bytes object repeated (a short video's frames
    sampled twice) is decoded once."""
    if not blobs:
        raise VideoDecodeError(path, "no frames to decode")
    repeats = None
    if len(dict.fromkeys(map(id, blobs))) < len(blobs):  # (rare: short videos) position -> first position
        first: dict[int, int] = {}
        repeats = {i: first.setdefault(id(b), i) for i, b in enumerate(blobs)}
        repeats = {i: j for i, j in repeats.items() if i != j}
    if jpeg.JPEG_BACKEND == "simplejpeg":
        frames = _decode_into_one_buffer(blobs, short_side, "BGR" if bgr else "RGB", repeats)
        if frames is not None:
            if not exact and short_side is not None:
                return frames
            return resize_short_side_thwc(torch.from_numpy(frames), short_side).numpy()
    decoded: dict[int, np.ndarray] = {}
    for b in blobs:
        if id(b) not in decoded:
            try:
                decoded[id(b)] = decode_jpeg(b, short_side)
            except Exception as e:
                position = next(i for i, x in enumerate(blobs) if x is b)
                raise UnreadableFrameError(path, position, _unreadable_cause(b, e)) from None
    frames = stack_decoded([decoded[id(b)] for b in blobs], short_side, path, exact)
    return (frames.flip(-1) if bgr else frames).numpy()


def index_list(indices: torch.Tensor | Sequence[int]) -> list[int]:
    """Frame indices (a tensor or a sequence of ints) as a list of ints; a list is returned as is (not
    copied: do not modify the result)."""
    if isinstance(indices, torch.Tensor):
        return indices.tolist()
    if type(indices) is list:  # (the datasets' own lists: no per-sample copy)
        return indices
    return [int(i) for i in indices]


class FrameSource:
    """What every frame source shares: frame ``i`` of the split row's range is stored frame ``start + i``."""

    start: int = 0

    def frame_list(self, indices: torch.Tensor | Sequence[int]) -> list[int]:
        """Stored frame numbers of 0-based ``indices`` (a tensor or a sequence of ints) as a list (``indices``
        itself when it is a list and ``start`` is 0)."""
        numbers = indices if type(indices) is list else index_list(indices)
        return [i + self.start for i in numbers] if self.start else numbers


class VideoFileSource(FrameSource):
    """A video file (mp4/webm/...) decoded with decord, PyAV or torchcodec."""

    def __init__(
        self,
        path: str,
        start: int = 0,
        end: int | None = None,
        backend: str = "decord",
        size_hint: tuple[int, int] | None = None,
        verdicts=None,
    ):
        if type(path) is not str:
            path = os.fspath(path)  # (a pathlib.Path)
        self.path, self.start, self.backend, self.size_hint = path, int(start), backend, size_hint
        self.verdicts = verdicts  # a dataset's SharedVerdicts (vai_data.shared_verdicts), or None
        if end is None:
            from .decode import probe_num_frames

            end = self.start + probe_num_frames(path) - 1
        self.num_frames = int(end) - self.start + 1

    def read(
        self, indices: torch.Tensor | Sequence[int], short_side: int | None = None, exact: bool = True
    ) -> torch.Tensor:
        """Frames ``indices`` at ``short_side`` (with ``exact=False``: at the stored size while its short side
        is under twice ``short_side``, :func:`vai_data.video_stream.kept_size`)."""
        with verdicts_shared_in(self.verdicts):
            return read_frames(
                self.path, self.frame_list(indices), self.backend, short_side, self.size_hint, exact
            )


def format_frame_path(pattern: str, number: int, flow_direction: str | None = None) -> str:
    """Fill a frame pattern (``{:05d}``, ``{frame:05d}``, optional ``{flow_direction}``) with a number."""
    try:
        if flow_direction is None:
            return pattern.format(number, frame=number)
        return pattern.format(number, frame=number, flow_direction=flow_direction)
    except (IndexError, KeyError, ValueError) as e:
        raise ValueError(
            f"frame pattern {pattern!r} cannot be filled ({type(e).__name__}: {e}); use '{{:05d}}' or "
            f"'{{frame:05d}}' and '{{flow_direction}}' for flow"
        ) from None


class JpegFrameSource(FrameSource):
    """Base of the sources whose frames are JPEG bytes (frame folders, ``.vpk``, LMDB, gulp); a subclass
    sets ``path`` (for messages) and implements ``_blobs(numbers)``, the JPEG bytes of stored frames."""

    path: str

    @property
    def reads_bgr(self) -> bool:
        """True when ``read(..., bgr=True)`` costs nothing extra: simplejpeg writes BGR as fast as RGB."""
        return jpeg.JPEG_BACKEND == "simplejpeg"

    def _init_range(self, total: int, start: int, end: int | None) -> None:
        """Frames ``start..end`` (inclusive; ``None``: to the last) of ``total`` stored frames."""
        self.start = int(start)
        end = total - 1 if end is None else min(int(end), total - 1)
        self.num_frames = max(end - self.start + 1, 1)

    def _blobs(self, numbers: list[int]) -> list[bytes]:
        raise NotImplementedError(
            f"{type(self).__name__} must implement _blobs(numbers) -> the JPEG bytes of those stored frames"
        )

    def read_array(
        self,
        indices: torch.Tensor | Sequence[int],
        short_side: int | None = None,
        exact: bool = True,
        bgr: bool = False,
    ) -> np.ndarray:
        """:meth:`read` as a numpy array (what the decoder wrote, no tensor made: datasets crop it first)."""
        numbers = self.frame_list(indices)
        try:
            return decode_jpeg_frames(self._blobs(numbers), short_side, self.path, exact, bgr)
        except UnreadableFrameError as e:
            raise self._frame_error(numbers[e.position], e.cause) from None

    def _frame_error(self, number: int, cause: str) -> VideoDecodeError:
        """The error for stored frame ``number`` being unreadable; a subclass may name the frame's own file."""
        return VideoDecodeError(self.path, f"stored frame {number}: {cause}")

    def read(
        self,
        indices: torch.Tensor | Sequence[int],
        short_side: int | None = None,
        exact: bool = True,
        bgr: bool = False,
    ) -> torch.Tensor:
        """uint8 ``(T, H, W, 3)`` frames at 0-based ``indices``, brought to ``short_side`` (with
        ``exact=False`` possibly above it, after DCT scaling only), RGB or with ``bgr`` BGR."""
        return torch.from_numpy(self.read_array(indices, short_side, exact, bgr))


class FrameFolderSource(JpegFrameSource):
    """A folder of JPEG frames named by a pattern; frame ``i`` is file ``start + i``."""

    def __init__(self, pattern: str, start: int, end: int, flow_direction: str | None = None):
        if type(pattern) is not str:
            pattern = os.fspath(pattern)  # (a pathlib.Path)
        problem = frame_pattern_problem(pattern)  # (as the split reader refuses it)
        if problem is not None:
            raise ValueError(f"FrameFolderSource: {problem}")
        self.path, self.start, self.flow_direction = pattern, int(start), flow_direction
        self.num_frames = int(end) - self.start + 1
        if self.start < 0 or self.num_frames < 1:
            raise ValueError(
                f"FrameFolderSource {pattern}: frame range start={start}, end={end} is empty or negative; "
                "expected 0 <= start <= end"
            )

    def _read_file(self, number: int) -> bytes:
        fp = format_frame_path(self.path, number, self.flow_direction)
        try:
            blob = read_bytes(fp)
        except (FileNotFoundError, OSError) as e:
            raise VideoDecodeError(
                fp, f"cannot read frame file ({type(e).__name__}); check start/end in the split file"
            ) from None
        if not blob:
            raise VideoDecodeError(fp, "frame file is empty (0 bytes)")
        return blob

    def _frame_error(self, number: int, cause: str) -> VideoDecodeError:
        return VideoDecodeError(format_frame_path(self.path, number, self.flow_direction), cause)

    def _blobs(self, numbers: list[int]) -> list[bytes]:
        blobs: dict[int, bytes] = {}
        for n in numbers:
            if n not in blobs:
                blobs[n] = self._read_file(n)
        return [blobs[n] for n in numbers]
