"""Shared machinery of the split generators: annotation parsing errors, media probing and CSV writing.

Every dataset module turns its official annotation files into :class:`Clip` records; this module turns
clips into upstream-format :class:`~vai_data.split_file.SplitRow` lines for the chosen storage mode,
probing videos (PyAV) or frame folders for frame counts and sizes where the format needs them.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..decode import probe_video
from ..errors import VideoDecodeError
from ..gulp import open_gulp_directory
from ..split_file import SplitRow, read_split_file, write_split_file

logger = logging.getLogger(__name__)
PROGRESS_MIN_ITEMS = 100  # scans over at least this many clips/classes show a tqdm progress bar (stderr)

MODES = ("video", "frames", "gulp", "image")
MAX_SKIP_WARNINGS = 20  # per split; the total count is always logged
FRAME_FILE_RE = re.compile(r"^(?P<prefix>.*?)(?P<digits>\d+)(?P<ext>\.(?:jpg|jpeg|png))$", re.IGNORECASE)


class AnnotationError(ValueError):
    """An official annotation file (or its line) that cannot be parsed; the message names file and line."""


def annotation_error(path: str | os.PathLike, line: int | None, message: str) -> AnnotationError:
    """Build the one-line error ``<file>:<line>: <message>`` for a malformed annotation."""
    where = f"{os.fspath(path)}:{line}" if line is not None else os.fspath(path)
    return AnnotationError(f"{where}: {message}")


def require_file(path: str | os.PathLike, what: str) -> Path:
    """Return ``path`` as a Path, or raise one clear line when the official file is missing."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"{what} not found at {p}; pass the path of the file from the official download"
        )
    return p


def first_existing(folder: str | os.PathLike, names: Sequence[str]) -> Path:
    """The first of ``names`` that exists in ``folder`` (the first name when none does, for the error)."""
    folder = Path(folder)
    return next((folder / n for n in names if (folder / n).is_file()), folder / names[0])


def read_text_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, stripped_line)`` for the non-blank lines of a text file (1-based numbers)."""
    with open(path, encoding="utf-8-sig") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.strip()
            if line:
                yield lineno, line


def read_csv_rows(
    path: str | os.PathLike, required: Sequence[str], delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row_dict)`` of a CSV with a header; checks the header has ``required`` columns."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise annotation_error(
                path, 1, f"empty file; expected a header with columns {', '.join(required)}"
            )
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            raise annotation_error(
                path,
                1,
                f"header lacks column(s) {', '.join(missing)}; expected columns {', '.join(required)}",
            )
        for values in reader:
            lineno = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise annotation_error(
                    path,
                    lineno,
                    f"{len(values)} fields but the header has {len(header)} ({','.join(header)})",
                )
            yield lineno, {k: v.strip() for k, v in zip(header, values, strict=True)}


def read_json(path: str | os.PathLike) -> object:
    """Load a JSON annotation file, naming the file and position on a syntax error."""
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise annotation_error(path, e.lineno, f"invalid JSON ({e.msg}, column {e.colno})") from None


def parse_int(text: str, path: str | os.PathLike, line: int | None, what: str) -> int:
    """``int(text)`` or an :class:`AnnotationError` naming the field."""
    try:
        return int(str(text).strip())
    except ValueError:
        raise annotation_error(path, line, f"{what} {text!r} is not an integer") from None


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


@dataclass(frozen=True)
class MediaInfo:
    """What a probe learned: frame count, first frame number, size and (frames) the file pattern."""

    num_frames: int
    first: int = 0
    width: int | None = None
    height: int | None = None
    pattern: str | None = None


def probe_video_info(path: str | os.PathLike) -> MediaInfo:
    """Frame count and size of a video from its container metadata (PyAV, no decoding)."""
    try:
        n, width, height = probe_video(os.fspath(path))
    except VideoDecodeError as e:
        raise ValueError(str(e)) from None
    if n <= 0 or not width or not height:
        raise ValueError(f"cannot decode {path}: no frames or zero size in the container")
    return MediaInfo(num_frames=n, first=0, width=width, height=height)


def probe_frame_folder(folder: str | os.PathLike) -> MediaInfo:
    """Count the numbered images of a frame folder; returns first number and a ``{:0Nd}`` pattern."""
    groups: Counter[tuple[str, int, str]] = Counter()
    numbers: dict[tuple[str, int, str], list[int]] = {}
    with os.scandir(folder) as it:
        for entry in it:
            m = FRAME_FILE_RE.match(entry.name)
            if m is None or not entry.is_file():
                continue
            key = (m["prefix"], len(m["digits"]), m["ext"])
            groups[key] += 1
            numbers.setdefault(key, []).append(int(m["digits"]))
    if not groups:
        raise ValueError(f"frame folder {folder} holds no numbered .jpg/.png files")
    key = groups.most_common(1)[0][0]
    prefix, width, ext = key
    nums = numbers[key]
    first, last = min(nums), max(nums)
    if last - first + 1 != len(nums):
        logger.warning("frame folder %s has gaps (%d files for %d..%d)", folder, len(nums), first, last)
    pattern = f"{_escape_braces(prefix)}{{:0{width}d}}{_escape_braces(ext)}"
    return MediaInfo(num_frames=last - first + 1, first=first, pattern=pattern)


def _escape_braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


@dataclass
class MediaSource:
    """Where the media lives: ``videos_root`` (probed with PyAV), ``frames_root`` (files counted) or
    ``gulp_root`` (a GulpIO2 directory keyed by the clip name; its frame counts are read from the meta)."""

    videos_root: str | None = None
    frames_root: str | None = None
    video_ext: str | None = None
    gulp_root: str | None = None

    def video_path(self, clip: Clip) -> str:
        """The clip's video path relative to ``videos_root``."""
        if clip.video_file is not None:
            return clip.video_file
        if self.video_ext is None:
            raise ValueError(f"clip {clip.name}: no video file name known; pass --video-ext")
        return clip.name + "." + self.video_ext.lstrip(".")


