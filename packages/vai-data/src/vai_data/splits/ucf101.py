"""UCF-101 split generator from the official ``ucfTrainTestlist`` folder (splits 1-3).

``classInd.txt`` maps ``<1-based index> <ClassName>`` (label = index - 1); ``trainlist0k.txt`` lines are
``<Class>/<clip>.avi <index>``, ``testlist0k.txt`` lines ``<Class>/<clip>.avi`` (label from the folder part,
matched to ``classInd.txt`` case-insensitively; the official files agree on ``HandstandPushups``, only the
clip file names spell ``v_HandStandPushups_...``).

``video_id`` is upstream's (``get_unique_video_ids_from_videos(root, search_dirs=True)`` of
video_datasets_api over the frames folder): the folders under the media root are numbered in the order of
a sorted ``os.walk`` - first every folder directly under the root (the class folders: 0..100), then the
folders inside the first class folder (its clips), then inside each of those (usually none), then the
next class folder's, and so on - and a clip's id is its folder's number. The ids therefore come from the
folders on disk, not from the lists: :func:`ucf101_video_ids`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..frame_extraction import VIDEO_EXTENSIONS
from ..gulp import open_gulp_directory
from ..split_file import SplitRow
from .common import (
    Clip,
    MediaSource,
    add_media_arguments,
    annotation_error,
    check_media_roots,
    clips_to_rows,
    parse_int,
    read_text_lines,
    require_file,
    warn_not_found,
    write_outputs,
)


def read_class_index(path: str | os.PathLike) -> list[str]:
    """Parse ``classInd.txt`` into class names ordered by label (index - 1)."""
    path = require_file(path, "UCF-101 classInd.txt")
    entries: dict[int, str] = {}
    for lineno, line in read_text_lines(path):
        parts = line.split()
        if len(parts) != 2:
            raise annotation_error(path, lineno, f"expected '<index> <ClassName>', got {line!r}")
        idx = parse_int(parts[0], path, lineno, "class index")
        entries[idx - 1] = parts[1]
    if sorted(entries) != list(range(len(entries))):
        raise annotation_error(path, None, "class indices are not 1..N without gaps")
    return [entries[i] for i in range(len(entries))]


def _read_list(path: Path, classes_lower: dict[str, int], with_label: bool) -> list[tuple[str, int]]:
    out = []
    for lineno, line in read_text_lines(path):
        parts = line.split()
        if len(parts) != (2 if with_label else 1) or "/" not in parts[0]:
            form = "'<Class>/<clip>.avi <index>'" if with_label else "'<Class>/<clip>.avi'"
            raise annotation_error(path, lineno, f"expected {form}, got {line!r}")
        folder = parts[0].split("/")[0].lower()
        if folder not in classes_lower:
            raise annotation_error(path, lineno, f"class folder {folder!r} is not in classInd.txt")
        label = classes_lower[folder]
        if with_label and parse_int(parts[1], path, lineno, "class index") - 1 != label:
            raise annotation_error(
                path, lineno, f"index {parts[1]} disagrees with the class folder {folder!r}"
            )
        out.append((parts[0], label))
    return out


def upstream_folder_ids(folders: set[str]) -> dict[str, int]:
    """Number relative folder paths (``a/b``, every parent included) as upstream's
    ``get_unique_video_ids_from_videos(root, search_dirs=True)`` does over a tree holding them: a
    top-down ``os.walk`` with sorted folder names that numbers all the folders of a parent in turn
    before descending into the first of them."""
    children: dict[str, list[str]] = {}
    for folder in folders:
        parent, _, name = folder.rpartition("/")
        children.setdefault(parent, []).append(name)
    ids: dict[str, int] = {}
    pending = [""]  # depth first, a parent's folders numbered together when it is visited
    while pending:
        parent = pending.pop()
        paths = [f"{parent}/{n}" if parent else n for n in sorted(children.get(parent, ()))]
        for path in paths:
            ids[path] = len(ids)
        pending.extend(reversed(paths))
    return ids


def _disk_folders(root: str, with_videos: bool) -> set[str]:
    """Relative paths of the folders under ``root`` (symbolic links listed but not entered, as ``os.walk``),
    and with ``with_videos`` each video file's path without extension (the folder extract-frames makes)."""
    out: set[str] = set()

    def visit(folder: str, rel: str) -> None:
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:  # os.walk skips a folder it cannot list
            return
        for e in entries:
            r = f"{rel}/{e.name}" if rel else e.name
            if e.is_dir():
                out.add(r)
                if not e.is_symlink():
                    visit(e.path, r)
            elif with_videos and os.path.splitext(e.name)[1].lower() in VIDEO_EXTENSIONS and e.is_file():
                out.add(os.path.splitext(r)[0])

    visit(root, "")
    return out


