"""Shared machinery of the split generators: annotation parsing errors, media probing and CSV writing.

Every dataset module turns its official annotation files into :class:`Clip` records; this module turns
clips into upstream-format :class:`~vai_data.split_file.SplitRow` lines for the chosen storage mode,
probing videos (PyAV) or frame folders for frame counts and sizes where the format needs them.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..gulp import open_gulp_directory
from ..split_file import SplitRow, read_split_file, write_split_file
from .annotations import (  # noqa: F401 (the generators import these from here too)
    AnnotationError,
    annotation_error,
    first_existing,
    parse_int,
    read_annotation_text,
    read_csv_header,
    read_csv_rows,
    read_json,
    read_text_lines,
    require_file,
)
from .media_probe import MediaInfo, escape_braces, probe_frame_folder, probe_video_info

logger = logging.getLogger(__name__)
PROGRESS_MIN_ITEMS = 100  # scans over at least this many clips/classes show a tqdm progress bar (stderr)

MODES = ("video", "frames", "gulp", "image")
MAX_SKIP_WARNINGS = 20  # per split; the total count is always logged


@dataclass(frozen=True)
class Clip:
    """One labelled clip read from the annotations, before the media is probed.

    ``name`` is the media id relative to the data root without extension (``brush_hair/April_09_x``):
    the frame folder in frames mode and the gulp key in gulp mode. ``video_file`` is the video path
    relative to the videos root (with extension). ``start``/``end`` are an annotation-given inclusive
    frame range (EPIC-Kitchens) used instead of probing, with ``pattern`` its frames-mode file pattern.
    """

    name: str
    video_id: int
    label: int | tuple[int, ...]
    video_file: str | None = None
    start: int | None = None
    end: int | None = None
    pattern: str | None = None


def normalise_video_ext(ext: str | None) -> str | None:
    """``--video-ext`` without its leading dot (``mp4`` and ``.mp4`` both give ``mp4``); an empty one raises."""
    if ext is None:
        return None
    bare = ext.strip().lstrip(".")
    if not bare or "/" in bare or "\\" in bare:
        raise ValueError(f"--video-ext {ext!r} is not a file extension; pass e.g. mp4 or .mp4")
    return bare


@dataclass
class MediaSource:
    """Where the media lives: ``videos_root`` (probed with PyAV), ``frames_root`` (files counted) or
    ``gulp_root`` (a GulpIO2 directory keyed by the clip name; its frame counts are read from the meta).
    ``video_ext`` (with or without its dot) names a clip's video ``<name>.<ext>`` when the clip has no
    ``video_file``."""

    videos_root: str | None = None
    frames_root: str | None = None
    video_ext: str | None = None
    gulp_root: str | None = None

    def __post_init__(self) -> None:
        self.video_ext = normalise_video_ext(self.video_ext)

    def video_path(self, clip: Clip) -> str:
        """The clip's video path relative to ``videos_root``."""
        if clip.video_file is not None:
            return clip.video_file
        if self.video_ext is None:
            raise ValueError(f"clip {clip.name}: no video file name known; pass --video-ext")
        return f"{clip.name}.{self.video_ext}"

    def hint(self, mode: str) -> str:
        """The option(s) to check when no listed clip's media is found in ``mode``."""
        ext = " / --video-ext" if self.video_ext else ""
        if mode == "video":
            return "--videos-root" + ext
        if self.gulp_root:
            return "--gulp-root"
        return "--frames-root" if self.frames_root else "--videos-root" + ext


def check_media_roots(mode: str, media: MediaSource, need_probe: bool = True) -> None:
    """Raise one line when ``mode`` lacks the media root it needs or a given root is not a folder."""
    if mode not in ("video", "frames", "gulp"):
        raise ValueError(f"unknown mode {mode!r}; choose video, frames or gulp")
    if mode == "video" and not media.videos_root:
        raise ValueError("video mode needs --videos-root to read each video's frame count, width and height")
    if media.gulp_root and mode != "gulp":
        raise ValueError("--gulp-root only counts frames for --mode gulp")
    if (
        need_probe
        and mode in ("frames", "gulp")
        and not (media.frames_root or media.videos_root or media.gulp_root)
    ):
        raise ValueError(
            f"{mode} mode needs --frames-root (or --videos-root/--gulp-root) to count each clip's frames"
        )
    for flag, root in (
        ("--videos-root", media.videos_root),
        ("--frames-root", media.frames_root),
        ("--gulp-root", media.gulp_root),
    ):
        if root and not os.path.isdir(root):
            raise FileNotFoundError(f"{flag} {root} is not a folder")


