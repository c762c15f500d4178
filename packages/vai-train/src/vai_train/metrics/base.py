"""Base class for all metrics: input validation, accumulation, alternative labels and video-level averaging.

Metrics are plain, non-distributed accumulators. The engine gathers every rank's predictions to rank 0
and feeds them there, so a metric never talks to ``torch.distributed``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
from torch import Tensor

logger = logging.getLogger(__name__)

MISSING_ACTIONS = ("error", "skip")


class Metric:
    """Accumulate ``(probs, labels, video_ids)`` batches and compute CSV fields from them.

    Subclasses implement :meth:`_compute` on the (clip- or video-level) concatenated tensors and
    :meth:`_suffixes`, the CSV field suffixes appended to ``"<split>_"`` (``"vid_"`` is inserted for
    video-level metrics).

    Args:
        split: CSV prefix, e.g. ``"val"`` or ``"multicropval"``.
        video_level: average probabilities per ``video_id`` before scoring (multi-crop evaluation).
        video_id_to_label: optional alternative labels looked up by video id; they replace the labels
            passed to :meth:`update` (e.g. evaluate a model trained on soft labels against hard labels).
        video_id_to_label_missing_action: ``"error"`` raises on a video id absent from the mapping,
            ``"skip"`` drops those samples.
    """

    higher_is_better: bool = True
    #: whether labels may be class indices (single-label) / multi-hot (multi-label)
    accepts_index_labels: bool = True
    accepts_multihot_labels: bool = True

    def __init__(
        self,
        split: str = "val",
        *,
        video_level: bool = False,
        video_id_to_label: Mapping[int, int | Tensor | list[float]] | None = None,
        video_id_to_label_missing_action: str = "error",
    ) -> None:
        if not isinstance(split, str) or not split:
            raise ValueError(f"{type(self).__name__}: split must be a non-empty string, got {split!r}")
        if video_id_to_label_missing_action not in MISSING_ACTIONS:
            raise ValueError(
                f"{type(self).__name__}: video_id_to_label_missing_action must be one of {MISSING_ACTIONS}, "
                f"got {video_id_to_label_missing_action!r}"
            )
        self.split = split
        self.video_level = video_level
        self.video_id_to_label = video_id_to_label
        self.video_id_to_label_missing_action = video_id_to_label_missing_action
        self.reset()

    # ------------------------------------------------------------------ public API
    def reset(self) -> None:
        """Forget everything accumulated so far (call at the start of every epoch)."""
        self._probs: list[Tensor] = []
        self._labels: list[Tensor] = []
        self._video_ids: list[Tensor] = []
        self._num_skipped = 0

    def update(self, probs: Tensor, labels: Tensor, video_ids: Tensor) -> None:
        """Add one batch: activated ``probs`` (N, C), labels (N,) long or (N, C) multi-hot, ``video_ids`` (N,)."""
        name = type(self).__name__
        probs = torch.as_tensor(probs).detach()
        labels = torch.as_tensor(labels).detach()
        video_ids = torch.as_tensor(video_ids).detach()
        if probs.ndim != 2:
            raise ValueError(f"{name}.update: probs must have shape (N, C), got {tuple(probs.shape)}")
        n = probs.shape[0]
        if video_ids.ndim != 1 or video_ids.shape[0] != n:
            raise ValueError(f"{name}.update: video_ids must have shape ({n},), got {tuple(video_ids.shape)}")
        if self.video_id_to_label is not None:
            labels, keep = self._lookup_labels(video_ids, probs.shape[1])
            if not bool(keep.all()):
                self._num_skipped += int((~keep).sum())
                probs, video_ids, labels = probs[keep], video_ids[keep], labels[keep]
                n = probs.shape[0]
        self._check_labels(labels, n, probs.shape[1])
        if labels.ndim == 1:
            labels = labels.long()
        self._probs.append(probs.float().cpu())
        self._labels.append(labels.cpu())
        self._video_ids.append(video_ids.long().cpu())

    def compute(self) -> dict[str, float]:
        """Return ``{csv_field: value}`` for everything accumulated since :meth:`reset`."""
        probs, labels = self._gathered()
        values = self._compute(probs, labels)
        return dict(zip(self.fields(), values, strict=True))

    def fields(self) -> list[str]:
        """CSV field names this metric writes, the main one first."""
        level = "vid_" if self.video_level else ""
        return [f"{self.split}_{level}{suffix}" for suffix in self._suffixes()]

    def is_better(self, new: float, old: float | None) -> bool:
        """True if ``new`` improves on ``old`` (``None`` means no previous value)."""
        if old is None or old != old:  # NaN check
            return True
        return new > old if self.higher_is_better else new < old

    @property
    def num_samples(self) -> int:
        """Number of clips accumulated (after skipping)."""
        return sum(p.shape[0] for p in self._probs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(split={self.split!r}, fields={self.fields()})"

    # ------------------------------------------------------------------ subclass hooks
    def _suffixes(self) -> list[str]:
        raise NotImplementedError

    def _compute(self, probs: Tensor, labels: Tensor) -> list[float]:
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    def _check_labels(self, labels: Tensor, n: int, num_classes: int) -> None:
        name = type(self).__name__
        if labels.ndim == 1:
            if not self.accepts_index_labels:
                raise ValueError(f"{name}: needs multi-hot labels of shape (N, C), got class indices (N,)")
            if labels.shape[0] != n:
                raise ValueError(f"{name}.update: labels must have shape ({n},), got {tuple(labels.shape)}")
            if labels.is_floating_point():
                raise ValueError(f"{name}.update: class-index labels must be integers, got {labels.dtype}")
            if n and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
                raise ValueError(
                    f"{name}.update: label out of range [0, {num_classes}) "
                    f"(min {int(labels.min())}, max {int(labels.max())})"
                )
        elif labels.ndim == 2:
            if not self.accepts_multihot_labels:
                raise ValueError(f"{name}: needs class-index labels of shape (N,), got multi-hot (N, C)")
            if tuple(labels.shape) != (n, num_classes):
                raise ValueError(
                    f"{name}.update: multi-hot labels must have shape ({n}, {num_classes}), "
                    f"got {tuple(labels.shape)}"
                )
        else:
            raise ValueError(f"{name}.update: labels must be (N,) or (N, C), got {tuple(labels.shape)}")

    def _lookup_labels(self, video_ids: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
        """Replace labels by ``video_id_to_label``; returns (labels, keep-mask)."""
        assert self.video_id_to_label is not None
        found: list[Tensor] = []
        keep = torch.ones(video_ids.shape[0], dtype=torch.bool)
        for i, vid in enumerate(video_ids.tolist()):
            if vid in self.video_id_to_label:
                found.append(torch.as_tensor(self.video_id_to_label[vid]))
            elif self.video_id_to_label_missing_action == "skip":
                keep[i] = False
            else:
                raise KeyError(
                    f"{type(self).__name__}: video_id {vid} is not in video_id_to_label; add it or pass "
                    "video_id_to_label_missing_action='skip'"
                )
        if not found:
            return torch.zeros(video_ids.shape[0], dtype=torch.long), keep
        labels = torch.stack(found)
        if labels.ndim == 1 and labels.is_floating_point() and num_classes != 1:
            labels = labels.long()
        # labels has one row per kept sample only; expand to full size for uniform masking.
        full = torch.zeros((video_ids.shape[0], *labels.shape[1:]), dtype=labels.dtype)
        full[keep] = labels
        return full, keep

    def _gathered(self) -> tuple[Tensor, Tensor]:
        """Concatenate the accumulated batches, averaged per video id when ``video_level``."""
        if self.num_samples == 0:
            skipped = (
                f" ({self._num_skipped} samples were skipped by video_id_to_label)"
                if self._num_skipped
                else ""
            )
            raise RuntimeError(
                f"{type(self).__name__}({self.split!r}).compute() called with no samples{skipped}; "
                "call update() with at least one batch after reset()"
            )
        probs = torch.cat(self._probs)
        labels = torch.cat(self._labels)
        if not self.video_level:
            return probs, labels
        return average_per_video(probs, labels, torch.cat(self._video_ids), owner=type(self).__name__)


def average_per_video(
    probs: Tensor, labels: Tensor, video_ids: Tensor, owner: str = "average_per_video"
) -> tuple[Tensor, Tensor]:
    """Average clip probabilities per video id; labels must agree across the clips of one video.

    Returns ``(video_probs, video_labels)`` ordered by ascending video id.
    """
    unique_ids, inverse = torch.unique(video_ids, sorted=True, return_inverse=True)
    num_videos = unique_ids.shape[0]
    sums = torch.zeros(num_videos, probs.shape[1], dtype=torch.float64)
    sums.index_add_(0, inverse, probs.double())
    counts = torch.bincount(inverse, minlength=num_videos).double()
    video_probs = (sums / counts[:, None]).float()
    # first occurrence of each video, then check every clip agrees with it
    first = torch.full((num_videos,), probs.shape[0], dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(probs.shape[0]), reduce="amin")
    video_labels = labels[first]
    expected = video_labels[inverse]
    same = expected == labels if labels.ndim == 1 else (expected == labels).all(dim=1)
    if not bool(same.all()):
        bad = int(video_ids[~same][0])
        raise ValueError(
            f"{owner}: clips of video_id {bad} have different labels; every view of one video must share "
            "its label (check the dataset's video_id assignment)"
        )
    return video_probs, video_labels


def to_multihot(labels: Tensor, num_classes: int, threshold: float = 0.5) -> Tensor:
    """Boolean (N, C) positives: one-hot for class indices, ``labels >= threshold`` for multi-hot."""
    if labels.ndim == 1:
        out = torch.zeros(labels.shape[0], num_classes, dtype=torch.bool)
        out[torch.arange(labels.shape[0]), labels.long()] = True
        return out
    return labels.float() >= threshold
