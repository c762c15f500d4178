"""``vai-train confusion``: confusion matrices and per-class accuracy from a run's saved predictions.

Upstream's ``tools/visualisations/generate_confusion_matrix.py``: it reads the video-level predictions
``eval -p`` or ``train -p`` saved (``predictions/epoch_NNNN_<split>_<mode>.npz``), and writes for each
sort order ``plots/per_class_accuracy/<that file's name>/sort_<key>/`` with ``confusion.{png,pdf}`` (rows
normalised), ``confusion_shrinked.{png,pdf}`` (the top 20 classes with at least 20 samples, for more than
20 classes) and ``per_class_accuracy.csv``, plus a TensorBoard figure at that epoch. Single-label only.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from vai_train.dataset_hooks import dataset_labels
from vai_train.engine.reports import setup_run_logging
from vai_train.engine.result import RunResult
from vai_train.logging_setup import RecordBuffer
from vai_train.metrics.confusion import SORT_KEYS, confusion_matrix, per_class_accuracy
from vai_train.reporting.predictions import load_predictions, predictions_filename
from vai_train.rundir import RunDir, resolve_version, version_number
from vai_train.summary import read_summary

logger = logging.getLogger(__name__)

_PREDICTIONS_RE = re.compile(r"^epoch_(\d+)_(.+)_(oneclip|multicrop)\.npz$")


def saved_prediction_epochs(rd: RunDir, split: str, mode: str) -> list[int]:
    """Epochs with a ``predictions/epoch_NNNN_<split>_<mode>.npz`` in the version, ascending."""
    if not rd.predictions.is_dir():
        return []
    epochs = []
    for p in rd.predictions.iterdir():
        m = _PREDICTIONS_RE.match(p.name)
        if m and m.group(2) == split and m.group(3) == mode:
            epochs.append(int(m.group(1)))
    return sorted(epochs)


def _epoch_for(
    rd: RunDir, load_epoch: int | None, best_field: str, higher: bool, split: str, mode: str
) -> int:
    """The epoch ``-l`` names: N, -1 the last trained epoch, -2 the best; none: the newest predictions."""
    if load_epoch is None:
        saved = saved_prediction_epochs(rd, split, mode)
        if not saved:
            raise FileNotFoundError(
                f"no {split} {mode} predictions in {rd.predictions}; save them with `vai-train eval ... -l N"
                f"{' -m multicrop' if mode == 'multicrop' else ''} -s {split} -p` (or train with -p)"
            )
        return saved[-1]
    if load_epoch >= 0:
        return load_epoch
    if load_epoch not in (-1, -2):
        raise ValueError(f"-l {load_epoch}: use -1 (last epoch), -2 (best epoch) or an epoch number")
    rows = [r for r in read_summary(rd.summary_csv) if r.get("epoch") is not None]
    if load_epoch == -1:
        if not rows:
            raise FileNotFoundError(f"{rd.summary_csv}: no epochs recorded, cannot pick the last one (-l -1)")
        return int(rows[-1]["epoch"])
    from vai_train.engine.resume import best_epoch_of

    return best_epoch_of(rd, best_field, higher)


def predictions_path(rd: RunDir, epoch: int, split: str, mode: str) -> Path:
    """The predictions file of ``epoch``, or one line saying which epochs have one and how to make it."""
    path = rd.predictions / predictions_filename(epoch, split, mode)
    if path.is_file():
        return path
    have = ", ".join(str(e) for e in saved_prediction_epochs(rd, split, mode)) or "none"
    other = "oneclip" if mode == "multicrop" else "multicrop"
    also = (
        f"; {split} {other} predictions exist for epochs {', '.join(map(str, saved))} (-m {other})"
        if (saved := saved_prediction_epochs(rd, split, other))
        else ""
    )
    load = f" -l {epoch}" if epoch > 0 else ""  # epoch 0: the load_pretrained() weights, eval without -l
    raise FileNotFoundError(
        f"{path} does not exist (epochs with {split} {mode} predictions: {have}{also}); save them with "
        f"`vai-train eval ...{load}{' -m multicrop' if mode == 'multicrop' else ''} -s {split} -p`"
    )


def single_label_arrays(data: dict[str, Any], path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(probs (N, C), labels (N,) int64) of a predictions file; multi-label files are refused in one line."""
    probs = torch.as_tensor(data["probs"])
    labels = torch.as_tensor(data["labels"])
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"{path}: probs have shape {tuple(probs.shape)}, expected (N, C) with N > 0")
    if labels.ndim != 1 or labels.is_floating_point():
        raise ValueError(
            f"{path}: labels have shape {tuple(labels.shape)} ({labels.dtype}); a confusion matrix needs "
            "single-label predictions (one class index per video), not multi-label vectors"
        )
    return probs, labels.long()


