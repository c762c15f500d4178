"""Multi-label accuracy metrics: top-1 / top-k / top-set ranking accuracies and thresholded IoU / F1.

Positives ``Y`` of a sample are the classes whose label is ``>= 0.5`` (class-index labels become one-hot).
Ranking metrics order classes by probability, ties broken towards the lower class index.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from .base import Metric, to_multihot

logger = logging.getLogger(__name__)


def class_ranks(probs: Tensor) -> Tensor:
    """(N, C) rank of each class within its sample, 0 = highest probability (ties: lower index first)."""
    order = torch.argsort(probs, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(probs.shape[1]).expand_as(order).contiguous())
    return ranks


def _ranking_scores(probs: Tensor, labels: Tensor, owner: str) -> tuple[Tensor, Tensor, Tensor] | None:
    """Per-sample (top1_hit, topk_hit, topset_fraction) over samples with at least one positive."""
    positives = to_multihot(labels, probs.shape[1])
    num_pos = positives.sum(1)
    keep = num_pos > 0
    if not bool(keep.all()):
        logger.debug("%s: %d samples without positive labels excluded", owner, int((~keep).sum()))
    if not bool(keep.any()):
        logger.warning("%s: no sample has a positive label; returning nan", owner)
        return None
    positives, num_pos, probs = positives[keep], num_pos[keep], probs[keep]
    in_topk = class_ranks(probs) < num_pos[:, None]
    hits = (in_topk & positives).sum(1)
    top1 = positives.gather(1, probs.argmax(1, keepdim=True)).squeeze(1)
    return top1.double(), (hits > 0).double(), hits.double() / num_pos.double()


class _RankingMetric(Metric):
    _which = 0
    _suffix = ""

    def _suffixes(self) -> list[str]:
        return [self._suffix]

    def _compute(self, probs: Tensor, labels: Tensor) -> list[float]:
        scores = _ranking_scores(probs, labels, type(self).__name__)
        return [float("nan") if scores is None else float(scores[self._which].mean())]


class ClipTop1MultilabelAccuracy(_RankingMetric):
    """Fraction of samples whose highest-probability class is a positive; ``_top1_multilabel_accuracy``.

    Samples without any positive label are excluded (as for top-k and top-set).
    """

    _which = 0
    _suffix = "top1_multilabel_accuracy"


class ClipTopkMultilabelAccuracy(_RankingMetric):
    """Fraction of samples where any of the top-|Y| classes is a positive; ``_topk_multilabel_accuracy``."""

    _which = 1
    _suffix = "topk_multilabel_accuracy"


class ClipTopSetMultilabelAccuracy(_RankingMetric):
    """Mean fraction of the top-|Y| classes that are positives (Wray et al. 2019); ``_topset_multilabel_accuracy``."""

    _which = 2
    _suffix = "topset_multilabel_accuracy"


class _ThresholdMetric(Metric):
    def __init__(
        self, split: str = "val", threshold: float = 0.5, zero_division: float = 0.0, **kwargs
    ) -> None:
        self.threshold = threshold
        self.zero_division = zero_division
        super().__init__(split, **kwargs)

    def _sets(self, probs: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        predicted = probs >= self.threshold
        positives = to_multihot(labels, probs.shape[1])
        inter = (predicted & positives).sum(1).double()
        return inter, predicted.sum(1).double(), positives.sum(1).double()


class ClipIOUAccuracy(_ThresholdMetric):
    """Mean over samples of ``|P ∩ Y| / |P ∪ Y|`` with ``P = {c : p_c >= 0.5}``; field ``_iou_accuracy``.

    A sample with both sets empty scores ``zero_division`` (0 by default, like scikit-learn's
    ``jaccard_score(average='samples')``).
    """

    def _suffixes(self) -> list[str]:
        return ["iou_accuracy"]

    def _compute(self, probs: Tensor, labels: Tensor) -> list[float]:
        inter, n_pred, n_pos = self._sets(probs, labels)
        union = n_pred + n_pos - inter
        score = torch.where(union > 0, inter / union.clamp(min=1), torch.full_like(union, self.zero_division))
        return [float(score.mean())]


class ClipF1Measure(_ThresholdMetric):
    """Mean over samples of ``2|P ∩ Y| / (|P| + |Y|)`` with ``P = {c : p_c >= 0.5}``; field ``_f1_measure``.

    A sample with both sets empty scores ``zero_division`` (scikit-learn ``f1_score(average='samples')``).
    """

    def _suffixes(self) -> list[str]:
        return ["f1_measure"]

    def _compute(self, probs: Tensor, labels: Tensor) -> list[float]:
        inter, n_pred, n_pos = self._sets(probs, labels)
        denom = n_pred + n_pos
        score = torch.where(
            denom > 0, 2 * inter / denom.clamp(min=1), torch.full_like(denom, self.zero_division)
        )
        return [float(score.mean())]
