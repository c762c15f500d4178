"""Save / load per-video predictions as ``.npz`` arrays only (loaded with ``allow_pickle=False``: no code runs)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_open

REQUIRED_KEYS = ("video_ids", "probs", "labels")


def default_mode(split: str) -> str:
    """The mode of a split's predictions when none is named: ``multicrop`` for ``multicrop*`` splits."""
    return "multicrop" if split.startswith("multicrop") else "oneclip"


def predictions_filename(epoch: int, split: str, mode: str = "oneclip", prefix: str = "") -> str:
    """Upstream-style name, e.g. ``epoch_0012_val_oneclip.npz`` (``prefix`` for feature dumps)."""
    return f"{prefix + '_' if prefix else ''}epoch_{epoch:04d}_{split}_{mode}.npz"


def _as_array(name: str, value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        array = value.numpy()
    else:
        array = np.asarray(value)
    if array.dtype.hasobject:
        raise TypeError(
            f"save_predictions: array {name!r} has dtype object; only numeric/string arrays are saved "
            "(convert it to a tensor or a numpy array of numbers)"
        )
    return array


def save_predictions(path: str | os.PathLike, video_ids, probs, labels, **extra_arrays) -> Path:
    """Write ``video_ids`` (N,), ``probs`` (N, C), ``labels`` and any extra arrays to ``path`` (``.npz``).

    The write is atomic (temporary file then rename). Returns the final path (``.npz`` is appended if
    missing). Extra arrays (e.g. ``features``, ``spatial_idx``) must also be tensors or numeric arrays.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays = {"video_ids": video_ids, "probs": probs, "labels": labels, **extra_arrays}
    arrays = {k: _as_array(k, v) for k, v in arrays.items()}
    n = arrays["video_ids"].shape[0] if arrays["video_ids"].ndim else -1
    for key in REQUIRED_KEYS:
        if arrays[key].ndim == 0 or arrays[key].shape[0] != n:
            shapes = {k: arrays[k].shape for k in REQUIRED_KEYS}
            raise ValueError(
                f"save_predictions: video_ids, probs and labels need the same length N, got {shapes}"
            )
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_predictions(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load a file written by :func:`save_predictions` into ``{name: numpy array}`` (no pickle allowed)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions file not found: {path}")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("one .npy array, not an .npz of named arrays")
        with data:
            out = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable predictions file: {e}") from None
    missing = [k for k in REQUIRED_KEYS if k not in out]
    if missing:
        raise ValueError(f"{path}: not a predictions file, missing arrays {missing}")
    return out