def class_names_of(dataset_cfg: Any, num_classes: int) -> list[str] | None:
    """The dataset config's ``class_keys`` when it names every class; else None (class ids are shown)."""
    try:
        keys = getattr(dataset_cfg, "class_keys", None)
    except Exception as e:  # e.g. a prepared dataset whose class list is not on disk yet
        logger.info("class names unavailable (%s); showing class ids", e)
        return None
    if keys is None:
        return None
    if isinstance(keys, Mapping):  # {class index: name}
        if not all(i in keys for i in range(num_classes)):
            logger.warning(
                "class_keys does not name every class index 0..%d; showing class ids", num_classes - 1
            )
            return None
        keys = [keys[i] for i in range(num_classes)]
    keys = [str(k) for k in keys]
    if len(keys) != num_classes:
        logger.warning(
            "class_keys has %d names for %d classes; showing class ids instead", len(keys), num_classes
        )
        return None
    return keys


def train_class_counts(get_dataset: Any, num_classes: int) -> list[int] | None:
    """Training samples per class, from the train dataset's ``labels`` (a multi-label row counts once for
    each of its classes); None when the dataset does not expose its labels or cannot be built."""
    try:
        labels = dataset_labels(get_dataset("train"))
    except Exception as e:
        logger.info("train class counts unavailable (%s); sorting by train frequency is skipped", e)
        return None
    if labels is None:
        logger.info("the train dataset exposes no labels; sorting by train frequency is skipped")
        return None
    counts = [0] * num_classes
    for label in labels:
        for c in label if isinstance(label, (list, tuple)) else (label,):
            if 0 <= int(c) < num_classes:
                counts[int(c)] += 1
    return counts


def sort_keys(requested: str, have_train_counts: bool, skipped: bool = False) -> list[str]:
    """The sort orders to draw: one, or ``all`` (``train_freq`` only with train counts; ``skipped``: they
    were not asked for, ``--no-train-counts``)."""
    if requested == "all":
        return [k for k in SORT_KEYS if k != "train_freq" or have_train_counts]
    if requested == "train_freq" and not have_train_counts:
        if skipped:
            raise ValueError("--sort train_freq needs the train counts that --no-train-counts leaves out")
        raise ValueError(
            "--sort train_freq needs the train split's labels, and they could not be read (the train dataset"
            " has no `labels` attribute, as vai_data's datasets have, or could not be built: see the INFO"
            " line); use --sort class_id, val_freq or accuracy"
        )
    return [requested]


def run_confusion(args: argparse.Namespace) -> RunResult:
    """Draw the confusion matrices of one predictions file of a version; see the module docstring."""
    from vai_train.engine.distributed import refuse_under_torchrun

    refuse_under_torchrun("confusion")
    setup_run_logging(None, args.log_level, 0, "confusion")
    early = RecordBuffer().attach()
    try:
        return _confusion(args, early)
    finally:
        early.detach()


