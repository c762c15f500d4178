"""``FeatureDataset``: pre-extracted features as samples (for feature-level models and verb-ambiguity work)."""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..pathio import path_manager


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays and builtin containers only; any other global is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("builtins", "slice"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to unpickle {module}.{name}: feature pickles hold arrays only"
        )


def _require_file(path: str, contents: str) -> None:
    if not path_manager.exists(path):
        raise FileNotFoundError(f"feature file {path} does not exist; expected {contents}")


def _rectangular(values, name: str, expected: str) -> np.ndarray:
    """``np.asarray(values)``, or a ``ValueError`` naming the first row whose length differs (numpy's own
    message for ragged input does not say which)."""
    try:
        arr = np.asarray(values)
    except ValueError:
        arr = None
    if arr is not None and arr.dtype != object:
        return arr
    rows = list(values)
    first = _length(rows[0]) if rows else None
    i = next((i for i, r in enumerate(rows) if _length(r) != first), None)
    where = f" (row 0 has {first} values, row {i} has {_length(rows[i])})" if i is not None else ""
    raise ValueError(f"{name} are ragged or not numbers{where}; expected {expected}")


def _length(row) -> int | None:
    return len(row) if hasattr(row, "__len__") else None


class FeatureDataset(Dataset):
    """Samples ``{"video": feature (D,), "label", "video_id", "spatial_idx": 0, "temporal_idx": 0,
    "frame_indices": empty}`` from arrays of video_ids, labels and features."""

    def __init__(self, video_ids: Sequence[int], labels, features, num_classes: int | None = None):
        self.video_ids = [int(v) for v in np.asarray(video_ids).reshape(-1)]
        self.features = torch.as_tensor(_rectangular(features, "features", "(N, D...)"), dtype=torch.float32)
        if self.features.ndim < 2:
            raise ValueError(f"features must be (N, D...), got shape {tuple(self.features.shape)}")
        labels = _rectangular(
            labels,
            "labels",
            "one class index per sample, or for multi-label equal-length multi-hot rows (N, num_classes) "
            "(turn class-index tuples like (3, 17) into multi-hot rows first)",
        )
        if not (len(self.video_ids) == len(labels) == len(self.features)):
            raise ValueError(
                f"video_ids ({len(self.video_ids)}), labels ({len(labels)}) and features ({len(self.features)}) "
                "must have the same length"
            )
        self.multilabel = labels.ndim == 2
        self._labels = torch.as_tensor(labels, dtype=torch.float32 if self.multilabel else torch.long)
        self.num_classes = (
            int(num_classes)
            if num_classes is not None
            else (labels.shape[1] if self.multilabel else int(labels.max()) + 1 if len(labels) else 0)
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike, feature_key: str = "features") -> FeatureDataset:
        """Load features saved by ``vai-train feature`` (``.npz``: ``video_ids``, ``labels``, ``<feature_key>``)
        or an upstream feature pickle (``.pkl``: ``video_ids``, ``labels``, ``clip_features``)."""
        path = os.fspath(path)
        if path.endswith((".pkl", ".pickle")):
            return cls.from_pickle(path, "clip_features" if feature_key == "features" else feature_key)
        _require_file(
            path, f"a .npz with video_ids, labels and {feature_key} (as `vai-train feature` writes)"
        )
        with path_manager.open(path, "rb") as f:
            with np.load(f, allow_pickle=False) as data:
                d = {k: data[k] for k in data.files}
        return cls._from_mapping(d, feature_key, path)

    @classmethod
    def from_pickle(cls, path: str | os.PathLike, feature_key: str = "clip_features") -> FeatureDataset:
        """Load an upstream feature pickle (``video_ids``, ``labels``, ``clip_features``). Only numpy arrays,
        lists, tuples, dicts and scalars are unpickled: a pickle that names any other class is refused."""
        path = os.fspath(path)
        _require_file(path, f"an upstream feature pickle with video_ids, labels and {feature_key}")
        with path_manager.open(path, "rb") as f:
            d = _ArraysOnlyUnpickler(f).load()
        feats = d.get(feature_key) if isinstance(d, dict) else None
        if isinstance(
            feats, tuple
        ):  # upstream stores a tuple of arrays (one per feature head): use the first
            d = {**d, feature_key: feats[0]}
        return cls._from_mapping(d, feature_key, path)

    @classmethod
    def _from_mapping(cls, d, feature_key: str, path) -> FeatureDataset:
        if not isinstance(d, dict):
            raise ValueError(f"{path}: expected a mapping of arrays, got {type(d).__name__}")
        for k in ("video_ids", "labels", feature_key):
            if k not in d:
                raise KeyError(f"{path}: feature file has no {k!r} (keys: {sorted(d)})")
        return cls(d["video_ids"], d["labels"], d[feature_key])

    @property
    def labels(self) -> list:
        return self._labels.tolist()

    def __len__(self) -> int:
        return len(self.video_ids)

    def __getitem__(self, index: int) -> dict:
        label = self._labels[index]
        return {
            "video": self.features[index],
            "label": label if self.multilabel else int(label),
            "video_id": self.video_ids[index],
            "spatial_idx": 0,
            "temporal_idx": 0,
            "frame_indices": torch.zeros(0, dtype=torch.long),
        }
