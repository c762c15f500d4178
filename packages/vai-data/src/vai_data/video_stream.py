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


class FrameConverter:
    """PyAV frames to uint8 RGB ``(H, W, 3)`` arrays, upright and with the shorter side scaled to ``short_side``
    (None: the stored size; the longer side rounded down, :func:`vai_data.transforms.short_side_size`).

    The first frame fixes the rotation and the size for the stream, as decord does: later frames of another
    size (a resolution change mid-stream) are scaled to it. One swscale context serves every frame (building
    one per frame costs ~0.5 ms at 640x360 -> 455x256); scaling happens before rotating, on fewer pixels.
    """

    def __init__(self, short_side: int | None):
        from av.video.reformatter import VideoReformatter

        self.short_side = short_side
        self.reformatter = VideoReformatter()
        self.steps = 0
        self.coded_size: tuple[int, int] | None = None  # (width, height) to scale the coded picture to

    def __call__(self, frame) -> np.ndarray:
        if self.coded_size is None:
            self.steps = frame_rotation_steps(frame)
            w, h = output_size(*upright_size(frame.width, frame.height, self.steps), self.short_side)
            self.coded_size = upright_size(w, h, self.steps)
        w, h = self.coded_size
        rgb = self.reformatter.reformat(frame, format="rgb24", width=w, height=h).to_ndarray()
        return np.ascontiguousarray(np.rot90(rgb, self.steps)) if self.steps else rgb