def ucf101_video_ids(media: MediaSource) -> tuple[dict[str, int], str]:
    """``{<Class>/<clip>: video_id}`` from the media folders, and a description of where they come from.

    ``--frames-root`` (upstream's input) when given: every folder numbered by :func:`upstream_folder_ids`;
    else ``--videos-root``, each video counting as the frame folder extract-frames would make of it;
    else the keys of ``--gulp-root``, each ``<Class>/<clip>`` key counting as a frame folder.
    """
    if media.frames_root:
        folders, source = _disk_folders(media.frames_root, False), f"--frames-root {media.frames_root}"
    elif media.videos_root:
        folders, source = _disk_folders(media.videos_root, True), f"--videos-root {media.videos_root}"
    else:
        keys = open_gulp_directory(media.gulp_root or "").index
        folders = {key.rsplit("/", i)[0] for key in keys for i in range(key.count("/") + 1)}
        source = f"--gulp-root {media.gulp_root}"
    return upstream_folder_ids(folders), source


def ucf101_splits(
    list_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    mode: str = "frames",
    splits: Sequence[int] = (1, 2, 3),
    videos_root: str | None = None,
    frames_root: str | None = None,
    gulp_root: str | None = None,
) -> dict[str, Path]:
    """Write ``train<k>.csv`` and ``test<k>.csv`` for each requested split; returns the written paths."""
    list_dir = Path(list_dir)
    classes = read_class_index(list_dir / "classInd.txt")
    lower = {c.lower(): i for i, c in enumerate(classes)}
    lists: dict[str, list[tuple[str, int]]] = {}
    for k in splits:
        lists[f"train{k}"] = _read_list(
            require_file(list_dir / f"trainlist0{k}.txt", "UCF-101 trainlist"), lower, True
        )
        lists[f"test{k}"] = _read_list(
            require_file(list_dir / f"testlist0{k}.txt", "UCF-101 testlist"), lower, False
        )
    media = MediaSource(videos_root, frames_root, gulp_root=gulp_root)
    check_media_roots(mode, media)
    ids, source = ucf101_video_ids(media)
    out_rows: dict[str, list[SplitRow]] = {}
    for name, rows in lists.items():
        clips, missing = [], []
        for f, label in rows:
            stem = os.path.splitext(f)[0]
            if stem in ids:
                clips.append(Clip(stem, ids[stem], label, video_file=f))
            else:
                missing.append(f"no {stem} in {source}, which numbers the video_ids")
        warn_not_found(f"UCF-101 {name}", missing, len(rows))
        out_rows[name] = clips_to_rows(clips, mode, media, desc=f"UCF-101 {name}", not_found=missing)
    return write_outputs(out_dir, out_rows, mode, 0, classes)


def add_cli(sub) -> None:
    """Register ``vai-data splits ucf101``."""
    p = sub.add_parser(
        "ucf101", help="UCF-101 from ucfTrainTestlist (classInd + train/testlist0k, splits 1-3)"
    )
    p.add_argument("list_dir", help="the ucfTrainTestlist folder")
    add_media_arguments(p, ("frames", "video", "gulp"), "frames")
    p.add_argument("--splits", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3], help="which splits")
    p.set_defaults(
        handler=lambda a: ucf101_splits(
            a.list_dir, a.out_dir, a.mode, a.splits, a.videos_root, a.frames_root, a.gulp_root
        )
    )
