"""default_metrics per task and the best-metric convention."""

import pytest
import torch
from vai_train.metrics import (
    Clip_mAP,
    ClipAccuracy,
    Video_mAP,
    VideoAccuracy,
    best_metric,
    best_metric_field,
    default_metrics,
    field_directions,
)

torch.set_num_threads(1)


def test_single_label_defaults():
    ms = default_metrics("single_label", "val")
    assert [type(m) for m in ms] == [ClipAccuracy]
    assert ms[0].fields() == ["val_acc", "val_acc_top5"]
    assert best_metric_field(ms) == "val_acc"
    mc = default_metrics("single_label", "multicropval", multicrop=True)
    assert [type(m) for m in mc] == [ClipAccuracy, VideoAccuracy]
    assert [f for m in mc for f in m.fields()] == [
        "multicropval_acc",
        "multicropval_acc_top5",
        "multicropval_vid_acc",
        "multicropval_vid_acc_top5",
    ]


def test_multi_label_defaults():
    ms = default_metrics("multi_label", "val", multicrop=True)
    assert [type(m) for m in ms] == [Clip_mAP, Video_mAP]
    assert best_metric_field(ms) == "val_mAP"
    assert best_metric(ms) is ms[0]
    assert field_directions(ms) == {"val_mAP": True, "val_vid_mAP": True}
    assert [type(m) for m in default_metrics("multilabel", "val")] == [Clip_mAP]


def test_bad_task_and_empty_list():
    with pytest.raises(ValueError, match="task must be one of"):
        default_metrics("regression", "val")
    with pytest.raises(ValueError, match="metric list is empty"):
        best_metric_field([])


def test_defaults_run_end_to_end():
    ms = default_metrics("single_label", "val", multicrop=True)
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1]])
    for m in ms:
        m.update(probs, torch.tensor([0, 0]), torch.tensor([0, 0]))
    results = {k: v for m in ms for k, v in m.compute().items()}
    assert results == pytest.approx(
        {"val_acc": 0.5, "val_acc_top5": 1.0, "val_vid_acc": 1.0, "val_vid_acc_top5": 1.0}
    )
