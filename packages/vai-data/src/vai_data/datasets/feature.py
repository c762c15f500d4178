"""``FeatureDataset``: pre-extracted features as samples (for feature-level models and verb-ambiguity work)."""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..pathio import path_manager


class FeatureDataset(Dataset):
    """Samples ``{"video": feature (D,), "label", "video_id", "spatial_idx": 0, "temporal_idx": 0,
    "frame_indices": empty}`` from arrays of video_ids, labels and features."""

    def __init__(self, video_ids: Sequence[int], labels, features, num_classes: int | None = None):
        self.video_ids = [int(v) for v in np.asarray(video_ids).reshape(-1)]
        self.features = torch.as_tensor(np.asarray(features), dtype=torch.float32)
        if self.features.ndim < 2:
            raise ValueError(f"features must be (N, D...), got shape {tuple(self.features.shape)}")
        labels = np.asarray(labels)
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
    def from_pickle(cls, path: str | os.PathLike, feature_key: str = "clip_features") -> FeatureDataset:
        """Load an upstream/vai feature pickle (``video_ids``, ``labels``, ``clip_features``)."""
        with path_manager.open(os.fspath(path), "rb") as f:
            d = pickle.load(f)
        for k in ("video_ids", "labels", feature_key):
            if k not in d:
                raise KeyError(f"{path}: feature pickle has no {k!r} (keys: {sorted(d)})")
        feats = d[feature_key]
        if isinstance(
            feats, tuple
        ):  # upstream stores a tuple of arrays (one per feature head): use the first
            feats = feats[0]
        return cls(d["video_ids"], d["labels"], feats)

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
