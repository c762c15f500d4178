"""HMDB-51 split generator from the official ``testTrainMulti_7030_splits`` lists (splits 1-3).

Each official file ``<class>_test_split<k>.txt`` holds lines ``<clip>.avi <id>`` where 1 = train,
2 = test, 0 = unused. Labels are the sorted class names' indices; ``video_id`` is the clip's index in
the list of all listed clips (unused ones included) sorted as upstream's ``hmdb_videos_list.txt`` is
(``sort`` in the en_US.UTF-8 locale), or its line in a given video list, so it is the same in every split.
``confusion=2`` builds upstream's Confusing-HMDB-102: train class c is relabelled ``c + 51 * randint(0, 1)``
(Python ``random`` seeded 12, drawn in upstream's order) and test rows are multi-label ``c,c+51`` under
the header 102.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Sequence
from pathlib import Path

from ..split_file import SplitRow
from .collation import en_us_sort_key
from .common import (
    Clip,
    MediaSource,
    add_media_arguments,
    annotation_error,
    clips_to_rows,
    read_text_lines,
    write_outputs,
)

SPLIT_FILE_RE = re.compile(r"^(?P<cls>.+)_test_split(?P<k>\d)\.txt$")
VIDEO_EXTS = (".avi", ".mp4", ".mkv", ".webm")


def read_hmdb_split_lists(
    split_dir: str | os.PathLike, split: int
) -> tuple[list[str], dict[str, list[tuple[str, str]]]]:
    """Parse one official split: (sorted class names, {"train"|"test"|"unused": [(class, clip_file)]})."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise FileNotFoundError(
            f"HMDB split folder {split_dir} not found; unpack test_train_splits.rar there"
        )
    files: dict[str, Path] = {}
    for p in split_dir.iterdir():
        m = SPLIT_FILE_RE.match(p.name)
        if m and int(m["k"]) == split:
            files[m["cls"]] = p
    if not files:
        raise FileNotFoundError(
            f"no <class>_test_split{split}.txt files in {split_dir}; pass the testTrainMulti_7030_splits folder"
        )
    classes = sorted(files)
    out: dict[str, list[tuple[str, str]]] = {"train": [], "test": [], "unused": []}
    for cls in classes:
        for lineno, line in read_text_lines(files[cls]):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise annotation_error(
                    files[cls],
                    lineno,
                    f"expected '<clip>.avi 0|1|2' (0 unused, 1 train, 2 test), got {line!r}",
                )
            out[{"1": "train", "2": "test", "0": "unused"}[parts[1]]].append((cls, parts[0]))
    return classes, out


def hmdb_video_ids(clips: set[str], video_list: str | os.PathLike | None = None) -> dict[str, int]:
    """``video_id`` of each ``<class>/<clip>.avi``: its index in the clips sorted as ``sort`` in the
    en_US.UTF-8 locale orders them (case and punctuation ignored first, as upstream's
    ``hmdb_videos_list.txt`` was made), or, given ``video_list``, the 0-based line of the clip there."""
    if video_list is None:
        return {name: i for i, name in enumerate(sorted(clips, key=en_us_sort_key))}
    listed = read_video_list(video_list)
    ids, missing = {}, []
    for name in sorted(clips):
        key = _strip_video_ext(name)
        if key in listed:
            ids[name] = listed[key]
        else:
            missing.append(key)
    if missing:
        raise annotation_error(
            video_list,
            None,
            f"has no line for {len(missing)} clip(s) of the split lists, e.g. {missing[0]}; pass the list of "
            "every HMDB-51 video (upstream's hmdb_videos_list.txt)",
        )
    return ids


def read_video_list(path: str | os.PathLike) -> dict[str, int]:
    """``{<class>/<clip>: id}`` from a list of one video path per line (upstream's
    ``hmdb_videos_list.txt``): the id is the 0-based line number; a video extension is optional."""
    out: dict[str, int] = {}
    for lineno, line in read_text_lines(path):
        key = _strip_video_ext(line)
        if key in out:
            raise annotation_error(path, lineno, f"{key} is listed twice (first at line {out[key] + 1})")
        out[key] = lineno - 1
    return out


def _strip_video_ext(name: str) -> str:
    """``name`` without a trailing video extension (``.avi``, ``.mp4``, ``.mkv``, ``.webm``)."""
    stem, ext = os.path.splitext(name)
    return stem if ext.lower() in VIDEO_EXTS else name


