"""kNN pseudo-labels for single-positive multi-label training (verb ambiguity, BMVC 2022).

Each training sample's K nearest training samples (Euclidean, no L2 normalisation, the sample itself
excluded, as sklearn's ``NearestNeighbors.kneighbors(X=None)``) vote with their single labels:
``soft[i, c]`` is the fraction of the K labelled ``c``. Classes with ``soft > tau`` become pseudo-positives
(the ground truth always stays positive), given to ``pseudo_single_binary_ce`` as 1 and to
``mask_binary_ce`` as -1 (left out of the loss). The result reaches a vai_data dataset as its
``video_id_to_label`` (or a :class:`vai_data.FeatureDataset`'s label rows, see :func:`labels_for`).
"""

from __future__ import annotations

import logging
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from .losses import base_loss_type
from .neighbour_cache import CACHE_ENV, cache_path, default_cache_dir, load_cached, save_cached

logger = logging.getLogger(__name__)

__all__ = [
    "CACHE_ENV",
    "NUM_NEIGHBOURS_ENV",
    "THRESHOLD_ENV",
    "default_cache_dir",
    "default_num_neighbours",
    "default_threshold",
    "ideal_targets",
    "labels_for",
    "mask_targets",
    "nearest_neighbours",
    "neighbour_soft_labels",
    "pseudo_label_targets",
    "pseudo_multilabel",
    "pseudo_video_id_to_label",
    "to_video_id_to_label",
]

NUM_NEIGHBOURS_ENV = "VAI_NUM_NEIGHBOURS"
THRESHOLD_ENV = "VAI_PSEUDOLABEL_THR"
# distances of one chunk of query rows: chunk * N values (float32: 256 MiB)
_CHUNK_VALUES = 1 << 26


# ----------------------------------------------------------------------------- defaults (env vars)
def default_num_neighbours() -> int:
    """K from ``$VAI_NUM_NEIGHBOURS`` (default 15, upstream's)."""
    raw = os.environ.get(NUM_NEIGHBOURS_ENV, "").strip()
    if not raw:
        return 15
    try:
        k = int(raw)
    except ValueError:
        k = 0
    if k < 1:
        raise ValueError(f"{NUM_NEIGHBOURS_ENV}={raw!r}: expected a positive integer (default 15)")
    return k


def default_threshold() -> float:
    """tau from ``$VAI_PSEUDOLABEL_THR`` (default 0.1, upstream's)."""
    raw = os.environ.get(THRESHOLD_ENV, "").strip()
    if not raw:
        return 0.1
    try:
        thr = float(raw)
    except ValueError:
        thr = float("nan")
    if not 0.0 <= thr <= 1.0:
        raise ValueError(f"{THRESHOLD_ENV}={raw!r}: expected a number in [0, 1] (default 0.1)")
    return thr


# ----------------------------------------------------------------------------- input checks
def _features(features, name: str = "features") -> torch.Tensor:
    """Features as a float (N, D) tensor (checked: 2-D, finite)."""
    x = torch.as_tensor(features)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (N, D) array, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.float()
    finite = torch.isfinite(x).all(dim=1)
    if not bool(finite.all()):
        row = int((~finite).nonzero()[0])
        raise ValueError(f"{name}: row {row} holds NaN or inf values ({int((~finite).sum())} such rows)")
    return x


def _class_labels(labels, n: int, num_classes: int | None) -> tuple[torch.Tensor, int]:
    """Single-positive labels as a long (N,) tensor and the class count (checked: length, range)."""
    y = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    if y.ndim != 1 or y.is_floating_point() or y.dtype == torch.bool:
        raise ValueError(
            f"labels must be one integer class index per sample (shape (N,)), got shape {tuple(y.shape)} "
            f"dtype {y.dtype}"
        )
    if y.shape[0] != n:
        raise ValueError(f"{y.shape[0]} labels for {n} feature rows: they must have the same length")
    y = y.long().cpu()
    largest = int(y.max()) if n else -1
    if n and int(y.min()) < 0:
        raise ValueError(f"labels hold a negative class index ({int(y.min())})")
    if num_classes is None:
        num_classes = largest + 1
    if largest >= num_classes:
        raise ValueError(f"label {largest} is outside num_classes={num_classes}")
    return y, int(num_classes)


