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
import multiprocessing
import numbers
import os
import posixpath
import re
import shutil
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

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


# the partial folder this process is writing, for a pool worker's SIGTERM handler (:func:`_init_worker`)
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

    Frames are resized (swscale, aspect kept) so the shorter side is ``short_side`` (None/0 keeps the
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


def _extension_set(extensions: str | Sequence[str]) -> set[str]:
    """Lower-case extensions with their dot; one string is one extension (``"mp4"`` or ``".mp4"``)."""
    if isinstance(extensions, (str, os.PathLike)):
        extensions = [os.fspath(extensions)]
    try:
        exts = list(extensions)
    except TypeError:
        exts = None
    if not exts or not all(isinstance(e, str) and e.strip(".") for e in exts):
        raise ValueError(
            f"extensions={extensions!r} must be a non-empty list of file extensions such as ['.mp4', '.avi'] "
            "(or one, as a string)"
        )
    return {e.lower() if e.startswith(".") else "." + e.lower() for e in exts}


def find_videos(
    video_dir: str | os.PathLike, extensions: str | Sequence[str] = VIDEO_EXTENSIONS
) -> list[str]:
    """Video files under ``video_dir`` (recursive), as sorted paths relative to it; ``extensions`` is a
    list of extensions (``".mp4"`` or ``"mp4"``) or one as a string."""
    exts = _extension_set(extensions)
    root = Path(video_dir)
    if not root.is_dir():
        if root.exists():
            raise NotADirectoryError(
                f"video folder {root} is a file, not a folder; give the folder holding the videos "
                "(extract_frames extracts a single video)"
            )
        raise FileNotFoundError(f"video folder {root} not found")
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix.lower() in exts
    )


def _check_collisions(videos: Sequence[str], out_dir: str | os.PathLike) -> None:
    """Raise a one-line ``ValueError`` naming two videos (relative paths, as :func:`find_videos` gives)
    whose frame folders under ``out_dir`` would be the same folder (``a.mp4``, ``a.mkv``) or one inside
    the other (``a.mp4`` -> ``a/``, ``a/x.mp4`` -> ``a/x/``)."""
    owner: dict[str, str] = {}
    for rel in videos:
        stem = posixpath.splitext(rel)[0]
        first = owner.setdefault(stem, rel)
        if first != rel:
            raise ValueError(
                f"videos {first} and {rel} would both be extracted to {os.path.join(os.fspath(out_dir), stem)}"
                " (rename one, or pick one kind with --ext)"
            )
    for stem, rel in owner.items():
        parent = posixpath.dirname(stem)
        while parent:
            if parent in owner:
                raise ValueError(
                    f"video {rel} would be extracted to {os.path.join(os.fspath(out_dir), stem)}, inside "
                    f"{os.path.join(os.fspath(out_dir), parent)}, the frame folder of video {owner[parent]} "
                    "(rename or move one of them)"
                )
            parent = posixpath.dirname(parent)


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


def _init_worker() -> None:
    """Pool workers: on SIGTERM remove the partial folder in progress, then exit. A pool whose worker died
    terminates the other workers; without this they would leave partial folders of dead processes too,
    and only the worker that really died (SIGKILL, a crash) is to be blamed for its video."""
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum, frame) -> None:
    if _partial_in_progress is not None:
        shutil.rmtree(_partial_in_progress, ignore_errors=True)
    os._exit(128 + signum)


WORKER_DIED = (
    "the worker process died while extracting it (killed, e.g. out of memory, or crashed in the decoder)"
)
MAX_UNEXPLAINED_BREAKS = 2  # pool breaks with no video to blame before the remaining videos are given up