def hmdb51_splits(
    split_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    mode: str = "frames",
    splits: Sequence[int] = (1, 2, 3),
    videos_root: str | None = None,
    frames_root: str | None = None,
    confusion: int = 1,
    seed: int = 12,
    gulp_root: str | None = None,
    video_list: str | os.PathLike | None = None,
) -> dict[str, Path]:
    """Write ``train<k>.csv`` and ``test<k>.csv`` for each requested split; returns the written paths.

    ``video_id`` numbers the clips of the official lists in the order of :func:`hmdb_video_ids`: the
    en_US.UTF-8 ``sort`` order upstream's ``hmdb_videos_list.txt`` has, or the lines of ``video_list``.

    ``confusion = n >= 2`` relabels train clips of class c as ``c + 51 * randint(0, n - 1)`` and makes
    test rows multi-label ``c, c+51, ...`` (header ``51 n``). As upstream, one ``random.Random(seed)``
    stream runs over the train clips of splits 1, 2, 3 in order (classes sorted, file order), so split
    k gets the same labels whichever splits are requested.
    """
    if confusion < 1:
        raise ValueError(f"confusion must be >= 1, got {confusion}")
    if not splits or any(k not in (1, 2, 3) for k in splits):
        raise ValueError(f"HMDB-51 splits must be among 1, 2, 3; got {list(splits)}")
    wanted = sorted(set(splits))
    read = range(1, max(wanted) + 1) if confusion > 1 else wanted
    parsed = {k: read_hmdb_split_lists(split_dir, k) for k in read}
    classes = parsed[wanted[0]][0]
    for k, (cls_k, _) in parsed.items():
        if cls_k != classes:
            raise annotation_error(
                split_dir, None, f"split {k} lists different classes from split {wanted[0]}"
            )
    label_of = {c: i for i, c in enumerate(classes)}
    listed = {f"{c}/{f}" for _, lists in parsed.values() for rows in lists.values() for c, f in rows}
    ids = hmdb_video_ids(listed, video_list)
    media = MediaSource(videos_root, frames_root, gulp_root=gulp_root)
    num = len(classes)
    rng = random.Random(seed)
    out_rows: dict[str, list[SplitRow]] = {}
    headers: dict[str, int] = {}
    for k, (_, lists) in parsed.items():
        for subset in ("train", "test"):
            clips = []
            for cls, fname in lists[subset]:
                c = label_of[cls]
                label: int | tuple[int, ...] = c
                if confusion > 1 and subset == "train":
                    label = c + num * rng.randint(0, confusion - 1)
                elif confusion > 1:
                    label = tuple(c + num * i for i in range(confusion))
                stem = os.path.splitext(fname)[0]
                clips.append(Clip(f"{cls}/{stem}", ids[f"{cls}/{fname}"], label, video_file=f"{cls}/{fname}"))
            if k in wanted:
                out_rows[f"{subset}{k}"] = clips_to_rows(clips, mode, media, desc=f"HMDB split {k} {subset}")
                headers[f"{subset}{k}"] = num * confusion if confusion > 1 and subset == "test" else 0
    names = list(classes) + [f"{c}_{i + 1}" for i in range(1, confusion) for c in classes]
    return write_outputs(out_dir, out_rows, mode, headers, names)


def add_cli(sub) -> None:
    """Register ``vai-data splits hmdb51``."""
    p = sub.add_parser(
        "hmdb51", help="HMDB-51 from testTrainMulti_7030_splits (splits 1-3, Confusing-HMDB-102)"
    )
    p.add_argument(
        "split_dir", help="the testTrainMulti_7030_splits folder of <class>_test_split<k>.txt files"
    )
    add_media_arguments(p, ("frames", "video", "gulp"), "frames")
    p.add_argument("--splits", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3], help="which splits")
    p.add_argument(
        "--confusion",
        type=int,
        default=1,
        help="2 = Confusing-HMDB-102 (train relabelled c or c+51, test multi-label c,c+51); n: 51n classes",
    )
    p.add_argument(
        "--seed", type=int, default=12, help="seed of the Confusing-HMDB-102 relabelling (default 12)"
    )
    p.add_argument(
        "--video-list",
        default=None,
        metavar="FILE",
        help="number video_ids by this list of <class>/<clip> lines (0-based line number), e.g. upstream's "
        "hmdb_videos_list.txt; default: the clips in en_US.UTF-8 `sort` order",
    )
    p.set_defaults(
        handler=lambda a: hmdb51_splits(
            a.split_dir,
            a.out_dir,
            a.mode,
            a.splits,
            a.videos_root,
            a.frames_root,
            a.confusion,
            a.seed,
            a.gulp_root,
            a.video_list,
        )
    )
