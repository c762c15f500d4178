"""Decode videos into JPEG frame folders (``{:05d}.jpg``, 0-based) at a given short side and quality.

A video ``VIDEO_DIR/a/b.mp4`` becomes ``OUT_DIR/a/b/00000.jpg ...`` - the layout the split generators'
``--frames-root`` and the frames split format expect. Each folder is written under a temporary name and
renamed when complete, so an interrupted run never leaves a half folder that looks done; finished
folders are skipped on the next run and failures are collected, never fatal.
"""

from __future__ import annotations

import logging
import multiprocessing
import numbers
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .decode import output_size
from .jpeg import check_jpeg_quality

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv")
FRAME_NAME = "{:05d}.jpg"


class FrameExtractionError(RuntimeError):
    """A video that could not be turned into frames; the message names the path and the cause."""


def _encode_jpeg(rgb, quality: int) -> bytes:
    try:
        import simplejpeg

        return simplejpeg.encode_jpeg(rgb, quality=quality, colorspace="RGB")
    except ImportError:
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
        return buf.getvalue()


def check_options(short_side: int | None, quality: int) -> None:
    """Raise ``ValueError`` naming the value unless ``short_side`` is None or >= 0 pixels (0 and None keep
    the size) and ``quality`` is a JPEG quality in 1..100."""
    if short_side is not None and (
        isinstance(short_side, bool) or not isinstance(short_side, numbers.Integral) or short_side < 0
    ):
        raise ValueError(
            f"short_side must be a number of pixels >= 0 (0 or None keeps the size), got {short_side!r}"
        )
    check_jpeg_quality(quality)


def remove_stale_partials(out_dir: str | os.PathLike) -> list[str]:
    """Delete ``<out_dir>.partial-<pid>`` folders that a killed extraction left behind (their process no
    longer runs; POSIX only); returns the paths removed. Folders of running processes are left alone."""
    parent, name = os.path.split(os.fspath(out_dir).rstrip(os.sep))
    return _remove_stale_partials_in(parent, name)


def _remove_stale_partials_in(parent: str, name: str | None = None) -> list[str]:
    """:func:`remove_stale_partials` for ``name``'s folders in ``parent``, or for every ``<name>.partial-<pid>``
    there when ``name`` is None (one listing of the folder for a whole tree of videos)."""
    if os.name != "posix":
        return []
    try:
        entries = os.listdir(parent or ".")
    except OSError:
        return []
    removed = []
    for entry in entries:
        stem, sep, pid = entry.rpartition(".partial-")
        if (
            sep
            and (name is None or stem == name)
            and pid.isdigit()
            and int(pid) != os.getpid()
            and not _process_runs(int(pid))
        ):
            path = os.path.join(parent, entry)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _process_runs(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such pid at all)
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def extract_frames(
    video_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    short_side: int | None = 256,
    quality: int = 90,
    sweep: bool = True,
) -> int:
    """Write every frame of ``video_path`` as ``out_dir/{:05d}.jpg`` (0-based); returns the frame count.

    Frames are resized (swscale, aspect kept) so the shorter side is ``short_side`` (None/0 keeps the
    size; negative raises ``ValueError``, as does a ``quality`` outside 1..100). A decode error after some frames keeps those frames with a WARNING (truncated files); no
    frame at all raises :class:`FrameExtractionError`. The folder appears atomically when complete.
    ``sweep`` first removes this folder's ``.partial-<pid>`` leftovers of killed extractions
    (:func:`remove_stale_partials`; :func:`extract_frames_tree` sweeps each parent folder once instead).
    """
    import av

    video_path, out_dir = os.fspath(video_path), os.fspath(out_dir)
    check_options(short_side, quality)
    if not os.path.isfile(video_path) or os.path.getsize(video_path) == 0:
        raise FrameExtractionError(f"{video_path}: missing or empty file")
    tmp = f"{out_dir.rstrip(os.sep)}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    if sweep:
        remove_stale_partials(out_dir)
    os.makedirs(tmp)
    count = 0
    try:
        try:
            with av.open(video_path) as container:
                if not container.streams.video:
                    raise FrameExtractionError(f"{video_path}: no video stream in the container")
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                size = None
                for frame in container.decode(stream):
                    if size is None:
                        size = output_size(frame.width, frame.height, short_side)
                    rgb = frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
                    with open(os.path.join(tmp, FRAME_NAME.format(count)), "wb") as f:
                        f.write(_encode_jpeg(rgb, quality))
                    count += 1
        except (av.error.FFmpegError, ValueError, OSError) as e:
            if count == 0:
                raise FrameExtractionError(
                    f"{video_path}: not a decodable video ({type(e).__name__}: {e})"
                ) from None
            logger.warning("%s: decoding stopped after %d frames (%s); keeping them", video_path, count, e)
        if count == 0:
            raise FrameExtractionError(f"{video_path}: no frame could be decoded")
        shutil.rmtree(out_dir, ignore_errors=True)
        os.makedirs(os.path.dirname(os.path.abspath(out_dir)), exist_ok=True)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return count


