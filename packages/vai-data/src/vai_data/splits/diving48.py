"""Diving48 (v1 and v2) split generator from the official json annotation files.

``Diving48_train.json``/``Diving48_test.json`` (v1) or ``Diving48_V2_train.json``/``Diving48_V2_test.json``
(v2) are lists of ``{vid_name, label, start_frame, end_frame}``; the videos are the trimmed clips
``<vid_name>.mp4``. The json's range describes that trimmed clip (``start_frame`` 0, ``end_frame`` its
last frame; upstream took ``end_frame + 1`` as the frame count), but frame ranges here come from probing
the clips (or their frame folders), so they match the media actually on disk; the json's range is not read.
``video_id`` is the index in the sorted list of all clip names.
``classes.txt`` comes from ``Diving48_vocab.json`` (shared by both versions) when it is in the folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..split_file import SplitRow
from .common import (
    Clip,
    MediaSource,
    add_media_arguments,
    annotation_error,
    clips_to_rows,
    parse_int,
    read_json,
    require_file,
    sorted_ids,
    write_outputs,
)

logger = logging.getLogger(__name__)

FILES = {1: "Diving48_{split}.json", 2: "Diving48_V2_{split}.json"}
VOCAB_FILE = "Diving48_vocab.json"  # one vocabulary for v1 and v2
NUM_CLASSES = 48


def read_diving48_json(path: str | os.PathLike) -> list[tuple[str, int]]:
    """``(vid_name, label)`` pairs of a Diving48 json list."""
    items = read_json(path)
    if not isinstance(items, list):
        raise annotation_error(
            path, None, "expected a JSON list of {vid_name, label, start_frame, end_frame}"
        )
    out = []
    for i, it in enumerate(items):
        if not isinstance(it, dict) or "vid_name" not in it or "label" not in it:
            raise annotation_error(path, None, f"entry {i}: expected an object with 'vid_name' and 'label'")
        label = parse_int(it["label"], path, None, f"entry {i} ({it['vid_name']}) label")
        if not 0 <= label < NUM_CLASSES:
            raise annotation_error(path, None, f"entry {i} ({it['vid_name']}): label {label} outside 0..47")
        out.append((str(it["vid_name"]), label))
    return out


def read_diving48_vocab(path: str | os.PathLike) -> list[str]:
    """Class names in label order from ``Diving48_vocab.json``: a list of 48 ``[takeoff, somersault, twist,
    flight position]`` word lists, each joined with spaces (``Back 15som 05Twis FREE``)."""
    items = read_json(path)
    if not isinstance(items, list) or len(items) != NUM_CLASSES:
        raise annotation_error(
            path, None, f"expected a JSON list of {NUM_CLASSES} [takeoff, somersault, twist, flight] lists"
        )
    names = []
    for i, it in enumerate(items):
        if not isinstance(it, list) or not it or not all(isinstance(w, str) and w.strip() for w in it):
            raise annotation_error(path, None, f"entry {i}: expected a list of words, got {it!r}")
        names.append(" ".join(w.strip() for w in it))
    return names


def diving48_splits(
    annotation_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    version: int = 2,
    mode: str = "video",
    videos_root: str | None = None,
    frames_root: str | None = None,
    video_ext: str = "mp4",
    gulp_root: str | None = None,
) -> dict[str, Path]:
    """Write ``train.csv`` and ``test.csv`` for Diving48 ``version`` 1 or 2, and ``classes.txt`` when
    ``Diving48_vocab.json`` is in ``annotation_dir``."""
    if version not in FILES:
        raise ValueError(f"Diving48 version {version} unknown; choose 1 or 2")
    d = Path(annotation_dir)
    lists = {
        split: read_diving48_json(
            require_file(d / FILES[version].format(split=split), f"Diving48 v{version} {split} json")
        )
        for split in ("train", "test")
    }
    vocab = d / VOCAB_FILE
    names = read_diving48_vocab(vocab) if vocab.is_file() else None
    if names is None:
        logger.warning("%s not found: classes.txt not written (it comes with the official download)", vocab)
    ids = sorted_ids(name for pairs in lists.values() for name, _ in pairs)
    media = MediaSource(videos_root, frames_root, video_ext, gulp_root=gulp_root)
    rows: dict[str, list[SplitRow]] = {}
    for split, pairs in lists.items():
        clips = [Clip(name, ids[name], label) for name, label in pairs]  # video: <name>.<ext> (MediaSource)
        rows[split] = clips_to_rows(clips, mode, media, desc=f"Diving48 v{version} {split}")
    return write_outputs(out_dir, rows, mode, 0, names)


def add_cli(sub) -> None:
    """Register ``vai-data splits diving48``."""
    p = sub.add_parser("diving48", help="Diving48 v1/v2 from Diving48[_V2]_{train,test}.json")
    p.add_argument(
        "annotation_dir", help="folder with the Diving48 json files (Diving48_vocab.json gives classes.txt)"
    )
    p.add_argument("--version", type=int, choices=[1, 2], default=2, help="annotation version (default 2)")
    add_media_arguments(p, ("video", "frames", "gulp"), "video", video_ext="mp4")
    p.set_defaults(
        handler=lambda a: diving48_splits(
            a.annotation_dir,
            a.out_dir,
            a.version,
            a.mode,
            a.videos_root,
            a.frames_root,
            a.video_ext,
            a.gulp_root,
        )
    )
