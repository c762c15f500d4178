"""Multi-label top-1 / top-k / top-set accuracies and IoU / F1 at threshold 0.5."""

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, jaccard_score
from vai_train.metrics import (
    ClipF1Measure,
    ClipIOUAccuracy,
    ClipIOUAccuracyMetric,
    ClipTop1MultilabelAccuracy,
    ClipTopkMultilabelAccuracy,
    ClipTopSetMultilabelAccuracy,
    ClipTopSetMultilabelAccuracyMetric,
)

torch.set_num_threads(1)

PROBS = torch.tensor(
    [
        [0.9, 0.8, 0.1, 0.2],  # Y={1,2}: argmax 0 no; top-2={0,1} -> 1 hit; set 1/2
        [0.1, 0.2, 0.7, 0.6],  # Y={2}: argmax 2 yes; top-1={2} hit; set 1
        [0.3, 0.4, 0.6, 0.9],  # Y={0,1,2}: argmax 3 no; top-3={3,2,1} -> 2 hits; set 2/3
    ]
)
LABELS = torch.tensor([[0, 1, 1, 0], [0, 0, 1, 0], [1, 1, 1, 0]], dtype=torch.float32)


def _run(metric, probs=PROBS, labels=LABELS):
    metric.update(probs, labels, torch.arange(probs.shape[0]))
    return metric.compute()


def test_ranking_metrics_hand_computed():
    assert _run(ClipTop1MultilabelAccuracy()) == {"val_top1_multilabel_accuracy": pytest.approx(1 / 3)}
    assert _run(ClipTopkMultilabelAccuracy()) == {"val_topk_multilabel_accuracy": pytest.approx(1.0)}
    assert _run(ClipTopSetMultilabelAccuracy()) == {
        "val_topset_multilabel_accuracy": pytest.approx((1 / 2 + 1 + 2 / 3) / 3)
    }
    assert ClipTopSetMultilabelAccuracyMetric is ClipTopSetMultilabelAccuracy


def test_ranking_ties_and_samples_without_positives():
    probs = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    labels = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])  # second sample has no positive: excluded
    assert _run(ClipTop1MultilabelAccuracy(), probs, labels)["val_top1_multilabel_accuracy"] == 0.0
    assert _run(ClipTopkMultilabelAccuracy(), probs, labels)["val_topk_multilabel_accuracy"] == 0.0
    only_empty = ClipTopkMultilabelAccuracy()
    assert np.isnan(_run(only_empty, probs[1:], labels[1:])["val_topk_multilabel_accuracy"])


def test_single_label_indices_reduce_to_top1_accuracy():
    probs = torch.tensor([[0.7, 0.3], [0.6, 0.4]])
    labels = torch.tensor([0, 1])
    for metric in (
        ClipTop1MultilabelAccuracy(),
        ClipTopkMultilabelAccuracy(),
        ClipTopSetMultilabelAccuracy(),
    ):
        assert list(_run(metric, probs, labels).values()) == [pytest.approx(0.5)]


def test_iou_and_f1_hand_computed():
    # P = {0,1}, {2,3}, {2,3}; Y = {1,2}, {2}, {0,1,2}
    iou = (1 / 3 + 1 / 2 + 1 / 4) / 3
    f1 = (2 * 1 / 4 + 2 * 1 / 3 + 2 * 1 / 5) / 3
    assert _run(ClipIOUAccuracy()) == {"val_iou_accuracy": pytest.approx(iou)}
    assert _run(ClipF1Measure()) == {"val_f1_measure": pytest.approx(f1)}
    assert ClipIOUAccuracyMetric is ClipIOUAccuracy


@pytest.mark.parametrize("zero_division", [0.0, 1.0])
def test_iou_and_f1_match_sklearn_samples(zero_division):
    g = torch.Generator().manual_seed(3)
    probs = torch.rand(25, 5, generator=g)
    labels = (torch.rand(25, 5, generator=g) > 0.6).float()
    labels[0] = 0
    probs[0] = 0.1  # both sets empty -> zero_division
    pred = (probs >= 0.5).numpy().astype(int)
    y = labels.numpy().astype(int)
    iou = _run(ClipIOUAccuracy(zero_division=zero_division), probs, labels)["val_iou_accuracy"]
    f1 = _run(ClipF1Measure(zero_division=zero_division), probs, labels)["val_f1_measure"]
    assert iou == pytest.approx(jaccard_score(y, pred, average="samples", zero_division=zero_division))
    assert f1 == pytest.approx(f1_score(y, pred, average="samples", zero_division=zero_division))


def test_video_level_variant_field_name():
    m = ClipF1Measure(split="multicropval", video_level=True)
    assert m.fields() == ["multicropval_vid_f1_measure"]
    m.update(
        torch.tensor([[0.9, 0.2], [0.3, 0.2]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([4, 4])
    )
    assert m.compute() == {"multicropval_vid_f1_measure": pytest.approx(1.0)}  # mean 0.6 >= 0.5


def test_alternative_multihot_labels():
    alt = {0: [0.0, 1.0], 1: [1.0, 0.0]}
    m = ClipTop1MultilabelAccuracy(video_id_to_label=alt)
    m.update(torch.tensor([[0.2, 0.8], [0.9, 0.1]]), torch.zeros(2, 2), torch.tensor([0, 1]))
    assert m.compute() == {"val_top1_multilabel_accuracy": 1.0}