def _check_k(k: int | None, n: int) -> int:
    k = default_num_neighbours() if k is None else k
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k >= n:
        raise ValueError(
            f"k={k} neighbours (each sample excluding itself) need at least {k + 1} samples, got {n}; use a"
            f" smaller k (${NUM_NEIGHBOURS_ENV} sets it where none is given) or more samples"
        )
    return int(k)


def _check_threshold(threshold: float | None) -> float:
    thr = default_threshold() if threshold is None else threshold
    if not 0.0 <= float(thr) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {thr!r}")
    return float(thr)


# ----------------------------------------------------------------------------- neighbours
def nearest_neighbours(
    features,
    k: int | None = None,
    *,
    chunk_size: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    cache_dir: str | os.PathLike | None = None,
) -> torch.Tensor:
    """(N, k) indices of each row's k nearest other rows (Euclidean), nearest first, ties to the lower index.

    Distances of ``chunk_size`` query rows against all N at a time (default: about 64 M values per chunk),
    on ``device`` (default: the features'), in ``dtype`` (float32, full precision: no TF32; float64 where
    near-ties must order exactly as exact arithmetic would). ``cache_dir`` (default: ``$VAI_USE_NEIGHBOUR_CACHE``
    -> :func:`default_cache_dir`) keeps results keyed by a hash of the features, k and dtype.
    """
    x = _features(features)
    n = x.shape[0]
    k = _check_k(k, n)
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    path = cache_path(cache_dir, x, k, dtype) if cache_dir is not None else None
    if path is not None:
        cached = load_cached(path, n, k)
        if cached is not None:
            logger.info("neighbours (k=%d, %d samples) read from the cache %s", k, n, path)
            return cached
    device = torch.device(device) if device is not None else x.device
    x = x.to(device=device, dtype=dtype)
    x = x - x.mean(dim=0, keepdim=True)  # distances are unchanged; the |a|^2+|b|^2-2ab form loses less
    sq = (x * x).sum(dim=1)
    chunk = int(chunk_size) if chunk_size is not None else max(1, _CHUNK_VALUES // n)
    if chunk < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    out = torch.empty(n, k, dtype=torch.long)
    precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")  # no TF32 products: they would reorder near neighbours
    try:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            d = torch.addmm(sq[None, :], x[start:stop], x.T, beta=1.0, alpha=-2.0)
            d.add_(sq[start:stop, None]).clamp_(min=0.0)
            rows = torch.arange(stop - start, device=device)
            d[rows, rows + start] = float("inf")  # a sample is not its own neighbour
            out[start:stop] = _k_smallest(d, k).cpu()
    finally:
        torch.set_float32_matmul_precision(precision)
    if path is not None:
        save_cached(path, out)
    return out


def _k_smallest(d: torch.Tensor, k: int) -> torch.Tensor:
    """Column indices of each row's k smallest values, by (value, index): deterministic under ties."""
    vals, idx = torch.topk(d, k, dim=1, largest=False, sorted=True)
    kth = vals[:, -1:]
    tied = ((d <= kth).sum(dim=1) > k) | (vals[:, :-1] == vals[:, 1:]).any(dim=1)
    for r in tied.nonzero().flatten().tolist():  # rare: exact ties (duplicated features)
        row, edge = d[r], kth[r, 0]
        cand = (row <= edge).nonzero().flatten()  # ascending indices
        order = torch.sort(row[cand], stable=True).indices  # by distance, lower index first
        idx[r] = cand[order[:k]]
    return idx


def neighbour_soft_labels(
    features,
    labels,
    k: int | None = None,
    *,
    num_classes: int | None = None,
    chunk_size: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    cache_dir: str | os.PathLike | None = None,
) -> torch.Tensor:
    """(N, C) float32 ``soft[i, c]`` = fraction of sample i's k nearest other samples labelled c.

    ``labels``: one class index per row; ``k`` default ``$VAI_NUM_NEIGHBOURS`` (15); ``num_classes``
    default the largest label + 1. The other options are :func:`nearest_neighbours`'.
    """
    x = _features(features)
    y, num_classes = _class_labels(labels, x.shape[0], num_classes)
    k = _check_k(k, x.shape[0])
    idx = nearest_neighbours(x, k, chunk_size=chunk_size, device=device, dtype=dtype, cache_dir=cache_dir)
    return _vote(idx, y, num_classes)


def _vote(neighbours: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N, C) fraction of each row's neighbours per class."""
    votes = torch.zeros(neighbours.shape[0], num_classes, dtype=torch.float32)
    votes.scatter_add_(1, labels[neighbours], torch.ones(neighbours.shape, dtype=torch.float32))
    return votes / neighbours.shape[1]


# ----------------------------------------------------------------------------- targets
def pseudo_multilabel(soft, labels, threshold: float | None = None) -> torch.Tensor:
    """(N, C) float32 multi-hot: ``soft > threshold`` (default ``$VAI_PSEUDOLABEL_THR``, 0.1), GT set to 1.

    This is the ``pseudo_single_binary_ce`` target."""
    s = torch.as_tensor(soft, dtype=torch.float32)
    if s.ndim != 2:
        raise ValueError(f"soft labels must be (N, C), got shape {tuple(s.shape)}")
    y, _ = _class_labels(labels, s.shape[0], s.shape[1])
    multi = (s > _check_threshold(threshold)).float()
    multi[torch.arange(s.shape[0]), y] = 1.0
    return multi


def mask_targets(soft, labels, threshold: float | None = None) -> torch.Tensor:
    """(N, C) float32 ``mask_binary_ce`` target: GT 1, other pseudo-positives -1 (masked out), rest 0."""
    multi = pseudo_multilabel(soft, labels, threshold)
    y, _ = _class_labels(labels, multi.shape[0], multi.shape[1])
    target = torch.where(multi > 0, -1.0, 0.0)
    target[torch.arange(multi.shape[0]), y] = 1.0
    return target


def pseudo_label_targets(soft, labels, loss_type: str, threshold: float | None = None) -> torch.Tensor:
    """The target ``loss_type`` trains on: :func:`mask_targets` or :func:`pseudo_multilabel`."""
    base = base_loss_type(loss_type)
    if base == "mask_binary_ce":
        return mask_targets(soft, labels, threshold)
    if base == "pseudo_single_binary_ce":
        return pseudo_multilabel(soft, labels, threshold)
    raise ValueError(
        f"loss_type {loss_type!r} does not train on pseudo-labels; use 'mask_binary_ce' or "
        "'pseudo_single_binary_ce'"
    )


def ideal_targets(
    labels, loss_type: str = "mask_binary_ce", num_base_classes: int = 51, copies: int = 2
) -> torch.Tensor:
    """Confusing-HMDB's ``ideal_*`` pseudo-labels: the true twins ``c +- 51`` of each label as pseudo-positives.

    vai-data's ``splits hmdb51 --confusion n`` relabels class c as ``c + 51 i`` (i < n), so the twins of
    label ``l`` are every ``l % 51 + 51 i`` but ``l``; ``num_base_classes``/``copies`` fit other sizes (the
    synthetic ``confusing_synthetic_motion``: 8 and 2). Returns the ``loss_type`` target (N, base * copies)."""
    if num_base_classes < 1 or copies < 2:
        raise ValueError(f"num_base_classes must be >= 1 and copies >= 2, got {num_base_classes}, {copies}")
    num_classes = num_base_classes * copies
    y, _ = _class_labels(labels, len(labels), num_classes)
    soft = torch.zeros(len(y), num_classes)
    base = y % num_base_classes
    for i in range(copies):
        soft[torch.arange(len(y)), base + num_base_classes * i] = 1.0
    return pseudo_label_targets(soft, y, loss_type, threshold=0.5)


# ----------------------------------------------------------------------------- video_id_to_label
def to_video_id_to_label(video_ids: Sequence[int], targets) -> dict[int, np.ndarray]:
    """``{video_id: float32 label vector}`` for a vai_data dataset's ``video_id_to_label``.

    Repeated video ids (several clips of one video) must carry the same row."""
    t = torch.as_tensor(targets, dtype=torch.float32).cpu().numpy()
    ids = _ids(video_ids).numpy()
    if t.ndim != 2 or len(ids) != t.shape[0]:
        raise ValueError(f"{len(ids)} video ids for targets of shape {t.shape}: need one (C,) row per id")
    out: dict[int, np.ndarray] = {}
    for vid, row in zip(ids.tolist(), t, strict=True):
        vid = int(vid)
        if vid in out and not np.array_equal(out[vid], row):
            raise ValueError(f"video_id {vid} appears twice with different label vectors")
        out[vid] = row.copy()
    return out


def labels_for(video_ids: Sequence[int], video_id_to_label: Mapping[int, np.ndarray]) -> np.ndarray:
    """The (N, C) label rows of ``video_ids`` from a mapping (a :class:`vai_data.FeatureDataset` takes them
    as ``labels``: it has no ``video_id_to_label``)."""
    missing = [int(v) for v in video_ids if int(v) not in video_id_to_label]
    if missing:
        raise KeyError(f"video_id_to_label has no label for video ids {missing[:5]} ({len(missing)} missing)")
    return np.stack([np.asarray(video_id_to_label[int(v)], dtype=np.float32) for v in video_ids])


def _ids(video_ids) -> torch.Tensor:
    """Video ids as a 1-D long CPU tensor (from a list, an array or a tensor on any device)."""
    if isinstance(video_ids, torch.Tensor):
        return video_ids.detach().cpu().reshape(-1).long()
    return torch.as_tensor(np.asarray(video_ids).reshape(-1)).long()


def _per_video(video_ids, features: torch.Tensor, labels: torch.Tensor):
    """(ids, mean feature, label) per distinct video id, ascending; clips of one video must share a label."""
    ids = _ids(video_ids)
    if ids.shape[0] != features.shape[0]:
        raise ValueError(f"{ids.shape[0]} video ids for {features.shape[0]} feature rows")
    uniq, inv = torch.unique(ids, sorted=True, return_inverse=True)
    if uniq.shape[0] == ids.shape[0]:
        order = torch.argsort(ids)
        return uniq, features[order], labels[order]
    sums = torch.zeros(uniq.shape[0], features.shape[1], dtype=torch.float64, device=features.device)
    sums.index_add_(0, inv.to(features.device), features.double())
    counts = torch.bincount(inv, minlength=uniq.shape[0]).double().to(features.device)
    first = torch.full((uniq.shape[0],), ids.shape[0], dtype=torch.long)
    first.scatter_reduce_(0, inv, torch.arange(ids.shape[0]), reduce="amin")
    video_labels = labels[first]
    if not bool((video_labels[inv] == labels).all()):
        bad = int(ids[video_labels[inv] != labels][0])
        raise ValueError(f"clips of video_id {bad} have different labels")
    return uniq, (sums / counts[:, None]).to(features.dtype), video_labels


def pseudo_video_id_to_label(
    video_ids: Sequence[int],
    features,
    labels,
    loss_type: str = "mask_binary_ce",
    *,
    num_classes: int | None = None,
    k: int | None = None,
    threshold: float | None = None,
    **neighbour_options,
) -> tuple[dict[int, np.ndarray], dict[str, torch.Tensor]]:
    """Features + single labels of the training videos -> (``video_id_to_label``, details).

    Clip rows sharing a video id are averaged first. ``details`` holds ``video_ids``, ``labels``,
    ``neighbours`` (N, k), ``soft`` and ``targets`` (for saving). ``neighbour_options`` go to
    :func:`nearest_neighbours` (``chunk_size``, ``device``, ``dtype``, ``cache_dir``)."""
    x = _features(features)
    y, num_classes = _class_labels(labels, x.shape[0], num_classes)
    ids, x, y = _per_video(video_ids, x, y)
    k = _check_k(k, x.shape[0])
    idx = nearest_neighbours(x, k, **neighbour_options)
    soft = _vote(idx, y, num_classes)
    targets = pseudo_label_targets(soft, y, loss_type, threshold)
    details = {"video_ids": ids, "labels": y, "neighbours": idx, "soft": soft, "targets": targets}
    return to_video_id_to_label(ids.tolist(), targets), details
