"""Shared by the pseudo-label tests (test_pseudo_label_targets.py, test_epoch_hook*.py): separable
features, a tiny model with forward_features, the train kit the epoch_start_script receives, and a hook
factory that counts the refreshes it computes, with version folders to run it in.

A uniquely named module, not a test module (test directories of several packages share one sys.path in a
combined pytest run)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from vai_data import FeatureDataset
from vai_papers.verb_ambiguity import PseudoLabelRefresher, labels_for
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


def _refresh_setup(period=3):
    """A model, its kit and a hook factory over 16 feature rows (classes 0/2 and 1/3 look alike)."""
    labels = [0, 1, 2, 3] * 4
    vids = list(range(100, 116))
    feats = _separated_features([lab % 2 for lab in labels])
    model = _TinyModel(feats.shape[1], 4)
    kit = _kit(model, FeatureDataset(vids, labels, feats))
    computed = []  # the epochs at which pseudo-labels were computed (not read back)

    class Counting(PseudoLabelRefresher):
        def _compute(self, epoch, *rest):
            computed.append(epoch)
            return super()._compute(epoch, *rest)

    def rebuild(mapping):
        return FeatureDataset(vids, labels_for(vids, mapping), feats)

    def make_hook(**options):
        settings = {"num_classes": 4, "k": 4, "threshold": 0.2, "period": period} | options
        return Counting(
            lambda split: FeatureDataset(vids, labels, feats), rebuild_train_dataset=rebuild, **settings
        )

    return SimpleNamespace(model=model, kit=kit, computed=computed, make_hook=make_hook)


def _run_dir(root, version, sub=None):
    from vai_train.rundir import RunDir

    exp_dir = root / "ds" / "model" / "exp"
    return RunDir((exp_dir / sub if sub else exp_dir) / f"version_{version:03d}", version)


def _mapping_equal(a, b):
    return sorted(a) == sorted(b) and all(np.array_equal(a[v], b[v]) for v in a)
