"""Which video stream of a container vai decodes, and how its frames are turned upright (PyAV).

Every PyAV path (``read_frames``' PyAV backend and its fallbacks, the seek probe, ``vai-data pack`` and
``extract-frames``) picks the stream with :func:`pick_video_stream` and converts frames with
:class:`FrameConverter`, so that they agree with each other and with decord and torchcodec:

* **Stream**: cover art (an attached picture) is never the video; of several real video streams, FFmpeg's
  "best" one (``av_find_best_stream``, what the ``ffmpeg`` command picks; torchcodec is given its index).
  decord cannot be told which stream to decode and picks by its own FFmpeg's rules, so ``read_frames``
  hands files with several video streams to PyAV (:mod:`vai_data.decode_probe`).
* **Rotation**: phone videos store frames sideways with a display matrix saying how to show them. decord
  and torchcodec apply its rotation (a multiple of 90 degrees), so PyAV's frames are rotated the same way,
  and sizes (``short_side``, ``probe_video``) are those of the upright picture.
"""

from __future__ import annotations

import numpy as np
import torch

from .transforms.clip import short_side_size

_ATTACHED_PIC = 0x0400  # AV_DISPOSITION_ATTACHED_PIC: a cover-art picture stored as a video stream


def _is_picture(stream) -> bool:
    try:
        return bool(int(getattr(stream, "disposition", 0) or 0) & _ATTACHED_PIC)
    except (TypeError, ValueError):
        return False


def video_streams(container) -> list:
    """The container's video streams other than cover art (all of them when each is a picture)."""
    streams = list(container.streams.video)
    real = [s for s in streams if not _is_picture(s)]
    return real or streams


def pick_video_stream(container):
    """The stream vai decodes: the only video stream that is not cover art, or FFmpeg's best of several
    (the first one where FFmpeg names a picture or none); None when the container has no video."""
    streams = video_streams(container)
    if len(streams) <= 1:
        return streams[0] if streams else None
    try:
        best = container.streams.best("video")
    except Exception:  # an old PyAV without best(): the first real stream
        best = None
    return best if any(best is s for s in streams) else streams[0]


def rotation_steps(degrees: float | None) -> int:
    """Quarter turns counter-clockwise (``np.rot90``'s ``k``, 0..3) that show a frame upright, from its display
    rotation in degrees counter-clockwise as FFmpeg and PyAV report it (``frame.rotation``: -90 for a phone
    held upright). Angles between multiples of 90 take the nearest, as players do."""
    if not degrees:
        return 0
    return int(round(float(degrees) / 90.0)) % 4


def frame_rotation_steps(frame) -> int:
    """:func:`rotation_steps` of a decoded PyAV frame (0 where PyAV does not report rotation)."""
    try:
        return rotation_steps(getattr(frame, "rotation", 0))
    except (TypeError, ValueError):
        return 0


def display_steps(container, stream, local_path: str) -> int:
    """:func:`rotation_steps` of ``stream`` as decord and torchcodec apply it, without decoding: the
    QuickTime/MP4 display matrix (:mod:`vai_data.mov_display_matrix`), where phones store rotation; 0 for
    other containers (decoded frames' own ``rotation`` still turns PyAV's output upright there)."""
    if "mov" not in container.format.name.split(","):
        return 0
    from .mov_display_matrix import mov_rotation_degrees

    return rotation_steps(mov_rotation_degrees(local_path, stream.index))


def output_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(width, height) after scaling so the shorter side equals ``short_side`` (aspect kept; the longer
    side rounded down, :func:`vai_data.transforms.short_side_size`; None or 0: unchanged)."""
    if short_side is None or short_side <= 0:
        return width, height
    h, w = short_side_size(height, width, short_side)
    return w, h


def upright_size(width: int, height: int, steps: int) -> tuple[int, int]:
    """``(width, height)`` of a ``width`` x ``height`` coded picture shown after ``steps`` quarter turns."""
    return (height, width) if steps % 2 else (width, height)


def resize_frames(frames: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """uint8 ``(T, H, W, C)`` frames resized to ``width`` x ``height`` (antialiased bilinear, torchvision's
    channels-last uint8 kernel, as every other resize in vai-data). Every decoder decodes at the stored size
    and resizes here, so every backend's and storage's frames are resized alike: the decoders' own scalers
    cost as much or more on the CPU (torchcodec's ``Resize`` 1.3-1.6x, decord's ``width``/``height``
    0.95-1.24x, swscale in PyAV 1.05-1.15x: ``benchmarks/bench_video_resize.py``)."""
    from torchvision.transforms.v2 import functional as F

    out = F.resize(frames.permute(0, 3, 1, 2), [height, width], antialias=True)
    return out.permute(0, 2, 3, 1).contiguous()


def kept_size(width: int, height: int, short_side: int | None, exact: bool) -> tuple[int, int]:
    """``(width, height)`` the decoders return frames of ``width`` x ``height`` at: the stored size without
    ``short_side``, or with ``exact=False`` while the short side is under twice ``short_side`` (the caller
    fuses the resize with its crop, as for JPEG frames after DCT scaling); otherwise scaled so the short side
    is ``short_side`` (:func:`output_size`)."""
    if short_side is None or (not exact and min(width, height) < 2 * short_side):
        return width, height
    return output_size(width, height, short_side)


class FrameConverter:
    """PyAV frames to uint8 RGB ``(H, W, 3)`` arrays, upright and with the shorter side scaled to ``short_side``
    (None: the stored size; the longer side rounded down, :func:`vai_data.transforms.short_side_size`;
    ``exact=False``: :func:`kept_size`).

    The first frame fixes the rotation and the size for the stream, as decord does: later frames of another
    size (a resolution change mid-stream) are scaled to it. One swscale context serves every frame's colour
    conversion (building one per frame costs ~0.5 ms at 640x360); the resize is :func:`resize_frames`' (as fast as
    swscale's or faster, and the kernel every other frame gets), before rotating, on fewer pixels.
    """

    def __init__(self, short_side: int | None, exact: bool = True):
        from av.video.reformatter import VideoReformatter

        self.short_side, self.exact = short_side, exact
        self.reformatter = VideoReformatter()
        self.steps = 0
        self.coded_size: tuple[int, int] | None = None  # (width, height) to scale the coded picture to

    def __call__(self, frame) -> np.ndarray:
        if self.coded_size is None:
            self.steps = frame_rotation_steps(frame)
            upright = upright_size(frame.width, frame.height, self.steps)
            w, h = kept_size(*upright, self.short_side, self.exact)
            self.coded_size = upright_size(w, h, self.steps)
        rgb = self.reformatter.reformat(frame, format="rgb24").to_ndarray()
        w, h = self.coded_size
        if rgb.shape[:2] != (h, w):
            rgb = resize_frames(torch.from_numpy(rgb)[None], w, h)[0].numpy()
        return np.ascontiguousarray(np.rot90(rgb, self.steps)) if self.steps else rgb
