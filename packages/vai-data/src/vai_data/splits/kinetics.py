"""Kinetics-400 split generator from the official ``train.csv``/``validate.csv``/``test.csv``.

The csv columns are ``label,youtube_id,time_start,time_end,split``. Downloaded clips are found under
the media root (flat or up to two folder levels down, e.g. ``<split>/<class>/``) by the stem
``<youtube_id>_<time_start:06d>_<time_end:06d>`` or the bare ``<youtube_id>``; clips that failed to
download are skipped with a count. A name found more than once (the CVDF mirror's
``replacement/replacement_for_corrupted_k400/`` holds fixed copies of corrupted ``train/`` clips) takes
the copy under ``replacement_for_corrupted_k400``, else the first in sorted path order, with one WARNING.
Labels are indices of the sorted train class names and ``video_id`` the index of the clip in the sorted
list of every listed stem.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from ..split_file import SplitRow
from .common import (
    Clip,
    MediaSource,
    add_media_arguments,
    annotation_error,
    clips_to_rows,
    parse_int,
    read_csv_header,
    read_csv_rows,
    sorted_ids,
    warn_not_found,
    write_outputs,
)

logger = logging.getLogger(__name__)
CSV_COLUMNS = ("label", "youtube_id", "time_start", "time_end")
CLIP_DIR_RE = re.compile(r"_\d{6}_\d{6}$")  # a clip's frame folder: never descended into
REPLACEMENT_DIR = "replacement_for_corrupted_k400"  # CVDF mirror: k400/replacement/<this>/<clip>.mp4
SPLIT_FILES = {"train": ("train.csv",), "val": ("validate.csv", "val.csv"), "test": ("test.csv",)}


def kinetics_stem(youtube_id: str, time_start: int, time_end: int) -> str:
    """The file stem the official downloaders give a clip: ``<id>_<start:06d>_<end:06d>``."""
    return f"{youtube_id}_{time_start:06d}_{time_end:06d}"


def index_media(root: str | os.PathLike, want_dirs: bool) -> dict[str, list[str]]:
    """Map file stems (or folder names) up to ``<split>/<class>/`` deep under ``root`` to their relative
    paths, sorted, the preferred copy first (:func:`copy_preference`); folders are visited in sorted order."""
    found: dict[str, list[str]] = {}

    def visit(folder: str, rel: str, depth: int) -> None:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            r = f"{rel}/{e.name}" if rel else e.name
            if e.is_dir():
                is_clip = CLIP_DIR_RE.search(e.name) is not None
                if want_dirs:
                    found.setdefault(e.name, []).append(r)
                if depth < 3 and not is_clip:
                    visit(e.path, r, depth + 1)
            elif not want_dirs and e.is_file():
                found.setdefault(os.path.splitext(e.name)[0], []).append(r)

    if not os.path.isdir(root):
        raise FileNotFoundError(f"media root {root} is not a folder")
    visit(os.fspath(root), "", 1)
    return {name: sorted(paths, key=copy_preference) for name, paths in found.items()}


def copy_preference(rel: str) -> tuple[bool, str]:
    """Sort key of the copies of one clip: one under a ``replacement_for_corrupted_k400`` folder (the CVDF
    mirror's fixed copies of corrupted train videos) first, then the first in sorted path order."""
    return REPLACEMENT_DIR not in rel.split("/")[:-1], rel


def read_kinetics_csv(path: str | os.PathLike) -> list[tuple[str, str, int, int, int]]:
    """Rows ``(label_name, youtube_id, time_start, time_end, line_number)``; a file without labels raises."""
    out = []
    for lineno, row in read_csv_rows(path, CSV_COLUMNS):
        if not row["youtube_id"]:
            raise annotation_error(path, lineno, "empty youtube_id")
        start = parse_int(row["time_start"], path, lineno, "time_start")
        end = parse_int(row["time_end"], path, lineno, "time_end")
        out.append((row["label"], row["youtube_id"], start, end, lineno))
    return out


def kinetics400_splits(
    annotation_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    mode: str = "video",
    videos_root: str | None = None,
    frames_root: str | None = None,
) -> dict[str, Path]:
    """Write ``train.csv``/``val.csv`` (and ``test.csv`` when its csv has labels) for Kinetics-400."""
    d = Path(annotation_dir)
    lists: dict[str, list[tuple[str, str, int, int, int]]] = {}
    files: dict[str, Path] = {}
    for split, names in SPLIT_FILES.items():
        path = next((d / n for n in names if (d / n).is_file()), None)
        if path is None:
            if split == "train":
                raise FileNotFoundError(
                    f"Kinetics train.csv not found in {d}; pass the folder of the official csvs"
                )
            logger.warning("no %s in %s; %s split not written", " or ".join(names), d, split)
            continue
        if split == "test" and "label" not in read_csv_header(path):
            logger.warning("%s has no label column (unlabelled test set); test split not written", path)
            continue
        lists[split], files[split] = read_kinetics_csv(path), path
    classes = sorted({label for label, *_ in lists["train"]})
    label_of = {c: i for i, c in enumerate(classes)}
    for split, entries in lists.items():  # every annotation error before any media is read
        for label, ytid, _, _, lineno in entries:
            if label not in label_of:
                raise annotation_error(
                    files[split],
                    lineno,
                    f"clip {ytid} has class {label!r}, absent from {files['train'].name}",
                )
    ids = sorted_ids(kinetics_stem(y, s, e) for rows in lists.values() for _, y, s, e, _ in rows)
    root = frames_root if mode in ("frames", "gulp") and frames_root else videos_root
    if root is None:
        raise ValueError(f"{mode} mode needs --videos-root{'' if mode == 'video' else ' or --frames-root'}")
    index = index_media(root, want_dirs=root == frames_root)
    media = MediaSource(videos_root, frames_root)
    what = "frame folder" if root == frames_root else "video"
    duplicated: dict[str, list[str]] = {}
    rows: dict[str, list[SplitRow]] = {}
    for split, entries in lists.items():
        clips, missing = [], []
        for label, ytid, s, e, _ in entries:
            stem = kinetics_stem(ytid, s, e)
            copies = index.get(stem) or index.get(ytid)
            if copies is None:
                missing.append(f"no {what} named {stem} or {ytid} under {root}")
                continue
            if len(copies) > 1:
                duplicated[stem] = copies
            rel = copies[0]
            name = rel if root == frames_root else os.path.splitext(rel)[0]
            clips.append(Clip(name, ids[stem], label_of[label], video_file=rel))
        warn_not_found(f"Kinetics {split}", missing, len(entries))
        rows[split] = clips_to_rows(clips, mode, media, desc=f"Kinetics {split}", not_found=missing)
    _warn_duplicates(duplicated, root)
    return write_outputs(out_dir, rows, mode, 0, classes)


def _warn_duplicates(duplicated: dict[str, list[str]], root: str) -> None:
    """One WARNING when listed clips exist more than once under ``root``, with an example of the choice."""
    if duplicated:
        stem, copies = next(iter(sorted(duplicated.items())))
        logger.warning(
            "Kinetics: %d listed clip name(s) exist more than once under %s; each uses its copy under %s/ "
            "when there is one, else the first in sorted path order (e.g. %s: %s, not %s)",
            len(duplicated),
            root,
            REPLACEMENT_DIR,
            stem,
            copies[0],
            ", ".join(copies[1:]),
        )


def add_cli(sub) -> None:
    """Register ``vai-data splits kinetics400``."""
    p = sub.add_parser("kinetics400", help="Kinetics-400 from the official train/validate/test csv files")
    p.add_argument("annotation_dir", help="folder with train.csv, validate.csv (and test.csv)")
    add_media_arguments(p, ("video", "frames"), "video")
    p.set_defaults(
        handler=lambda a: kinetics400_splits(
            a.annotation_dir, a.out_dir, a.mode, a.videos_root, a.frames_root
        )
    )
