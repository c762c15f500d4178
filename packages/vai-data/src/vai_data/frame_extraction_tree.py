"""Whole-tree frame extraction: find the videos under a folder and extract each (in worker pools when
asked) with :func:`vai_data.frame_extraction.extract_frames`, reporting what was extracted, skipped and failed.
"""

from __future__ import annotations

import logging
import multiprocessing
import numbers
import os
import posixpath
import shutil
import signal
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from . import frame_extraction as _single
from .frame_extraction import (
    FRAME_FILE,
    FRAME_NAME,
    VIDEO_EXTENSIONS,
    FrameExtractionError,
    _check_local,
    check_options,
    extract_frames,
)
from .partial_folders import _remove_stale_partials_in, videos_of_dead_workers

# (the name these messages had before the tree part moved out of vai_data.frame_extraction)
logger = logging.getLogger("vai_data.frame_extraction")


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
    if _single._partial_in_progress is not None:  # (set by extract_frames in this worker)
        shutil.rmtree(_single._partial_in_progress, ignore_errors=True)
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
