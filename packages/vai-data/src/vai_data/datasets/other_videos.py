"""A test-mode dataset's pipeline on other videos: what ``VideoClipDataset.with_videos`` builds, so a
trained model can be run on video files, JPEG frame folders or packed ``.vpk`` files outside any split
file (``vai-train predict``)."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Sequence
from typing import Any

from ..packed import PACKED_SUFFIX
from ..pathio import exists
from ..split_file import SplitFile, SplitRow
from .resilience import BadSampleTracker
from .storage import prepare_video_reading

_FRAME_NAME = re.compile(r"^(.*?)(\d+)(\.jpe?g)$", re.IGNORECASE)


def frame_folder_row(folder: str, video_id: int) -> SplitRow:
    """A frames split row for a folder of numbered JPEG frames (``00001.jpg``, ``img_00001.jpg``,
    ``frame_0000000001.jpg``, ...): its name pattern, first and last number. One ValueError line when the
    folder holds no such frames, names them two ways, or skips numbers."""
    parts: dict[tuple[str, str], list[str]] = {}
    for name in os.listdir(folder):
        m = _FRAME_NAME.match(name)
        if m:
            parts.setdefault((m.group(1), m.group(3)), []).append(m.group(2))
    if not parts:
        raise ValueError(f"with_videos: {folder} holds no numbered JPEG frames (e.g. 00001.jpg)")
    if len(parts) > 1:
        kinds = ", ".join(f"{p}N{s}" for p, s in sorted(parts))
        raise ValueError(f"with_videos: {folder} names its frames in several ways ({kinds}); keep one")
    (prefix, suffix), digits = next(iter(parts.items()))
    numbers = sorted(int(d) for d in digits)
    if numbers[-1] - numbers[0] + 1 != len(numbers):
        gap = next(a + 1 for a, b in zip(numbers, numbers[1:], strict=False) if b != a + 1)
        raise ValueError(
            f"with_videos: {folder} skips frame {gap} ({len(numbers)} frames, {numbers[0]}..{numbers[-1]})"
        )
    widths = {len(d) for d in digits}
    if len(widths) == 1:  # one width: zero-padded to it (or numbers that all have that many digits)
        number = f"{{:0{widths.pop()}d}}"
    elif all(d == str(int(d)) for d in digits):  # unpadded: 1.jpg ... 120.jpg
        number = "{:d}"
    else:
        raise ValueError(f"with_videos: {folder} pads its frame numbers to several widths; rename them alike")
    escaped = os.path.join(folder, prefix).replace("{", "{{").replace("}", "}}")
    return SplitRow(
        path=escaped + number + suffix, video_id=video_id, label=0, start=numbers[0], end=numbers[-1]
    )


def _kind(path: str) -> str:
    """The storage ``path`` is read as: a folder of JPEG frames, a packed ``.vpk`` file, or a video file."""
    if os.path.isdir(path):
        return "frames"
    return "packed" if path.endswith(PACKED_SUFFIX) else "video"


def dataset_on_videos(dataset: Any, paths: Sequence[str | os.PathLike]) -> Any:
    """A copy of the test-mode ``dataset`` (a ``VideoClipDataset``) that reads ``paths``, either all video
    files (decoded with its ``backend``), all JPEG frame folders (see :func:`frame_folder_row`) or all
    packed ``.vpk`` files (``vai-data pack``; every frame of each), video
    ids ``0..n-1`` in their order, with every option it has: sampling, views, scale, crops,
    normalisation. Labels are placeholders (class 0): the videos have none. Unreadable videos raise
    (policy ``raise``); a path that does not exist, or a mix of kinds, is one ValueError."""
    if dataset.train:
        raise ValueError(
            "with_videos: this dataset is in train mode (random clips); call it on a test-mode dataset, e.g. "
            "the val or multicropval split's"
        )
    if dataset.flow is not None:
        raise ValueError("with_videos: this dataset reads optical flow frames, not videos")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("with_videos: no video paths given")
    missing = [p for p in paths if not exists(p)]
    if missing:
        raise ValueError(f"with_videos: {len(missing)} path(s) do not exist, e.g. {missing[0]}")
    kinds = {_kind(p) for p in paths}
    if len(kinds) > 1:
        raise ValueError(
            "with_videos: give one kind of input per call, video files, JPEG frame folders or packed .vpk "
            f"files (one storage per dataset); got {', '.join(sorted(kinds))}"
        )
    storage = kinds.pop()
    if storage == "frames":
        rows, fmt = [frame_folder_row(p, i) for i, p in enumerate(paths)], "frames"
    else:  # a packed file's rows read all its frames (start 0, end from its index)
        rows = [SplitRow(path=p, video_id=i, label=0) for i, p in enumerate(paths)]
        fmt = "video" if storage == "video" else "gulp"
    out = copy.copy(dataset)
    out.__dict__.pop("_epoch", None)  # fresh shared counters, not the original's
    out.epoch = 0
    out.split = SplitFile(num_classes=0, fmt=fmt, rows=rows)
    out._probe_verdicts = prepare_video_reading(storage, out.backend, len(rows))  # (a frames dataset never
    out.data_root, out.storage = None, storage  # checked torchcodec; the table covers its own files)
    out.tracker = BadSampleTracker("raise")
    out._test_clip_cache = None
    out.video_id_to_label = None
    return out
