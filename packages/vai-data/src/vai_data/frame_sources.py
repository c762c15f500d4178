"""Frame sources: one video's frames behind a common ``read(indices, short_side, exact)`` interface.

A source knows its frame count and decodes only the requested 0-based indices (relative to the
split row's ``start``) to uint8 ``(T, H, W, 3)``, resized at decode time when ``short_side`` is given.
With ``exact=False`` a source may return frames whose short side is somewhat larger (e.g. after JPEG
DCT scaling) so the caller can fuse the last resize with its crop.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

from . import jpeg
from .decode import read_frames
from .errors import VideoDecodeError
from .jpeg import dct_scale_dims, decode_jpeg
from .pathio import read_bytes
from .transforms.clip import short_side_size


def resize_short_side_thwc(frames: torch.Tensor, short_side: int | None) -> torch.Tensor:
    """Resize uint8 ``(T, H, W, C)`` so the shorter side is exactly ``short_side`` (no-op when it is)."""
    if short_side is None:
        return frames
    h, w = frames.shape[1:3]
    if min(h, w) == short_side:
        return frames
    out = F.resize(frames.permute(0, 3, 1, 2), list(short_side_size(h, w, short_side)), antialias=True)
    return out.permute(0, 2, 3, 1)


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
    blobs: list[bytes], short_side: int | None, colorspace: str = "RGB"
) -> torch.Tensor | None:
    """simplejpeg decodes every frame straight into one ``(T, H, W, 3)`` tensor (no per-frame arrays, no
    stacking copy); repeats are copied. ``None`` when a frame needs the general path (other size, not a
    baseline JPEG, unreadable) - that path then decodes and reports."""
    sj = jpeg._simplejpeg
    header, decode = sj.decode_jpeg_header, sj.decode_jpeg
    out: torch.Tensor | None = None
    buf = None
    done: dict[int, int] = {}
    try:
        for i, b in enumerate(blobs):
            j = done.get(id(b))
            if j is not None:
                buf[i] = buf[j]
                continue
            h, w, _, _ = header(b)
            if out is None:
                dims = dct_scale_dims(w, h, short_side)
                ow, oh = dims if dims is not None else (w, h)
                kw = {} if dims is None else {"min_width": ow, "min_height": oh}
                first = (h, w)
                # numpy's allocator: torch.empty of this size often came back as fresh pages (a page
                # fault per 4 KiB, +25% decode time) where numpy's buffers were reused
                buf = np.empty((len(blobs), oh, ow, 3), dtype=np.uint8)
                out = torch.from_numpy(buf)
            elif (h, w) != first:  # every frame of a clip shares the first frame's size and reduction
                return None
            if decode(b, colorspace=colorspace, buffer=buf[i], **kw).shape != (oh, ow, 3):
                return None
            done[id(b)] = i
    except (ValueError, TypeError):
        return None
    return out


def decode_jpeg_list(
    blobs: list[bytes], short_side: int | None, path: str, exact: bool = True, bgr: bool = False
) -> torch.Tensor:
    """Decode JPEG byte strings (repeats decoded once) to ``(T, H, W, 3)``, RGB or with ``bgr`` the channels
    reversed (simplejpeg writes BGR at no extra cost; see :func:`vai_data.transforms.clip.hflip_bgr`)."""
    if jpeg.JPEG_BACKEND == "simplejpeg" and blobs:
        frames = _decode_into_one_buffer(blobs, short_side, "BGR" if bgr else "RGB")
        if frames is not None:
            return resize_short_side_thwc(frames, short_side if exact else None)
    cache: dict[int, np.ndarray] = {}
    images = []
    for b in blobs:
        key = id(b)
        if key not in cache:
            try:
                cache[key] = decode_jpeg(b, short_side)
            except Exception as e:
                raise VideoDecodeError(
                    path, f"a frame is not a readable JPEG ({type(e).__name__}: {e})"
                ) from None
        images.append(cache[key])
    frames = stack_decoded(images, short_side, path, exact)
    return frames.flip(-1) if bgr else frames


class FrameSource:
    """What every frame source shares: frame ``i`` of the split row's range is stored frame ``start + i``."""

    start: int = 0

    def frame_numbers(self, indices: torch.Tensor) -> torch.Tensor:
        """Stored frame numbers of 0-based ``indices`` (the same tensor when ``start`` is 0)."""
        return indices + self.start if self.start else indices


class VideoFileSource(FrameSource):
    """A video file (mp4/webm/...) decoded with decord, PyAV or torchcodec."""

    def __init__(
        self,
        path: str,
        start: int = 0,
        end: int | None = None,
        backend: str = "decord",
        size_hint: tuple[int, int] | None = None,
    ):
        self.path, self.start, self.backend, self.size_hint = path, int(start), backend, size_hint
        if end is None:
            from .decode import probe_num_frames

            end = self.start + probe_num_frames(path) - 1
        self.num_frames = int(end) - self.start + 1

    def read(self, indices: torch.Tensor, short_side: int | None = None, exact: bool = True) -> torch.Tensor:
        frames = read_frames(self.path, self.frame_numbers(indices), self.backend, short_side, self.size_hint)
        return resize_short_side_thwc(frames, short_side)


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
    """Base of the sources whose frames are JPEG bytes (frame folders, ``.vpk``, LMDB, gulp)."""

    @property
    def reads_bgr(self) -> bool:
        """True when ``read(..., bgr=True)`` costs nothing extra: simplejpeg writes BGR as fast as RGB."""
        return jpeg.JPEG_BACKEND == "simplejpeg"


class FrameFolderSource(JpegFrameSource):
    """A folder of JPEG frames named by a pattern; frame ``i`` is file ``start + i``."""

    def __init__(self, pattern: str, start: int, end: int, flow_direction: str | None = None):
        self.path, self.start, self.flow_direction = pattern, int(start), flow_direction
        self.num_frames = int(end) - self.start + 1

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

    def read(
        self, indices: torch.Tensor, short_side: int | None = None, exact: bool = True, bgr: bool = False
    ) -> torch.Tensor:
        numbers = self.frame_numbers(indices).tolist()
        blobs: dict[int, bytes] = {}
        for n in numbers:
            if n not in blobs:
                blobs[n] = self._read_file(n)
        return decode_jpeg_list([blobs[n] for n in numbers], short_side, self.path, exact, bgr)
