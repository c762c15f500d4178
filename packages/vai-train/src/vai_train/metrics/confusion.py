"""Confusion matrix and per-class accuracy for single-label predictions, plus the per-class CSV writer."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..atomic import atomic_open

SORT_KEYS = ("class_id", "val_freq", "train_freq", "accuracy")


def confusion_matrix(predictions: Tensor, labels: Tensor, num_classes: int | None = None) -> Tensor:
    """(C, C) int64 counts, rows = true class, columns = predicted class (scikit-learn's convention).

    ``predictions`` are class indices (N,) or probabilities (N, C) (argmax is taken).
    """
    predictions = torch.as_tensor(predictions)
    labels = torch.as_tensor(labels).long()
    if predictions.ndim == 2:
        num_classes = predictions.shape[1] if num_classes is None else num_classes
        predictions = predictions.argmax(1)
    predictions = predictions.long()
    if predictions.shape != labels.shape or labels.ndim != 1:
        raise ValueError(
            f"confusion_matrix: predictions {tuple(predictions.shape)} and labels {tuple(labels.shape)} "
            "must be (N,) class indices (or predictions (N, C) probabilities)"
        )
    if labels.numel() == 0:
        raise ValueError("confusion_matrix: no samples given")
    if num_classes is None:
        num_classes = int(max(predictions.max(), labels.max())) + 1
    if int(labels.max()) >= num_classes or int(predictions.max()) >= num_classes or int(labels.min()) < 0:
        raise ValueError(f"confusion_matrix: class index out of range [0, {num_classes})")
    flat = labels * num_classes + predictions
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass
class PerClassAccuracy:
    """Per-class top-1 accuracy from a confusion matrix: ``accuracy`` is ``nan`` for classes with no sample."""

    correct: Tensor  # (C,) int64
    count: Tensor  # (C,) int64
    accuracy: Tensor  # (C,) float64 in [0, 1]


def per_class_accuracy(cm: Tensor) -> PerClassAccuracy:
    """Correct counts (diagonal), sample counts (row sums) and accuracy per class."""
    cm = torch.as_tensor(cm)
    correct = cm.diagonal().long()
    count = cm.sum(1).long()
    acc = torch.where(
        count > 0,
        correct.double() / count.clamp(min=1).double(),
        torch.full_like(count, float("nan"), dtype=torch.float64),
    )
    return PerClassAccuracy(correct, count, acc)


def class_order(
    cm: Tensor, sort_by: str = "class_id", train_counts: Sequence[int] | Tensor | None = None
) -> list[int]:
    """Class indices ordered by ``class_id``, descending ``val_freq``/``train_freq``, or descending ``accuracy``."""
    if sort_by not in SORT_KEYS:
        raise ValueError(f"class_order: sort_by must be one of {SORT_KEYS}, got {sort_by!r}")
    stats = per_class_accuracy(cm)
    n = cm.shape[0]
    if sort_by == "class_id":
        return list(range(n))
    if sort_by == "train_freq":
        if train_counts is None:
            raise ValueError(
                "class_order: sort_by='train_freq' needs train_counts (samples per class in train)"
            )
        key = torch.as_tensor(train_counts).double()
    elif sort_by == "val_freq":
        key = stats.count.double()
    else:
        key = torch.nan_to_num(stats.accuracy, nan=-1.0)
    return sorted(range(n), key=lambda c: (-float(key[c]), c))


def write_per_class_accuracy_csv(
    path: str | os.PathLike,
    cm: Tensor,
    class_names: Sequence[str] | None = None,
    train_counts: Sequence[int] | Tensor | None = None,
    sort_by: str = "class_id",
) -> Path:
    """Write ``per_class_accuracy.csv``: class, acc (%), correct, n_val[, n_train]; returns the path.

    Classes without validation samples get an empty ``acc`` cell.
    """
    cm = torch.as_tensor(cm)
    n = cm.shape[0]
    if class_names is not None and len(class_names) != n:
        raise ValueError(f"write_per_class_accuracy_csv: {len(class_names)} class names for {n} classes")
    if train_counts is not None and len(train_counts) != n:
        raise ValueError(f"write_per_class_accuracy_csv: {len(train_counts)} train counts for {n} classes")
    stats = per_class_accuracy(cm)
    path = Path(path)
    if path.suffix != ".csv":
        path = path / "per_class_accuracy.csv"
    header = ["class", "acc", "correct", "n_val"] + (["n_train"] if train_counts is not None else [])
    with atomic_open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for c in class_order(cm, sort_by, train_counts):
            acc = stats.accuracy[c]
            row = [
                class_names[c] if class_names is not None else str(c),
                "" if torch.isnan(acc) else f"{100 * float(acc):.2f}",
                int(stats.correct[c]),
                int(stats.count[c]),
            ]
            if train_counts is not None:
                row.append(int(train_counts[c]))
            writer.writerow(row)
    return path