def extract_frames_tree(
    video_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    short_side: int | None = 256,
    quality: int = 90,
    workers: int = 1,
    extensions: str | Sequence[str] = VIDEO_EXTENSIONS,
) -> ExtractionReport:
    """Extract every video under ``video_dir`` into ``out_dir/<relative path without extension>/``.

    Finished folders are skipped; a failing video is logged at WARNING and listed in the report while
    the others go on. ``workers > 1`` uses that many spawned processes; a worker that dies fails the video
    it was extracting (its leftover ``.partial-<host>-<pid>`` folder tells which) and the unfinished videos go on
    in a fresh pool. Bad options (``short_side`` outside 0..``MAX_SHORT_SIDE``, ``quality`` outside 1..100,
    ``workers < 1``, no ``extensions``; one string is one extension), folders that are not local, and videos
    whose frame folders would coincide or nest (:func:`_check_collisions`) raise ``ValueError`` before any
    video is touched; a ``video_dir`` that is missing or a file raises ``FileNotFoundError`` or
    ``NotADirectoryError``.
    """
    check_options(short_side, quality)
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    _check_local(video_dir, "video folder")
    _check_local(out_dir, "output folder")
    videos = find_videos(video_dir, extensions)
    _check_collisions(videos, out_dir)
    report = ExtractionReport()
    todo = []
    for rel in videos:
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
        _extract_in_pools(dict(todo), workers, report, bar)
    else:
        for rel, args in todo:
            _record(report, bar, rel, *_job(args))
    bar.close()
    return report


def _record(report: ExtractionReport, bar: tqdm, rel: str, count: int | None, error: str | None) -> None:
    if error is None:
        report.extracted[rel] = int(count)
    else:
        report.failed[rel] = error
        logger.warning("failed: %s", error)
    bar.update(1)


def _extract_in_pools(pending: dict[str, tuple], workers: int, report: ExtractionReport, bar: tqdm) -> None:
    """Run the jobs of ``pending`` (relative path -> job arguments) in pools of spawned workers. When a
    worker dies the pool breaks: the video(s) whose worker died fail, the others unfinished go to a fresh
    pool; after :data:`MAX_UNEXPLAINED_BREAKS` breaks with no video to blame the rest fail."""
    unexplained = 0
    while pending and _run_pool(pending, workers, report, bar):
        culprits = videos_of_dead_workers(pending)
        for rel in culprits:
            _record(report, bar, rel, None, f"{pending.pop(rel)[0]}: {WORKER_DIED}")
        for rel, (_, dst, _, _) in list(pending.items()):
            if _is_done(dst):  # published just before the pool broke: the result was lost, not the frames
                _record(report, bar, rel, len([n for n in os.listdir(dst) if FRAME_FILE.fullmatch(n)]), None)
                del pending[rel]
        if not culprits:
            unexplained += 1
            if unexplained >= MAX_UNEXPLAINED_BREAKS:
                for rel, (src, *_) in pending.items():
                    _record(
                        report,
                        bar,
                        rel,
                        None,
                        f"{src}: not extracted: worker processes died {unexplained} times without a video "
                        "to blame (killed from outside, or unable to start); run again, or with --workers 1",
                    )
                pending.clear()
        if pending:
            logger.warning(
                "a worker process died; going on with %d unfinished videos in a fresh pool", len(pending)
            )


def _run_pool(pending: dict[str, tuple], workers: int, report: ExtractionReport, bar: tqdm) -> bool:
    """Extract ``pending`` in one pool, removing and recording each video that finishes; returns True
    when the pool broke (a worker died) with videos left in ``pending``. A few jobs more than workers are
    queued at a time, so a break leaves the rest unsubmitted."""
    queue = iter(list(pending.items()))
    running: dict = {}
    broken = False
    # spawned, not forked, workers: a fork copies the locks this process's threads hold (tqdm's monitor,
    # the pool's own manager thread, FFmpeg's), and on a 16-core machine (Python 3.12, PyAV 19) forked
    # workers hung for good
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(pending)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
    )
    try:
        while True:
            while not broken and len(running) < 2 * workers:
                item = next(queue, None)
                if item is None:
                    break
                try:
                    running[pool.submit(_job, item[1])] = item[0]
                except BrokenProcessPool:
                    broken = True
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                rel = running.pop(future)
                try:
                    count, error = future.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                del pending[rel]
                _record(report, bar, rel, count, error)
    finally:  # (after a break this waits for the other workers to be terminated)
        pool.shutdown(wait=True, cancel_futures=True)
    return broken
