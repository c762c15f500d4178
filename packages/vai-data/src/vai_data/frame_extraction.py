"""Decode videos into JPEG frame folders (``{:05d}.jpg``, 0-based) at a given short side and quality.

A video ``VIDEO_DIR/a/b.mp4`` becomes ``OUT_DIR/a/b/00000.jpg ...`` - the layout the split generators'
``--frames-root`` and the frames split format expect. Frames are encoded by :func:`vai_data.jpeg.encode_jpeg`
(4:2:0 chroma, as ``vai-data pack`` writes them), with simplejpeg or Pillow alike.

Each folder is written under a temporary name (``<folder>.partial-<host>-<pid>``) and renamed when complete, so an
interrupted run never leaves a half folder that looks done; finished folders are skipped on the next run.
A video that cannot be decoded, or whose frames cannot be written (disk full, quota), fails alone: it is
logged at WARNING and listed in the report, nothing is published for it, and the others go on. A decode
error after some frames keeps those frames (a truncated file); a write error never does. Extraction never
deletes what it did not write: an existing output folder holding anything but frame files makes that video
fail, and two videos whose frame folders would coincide or nest (``a.mp4`` and ``a.mkv``; ``a.mp4`` and
``a/x.mp4``) stop the tree with ``ValueError`` before anything is written. Only local folders are supported
(not paths served by an iopath handler). With workers, a worker process that dies (killed when out of memory,
or crashed in the decoder) fails the video it was extracting; the other videos go on in a fresh pool.
"""

from __future__ import annotations

import logging
import numbers
import os
import re
import shutil
from collections.abc import Iterator

from .arguments import check_short_side_limit
from .jpeg import check_jpeg_quality, encode_jpeg
from .partial_folders import (  # noqa: F401 (host_tag, remove_stale_partials: public here too)
    _remove_stale_partials_in,
    host_tag,
    partial_path,
    remove_stale_partials,
    videos_of_dead_workers,
)
from .pathio import is_native
from .video_stream import FrameConverter, pick_video_stream

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv")
FRAME_NAME = "{:05d}.jpg"
FRAME_FILE = re.compile(r"\d{5,}\.jpg")  # the names FRAME_NAME gives (more digits past 99999 frames)
DECODE_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)  # with av.error.FFmpegError, at use


# the partial folder this process is writing, for a pool worker's SIGTERM handler
# (:func:`vai_data.frame_extraction_tree._init_worker`)
_partial_in_progress: str | None = None


class FrameExtractionError(RuntimeError):
    """A video that could not be turned into frames; the message names the path and the cause."""


def check_options(short_side: int | None, quality: int) -> None:
    """Raise ``ValueError`` naming the value unless ``short_side`` is None or 0..``MAX_SHORT_SIDE`` pixels
    (0 and None keep the size) and ``quality`` is a JPEG quality in 1..100."""
    if short_side is not None and (
        isinstance(short_side, bool) or not isinstance(short_side, numbers.Integral) or short_side < 0
    ):
        raise ValueError(
            f"short_side must be a number of pixels >= 0 (0 or None keeps the size), got {short_side!r}"
        )
    check_short_side_limit("short_side", short_side)
    check_jpeg_quality(quality)


def _check_local(path: str | os.PathLike, what: str) -> None:
    """Raise ``ValueError`` unless ``path`` is a plain local path (not one an iopath handler serves)."""
    if not is_native(os.fspath(path)):
        raise ValueError(
            f"{what} {os.fspath(path)} is not a local path: frame extraction needs local folders "
            "(copy or mount them first)"
        )


def _other_content(out_dir: str) -> str | None:
    """What makes an existing ``out_dir`` off limits, or None when it is absent, empty or holds only frame
    files (``{:05d}.jpg``, a previous extraction's output, which may be replaced)."""
    if os.path.islink(out_dir) or (os.path.lexists(out_dir) and not os.path.isdir(out_dir)):
        return "is not a folder"
    try:
        with os.scandir(out_dir) as entries:
            other = sorted(
                e.name
                for e in entries
                if not (FRAME_FILE.fullmatch(e.name) and e.is_file(follow_symlinks=False))
            )
    except FileNotFoundError:
        return None
    if not other:
        return None
    more = f" and {len(other) - 3} more" if len(other) > 3 else ""
    return "holds other content (" + ", ".join(other[:3]) + more + ")"


def _refuse_other_content(video_path: str, out_dir: str) -> None:
    """Raise :class:`FrameExtractionError` when ``out_dir`` exists and holds anything but frame files."""
    why = _other_content(out_dir)
    if why is not None:
        raise FrameExtractionError(
            f"{video_path}: the output folder {out_dir} already exists and {why}; it is left alone "
            "(move it away or extract somewhere else)"
        )


def _make_room(video_path: str, out_dir: str) -> None:
    """Remove an existing ``out_dir`` that is empty or holds only frame files (one file at a time, so
    anything else that appeared meanwhile stays and the ``rmdir`` fails)."""
    _refuse_other_content(video_path, out_dir)
    try:
        names = os.listdir(out_dir)
    except FileNotFoundError:
        return
    try:
        for name in names:
            os.remove(os.path.join(out_dir, name))
        os.rmdir(out_dir)
    except OSError as e:
        raise FrameExtractionError(
            f"{video_path}: cannot replace the output folder {out_dir} ({e})"
        ) from None