def warn_not_found(desc: str, not_found: Sequence[str], listed: int) -> None:
    """One WARNING for the listed clips a generator found no media for (``not_found``: one line each)."""
    if not_found:
        logger.warning(
            "%s: %d of %d listed clips not found (e.g. %s)", desc, len(not_found), listed, not_found[0]
        )


class SplitRows(list):
    """A split's rows; ``no_media`` holds one line when the split listed clips but none had usable media
    (a wrong media root or extension, or a split whose videos were not downloaded): :func:`write_outputs`
    then leaves that split out, or stops the run when no split has any row."""

    no_media: str | None = None


def clips_to_rows(
    clips: Sequence[Clip],
    mode: str,
    media: MediaSource,
    desc: str = "probing",
    not_found: Sequence[str] = (),
) -> SplitRows:
    """Turn clips into split rows for ``mode``, probing media where the format needs it.

    Clips whose media is missing or unreadable are skipped with one WARNING each (official lists
    often name videos that failed to download); the count is logged at the end. ``not_found`` names the
    listed clips the caller already found no media for (and warned about, :func:`warn_not_found`).
    When the split lists clips but none of them has usable media, the rows carry ``no_media``: one line
    naming the split, the count, the first missing path and the option to check.
    """
    need_probe = mode == "video" or any(c.start is None for c in clips)
    check_media_roots(mode, media, need_probe)
    rows = SplitRows()
    skipped = 0
    first_error = None
    bar_off = not need_probe or len(clips) < PROGRESS_MIN_ITEMS
    for clip in tqdm(clips, desc=desc, unit="clip", disable=bar_off):
        try:
            rows.append(_clip_to_row(clip, mode, media))
        except (ValueError, OSError) as e:
            skipped += 1
            first_error = first_error or str(e)
            if skipped <= MAX_SKIP_WARNINGS:
                logger.warning("skipping %s: %s", clip.name, e)
            elif skipped == MAX_SKIP_WARNINGS + 1:
                logger.warning("more clips are missing or unreadable; only the total is reported below")
    listed = len(clips) + len(not_found)
    if listed and not rows:
        first = not_found[0] if not_found else first_error
        rows.no_media = (
            f"{desc}: none of the {listed} listed clips has usable media (first: {first}); "
            f"check {media.hint(mode)}"
        )
        return rows
    if skipped:
        logger.warning(
            "%s: skipped %d of %d clips whose media is missing or unreadable", desc, skipped, len(clips)
        )
    return rows


def _clip_to_row(clip: Clip, mode: str, media: MediaSource) -> SplitRow:
    if mode == "video":
        rel = media.video_path(clip)
        path = os.path.join(media.videos_root or "", rel)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"video {path} not found")
        info = probe_video_info(path)
        return SplitRow(rel, clip.video_id, clip.label, 0, info.num_frames - 1, info.width, info.height)
    if clip.start is not None and clip.end is not None:
        if mode == "gulp":  # a gulp stores only the segment's frames
            return SplitRow(clip.name, clip.video_id, clip.label, 0, clip.end - clip.start)
        pattern = clip.pattern if clip.pattern is not None else escape_braces(clip.name) + "/{:05d}.jpg"
        return SplitRow(pattern, clip.video_id, clip.label, clip.start, clip.end)
    info = _probe_clip(clip, media)
    if mode == "gulp":
        return SplitRow(clip.name, clip.video_id, clip.label, 0, info.num_frames - 1)
    pattern = info.pattern or "{:05d}.jpg"
    rel = escape_braces(clip.name) + "/" + pattern
    return SplitRow(rel, clip.video_id, clip.label, info.first, info.first + info.num_frames - 1)


def _probe_clip(clip: Clip, media: MediaSource) -> MediaInfo:
    if media.gulp_root:
        gulp = open_gulp_directory(media.gulp_root)
        if clip.name not in gulp:
            raise FileNotFoundError(f"gulp key {clip.name} not in {media.gulp_root}")
        return MediaInfo(num_frames=gulp.num_frames(clip.name))
    if media.frames_root:
        folder = os.path.join(media.frames_root, clip.name)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"frame folder {folder} not found")
        return probe_frame_folder(folder)
    path = os.path.join(media.videos_root or "", media.video_path(clip))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"video {path} not found")
    info = probe_video_info(path)
    return MediaInfo(num_frames=info.num_frames, first=0, width=info.width, height=info.height)