@dataclass
class ExtractionReport:
    """What a tree extraction did: relative video paths extracted, skipped (already done) and failed."""

    extracted: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: counts of extracted, skipped and failed videos."""
        frames = sum(self.extracted.values())
        return (
            f"extracted {len(self.extracted)} videos ({frames} frames), skipped {len(self.skipped)} done, "
            f"failed {len(self.failed)}"
        )


def find_videos(video_dir: str | os.PathLike, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[str]:
    """Video files under ``video_dir`` (recursive), as sorted paths relative to it."""
    root = Path(video_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"video folder {root} not found")
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix.lower() in exts
    )


def _is_done(folder: str) -> bool:
    return os.path.isdir(folder) and os.path.isfile(os.path.join(folder, FRAME_NAME.format(0)))


def _job(args: tuple[str, str, int | None, int]) -> tuple[int | None, str | None]:
    src, dst, short_side, quality = args
    try:  # (the tree swept the parent folders already)
        return extract_frames(src, dst, short_side, quality, sweep=False), None
    except FrameExtractionError as e:
        return None, str(e)
    except Exception as e:  # a worker boundary: one bad video must never stop the others
        return None, f"{src}: {type(e).__name__}: {e}"


def extract_frames_tree(
    video_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    short_side: int | None = 256,
    quality: int = 90,
    workers: int = 1,
    extensions: Sequence[str] = VIDEO_EXTENSIONS,
) -> ExtractionReport:
    """Extract every video under ``video_dir`` into ``out_dir/<relative path without extension>/``.

    Finished folders are skipped; a failing video is logged at WARNING and listed in the report while
    the others go on. ``workers > 1`` uses that many processes. Bad options (``short_side < 0``, ``quality``
    outside 1..100, ``workers < 1``) raise ``ValueError`` before any video is touched.
    """
    check_options(short_side, quality)
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    report = ExtractionReport()
    todo = []
    for rel in find_videos(video_dir, extensions):
        dst = os.path.join(os.fspath(out_dir), os.path.splitext(rel)[0])
        if _is_done(dst):
            report.skipped.append(rel)
        else:
            todo.append((rel, (os.path.join(os.fspath(video_dir), rel), dst, short_side, quality)))
    if report.skipped:
        logger.info("skipping %d videos whose frame folders exist", len(report.skipped))
    for parent in sorted({os.path.dirname(dst) for _, (_, dst, _, _) in todo}):
        _remove_stale_partials_in(parent)  # one listing per folder, not one per video in it
    bar = tqdm(total=len(todo), desc="extracting frames", unit="video")
    if workers > 1 and len(todo) > 1:
        # spawned, not forked, workers: a fork copies the locks this process's threads hold (tqdm's monitor,
        # the pool's own manager thread, FFmpeg's), and on a 16-core machine (Python 3.12, PyAV 19) forked
        # workers hung for good
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            results = zip(todo, pool.map(_job, [a for _, a in todo], chunksize=1), strict=True)
            _collect(results, report, bar)
    else:
        _collect(((t, _job(t[1])) for t in todo), report, bar)
    bar.close()
    return report


def _collect(results, report: ExtractionReport, bar: tqdm) -> None:
    for (rel, _), (count, error) in results:
        if error is None:
            report.extracted[rel] = int(count)
        else:
            report.failed[rel] = error
            logger.warning("failed: %s", error)
        bar.update(1)