def _rgb_frames(container, short_side: int | None) -> Iterator:
    """The video stream ``read_frames`` decodes, as upright ``(H, W, 3)`` uint8 RGB frames at the output size
    (:mod:`vai_data.video_stream`)."""
    stream = pick_video_stream(container)
    stream.thread_type = "AUTO"
    convert = FrameConverter(short_side)
    for frame in container.decode(stream):
        yield convert(frame)


def _write_frame(video_path: str, path: str, rgb, quality: int) -> None:
    """Encode and write one frame; any failure (disk full, quota, file too large) raises
    :class:`FrameExtractionError` naming the video, the frame file and the cause."""
    try:
        data = encode_jpeg(rgb, quality)
        with open(path, "wb") as f:
            f.write(data)
    except Exception as e:  # OSError (ENOSPC, EDQUOT, EFBIG, EIO) above all; encoders raise others
        raise FrameExtractionError(
            f"{video_path}: cannot write frame {path} ({type(e).__name__}: {e}); nothing was published"
        ) from None


def extract_frames(
    video_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    short_side: int | None = 256,
    quality: int = 90,
    sweep: bool = True,
) -> int:
    """Write every frame of ``video_path`` as ``out_dir/{:05d}.jpg`` (0-based); returns the frame count.

    Frames are resized (:func:`vai_data.video_stream.resize_frames`, aspect kept) so the shorter side is ``short_side`` (None/0 keeps the
    size; negative raises ``ValueError``, as does a ``quality`` outside 1..100 or a path that is not local)
    and encoded by :func:`vai_data.jpeg.encode_jpeg`. A decode error after some frames keeps those frames
    with a WARNING (truncated files); no frame at all, or any failure to encode or write a frame, raises
    :class:`FrameExtractionError` and publishes nothing. The folder appears atomically when complete.
    An existing ``out_dir`` is replaced only when it is empty or holds nothing but frame files; anything
    else in it raises :class:`FrameExtractionError` and is left alone. ``sweep`` first removes this
    folder's ``.partial-<host>-<pid>`` leftovers of killed extractions (:func:`remove_stale_partials`;
    :func:`extract_frames_tree` sweeps each parent folder once instead).
    """
    global _partial_in_progress
    import av

    check_options(short_side, quality)
    _check_local(video_path, "video")
    _check_local(out_dir, "output folder")
    video_path, out_dir = os.fspath(video_path), os.fspath(out_dir).rstrip(os.sep) or os.sep
    if not os.path.isfile(video_path) or os.path.getsize(video_path) == 0:
        raise FrameExtractionError(f"{video_path}: missing or empty file")
    _refuse_other_content(video_path, out_dir)
    tmp = partial_path(out_dir)
    shutil.rmtree(tmp, ignore_errors=True)
    if sweep:
        remove_stale_partials(out_dir)
    _partial_in_progress = tmp  # (before the folder exists: a SIGTERM in between must still remove it)
    try:
        os.makedirs(tmp)
    except BaseException:
        _partial_in_progress = None
        raise
    count = 0
    try:
        try:
            container = av.open(video_path)
        except (av.error.FFmpegError, *DECODE_ERRORS) as e:
            raise FrameExtractionError(
                f"{video_path}: not a decodable video ({type(e).__name__}: {e})"
            ) from None
        with container:
            if not container.streams.video:
                raise FrameExtractionError(f"{video_path}: no video stream in the container")
            frames = _rgb_frames(container, short_side)
            while True:
                try:  # only decoding may end a video early; writing errors raise in _write_frame
                    rgb = next(frames)
                except StopIteration:
                    break
                except (av.error.FFmpegError, *DECODE_ERRORS) as e:
                    if count == 0:
                        raise FrameExtractionError(
                            f"{video_path}: not a decodable video ({type(e).__name__}: {e})"
                        ) from None
                    logger.warning(
                        "%s: decoding stopped after %d frames (%s); keeping them", video_path, count, e
                    )
                    break
                _write_frame(video_path, os.path.join(tmp, FRAME_NAME.format(count)), rgb, quality)
                count += 1
        if count == 0:
            raise FrameExtractionError(f"{video_path}: no frame could be decoded")
        _make_room(video_path, out_dir)
        try:
            os.makedirs(os.path.dirname(os.path.abspath(out_dir)), exist_ok=True)
            os.replace(tmp, out_dir)
        except OSError as e:
            raise FrameExtractionError(f"{video_path}: cannot move the frames into {out_dir} ({e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        _partial_in_progress = None
    return count


# the whole-tree part (it imports from this module, so it comes last); its names stay importable from here
from .frame_extraction_tree import (  # noqa: E402, F401
    MAX_UNEXPLAINED_BREAKS,
    WORKER_DIED,
    ExtractionReport,
    extract_frames_tree,
    find_videos,
)