def write_outputs(
    out_dir: str | os.PathLike,
    splits: dict[str, list[SplitRow]],
    fmt: str,
    num_classes: int | dict[str, int] = 0,
    class_names: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Write ``<out_dir>/<split>.csv`` for each split (and ``classes.txt``); returns the written paths.

    A split whose listed clips all lacked media (:class:`SplitRows` ``no_media``) is not written, with one
    WARNING, and an existing file of it is left alone (e.g. Kinetics' test list when only train and val
    were downloaded); when no split has a row, one ``FileNotFoundError`` line stops the run before anything
    is written."""
    out = check_out_dir(out_dir)
    empty = {split: rows.no_media for split, rows in splits.items() if getattr(rows, "no_media", None)}
    if empty and len(empty) == len(splits):
        raise FileNotFoundError(f"{next(iter(empty.values()))}. Nothing was written")
    for split, reason in empty.items():
        logger.warning("%s; %s.csv is not written", reason, split)
    splits = {split: rows for split, rows in splits.items() if split not in empty}
    written: dict[str, Path] = {}
    for split, rows in splits.items():
        bad = next((r.path for r in rows if any(c.isspace() for c in r.path)), None)
        if bad is not None:
            raise ValueError(
                f"{split}: path {bad!r} contains whitespace, which the space-separated split format cannot "
                "hold; rename those folders/files (e.g. spaces to underscores) and run again"
            )
    out.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        header = num_classes[split] if isinstance(num_classes, dict) else num_classes
        path = out / f"{split}.csv"
        write_split_file(path, rows, fmt=fmt, num_classes=header)
        logger.info("wrote %s (%d rows, %s format, header %d)", path, len(rows), fmt, header)
        written[split] = path
    if class_names is not None:
        path = out / "classes.txt"
        path.write_text("".join(f"{name}\n" for name in class_names), encoding="utf-8", newline="\n")
        written["classes"] = path
    return written


def check_out_dir(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` as a Path, or one line when it (or a folder above it) exists as a file."""
    out = Path(out_dir)
    for p in (out, *out.parents):
        if p.exists() and not p.is_dir():
            raise NotADirectoryError(
                f"-o/--out-dir {out}: {p} is a file, not a folder; pass a folder for the split files"
            )
    return out


def check_partial_probability(probability: float) -> None:
    """Raise one line unless ``probability`` (``--partial P``) is in (0, 1]."""
    if not 0 < probability <= 1:
        raise ValueError(f"partial probability must be in (0, 1], got {probability}")


def write_partial_splits(written: dict[str, Path], probability: float, seed: int = 12) -> dict[str, Path]:
    """Upstream's ``--partial`` of SSv1/SSv2/Diving48 (vai's own for the datasets whose upstream generator
    had none): next to each written split, ``<split>_partial.csv`` keeping a row when
    ``random() < probability`` (one ``random.Random(seed)`` stream over the splits in order, one draw per
    row). CATER's rule differs: see :func:`~vai_data.splits.cater.cater_partial_splits`. Upstream's EK-100
    ``train_partial.csv`` came from a fixed list of video ids, not from a draw."""
    check_partial_probability(probability)
    rng = random.Random(seed)
    return write_partial_files(written, lambda split, rows: [r for r in rows if rng.random() < probability])


def write_partial_files(
    written: dict[str, Path], select: Callable[[str, list[SplitRow]], list[SplitRow]]
) -> dict[str, Path]:
    """Write ``<split>_partial.csv`` next to each written split (``classes`` aside) with the rows
    ``select(split, rows)`` keeps, the splits taken in order; returns ``{"<split>_partial": path}``."""
    out: dict[str, Path] = {}
    for split, path in written.items():
        if split == "classes":
            continue
        sf = read_split_file(path)
        rows = select(split, sf.rows)
        dest = path.with_name(f"{split}_partial.csv")
        write_split_file(dest, rows, fmt=sf.fmt, num_classes=sf.num_classes)
        logger.info("wrote %s (%d of %d rows)", dest, len(rows), len(sf.rows))
        out[f"{split}_partial"] = dest
    return out


def sorted_ids(names: Iterable[str]) -> dict[str, int]:
    """Consistent integer ids: the index of each distinct name in sorted order."""
    return {name: i for i, name in enumerate(sorted(set(names)))}


def add_media_arguments(parser, modes: Sequence[str], default: str, video_ext: str | None = None) -> None:
    """The output folder, storage mode and media-root options of a generator that probes media."""
    parser.add_argument("-o", "--out-dir", required=True, help="folder to write <split>.csv and classes.txt")
    parser.add_argument(
        "--mode", choices=list(modes), default=default, help=f"split format (default {default})"
    )
    parser.add_argument("--videos-root", default=None, help="videos folder, probed with PyAV for frames/size")
    parser.add_argument("--frames-root", default=None, help="JPEG frame folders, counted for frame ranges")
    if "gulp" in modes:
        parser.add_argument(
            "--gulp-root", default=None, help="GulpIO2 directory whose meta gives gulp-mode counts"
        )
    if video_ext is not None:
        parser.add_argument(
            "--video-ext", default=video_ext, help=f"video file extension (default {video_ext})"
        )
