"""EPIC-Kitchens-55 and -100 verb split generators from the official annotation csv files.

Rows come from ``EPIC_train_action_labels.csv`` (EK-55) or ``EPIC_100_train.csv`` /
``EPIC_100_validation.csv`` (EK-100): the label is ``verb_class`` and the segment is
``start_frame..stop_frame`` (1-based frame numbers of the untrimmed video). Gulp mode writes upstream's
``<key> <uid> <verb> 0 <stop-start>`` with key = ``uid`` (EK-55, as epic-lib's gulp adapter) or
``narration_id`` (EK-100); frames mode points at the official ``frame_{:010d}.jpg`` folders.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ..split_file import SplitRow
from .common import (
    Clip,
    MediaSource,
    annotation_error,
    clips_to_rows,
    first_existing,
    parse_int,
    read_csv_rows,
    require_file,
    write_outputs,
)

logger = logging.getLogger(__name__)
EK55_FRAMES = "{participant_id}/{video_id}/frame_{{:010d}}.jpg"
EK100_FRAMES = "{participant_id}/rgb_frames/{video_id}/frame_{{:010d}}.jpg"
EK55_VAL_PARTICIPANTS = tuple(f"P{i:02d}" for i in range(26, 32))  # upstream: P01-P25 train, P26-P31 val
VAL_NAMES = ("EPIC_100_validation.csv", "EPIC_100_val.csv")


def check_frame_template(template: str) -> None:
    """Raise one ``ValueError`` line unless ``template`` formats with ``participant_id`` and ``video_id``
    into a frames pattern holding the frame number (``{{:010d}}`` in the template: braces doubled)."""
    hint = (
        "allowed fields are {participant_id} and {video_id}, and the frame number must be written with "
        "doubled braces, e.g. {participant_id}/rgb_frames/{video_id}/frame_{{:010d}}.jpg"
    )
    try:
        pattern = template.format(participant_id="P01", video_id="P01_01")
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as e:
        problem = (
            f"unknown field {e}"
            if isinstance(e, KeyError)
            else "a positional field such as {:010d} in single braces"
            if isinstance(e, IndexError)
            else str(e)
        )
        raise ValueError(f"--frame-template {template!r}: {problem}; {hint}") from None
    try:
        numbered = pattern.format(1, frame=1) != pattern.format(2, frame=2)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as e:
        field = f"unknown frame number field {e}" if isinstance(e, KeyError) else str(e)
        raise ValueError(f"--frame-template {template!r}: {field}; {hint}") from None
    if not numbered:
        raise ValueError(f"--frame-template {template!r} has no frame number field; {hint}")


def read_epic_segments(path: str | os.PathLike, id_column: str) -> list[dict[str, str | int]]:
    """Parse an EPIC action csv into dicts with the id, participant, video, frames and verb class."""
    required = (id_column, "participant_id", "video_id", "start_frame", "stop_frame", "verb_class")
    out = []
    for lineno, row in read_csv_rows(path, required):
        start = parse_int(row["start_frame"], path, lineno, "start_frame")
        stop = parse_int(row["stop_frame"], path, lineno, "stop_frame")
        if stop < start:
            raise annotation_error(path, lineno, f"stop_frame {stop} is before start_frame {start}")
        out.append(
            {
                "id": row[id_column],
                "participant_id": row["participant_id"],
                "video_id": row["video_id"],
                "start": start,
                "stop": stop,
                "verb": parse_int(row["verb_class"], path, lineno, "verb_class"),
                "line": lineno,
            }
        )
    return out


def _read_verb_names(path: Path, key_column: str, id_column: str) -> list[str] | None:
    if not path.is_file():
        return None
    pairs = [
        (parse_int(r[id_column], path, n, id_column), r[key_column])
        for n, r in read_csv_rows(path, (id_column, key_column))
    ]
    return [name for _, name in sorted(pairs)]


def _rows(
    segments: list[dict], ids: dict[str, int], mode: str, frame_template: str, desc: str
) -> list[SplitRow]:
    clips = []
    for s in segments:
        key = str(s["id"])
        pattern = frame_template.format(participant_id=s["participant_id"], video_id=s["video_id"])
        clips.append(
            Clip(key, ids[key], int(s["verb"]), start=int(s["start"]), end=int(s["stop"]), pattern=pattern)
        )
    return clips_to_rows(clips, mode, MediaSource(), desc=desc)


def epic55_verb_splits(
    annotation_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    mode: str = "gulp",
    val_participants: Sequence[str] = EK55_VAL_PARTICIPANTS,
    frame_template: str = EK55_FRAMES,
) -> dict[str, Path]:
    """Write EK-55 verb ``train.csv`` and ``val.csv`` (the ``val_participants``; upstream's P26-P31)."""
    check_frame_template(frame_template)
    d = Path(annotation_dir)
    path = require_file(d / "EPIC_train_action_labels.csv", "EPIC-Kitchens-55 EPIC_train_action_labels.csv")
    segments = read_epic_segments(path, "uid")
    for s in segments:
        s["uid_int"] = parse_int(str(s["id"]), path, int(s["line"]), "uid")
    ids = {str(s["id"]): int(s["uid_int"]) for s in segments}
    held = set(val_participants)
    splits = {"train": [s for s in segments if s["participant_id"] not in held]}
    if held:
        splits["val"] = [s for s in segments if s["participant_id"] in held]
    rows = {k: _rows(v, ids, mode, frame_template, f"EK-55 {k}") for k, v in splits.items()}
    names = _read_verb_names(d / "EPIC_verb_classes.csv", "class_key", "verb_id")
    return write_outputs(out_dir, rows, mode, 0, names)


def narration_sort_key(narration_id: str) -> tuple[int, tuple]:
    """Upstream's order of ``P01_101_12``-style ids: numerically by (participant, video, index).

    Ids of another shape sort after those, as text.
    """
    parts = narration_id.removeprefix("P").split("_")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return 0, tuple(int(p) for p in parts)
    return 1, (narration_id,)


def epic100_verb_splits(
    annotation_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    mode: str = "gulp",
    frame_template: str = EK100_FRAMES,
    testmode_copies: bool = True,
) -> dict[str, Path]:
    """Write EK-100 verb ``train.csv``, ``val.csv`` and (``testmode_copies``) ``traindata_testmode.csv``.

    ``video_id`` follows upstream's numbering: train narration ids in numeric order, then validation
    ones, so ids match upstream feature/label files. ``traindata_testmode`` is upstream's extra split (the
    training rows, evaluated in test mode).
    """
    check_frame_template(frame_template)
    d = Path(annotation_dir)
    splits = {
        "train": read_epic_segments(
            require_file(d / "EPIC_100_train.csv", "EPIC_100_train.csv"), "narration_id"
        ),
        "val": read_epic_segments(
            require_file(first_existing(d, VAL_NAMES), "EPIC_100_validation.csv"), "narration_id"
        ),
    }
    splits = {k: sorted(v, key=lambda seg: narration_sort_key(str(seg["id"]))) for k, v in splits.items()}
    ordered = [str(s["id"]) for segs in splits.values() for s in segs]
    if len(set(ordered)) != len(ordered):
        raise annotation_error(d, None, "a narration_id appears twice across EPIC_100_train/validation.csv")
    ids = {nid: i for i, nid in enumerate(ordered)}
    rows = {k: _rows(v, ids, mode, frame_template, f"EK-100 {k}") for k, v in splits.items()}
    if testmode_copies:
        rows["traindata_testmode"] = list(rows["train"])
    names = _read_verb_names(d / "EPIC_100_verb_classes.csv", "key", "id")
    return write_outputs(out_dir, rows, mode, 0, names)


def add_cli(sub) -> None:
    """Register ``vai-data splits epic55`` and ``epic100``."""
    p = sub.add_parser("epic55", help="EPIC-Kitchens-55 verbs from EPIC_train_action_labels.csv")
    p.add_argument("annotation_dir", help="folder of the epic-kitchens-55-annotations repository")
    p.add_argument("-o", "--out-dir", required=True, help="folder to write <split>.csv and classes.txt")
    p.add_argument("--mode", choices=["gulp", "frames"], default="gulp", help="split format (default gulp)")
    p.add_argument(
        "--val-participants",
        nargs="*",
        default=list(EK55_VAL_PARTICIPANTS),
        help="participants held out as val.csv (default P26-P31 as upstream; none: no val.csv)",
    )
    p.add_argument(
        "--frame-template", default=EK55_FRAMES, help=f"frames-mode pattern (default {EK55_FRAMES})"
    )
    p.set_defaults(
        handler=lambda a: epic55_verb_splits(
            a.annotation_dir, a.out_dir, a.mode, a.val_participants, a.frame_template
        )
    )
    p = sub.add_parser("epic100", help="EPIC-Kitchens-100 verbs from EPIC_100_train/validation.csv")
    p.add_argument("annotation_dir", help="folder of the epic-kitchens-100-annotations repository")
    p.add_argument("-o", "--out-dir", required=True, help="folder to write <split>.csv and classes.txt")
    p.add_argument("--mode", choices=["gulp", "frames"], default="gulp", help="split format (default gulp)")
    p.add_argument(
        "--frame-template", default=EK100_FRAMES, help=f"frames-mode pattern (default {EK100_FRAMES})"
    )
    p.set_defaults(
        handler=lambda a: epic100_verb_splits(a.annotation_dir, a.out_dir, a.mode, a.frame_template)
    )
