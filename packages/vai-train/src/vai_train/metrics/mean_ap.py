"""Mean average precision (mAP) over classes, clip level and video level."""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from .base import Metric, to_multihot

logger = logging.getLogger(__name__)

BACKENDS = ("voc", "sklearn")


def average_precision(scores: Tensor, positives: Tensor, interpolation: str = "voc") -> float:
    """Average precision of one class; ``nan`` when it has no positive sample.

    Precision/recall are taken at every distinct score threshold (tied scores enter together).
    ``"voc"``: all-point interpolated AP, precision replaced by its maximum at any higher recall (PASCAL
    VOC 2010+, the CATER/TF object-detection code upstream used). ``"sklearn"``: the step-wise
    ``sum (R_n - R_{n-1}) P_n`` of ``sklearn.metrics.average_precision_score``.
    """
    if interpolation == "CATER":
        interpolation = "voc"
    if interpolation not in BACKENDS:
        raise ValueError(f"average_precision: interpolation must be one of {BACKENDS}, got {interpolation!r}")
    positives = positives.bool()
    num_pos = int(positives.sum())
    if num_pos == 0:
        return float("nan")
    order = torch.argsort(scores, descending=True, stable=True)
    s = scores[order]
    y = positives[order].double()
    tp = torch.cumsum(y, 0)
    fp = torch.cumsum(1.0 - y, 0)
    run_end = torch.ones_like(s, dtype=torch.bool)
    run_end[:-1] = s[1:] != s[:-1]
    tp, fp = tp[run_end], fp[run_end]
    precision = tp / (tp + fp)
    recall = tp / num_pos
    if interpolation == "voc":
        precision = torch.flip(torch.cummax(torch.flip(precision, [0]), 0).values, [0])
    delta_recall = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((delta_recall * precision).sum())


def mean_average_precision(probs: Tensor, labels: Tensor, interpolation: str = "voc") -> tuple[float, Tensor]:
    """mAP over the classes that have at least one positive, plus the per-class AP (``nan`` = skipped)."""
    positives = to_multihot(labels, probs.shape[1])
    aps = torch.tensor(
        [average_precision(probs[:, c], positives[:, c], interpolation) for c in range(probs.shape[1])],
        dtype=torch.float64,
    )
    valid = ~torch.isnan(aps)
    if not bool(valid.any()):
        logger.warning("mAP: no class has a positive sample; returning nan")
        return float("nan"), aps
    return float(aps[valid].mean()), aps


class Clip_mAP(Metric):  # noqa: N801 - upstream's name
    """Mean over classes (with >= 1 positive) of the per-class average precision; field ``_mAP``.

    ``backend`` is ``"voc"`` (interpolated, upstream's default ``'CATER'`` is accepted as a synonym) or
    ``"sklearn"`` (non-interpolated, identical to ``sklearn.metrics.average_precision_score``). Labels may
    be multi-hot (positive where ``>= 0.5``) or class indices (one-hot).
    """

    def __init__(self, split: str = "val", backend: str = "voc", **kwargs) -> None:
        backend = "voc" if backend == "CATER" else backend
        if backend not in BACKENDS:
            raise ValueError(
                f"{type(self).__name__}: backend must be one of {BACKENDS} or 'CATER', got {backend!r}"
            )
        self.backend = backend
        super().__init__(split, **kwargs)

    def _suffixes(self) -> list[str]:
        return ["mAP"]

    def _compute(self, probs: Tensor, labels: Tensor) -> list[float]:
        return [mean_average_precision(probs, labels, self.backend)[0]]


class Video_mAP(Clip_mAP):  # noqa: N801 - upstream's name
    """mAP on probabilities averaged per ``video_id``; field ``_vid_mAP``."""

    def __init__(self, split: str = "val", backend: str = "voc", **kwargs) -> None:
        kwargs.setdefault("video_level", True)
        super().__init__(split, backend, **kwargs)
