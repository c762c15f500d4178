"""Single-label accuracy metrics: top-k accuracy (clip and video level) and mean per-class accuracy."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor

from .base import Metric

logger = logging.getLogger(__name__)


def topk_correct(probs: Tensor, labels: Tensor, k: int) -> Tensor:
    """Boolean (N,): the true class is among the ``k`` highest probabilities.

    Ties are broken deterministically towards the lower class index (as ``argmax`` does), so a true
    class tied with a lower-index class counts as ranked after it.
    """
    true_p = probs.gather(1, labels.long()[:, None])
    idx = torch.arange(probs.shape[1])[None, :]
    rank = (probs > true_p).sum(1) + ((probs == true_p) & (idx < labels.long()[:, None])).sum(1)
    return rank < k


def _topk_suffix(prefix: str, k: int) -> str:
    return prefix if k == 1 else f"{prefix}_top{k}"


class ClipAccuracy(Metric):
    """Top-k accuracy (fraction in [0, 1]) for single-label classification; fields ``_acc``, ``_acc_top5``.

    With ``video_level=True`` (see :class:`VideoAccuracy`) the probabilities of all views of a video are
    averaged first and the fields become ``_vid_acc``, ``_vid_acc_top5``. A ``k`` larger than the number
    of classes is clamped to it (every prediction is then correct).
    """

    accepts_multihot_labels = False

    def __init__(self, topk: int | Sequence[int] = (1, 5), split: str = "val", **kwargs) -> None:
        ks = (topk,) if isinstance(topk, int) else tuple(topk)
        if not ks or any((not isinstance(k, int)) or k < 1 for k in ks):
            raise ValueError(f"{type(self).__name__}: topk must be positive integers, got {topk!r}")
        if len(set(ks)) != len(ks):
            raise ValueError(f"{type(self).__name__}: topk has duplicates: {topk!r}")
        self.topk = ks
        super().__init__(split, **kwargs)

    def _suffixes(self) -> list[str]:
        return [_topk_suffix("acc", k) for k in self.topk]

    def _compute(self, probs: Tensor, labels: Tensor) -> list[float]:
        num_classes = probs.shape[1]
        out = []
        for k in self.topk:
            if k > num_classes:
                logger.debug(
                    "%s: top-%d requested with only %d classes; using k=%d", self, k, num_classes, num_classes
                )
            out.append(float(topk_correct(probs, labels, min(k, num_classes)).double().mean()))
        return out


class VideoAccuracy(ClipAccuracy):
    """Top-k accuracy after averaging probabilities per ``video_id``; fields ``_vid_acc``, ``_vid_acc_top5``."""

    def __init__(self, topk: int | Sequence[int] = (1, 5), split: str = "val", **kwargs) -> None:
        kwargs.setdefault("video_level", True)
        super().__init__(topk, split, **kwargs)


class ClipMeanPerClassAccuracy(Metric):
    """Mean over classes of the top-1 recall of that class (balanced accuracy); field ``_meanperclassacc``.

    Classes without any sample in the evaluated set are skipped (same as scikit-learn's
    ``balanced_accuracy_score``).
    """

    accepts_multihot_labels = False

    def _suffixes(self) -> list[str]:
        return ["meanperclassacc"]

    def _compute(self, probs: Tensor, labels: Tensor) -> list[float]:
        num_classes = probs.shape[1]
        correct = (probs.argmax(1) == labels).double()
        per_class_correct = torch.zeros(num_classes, dtype=torch.float64).index_add_(0, labels, correct)
        per_class_n = torch.bincount(labels, minlength=num_classes).double()
        present = per_class_n > 0
        return [float((per_class_correct[present] / per_class_n[present]).mean())]


class VideoMeanPerClassAccuracy(ClipMeanPerClassAccuracy):
    """Mean per-class accuracy on video-averaged probabilities; field ``_vid_meanperclassacc``."""

    def __init__(self, split: str = "val", **kwargs) -> None:
        kwargs.setdefault("video_level", True)
        super().__init__(split, **kwargs)