def _confusion(args: argparse.Namespace, early: RecordBuffer) -> RunResult:
    from vai_train.engine import builders as B
    from vai_train.engine.evaluate import _split_and_mode
    from vai_train.engine.trainer import exp_dir_of, load_cfg
    from vai_train.reporting.plots import confusion_matrix_figure, have_matplotlib, plot_confusion_matrix

    split = _split_and_mode(args)  # -m left out: the split's own mode, as training's -p files name it
    mode = args.mode
    cfg = load_cfg(args)
    if args.predictions is not None:
        path = Path(args.predictions)
        rd, epoch = _owner_of(path)
    else:
        rd = resolve_version(exp_dir_of(args), args.version)
        best_field, higher = B.best_metric_info(cfg, B.split_metrics(cfg, "val"))
        epoch = _epoch_for(rd, args.load_epoch, best_field, higher, split, mode)
        path = predictions_path(rd, epoch, split, mode)
    if rd is not None:  # its log files: logs/confusion_*.log of the version
        setup_run_logging(rd.logs, args.log_level, 0, "confusion", replay=early.detach())
    probs, labels = single_label_arrays(load_predictions(path), path)
    num_classes = probs.shape[1]
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise ValueError(
            f"{path}: labels range {int(labels.min())}..{int(labels.max())} outside 0..{num_classes - 1}"
        )
    if num_classes != cfg.num_classes:  # e.g. --predictions of another dataset's run
        logger.warning(
            "%s holds %d classes but %s has num_classes = %d: are these predictions of -D %s? The class"
            " names and train counts shown are this dataset's",
            path,
            num_classes,
            cfg.dataset_cfg.__file__,
            cfg.num_classes,
            cfg.dataset,
        )
    cm = confusion_matrix(probs, labels, num_classes)
    names = class_names_of(cfg.dataset_cfg, num_classes)
    counts = None if args.no_train_counts else train_class_counts(cfg.get_torch_dataset, num_classes)
    out_dir = (rd.plots if rd is not None else path.parent) / "per_class_accuracy" / path.stem
    written: list[Path] = []
    figures = have_matplotlib()
    if not figures:
        logger.warning(
            "matplotlib is not installed, so only the per-class accuracy CSVs are written (no figures, nothing"
            " for TensorBoard): pip install matplotlib, or install vai-train with its [plots] extra"
        )
    for key in sort_keys(args.sort, counts is not None, args.no_train_counts):
        written += plot_confusion_matrix(cm, out_dir, names, key, counts, figures=figures)
    if figures and rd is not None and epoch is not None and not args.no_tensorboard:
        from vai_train.reporting.tensorboard import TensorBoardLogger

        with TensorBoardLogger(rd.tensorboard) as tb:
            tb.log_figure(
                f"confusion/{path.stem[len(f'epoch_{epoch:04d}_') :]}",
                confusion_matrix_figure(cm, names),
                epoch,
            )
    stats = per_class_accuracy(cm)
    top1 = float(stats.correct.sum()) / float(stats.count.sum())
    mean_class = float(torch.nanmean(stats.accuracy))
    worst = _worst_classes(stats, names)
    logger.info(
        "%s: %d videos, %d classes; lowest per-class accuracy: %s",
        path.name,
        int(stats.count.sum()),
        num_classes,
        worst,
    )
    summary = (
        f"confusion {path.name}: top-1 {top1:.4f}, mean class accuracy {mean_class:.4f} —"
        f" {'plots' if figures else 'per-class accuracy CSVs'} in {out_dir}"
    )
    return RunResult(
        rd.path if rd is not None else None,
        best_epoch=epoch,
        last_epoch=epoch,
        metrics={
            "top1": top1,
            "mean_class_accuracy": mean_class,
            "out_dir": str(out_dir),
            "files": [str(p) for p in written],
            "predictions": str(path),
            "summary": summary,
        },
        command="confusion",
    )


def _owner_of(path: Path) -> tuple[RunDir | None, int | None]:
    """(version, epoch) of a predictions file inside ``version_NNN/predictions/``; (None, None) elsewhere."""
    if not path.is_file():
        raise FileNotFoundError(f"predictions file not found: {path}")
    m = _PREDICTIONS_RE.match(path.name)
    version_dir = path.resolve().parent.parent
    number = version_number(version_dir.name)
    if path.resolve().parent.name != "predictions" or number is None:
        return None, None
    return RunDir(version_dir, number), int(m.group(1)) if m else None


def _worst_classes(stats: Any, names: Sequence[str] | None, n: int = 5) -> str:
    acc = torch.nan_to_num(stats.accuracy, nan=2.0)  # absent classes last
    order = sorted(range(len(acc)), key=lambda c: (float(acc[c]), c))[:n]
    return ", ".join(
        f"{names[c] if names else c} {float(stats.accuracy[c]):.2f} ({int(stats.correct[c])}/{int(stats.count[c])})"
        for c in order
        if int(stats.count[c]) > 0
    )
