"""Top-k accuracy (clip / video level), mean per-class accuracy, alternative labels and input checks."""

import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, top_k_accuracy_score
from vai_train.metrics import (
    ClipAccuracy,
    ClipAccuracyMetric,
    ClipMeanPerClassAccuracy,
    VideoAccuracy,
    VideoAccuracyMetric,
    topk_correct,
)

torch.set_num_threads(1)


def _probs(rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_clip_accuracy_hand_computed():
    probs = _probs([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5], [0.7, 0.2, 0.1]])
    labels = torch.tensor([1, 2, 0, 0])
    m = ClipAccuracy(topk=(1, 2), split="val")
    m.update(probs[:2], labels[:2], torch.arange(2))
    m.update(probs[2:], labels[2:], torch.arange(2, 4))
    # top-1: sample 0 and 3 correct -> 0.5 ; top-2: sample 1 (0.3 is second) also -> 0.75
    assert m.compute() == pytest.approx({"val_acc": 0.5, "val_acc_top2": 0.75})
    assert m.fields() == ["val_acc", "val_acc_top2"]


def test_clip_accuracy_matches_sklearn():
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(50, 7, generator=g).softmax(1)
    labels = torch.randint(0, 7, (50,), generator=g)
    m = ClipAccuracy((1, 5), split="test")
    m.update(probs, labels, torch.arange(50))
    out = m.compute()
    assert out["test_acc"] == pytest.approx(accuracy_score(labels.numpy(), probs.argmax(1).numpy()))
    assert out["test_acc_top5"] == pytest.approx(
        top_k_accuracy_score(labels.numpy(), probs.numpy(), k=5, labels=list(range(7)))
    )


def test_topk_larger_than_num_classes_is_clamped():
    probs = _probs([[0.9, 0.1], [0.8, 0.2]])
    m = ClipAccuracy((1, 5))
    m.update(probs, torch.tensor([0, 1]), torch.arange(2))
    assert m.compute() == pytest.approx({"val_acc": 0.5, "val_acc_top5": 1.0})


def test_ties_broken_towards_lower_class_index():
    probs = _probs([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2]])
    labels = torch.tensor([0, 1])
    assert topk_correct(probs, labels, 1).tolist() == [True, False]  # same as argmax
    assert topk_correct(probs, labels, 2).tolist() == [True, True]
    assert bool((probs.argmax(1) == labels)[0])


def test_video_accuracy_averages_probabilities_per_video():
    # video 7: crops vote 0 (0.6) and 1 (0.9) -> average favours 1 (label 1) ; video 3: single crop, wrong
    probs = _probs([[0.6, 0.4], [0.1, 0.9], [0.8, 0.2]])
    labels = torch.tensor([1, 1, 1])
    vids = torch.tensor([7, 7, 3])
    clip = ClipAccuracy(1, split="multicropval")
    video = VideoAccuracy(1, split="multicropval")
    for m in (clip, video):
        m.update(probs, labels, vids)
    assert clip.compute() == pytest.approx({"multicropval_acc": 1 / 3})
    assert video.compute() == pytest.approx({"multicropval_vid_acc": 0.5})
    assert VideoAccuracy().fields() == ["val_vid_acc", "val_vid_acc_top5"]


def test_video_accuracy_rejects_disagreeing_labels():
    m = VideoAccuracy(1)
    m.update(_probs([[0.6, 0.4], [0.1, 0.9]]), torch.tensor([0, 1]), torch.tensor([5, 5]))
    with pytest.raises(ValueError, match="video_id 5 have different labels"):
        m.compute()


def test_mean_per_class_accuracy_hand_and_sklearn():
    # class 0: 2/3 correct, class 1: 1/1, class 2: never present (skipped), predictions sometimes 2
    probs = _probs([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1]])
    labels = torch.tensor([0, 0, 0, 1])
    m = ClipMeanPerClassAccuracy(split="val")
    m.update(probs, labels, torch.arange(4))
    value = m.compute()["val_meanperclassacc"]
    assert value == pytest.approx((2 / 3 + 1) / 2)
    with pytest.warns(UserWarning):  # sklearn warns about the predicted-but-absent class
        assert value == pytest.approx(balanced_accuracy_score(labels.numpy(), probs.argmax(1).numpy()))


def test_reset_and_upstream_aliases():
    assert ClipAccuracyMetric is ClipAccuracy and VideoAccuracyMetric is VideoAccuracy
    m = ClipAccuracy(1)
    m.update(_probs([[0.9, 0.1]]), torch.tensor([1]), torch.tensor([0]))
    m.reset()
    m.update(_probs([[0.9, 0.1]]), torch.tensor([0]), torch.tensor([0]))
    assert m.compute() == {"val_acc": 1.0}


def test_empty_compute_raises_clear_error():
    with pytest.raises(RuntimeError, match=r"ClipAccuracy\('val'\).compute\(\) called with no samples"):
        ClipAccuracy().compute()


@pytest.mark.parametrize(
    ("probs", "labels", "vids", "match"),
    [
        (torch.rand(3), torch.tensor([0, 1, 0]), torch.arange(3), "probs must have shape"),
        (torch.rand(3, 2), torch.tensor([0, 1]), torch.arange(3), "labels must have shape"),
        (torch.rand(3, 2), torch.tensor([0, 1, 2]), torch.arange(3), "label out of range"),
        (torch.rand(3, 2), torch.tensor([0, 1, 0]), torch.arange(2), "video_ids must have shape"),
        (torch.rand(3, 2), torch.ones(3, 2), torch.arange(3), "needs class-index labels"),
        (torch.rand(3, 2), torch.tensor([0.0, 1.0, 0.0]), torch.arange(3), "must be integers"),
    ],
)
def test_bad_inputs(probs, labels, vids, match):
    with pytest.raises(ValueError, match=match):
        ClipAccuracy(1).update(probs, labels, vids)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="topk must be positive"):
        ClipAccuracy((0, 1))
    with pytest.raises(ValueError, match="missing_action"):
        ClipAccuracy(video_id_to_label_missing_action="ignore")


def test_video_id_to_label_replaces_labels_and_skips():
    probs = _probs([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    given = torch.tensor([1, 1, 1])  # all wrong w.r.t. the alternative labels below
    alt = {10: 0, 11: 1}
    m = ClipAccuracy(1, split="val_alt", video_id_to_label=alt, video_id_to_label_missing_action="skip")
    m.update(probs, given, torch.tensor([10, 11, 12]))
    assert m.num_samples == 2
    assert m.compute() == {"val_alt_acc": 1.0}

    strict = ClipAccuracy(1, video_id_to_label=alt)
    with pytest.raises(KeyError, match="video_id 12 is not in video_id_to_label"):
        strict.update(probs, given, torch.tensor([10, 11, 12]))

    only_missing = ClipAccuracy(1, video_id_to_label=alt, video_id_to_label_missing_action="skip")
    only_missing.update(probs[:1], given[:1], torch.tensor([99]))
    with pytest.raises(RuntimeError, match="1 samples were skipped"):
        only_missing.compute()


def test_is_better():
    m = ClipAccuracy()
    assert m.is_better(0.5, None) and m.is_better(0.6, 0.5) and not m.is_better(0.5, 0.5)


def test_int32_labels_and_half_probs_accepted():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8]], dtype=torch.float16)
    for metric in (ClipAccuracy(1), ClipMeanPerClassAccuracy()):
        metric.update(probs, torch.tensor([0, 0], dtype=torch.int32), torch.arange(2))
        assert list(metric.compute().values()) == [pytest.approx(0.5)]
