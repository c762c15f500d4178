"""Per-task default metrics and the "best metric" convention (the first field of the first metric)."""

from __future__ import annotations

from collections.abc import Sequence

from .accuracy import ClipAccuracy, VideoAccuracy
from .base import Metric
from .mean_ap import Clip_mAP, Video_mAP

TASKS = ("single_label", "multi_label")


def _normalise_task(task: str) -> str:
    key = task.replace("-", "_").lower()
    key = {"singlelabel": "single_label", "multilabel": "multi_label"}.get(key, key)
    if key not in TASKS:
        raise ValueError(f"default_metrics: task must be one of {TASKS}, got {task!r}")
    return key


def default_metrics(task: str, split: str, multicrop: bool = False) -> list[Metric]:
    """Upstream's defaults, best metric first.

    single_label: ``ClipAccuracy(1, 5)`` (+ ``VideoAccuracy(1, 5)`` when ``multicrop``);
    multi_label: ``Clip_mAP`` (+ ``Video_mAP`` when ``multicrop``).
    """
    if _normalise_task(task) == "single_label":
        metrics: list[Metric] = [ClipAccuracy((1, 5), split)]
        if multicrop:
            metrics.append(VideoAccuracy((1, 5), split))
    else:
        metrics = [Clip_mAP(split)]
        if multicrop:
            metrics.append(Video_mAP(split))
    return metrics


def best_metric(metrics: Sequence[Metric]) -> Metric:
    """The metric that selects the best checkpoint: by convention the first one in the list."""
    if not metrics:
        raise ValueError(
            "best_metric: the metric list is empty; define at least one metric for the val split"
        )
    return metrics[0]


def best_metric_field(metrics: Sequence[Metric]) -> str:
    """CSV field of the best metric, e.g. ``"val_acc"`` or ``"val_mAP"`` (first field of the first metric)."""
    return best_metric(metrics).fields()[0]


def field_directions(metrics: Sequence[Metric]) -> dict[str, bool]:
    """``{csv_field: higher_is_better}`` for every field of every metric (handy for reports)."""
    return {field: m.higher_is_better for m in metrics for field in m.fields()}
