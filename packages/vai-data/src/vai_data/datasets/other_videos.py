"""A test-mode dataset's pipeline on other video files: what ``VideoClipDataset.with_videos`` builds, so a
trained model can be run on videos outside any split file (``vai-train predict``)."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

from ..pathio import exists
from ..split_file import SplitFile, SplitRow
from .resilience import BadSampleTracker


def dataset_on_videos(dataset: Any, paths: Sequence[str | os.PathLike]) -> Any:
    """A copy of the test-mode ``dataset`` (a ``VideoClipDataset``) that reads the video files ``paths``,
    video ids ``0..n-1`` in their order, with every option it has: sampling, views, scale, crops,
    normalisation, decoder backend. Labels are placeholders (class 0): the files have none. Unreadable
    files raise (policy ``raise``); a path that does not exist is one ValueError naming it."""
    if dataset.train:
        raise ValueError(
            "with_videos: this dataset is in train mode (random clips); call it on a test-mode dataset, e.g. "
            "the val or multicropval split's"
        )
    if dataset.flow is not None:
        raise ValueError("with_videos: this dataset reads optical flow frames, not video files")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("with_videos: no video paths given")
    missing = [p for p in paths if not exists(p)]
    if missing:
        raise ValueError(f"with_videos: {len(missing)} path(s) do not exist, e.g. {missing[0]}")
    folders = [p for p in paths if os.path.isdir(p)]
    if folders:
        raise ValueError(f"with_videos: {folders[0]} is a folder; give video files")
    out = copy.copy(dataset)
    out.__dict__.pop("_epoch", None)  # fresh shared counters, not the original's
    out.epoch = 0
    out.split = SplitFile(
        num_classes=0, fmt="video", rows=[SplitRow(path=p, video_id=i, label=0) for i, p in enumerate(paths)]
    )
    out.data_root, out.storage = None, "video"
    out.tracker = BadSampleTracker("raise")
    out._test_clip_cache = None
    out.video_id_to_label = None
    return out
