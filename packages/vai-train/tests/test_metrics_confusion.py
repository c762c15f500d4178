"""Confusion matrix, per-class accuracy and the per_class_accuracy.csv writer."""

import csv

import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from vai_train.metrics import class_order, confusion_matrix, per_class_accuracy, write_per_class_accuracy_csv

torch.set_num_threads(1)


def test_confusion_matrix_matches_sklearn():
    g = torch.Generator().manual_seed(4)
    labels = torch.randint(0, 4, (60,), generator=g)
    probs = torch.rand(60, 4, generator=g)
    cm = confusion_matrix(probs, labels)
    ref = sk_confusion_matrix(labels.numpy(), probs.argmax(1).numpy(), labels=list(range(4)))
    assert cm.tolist() == ref.tolist()
    assert confusion_matrix(probs.argmax(1), labels, num_classes=4).tolist() == ref.tolist()


def test_per_class_accuracy_and_csv(tmp_path):
    preds = torch.tensor([0, 0, 1, 1, 1, 0])
    labels = torch.tensor([0, 1, 1, 1, 0, 0])
    cm = confusion_matrix(preds, labels, num_classes=3)  # class 2 has no sample
    assert cm.tolist() == [[2, 1, 0], [1, 2, 0], [0, 0, 0]]
    stats = per_class_accuracy(cm)
    assert stats.correct.tolist() == [2, 2, 0] and stats.count.tolist() == [3, 3, 0]
    assert stats.accuracy[:2].tolist() == pytest.approx([2 / 3, 2 / 3]) and torch.isnan(stats.accuracy[2])

    path = write_per_class_accuracy_csv(
        tmp_path / "plots", cm, ["run", "jump", "swim"], train_counts=[5, 9, 1]
    )
    assert path.name == "per_class_accuracy.csv"
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["class", "acc", "correct", "n_val", "n_train"]
    assert rows[1:] == [
        ["run", "66.67", "2", "3", "5"],
        ["jump", "66.67", "2", "3", "9"],
        ["swim", "", "0", "0", "1"],
    ]

    by_train = write_per_class_accuracy_csv(
        tmp_path / "t.csv", cm, train_counts=[5, 9, 1], sort_by="train_freq"
    )
    assert [r[0] for r in list(csv.reader(by_train.open()))[1:]] == ["1", "0", "2"]


def test_class_order_keys():
    cm = torch.tensor([[1, 1], [0, 3]])
    assert class_order(cm, "accuracy") == [1, 0]
    assert class_order(cm, "val_freq") == [1, 0]
    with pytest.raises(ValueError, match="needs train_counts"):
        class_order(cm, "train_freq")
    with pytest.raises(ValueError, match="sort_by must be one of"):
        class_order(cm, "name")


def test_bad_inputs():
    with pytest.raises(ValueError, match="no samples"):
        confusion_matrix(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="out of range"):
        confusion_matrix(torch.tensor([0, 3]), torch.tensor([0, 1]), num_classes=3)
    with pytest.raises(ValueError, match="2 class names for 3 classes"):
        write_per_class_accuracy_csv("x.csv", torch.eye(3, dtype=torch.long), ["a", "b"])
