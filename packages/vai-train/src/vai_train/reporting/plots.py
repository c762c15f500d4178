"""Matplotlib figures: per-family metric curves from ``summary.csv`` and confusion matrices.

matplotlib is the optional ``plots`` extra; it is imported lazily and only through its object-oriented
API (``Figure`` + Agg), so no GUI backend or global pyplot state is touched.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .summary_csv import read_summary

logger = logging.getLogger(__name__)

FORMATS = ("png", "pdf")


def have_matplotlib() -> bool:
    """Whether matplotlib (the ``plots`` extra) can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(**kwargs: Any) -> Any:
    """A new ``matplotlib.figure.Figure`` bound to the Agg canvas; clear error if matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(
            "plotting needs matplotlib: pip install matplotlib (vai-train's [plots] extra)"
        ) from e
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, stem: str | os.PathLike, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Save ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` (creating folders); returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        fig.savefig(path, format=fmt, dpi=100, bbox_inches="tight")
        paths.append(path)
    return paths


def family_basename(field: str) -> str:
    """Plot file name of a metric field: ``acc`` -> ``accuracy``, ``vid_acc_top5`` -> ``accuracy_top5``."""
    field = field[4:] if field.startswith("vid_") else field
    if field == "acc":
        return "accuracy"
    match = re.fullmatch(r"acc_top(\d+)", field)
    if match:
        return f"accuracy_top{match.group(1)}"
    return field


def plot_summary(summary_csv: str | os.PathLike, plots_dir: str | os.PathLike) -> list[Path]:
    """Draw one figure per metric family (loss, accuracy, accuracy_top5, mAP, ...) against epoch.

    Every split's column of that family (``train_loss``, ``val_loss``; ``val_acc``, ``multicropval_vid_acc``)
    is one line; empty cells (metric not computed that epoch) are left out. ``*_runtime_sec`` columns are
    not plotted. Saves ``<plots_dir>/<family>.{png,pdf}`` and returns the paths.
    """
    summary = read_summary(summary_csv)
    families: dict[str, list[str]] = {}
    for column in summary.columns:
        _, field = summary.split_of(column)
        if field == "runtime_sec" or column.endswith("_runtime_sec"):
            continue
        families.setdefault(family_basename(field), []).append(column)
    if not summary.epochs:
        logger.info("plot_summary: %s has no rows yet; nothing to plot", summary_csv)
        return []

    paths: list[Path] = []
    for family, columns in families.items():
        fig = _figure(figsize=(6.4, 4.0))
        ax = fig.add_subplot(1, 1, 1)
        drawn = 0
        for column in columns:
            points = [
                (e, v) for e, v in zip(summary.epochs, summary.columns[column], strict=True) if v is not None
            ]
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o" if len(points) < 30 else None, markersize=3, label=column)
            drawn += 1
        if not drawn:
            continue
        ax.set_xlabel("epoch")
        ax.set_ylabel(family)
        ax.set_title(family)
        ax.grid(True, alpha=0.3)
        ax.legend()
        paths += save_figure(fig, Path(plots_dir) / family)
    return paths


def confusion_matrix_figure(
    cm: torch.Tensor,
    class_names: Sequence[str] | None = None,
    order: Sequence[int] | None = None,
    normalise: bool = True,
    title: str = "confusion matrix",
) -> Any:
    """Figure of a (C, C) confusion matrix (rows = true class), rows normalised to sum to 1 by default."""
    cm = torch.as_tensor(cm).double()
    n = cm.shape[0]
    order = list(order) if order is not None else list(range(n))
    cm = cm[order][:, order]
    n = len(order)
    if normalise:
        cm = cm / cm.sum(1, keepdim=True).clamp(min=1)
    size = min(4 + 0.25 * n, 30)
    fig = _figure(figsize=(size, size))
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(cm.numpy(), cmap="Blues", vmin=0, vmax=1 if normalise else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if n <= 60:
        labels = [class_names[c] if class_names is not None else str(c) for c in order]
        ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(n), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return fig


def plot_confusion_matrix(
    cm: torch.Tensor,
    out_dir: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    sort_by: str = "class_id",
    train_counts: Sequence[int] | None = None,
    shrink_top: int = 20,
    shrink_min_samples: int = 20,
    figures: bool = True,
) -> list[Path]:
    """Write ``<out_dir>/sort_<key>/confusion.{png,pdf}`` and ``per_class_accuracy.csv`` (upstream layout);
    with ``figures=False`` (no matplotlib) the CSV only.

    When more than ``shrink_top`` classes exist, ``confusion_shrinked.{png,pdf}`` also shows only the first
    ``shrink_top`` classes (in ``sort_by`` order) that have at least ``shrink_min_samples`` val samples.
    """
    from ..metrics.confusion import class_order, write_per_class_accuracy_csv

    cm = torch.as_tensor(cm)
    folder = Path(out_dir) / f"sort_{sort_by}"
    order = class_order(cm, sort_by, train_counts)
    paths: list[Path] = []
    if figures:
        fig = confusion_matrix_figure(cm, class_names, order, title=f"confusion (sorted by {sort_by})")
        paths += save_figure(fig, folder / "confusion")
    if figures and cm.shape[0] > shrink_top:
        counts = cm.sum(1)
        kept = [c for c in order if int(counts[c]) >= shrink_min_samples][:shrink_top]
        if kept:
            title = f"top {len(kept)} classes with >= {shrink_min_samples} samples (sorted by {sort_by})"
            paths += save_figure(
                confusion_matrix_figure(cm, class_names, kept, title=title), folder / "confusion_shrinked"
            )
    paths.append(
        write_per_class_accuracy_csv(
            folder / "per_class_accuracy.csv", cm, class_names, train_counts, sort_by
        )
    )
    return paths
