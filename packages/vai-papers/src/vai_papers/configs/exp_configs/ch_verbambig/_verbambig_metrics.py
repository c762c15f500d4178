# Verb ambiguity (BMVC 2022): the metric lists shared by the full-scale end-to-end and feature runs (included
# by _verbambig_paper_base.py and _verbambig_features_base.py after they set _pseudo / _ideal).
# Sigmoid outputs for every loss, as upstream's Confusing-HMDB configs: the ranking metrics (top-1/top-5,
# top-set, top-1 multi-label) are the same as with softmax, and IoU, F1 and mAP are computed on sigmoid
# outputs, as upstream's metrics were for every loss.
from vai_train.metrics import (
    Clip_mAP,
    ClipAccuracy,
    ClipF1Measure,
    ClipIOUAccuracy,
    ClipTop1MultilabelAccuracy,
    ClipTopSetMultilabelAccuracy,
)

last_activation = "sigmoid"


def multilabel_metrics(split, **options):
    """The paper's multi-label metrics, top-set accuracy first: top-set, top-1 multi-label, IoU, F1, mAP."""
    return [
        ClipTopSetMultilabelAccuracy(split, **options),
        ClipTop1MultilabelAccuracy(split, **options),
        ClipIOUAccuracy(split, **options),
        ClipF1Measure(split, **options),
        Clip_mAP(split, **options),
    ]


def train_metrics():
    """Top-1 on single-label training targets; none on pseudo-label vectors (they have no single class)."""
    return [] if _pseudo or _ideal else [ClipAccuracy((1,), "train")]
