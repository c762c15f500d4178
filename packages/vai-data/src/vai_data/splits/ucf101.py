"""UCF-101 split generator from the official ``ucfTrainTestlist`` folder (splits 1-3).

``classInd.txt`` maps ``<1-based index> <ClassName>`` (label = index - 1); ``trainlist0k.txt`` lines are
``<Class>/<clip>.avi <index>``, ``testlist0k.txt`` lines ``<Class>/<clip>.avi`` (label from the folder,
matched case-insensitively because the official lists spell ``HandStandPushups``/``HandstandPushups``
both ways). ``video_id`` is the clip's index in the sorted list of every listed clip.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..split_file import SplitRow
from .common import (
    Clip,
    MediaSource,
    add_media_arguments,
    annotation_error,
    clips_to_rows,
    parse_int,
    read_text_lines,
    require_file,
    sorted_ids,
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
    ids = sorted_ids(f for rows in lists.values() for f, _ in rows)
    media = MediaSource(videos_root, frames_root, gulp_root=gulp_root)
    out_rows: dict[str, list[SplitRow]] = {}
    for name, rows in lists.items():
        clips = [Clip(os.path.splitext(f)[0], ids[f], label, video_file=f) for f, label in rows]
        out_rows[name] = clips_to_rows(clips, mode, media, desc=f"UCF-101 {name}")
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
