"""Classification metrics (clip and video level), best-metric helpers and per-class accuracy tools.

Every metric is a plain accumulator: ``reset()``, ``update(probs, labels, video_ids)``, ``compute()`` ->
``{csv_field: value}``. Upstream PyVideoAI class names are kept as aliases (``ClipAccuracyMetric`` ...).
"""

from .accuracy import (
    ClipAccuracy,
    ClipMeanPerClassAccuracy,
    VideoAccuracy,
    VideoMeanPerClassAccuracy,
    topk_correct,
)
from .base import Metric, average_per_video
from .confusion import (
    PerClassAccuracy,
    class_order,
    confusion_matrix,
    per_class_accuracy,
    write_per_class_accuracy_csv,
)
from .defaults import TASKS, best_metric, best_metric_field, default_metrics, field_directions
from .mean_ap import Clip_mAP, Video_mAP, average_precision, mean_average_precision
from .multilabel import (
    ClipF1Measure,
    ClipIOUAccuracy,
    ClipTop1MultilabelAccuracy,
    ClipTopkMultilabelAccuracy,
    ClipTopSetMultilabelAccuracy,
)

# Upstream (PyVideoAI) names
ClipAccuracyMetric = ClipAccuracy
VideoAccuracyMetric = VideoAccuracy
Clip_mAPMetric = Clip_mAP
Video_mAPMetric = Video_mAP
ClipMeanPerclassAccuracyMetric = ClipMeanPerClassAccuracy
ClipIOUAccuracyMetric = ClipIOUAccuracy
ClipF1MeasureMetric = ClipF1Measure
ClipTop1MultilabelAccuracyMetric = ClipTop1MultilabelAccuracy
ClipTopkMultilabelAccuracyMetric = ClipTopkMultilabelAccuracy
ClipTopSetMultilabelAccuracyMetric = ClipTopSetMultilabelAccuracy

__all__ = [
    "TASKS",
    "Clip_mAP",
    "Clip_mAPMetric",
    "ClipAccuracy",
    "ClipAccuracyMetric",
    "ClipF1Measure",
    "ClipF1MeasureMetric",
    "ClipIOUAccuracy",
    "ClipIOUAccuracyMetric",
    "ClipMeanPerClassAccuracy",
    "ClipMeanPerclassAccuracyMetric",
    "ClipTop1MultilabelAccuracy",
    "ClipTop1MultilabelAccuracyMetric",
    "ClipTopkMultilabelAccuracy",
    "ClipTopkMultilabelAccuracyMetric",
    "ClipTopSetMultilabelAccuracy",
    "ClipTopSetMultilabelAccuracyMetric",
    "Metric",
    "PerClassAccuracy",
    "Video_mAP",
    "Video_mAPMetric",
    "VideoAccuracy",
    "VideoAccuracyMetric",
    "VideoMeanPerClassAccuracy",
    "average_per_video",
    "average_precision",
    "best_metric",
    "best_metric_field",
    "class_order",
    "confusion_matrix",
    "default_metrics",
    "field_directions",
    "mean_average_precision",
    "per_class_accuracy",
    "topk_correct",
    "write_per_class_accuracy_csv",
]