def clips_to_rows(
    clips: Sequence[Clip],
    mode: str,
    media: MediaSource,
    desc: str = "probing",
) -> list[SplitRow]:
    """Turn clips into split rows for ``mode``, probing media where the format needs it.

    Clips whose media is missing or unreadable are skipped with one WARNING each (official lists
    often name videos that failed to download); the count is logged at the end.
    """
    if mode not in ("video", "frames", "gulp"):
        raise ValueError(f"unknown mode {mode!r}; choose video, frames or gulp")
    if mode == "video" and not media.videos_root:
        raise ValueError("video mode needs --videos-root to read each video's frame count, width and height")
    rows: list[SplitRow] = []
    skipped = 0
    need_probe = mode == "video" or any(c.start is None for c in clips)
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
    bar_off = not need_probe or len(clips) < PROGRESS_MIN_ITEMS
    for clip in tqdm(clips, desc=desc, unit="clip", disable=bar_off):
        try:
            rows.append(_clip_to_row(clip, mode, media))
        except (ValueError, OSError) as e:
            skipped += 1
            if skipped <= MAX_SKIP_WARNINGS:
                logger.warning("skipping %s: %s", clip.name, e)
            elif skipped == MAX_SKIP_WARNINGS + 1:
                logger.warning("more clips are missing or unreadable; only the total is reported below")
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
        pattern = clip.pattern if clip.pattern is not None else _escape_braces(clip.name) + "/{:05d}.jpg"
        return SplitRow(pattern, clip.video_id, clip.label, clip.start, clip.end)
    info = _probe_clip(clip, media)
    if mode == "gulp":
        return SplitRow(clip.name, clip.video_id, clip.label, 0, info.num_frames - 1)
    pattern = info.pattern or "{:05d}.jpg"
    rel = _escape_braces(clip.name) + "/" + pattern
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
    """Write ``<out_dir>/<split>.csv`` for each split (and ``classes.txt``); returns the written paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for split, rows in splits.items():
        bad = next((r.path for r in rows if any(c.isspace() for c in r.path)), None)
        if bad is not None:
            raise ValueError(
                f"{split}: path {bad!r} contains whitespace, which the space-separated split format cannot "
                "hold; rename those folders/files (e.g. spaces to underscores) and run again"
            )
    for split, rows in splits.items():
        header = num_classes[split] if isinstance(num_classes, dict) else num_classes
        path = out / f"{split}.csv"
        write_split_file(path, rows, fmt=fmt, num_classes=header)
        logger.info("wrote %s (%d rows, %s format, header %d)", path, len(rows), fmt, header)
        written[split] = path
    if class_names is not None:
        path = out / "classes.txt"
        path.write_text("".join(f"{name}\n" for name in class_names), encoding="utf-8")
        written["classes"] = path
    return written


def write_partial_splits(written: dict[str, Path], probability: float, seed: int = 12) -> dict[str, Path]:
    """Upstream's ``--partial``: next to each written split, ``<split>_partial.csv`` keeping each row with
    ``probability`` (one ``random.Random(seed)`` stream over the splits in order)."""
    if not 0 < probability <= 1:
        raise ValueError(f"partial probability must be in (0, 1], got {probability}")
    rng = random.Random(seed)
    out: dict[str, Path] = {}
    for split, path in written.items():
        if split == "classes":
            continue
        sf = read_split_file(path)
        rows = [r for r in sf.rows if rng.random() < probability]
        dest = path.with_name(f"{split}_partial.csv")
        write_split_file(dest, rows, fmt=sf.fmt, num_classes=sf.num_classes)
        logger.info("wrote %s (%d of %d rows)", dest, len(rows), len(sf.rows))
        out[f"{split}_partial"] = dest
    return out


def sorted_ids(names: Iterable[str]) -> dict[str, int]:
    """Consistent integer ids: the index of each distinct name in sorted order."""
    return {name: i for i, name in enumerate(sorted(set(names)))}


def add_media_arguments(parser, modes: Sequence[str], default: str, video_ext: str | None = None) -> None:
    """The options every generator shares: output folder, storage mode and media roots."""
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
