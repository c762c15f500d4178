"""mAP: VOC-interpolated and scikit-learn backends, skipped classes, ties, video level."""

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score
from vai_train.metrics import Clip_mAP, Clip_mAPMetric, Video_mAP, average_precision, mean_average_precision

torch.set_num_threads(1)


def test_average_precision_hand_computed():
    # ranking: +, -, +, -  -> P at recall steps: 1/1, 2/3
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    pos = torch.tensor([1, 0, 1, 0])
    expected = 0.5 * 1.0 + 0.5 * (2 / 3)
    assert average_precision(scores, pos, "sklearn") == pytest.approx(expected)
    assert average_precision(scores, pos, "voc") == pytest.approx(expected)  # precision already monotone


def test_voc_interpolation_differs_from_sklearn():
    # ranking: -, +, +  -> P(R=.5)=1/2, P(R=1)=2/3 ; VOC lifts the first to 2/3
    scores = torch.tensor([0.9, 0.8, 0.7])
    pos = torch.tensor([0, 1, 1])
    assert average_precision(scores, pos, "sklearn") == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    assert average_precision(scores, pos, "voc") == pytest.approx(2 / 3)
    assert average_precision(scores, pos, "CATER") == pytest.approx(2 / 3)


def test_ties_enter_together_like_sklearn():
    scores = torch.tensor([0.5, 0.5, 0.5, 0.1])
    pos = torch.tensor([0, 1, 0, 1])
    ref = average_precision_score(pos.numpy(), scores.numpy())
    assert average_precision(scores, pos, "sklearn") == pytest.approx(ref)
    # reordering tied samples must not change the value
    assert average_precision(scores[[1, 0, 2, 3]], pos[[1, 0, 2, 3]], "voc") == pytest.approx(
        average_precision(scores, pos, "voc")
    )


def test_clip_map_sklearn_backend_matches_sklearn_per_class():
    g = torch.Generator().manual_seed(1)
    probs = torch.rand(40, 6, generator=g)
    labels = (torch.rand(40, 6, generator=g) > 0.7).float()
    labels[:, 4] = 0  # class without positives: skipped
    m = Clip_mAP(split="val", backend="sklearn")
    m.update(probs[:15], labels[:15], torch.arange(15))
    m.update(probs[15:], labels[15:], torch.arange(15, 40))
    ref = np.mean(
        [
            average_precision_score(labels[:, c].numpy(), probs[:, c].numpy())
            for c in range(6)
            if labels[:, c].any()
        ]
    )
    assert m.compute()["val_mAP"] == pytest.approx(ref)
    _, aps = mean_average_precision(probs, labels, "sklearn")
    assert torch.isnan(aps[4]) and not torch.isnan(aps[[0, 1, 2, 3, 5]]).any()


def test_voc_map_is_at_least_sklearn_map():
    g = torch.Generator().manual_seed(2)
    probs = torch.rand(30, 5, generator=g)
    labels = (torch.rand(30, 5, generator=g) > 0.6).float()
    voc, _ = mean_average_precision(probs, labels, "voc")
    skl, _ = mean_average_precision(probs, labels, "sklearn")
    assert voc >= skl - 1e-12


def test_map_accepts_class_index_labels_and_perfect_ranking():
    probs = torch.eye(3)[[0, 1, 2, 0]] * 0.8 + 0.1
    m = Clip_mAPMetric(split="val")
    m.update(probs, torch.tensor([0, 1, 2, 0]), torch.arange(4))
    assert m.compute() == {"val_mAP": pytest.approx(1.0)}


def test_map_no_positive_anywhere_is_nan():
    m = Clip_mAP()
    m.update(torch.rand(3, 2), torch.zeros(3, 2), torch.arange(3))
    assert np.isnan(m.compute()["val_mAP"])


def test_video_map_averages_views():
    probs = torch.tensor([[0.9, 0.1], [0.1, 0.5], [0.4, 0.6], [0.3, 0.2]])
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    vids = torch.tensor([0, 0, 1, 1])
    m = Video_mAP(split="multicropval", backend="sklearn")
    m.update(probs, labels, vids)
    vp = torch.tensor([[0.5, 0.3], [0.35, 0.4]])
    vl = np.array([[1, 0], [0, 1]])
    ref = np.mean([average_precision_score(vl[:, c], vp[:, c].numpy()) for c in range(2)])
    assert m.compute() == {"multicropval_vid_mAP": pytest.approx(ref)}


def test_bad_backend():
    with pytest.raises(ValueError, match="backend must be one of"):
        Clip_mAP(backend="trapezoid")
    with pytest.raises(ValueError, match="interpolation must be one of"):
        average_precision(torch.rand(3), torch.tensor([1, 0, 0]), "x")


def test_multihot_shape_checked():
    with pytest.raises(ValueError, match=r"multi-hot labels must have shape \(2, 3\)"):
        Clip_mAP().update(torch.rand(2, 3), torch.ones(2, 4), torch.arange(2))


def _voc_reference(scores, positives):
    """Textbook all-point interpolated AP (PASCAL VOC 2010+) over samples sorted by score."""
    order = np.argsort(-scores, kind="stable")
    y = positives[order].astype(float)
    tp, fp = np.cumsum(y), np.cumsum(1 - y)
    recall = np.concatenate([[0.0], tp / y.sum(), [1.0]])
    precision = np.concatenate([[0.0], tp / (tp + fp), [0.0]])
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    idx = np.where(recall[1:] != recall[:-1])[0] + 1
    return float(np.sum((recall[idx] - recall[idx - 1]) * precision[idx]))


def test_voc_backend_matches_textbook_definition_without_ties():
    rng = np.random.default_rng(5)
    for _ in range(5):
        scores = rng.random(30)
        positives = rng.random(30) > 0.6
        positives[0] = True
        assert average_precision(
            torch.from_numpy(scores), torch.from_numpy(positives), "voc"
        ) == pytest.approx(_voc_reference(scores, positives))
