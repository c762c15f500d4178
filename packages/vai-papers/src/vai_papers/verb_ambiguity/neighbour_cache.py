"""On-disk cache of neighbour searches (upstream's ``VAI_USE_NEIGHBOUR_CACHE``), keyed by a hash of the
features, k and the distance dtype; files are written atomically, so a crash never leaves half a file."""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path

import numpy as np
import torch
from vai_data.pathio import write_local_atomic

logger = logging.getLogger(__name__)

CACHE_ENV = "VAI_USE_NEIGHBOUR_CACHE"
CACHE_DIR_ENV = "VAI_NEIGHBOUR_CACHE_DIR"


def _cache_enabled() -> bool:
    """``$VAI_USE_NEIGHBOUR_CACHE`` as a bool (unset: off)."""
    raw = os.environ.get(CACHE_ENV, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{CACHE_ENV}={raw!r}: expected true or false (1/0, yes/no)")


def default_cache_dir(experiment_root: str | os.PathLike | None = None) -> Path | None:
    """Where neighbours are cached when ``$VAI_USE_NEIGHBOUR_CACHE`` is true: ``$VAI_NEIGHBOUR_CACHE_DIR``,
    else ``<experiment root>/neighbour_cache`` (upstream's ``<root>/neighbour_cache``), the root being
    ``experiment_root`` (a run's ``-R``) or ``$VAI_EXPERIMENT_ROOT`` or ``./experiments``; None when
    caching is off."""
    if not _cache_enabled():
        return None
    explicit = os.environ.get(CACHE_DIR_ENV, "").strip()
    if explicit:
        return Path(explicit)
    if experiment_root is None:
        experiment_root = os.environ.get("VAI_EXPERIMENT_ROOT", "experiments")
    return Path(experiment_root) / "neighbour_cache"


def cache_path(cache_dir: Path, x: torch.Tensor, k: int, dtype: torch.dtype) -> Path:
    """``<cache_dir>/neighbours_<sha256 of shape, dtype, features>_k<k>_<dtype>.npy``."""
    h = hashlib.sha256()
    arr = np.ascontiguousarray(x.detach().cpu().numpy())
    h.update(f"{arr.shape}|{arr.dtype}|".encode())
    h.update(memoryview(arr).cast("B"))
    return cache_dir / f"neighbours_{h.hexdigest()[:32]}_k{k}_{str(dtype).replace('torch.', '')}.npy"


def load_cached(path: Path, n: int, k: int) -> torch.Tensor | None:
    """The cached (n, k) neighbour indices at ``path``; None when absent or not valid (then recomputed)."""
    if not path.is_file():
        return None
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        logger.warning("neighbour cache %s is unreadable (%s); recomputing", path, e)
        return None
    if arr.shape != (n, k) or arr.dtype.kind not in "iu" or (arr.size and (arr.min() < 0 or arr.max() >= n)):
        logger.warning("neighbour cache %s does not hold (%d, %d) indices; recomputing", path, n, k)
        return None
    return torch.from_numpy(arr.astype(np.int64))


def save_cached(path: Path, idx: torch.Tensor) -> None:
    """Atomic write (vai-data's write_local_atomic: a new file renamed over ``path``): readers never see
    half a file."""
    buf = io.BytesIO()
    np.save(buf, idx.numpy())
    try:
        write_local_atomic(str(path), [buf.getvalue()], prefix=f".{path.name}.")
    except OSError as e:  # a cache that cannot be written only costs time
        logger.warning("could not write the neighbour cache %s: %s", path, e)
