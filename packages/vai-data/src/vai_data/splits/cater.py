"""CATER split generator from the official task list files (multi-label).

Task 1 (``lists/actions_present``, 14 classes) and task 2 (``lists/actions_order_uniq``, 301 classes)
list files hold ``<video>.avi <l1>,<l2>,...`` lines; each becomes a multi-label row under the header
``num_classes`` (upstream: ``CATER_new_005000/{:05d}.jpg 5000 3,17 0 300``). ``video_id`` is the number
in the video name. Without a media root, every clip is taken to have ``num_frames`` (301) frames. The list
files hold only label numbers; ``classes.txt`` names them from the class definitions of CATER's generator.
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
    read_text_lines,
    write_outputs,
)

logger = logging.getLogger(__name__)
TASK_CLASSES = {1: 14, 2: 301}
LIST_NAMES = ("train", "val", "train_subsetT", "train_subsetV")
# the atomic actions of task 1 in label order, as (object shape, movement) - CATER's generator
# (generate/gen_train_test.py, ACTION_CLASSES) defines them; 'spl' is the snitch
ATOMIC_ACTIONS = (
    ("sphere", "slide"),
    ("sphere", "pick_place"),
    ("spl", "slide"),
    ("spl", "pick_place"),
    ("spl", "rotate"),
    ("cylinder", "pick_place"),
    ("cylinder", "slide"),
    ("cylinder", "rotate"),
    ("cube", "slide"),
    ("cube", "pick_place"),
    ("cube", "rotate"),
    ("cone", "contain"),
    ("cone", "pick_place"),
    ("cone", "slide"),
)
ORDERINGS = ("before", "during", "after")
_REVERSED = {"before": "after", "during": "during", "after": "before"}


def cater_class_names(task: int) -> list[str]:
    """Class names in label order: task 1 ``<shape>_<movement>`` (14), task 2 ``<action> <ordering>
    <action>`` (301: every ordered pair of atomic actions with before/during/after, where "A before B"
    and "B after A" are one class, kept as the first met - the enumeration of CATER's generator)."""
    actions = [f"{shape}_{movement}" for shape, movement in ATOMIC_ACTIONS]
    if task == 1:
        return actions
    if task != 2:
        raise ValueError(f"CATER task {task} unknown; choose 1 or 2")
    names: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for a in actions:
        for b in actions:
            for order in ORDERINGS:
                if (a, order, b) not in seen:
                    names.append(f"{a} {order} {b}")
                    seen.update({(a, order, b), (b, _REVERSED[order], a)})
    return names


def read_cater_list(path: str | os.PathLike, num_classes: int) -> list[tuple[str, int, tuple[int, ...]]]:
    """``(video_file, video_id, labels)`` of a CATER list file; labels are checked against ``num_classes``."""
    out = []
    for lineno, line in read_text_lines(path):
        parts = line.split()
        if len(parts) != 2:
            raise annotation_error(path, lineno, f"expected '<video>.avi <label>,<label>,...', got {line!r}")
        labels = tuple(sorted({parse_int(x, path, lineno, "label") for x in parts[1].split(",") if x}))
        if not labels or any(not 0 <= v < num_classes for v in labels):
            raise annotation_error(path, lineno, f"labels {parts[1]!r} must be in 0..{num_classes - 1}")
        digits = re.findall(r"\d+", os.path.splitext(parts[0])[0])
        if not digits:
            raise annotation_error(path, lineno, f"video name {parts[0]!r} has no number to use as video_id")
        out.append((parts[0], int(digits[-1]), labels))
    return out


def cater_splits(
    list_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    task: int = 1,
    mode: str = "frames",
    videos_root: str | None = None,
    frames_root: str | None = None,
    num_frames: int = 301,
    num_classes: int | None = None,
    gulp_root: str | None = None,
) -> dict[str, Path]:
    """Write ``<list>.csv`` for each of train/val/train_subsetT/train_subsetV found in ``list_dir``."""
    n = num_classes if num_classes is not None else TASK_CLASSES.get(task)
    if n is None:
        raise ValueError(f"CATER task {task} unknown; choose 1 or 2 or pass num_classes")
    d = Path(list_dir)
    found = [name for name in LIST_NAMES if (d / f"{name}.txt").is_file()]
    if not found:
        raise FileNotFoundError(f"no train.txt/val.txt in {d}; pass a CATER lists/<task> folder")
    media = MediaSource(videos_root, frames_root, gulp_root=gulp_root)
    probe = mode == "video" or bool(videos_root or frames_root or gulp_root)
    if not probe:
        logger.info(
            "no media root given: every CATER clip is written with %d frames (0..%d)",
            num_frames,
            num_frames - 1,
        )
    rows: dict[str, list[SplitRow]] = {}
    for name in found:
        clips = []
        for vfile, vid, labels in read_cater_list(d / f"{name}.txt", n):
            stem = os.path.splitext(vfile)[0]
            rng = {} if probe else {"start": 0, "end": num_frames - 1}
            clips.append(Clip(stem, vid, labels, video_file=vfile, **rng))
        rows[name] = clips_to_rows(clips, mode, media, desc=f"CATER task {task} {name}")
    names = cater_class_names(task) if task in TASK_CLASSES else None
    if names is not None and len(names) != n:
        logger.warning(
            "num_classes=%d differs from task %d's %d classes: classes.txt not written", n, task, len(names)
        )
        names = None
    return write_outputs(out_dir, rows, mode, n, names)


def add_cli(sub) -> None:
    """Register ``vai-data splits cater``."""
    p = sub.add_parser("cater", help="CATER task 1/2 multi-label splits from the official list files")
    p.add_argument("list_dir", help="lists/actions_present (task 1) or lists/actions_order_uniq (task 2)")
    p.add_argument("--task", type=int, choices=[1, 2], default=1, help="1: 14 classes, 2: 301 classes")
    add_media_arguments(p, ("frames", "video", "gulp"), "frames")
    p.add_argument("--num-frames", type=int, default=301, help="frames per clip when no media root is given")
    p.add_argument("--num-classes", type=int, default=None, help="override the task's class count")
    p.set_defaults(
        handler=lambda a: cater_splits(
            a.list_dir,
            a.out_dir,
            a.task,
            a.mode,
            a.videos_root,
            a.frames_root,
            a.num_frames,
            a.num_classes,
            a.gulp_root,
        )
    )
