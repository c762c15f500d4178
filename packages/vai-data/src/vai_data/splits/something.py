"""Something-Something v1 and v2 split generators from the official label files.

v1: ``something-something-v1-labels.csv`` (one class per line, label = line order) and
``-train.csv``/``-validation.csv`` lines ``<id>;<class>``; frames are 1-based JPEG folders ``<id>/``.
v2: ``labels.json`` (``{class: "index"}``), ``train.json``/``validation.json`` (also with the
``something-something-v2-`` prefix) lists of
``{id, label, template, placeholders}`` whose class is the template without brackets; videos are
``<id>.webm``. The numeric clip id is the ``video_id``. Unlabelled test lists are not written
(v2 accepts the released ``test-answers.csv`` of ``<id>;<class>`` lines).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..split_file import SplitRow
from .common import (
    Clip,
    MediaSource,
    add_media_arguments,
    annotation_error,
    clips_to_rows,
    first_existing,
    parse_int,
    read_json,
    read_text_lines,
    require_file,
    write_outputs,
)

V2_FILES = {k: (f"{k}.json", f"something-something-v2-{k}.json") for k in ("labels", "train", "validation")}


def _read_id_label_csv(path: Path, label_of: dict[str, int]) -> list[tuple[int, int]]:
    out = []
    for lineno, line in read_text_lines(path):
        if ";" not in line:
            raise annotation_error(path, lineno, f"expected '<id>;<class name>', got {line!r}")
        vid, name = line.split(";", 1)
        if name not in label_of:
            raise annotation_error(path, lineno, f"class {name!r} is not in the labels file")
        out.append((parse_int(vid, path, lineno, "video id"), label_of[name]))
    return out


def _clips(pairs: list[tuple[int, int]]) -> list[Clip]:
    """Clips named by their id; the video file ``<id>.<ext>`` comes from :meth:`MediaSource.video_path`."""
    return [Clip(str(v), v, label) for v, label in pairs]


def something_v1_splits(
    annotation_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    mode: str = "frames",
    videos_root: str | None = None,
    frames_root: str | None = None,
    video_ext: str = "mp4",
    class_sorted: bool = False,
    gulp_root: str | None = None,
) -> dict[str, Path]:
    """Write ``train.csv`` and ``val.csv`` for Something-Something v1 (174 classes).

    Labels follow the labels file's line order, or the sorted class names with ``class_sorted`` (as TRN).
    """
    d = Path(annotation_dir)
    labels_path = require_file(d / "something-something-v1-labels.csv", "Something-Something v1 labels csv")
    classes = [line for _, line in read_text_lines(labels_path)]
    if class_sorted:
        classes = sorted(classes)
    label_of = {c: i for i, c in enumerate(classes)}
    media = MediaSource(videos_root, frames_root, video_ext, gulp_root=gulp_root)
    rows: dict[str, list[SplitRow]] = {}
    for split, fname in (("train", "train"), ("val", "validation")):
        path = require_file(d / f"something-something-v1-{fname}.csv", f"Something-Something v1 {fname} csv")
        pairs = _read_id_label_csv(path, label_of)
        rows[split] = clips_to_rows(_clips(pairs), mode, media, desc=f"SSv1 {split}")
    return write_outputs(out_dir, rows, mode, 0, classes)


def _template_class(item: object, path: Path, index: int, label_of: dict[str, int]) -> tuple[int, int]:
    if not isinstance(item, dict) or "id" not in item or "template" not in item:
        raise annotation_error(path, None, f"entry {index}: expected an object with 'id' and 'template'")
    name = str(item["template"]).replace("[", "").replace("]", "")
    if name not in label_of:
        raise annotation_error(
            path, None, f"entry {index} (id {item['id']}): template {name!r} not in labels.json"
        )
    return parse_int(item["id"], path, None, f"entry {index} id"), label_of[name]


def something_v2_splits(
    annotation_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    mode: str = "video",
    videos_root: str | None = None,
    frames_root: str | None = None,
    video_ext: str = "webm",
    test_answers: str | os.PathLike | None = None,
    gulp_root: str | None = None,
) -> dict[str, Path]:
    """Write ``train.csv``, ``val.csv`` (and ``test.csv`` given the test answers) for Something-Something v2."""
    d = Path(annotation_dir)
    labels_path = require_file(first_existing(d, V2_FILES["labels"]), "Something-Something v2 labels.json")
    raw = read_json(labels_path)
    if not isinstance(raw, dict):
        raise annotation_error(labels_path, None, "expected an object {class name: index}")
    label_of = {name: parse_int(i, labels_path, None, f"index of {name!r}") for name, i in raw.items()}
    classes = [name for name, _ in sorted(label_of.items(), key=lambda kv: kv[1])]
    if [label_of[c] for c in classes] != list(range(len(classes))):
        raise annotation_error(labels_path, None, "class indices are not 0..N-1 without gaps")
    media = MediaSource(videos_root, frames_root, video_ext, gulp_root=gulp_root)
    rows: dict[str, list[SplitRow]] = {}
    for split, key in (("train", "train"), ("val", "validation")):
        path = require_file(first_existing(d, V2_FILES[key]), f"Something-Something v2 {key}.json")
        items = read_json(path)
        if not isinstance(items, list):
            raise annotation_error(path, None, "expected a JSON list of {id, label, template, placeholders}")
        pairs = [_template_class(it, path, i, label_of) for i, it in enumerate(items)]
        rows[split] = clips_to_rows(_clips(pairs), mode, media, desc=f"SSv2 {split}")
    if test_answers is not None:
        pairs = _read_id_label_csv(
            require_file(test_answers, "Something-Something v2 test answers"), label_of
        )
        rows["test"] = clips_to_rows(_clips(pairs), mode, media, desc="SSv2 test")
    return write_outputs(out_dir, rows, mode, 0, classes)


def add_cli(sub) -> None:
    """Register ``vai-data splits something-v1`` and ``something-v2``."""
    p = sub.add_parser(
        "something-v1", help="Something-Something v1 from its labels/train/validation csv files"
    )
    p.add_argument("annotation_dir", help="folder with something-something-v1-{labels,train,validation}.csv")
    add_media_arguments(p, ("frames", "video", "gulp"), "frames", video_ext="mp4")
    p.add_argument("--class-sorted", action="store_true", help="number classes in sorted order (as TRN)")
    p.set_defaults(
        handler=lambda a: something_v1_splits(
            a.annotation_dir,
            a.out_dir,
            a.mode,
            a.videos_root,
            a.frames_root,
            a.video_ext,
            a.class_sorted,
            a.gulp_root,
        )
    )
    p = sub.add_parser(
        "something-v2", help="Something-Something v2 from labels.json, train.json, validation.json"
    )
    p.add_argument("annotation_dir", help="folder with labels.json, train.json and validation.json")
    add_media_arguments(p, ("video", "frames", "gulp"), "video", video_ext="webm")
    p.add_argument(
        "--test-answers", default=None, help="optional test-answers.csv (<id>;<class>) for test.csv"
    )
    p.set_defaults(
        handler=lambda a: something_v2_splits(
            a.annotation_dir,
            a.out_dir,
            a.mode,
            a.videos_root,
            a.frames_root,
            a.video_ext,
            a.test_answers,
            a.gulp_root,
        )
    )
