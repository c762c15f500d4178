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
import random
import re
from pathlib import Path

from ..split_file import SplitRow
from .common import (
    Clip,
    MediaSource,
    add_media_arguments,
    annotation_error,
    check_partial_probability,
    clips_to_rows,
    parse_int,
    read_text_lines,
    write_outputs,
    write_partial_files,
)

logger = logging.getLogger(__name__)
TASK_CLASSES = {1: 14, 2: 301}
TASK_LIST_FOLDERS = {1: "actions_present", 2: "actions_order_uniq"}  # the folders under CATER's lists/
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
            hint = (
                f" (task 1 has {num_classes} classes: is this a task 2 list? pass --task 2)"
                if num_classes == TASK_CLASSES[1] and labels and max(labels) < TASK_CLASSES[2]
                else ""
            )
            raise annotation_error(path, lineno, f"labels {parts[1]!r} must be in 0..{num_classes - 1}{hint}")
        out.append((parts[0], cater_video_id(path, lineno, parts[0]), labels))
    return out


def cater_video_id(path: str | os.PathLike, lineno: int, video: str) -> int:
    """The number in a CATER video name (``CATER_new_005000.avi`` -> 5000), the clip's ``video_id``."""
    digits = re.findall(r"\d+", os.path.splitext(video)[0])
    if not digits:
        raise annotation_error(path, lineno, f"video name {video!r} has no number to use as video_id")
    return int(digits[-1])


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


def _list_draw_counts(list_dir: Path) -> list[int]:
    """Upstream's number of ``--partial`` draws per list file of ``list_dir`` (one per line), in
    :data:`LIST_NAMES` order; a missing file takes none."""
    return [
        sum(1 for _ in read_text_lines(list_dir / f"{name}.txt"))
        if (list_dir / f"{name}.txt").is_file()
        else 0
        for name in LIST_NAMES
    ]


def cater_partial_keep(
    list_dir: str | os.PathLike, task: int, probability: float, seed: int = 12
) -> dict[str, list[tuple[int, bool]]]:
    """Which lines of each list file upstream's ``--partial`` keeps: ``{list: [(video_id, kept)]}``.

    Upstream (``generate_cater_task1_2_splits.py``) seeds ``random`` once and draws one ``random()`` per
    list line, over ``actions_order_uniq`` (task 2) train/val/train_subsetT/train_subsetV first, then
    ``actions_present`` (task 1) in the same order, skipping a line when the draw is ``< 1 - P`` (so
    keeping it when ``>= 1 - P``). Task 1 therefore first burns one draw per line of the sibling
    ``actions_order_uniq`` folder; without it, those lists are taken to have as many lines as task 1's
    and a warning says so.
    """
    check_partial_probability(probability)
    d = Path(list_dir)
    rng = random.Random(seed)
    if task == 1:
        sibling = d.parent / TASK_LIST_FOLDERS[2]
        if sibling.is_dir():
            burn = sum(_list_draw_counts(sibling))
        else:
            burn = sum(_list_draw_counts(d))
            logger.warning(
                "--partial: %s not found; assuming its lists have as many lines as %s's (upstream draws "
                "over task 2's lists first)",
                sibling,
                d,
            )
        for _ in range(burn):
            rng.random()
    keep: dict[str, list[tuple[int, bool]]] = {}
    for name in LIST_NAMES:
        path = d / f"{name}.txt"
        if path.is_file():
            keep[name] = [
                (cater_video_id(path, lineno, line.split()[0]), not rng.random() < 1 - probability)
                for lineno, line in read_text_lines(path)
            ]
    return keep


def cater_partial_splits(
    list_dir: str | os.PathLike,
    written: dict[str, Path],
    probability: float,
    seed: int = 12,
    task: int = 1,
) -> dict[str, Path]:
    """Upstream's CATER ``--partial``: ``<list>_partial.csv`` next to each written list split, with the
    rows upstream keeps (:func:`cater_partial_keep`). The draws follow the list lines, so a clip skipped
    for missing media still takes its draw, as upstream's corrupted-video check came after the draw."""
    keep = cater_partial_keep(list_dir, task, probability, seed)
    return write_partial_files(written, lambda split, rows: _kept_rows(split, rows, keep.get(split, [])))


def _kept_rows(split: str, rows: list[SplitRow], keep: list[tuple[int, bool]]) -> list[SplitRow]:
    """The ``rows`` of ``<split>.csv`` (a subsequence of the list's lines, in order) whose line was kept."""
    out, i = [], 0
    for row in rows:
        while i < len(keep) and keep[i][0] != row.video_id:
            i += 1
        if i == len(keep):
            raise ValueError(
                f"{split}.csv: row {row.path} (video_id {row.video_id}) does not follow {split}.txt's order; "
                "generate the splits again before --partial"
            )
        if keep[i][1]:
            out.append(row)
        i += 1
    return out


def add_cli(sub) -> None:
    """Register ``vai-data splits cater``."""
    p = sub.add_parser("cater", help="CATER task 1/2 multi-label splits from the official list files")
    p.add_argument("list_dir", help="lists/actions_present (task 1) or lists/actions_order_uniq (task 2)")
    p.add_argument(
        "--task", type=int, choices=[1, 2], default=1, help="1: 14 classes (default), 2: 301 classes"
    )
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
        ),
        partial_handler=lambda a, written: cater_partial_splits(
            a.list_dir, written, a.partial, a.partial_seed, a.task
        ),
    )
