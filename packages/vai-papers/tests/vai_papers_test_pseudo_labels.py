"""Shared by the pseudo-label tests (test_pseudo_label_targets.py, test_epoch_hook*.py): separable
features, a tiny model with forward_features and the train kit the epoch_start_script receives.

A uniquely named module, not a test module (test directories of several packages share one sys.path in a
combined pytest run)."""

from __future__ import annotations

import numpy as np
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from vai_train.config.experiment import default_unpack


def _separated_features(labels, dim=4, seed=0):
    """Features near one of a few centres per class, so kNN finds same-class and 'twin' neighbours."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(labels) + 1, dim)) * 5
    return (centres[np.asarray(labels)] + rng.normal(size=(len(labels), dim))).astype(np.float32)


class _TinyModel(nn.Module):
    """Feature = a fixed linear map of the input; a classifier head on top."""

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.proj = nn.Linear(dim, dim, bias=False)
        nn.init.eye_(self.proj.weight)
        self.head = nn.Linear(dim, num_classes)

    def forward_features(self, x):
        return self.proj(x.flatten(1))

    def forward(self, x):
        return self.head(self.forward_features(x))


def _kit(model, train_ds, batch_size=4):
    sampler = DistributedSampler(train_ds, num_replicas=1, rank=0, shuffle=True, seed=0)
    return {
        "model": model,
        "train_loader": DataLoader(train_ds, batch_size=batch_size, sampler=sampler),
        "val_loader": DataLoader(train_ds, batch_size=3),
        "data_unpack_funcs": {"val": default_unpack},
        "input_reshape_funcs": {"val": lambda x: x},
    }
