"""The pseudo-label epoch_start_script through vai-train: a continued (-l N) run copies the refresh in force
from the version it continues instead of extracting features again; with persistent workers the refreshed
labels reach training."""

from __future__ import annotations

import multiprocessing

import pytest
from vai_papers.verb_ambiguity import PseudoLabelRefresher
from vai_papers.verb_ambiguity.lineage import read_source

# ----------------------------------------------------------------------------- through vai-train
POINTS_DATASET = """
import numpy as np

num_classes = 4
task = "single_label"


def points():
    rng = np.random.default_rng(0)
    labels = np.arange(24) % num_classes
    centres = rng.normal(size=(2, 6)) * 4  # classes 0/2 and 1/3 look alike
    return np.arange(100, 124), labels, (centres[labels % 2] + rng.normal(size=(24, 6))).astype("float32")
"""
POINTS_MODEL = """
from torch import nn


class Net(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.body = nn.Linear(6, 6)
        self.head = nn.Linear(6, num_classes)

    def forward_features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def load_model(num_classes, input_frame_length, **kw):
    return Net(num_classes)
"""
POINTS_EXP = """
import torch
from vai_data import FeatureDataset
from vai_papers.verb_ambiguity import criterion_for_split, labels_for, make_epoch_start_script

batch_size = 8
num_epochs = 3
num_workers = 0
metrics = {"train": []}
_vids, _labels, _feats = dataset_cfg.points()


def get_torch_dataset(split):
    return FeatureDataset(_vids, _labels, _feats)


def optimiser(params):
    return torch.optim.SGD(params, lr=0.1)


def get_criterion(split):
    return criterion_for_split("mask_binary_ce", split, 4)


def _rebuild(mapping):
    return FeatureDataset(_vids, labels_for(_vids, mapping), _feats)


epoch_start_script = make_epoch_start_script(
    get_torch_dataset, loss_type="mask_binary_ce", num_classes=4, k=3, period=2, rebuild_train_dataset=_rebuild
)
"""


def _points_args(tmp_path) -> list[str]:
    """The points configs written under tmp_path, and vai-train's arguments for them (no -w)."""
    root = tmp_path / "configs"
    for rel, text in (
        ("dataset_configs/points.py", POINTS_DATASET),
        ("model_configs/net.py", POINTS_MODEL),
        ("exp_configs/points/net-pseudo.py", POINTS_EXP),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    args = [
        "-D",
        "points",
        "-M",
        "net",
        "-E",
        "pseudo",
        "-R",
        str(tmp_path / "exp"),
        "--config-root",
        str(root),
    ]
    return args + ["--no-progress", "--plot-period", "-1", "--device", "cpu"]


def test_a_continued_vai_train_run_copies_its_sources_refresh(tmp_path, monkeypatch):
    """-l N through vai-train (CONTRACT B): the new version reads the refresh in force from the version it
    continues (file N+1 or the refresh epoch before it) instead of extracting features again."""
    from vai_train import run_train

    args = _points_args(tmp_path) + ["-w", "0"]
    first = run_train(args + ["-s", "all"])
    src = first.run_dir / "predictions" / "pseudo_labels"
    assert sorted(p.name for p in src.iterdir() if p.name != "source.json") == [
        "epoch_0001.npz",
        "epoch_0003.npz",
    ]

    computed = []
    original = PseudoLabelRefresher._compute

    def compute(self, epoch, *rest):
        computed.append(epoch)
        return original(self, epoch, *rest)

    monkeypatch.setattr(PseudoLabelRefresher, "_compute", compute)
    # -l 2: starts at epoch 3, a refresh epoch: the source's epoch_0003 came from the same epoch-2 weights
    # -l 1: starts at epoch 2 with epoch 1's refresh; at epoch 3 it computes its own (its epoch-2 weights)
    for load, copied, own_epochs in (("2", "epoch_0003.npz", []), ("1", "epoch_0001.npz", [3])):
        computed.clear()
        branch = run_train(args + ["-l", load, "-v", "0", "-e", "3"])  # both from version_000
        assert branch.run_dir != first.run_dir and branch.last_epoch == 3
        assert computed == own_epochs
        own = branch.run_dir / "predictions" / "pseudo_labels"
        assert sorted(p.name for p in own.iterdir() if p.name != "source.json") == sorted(
            {copied} | {f"epoch_{e:04d}.npz" for e in own_epochs}
        )
        assert (own / copied).read_bytes() == (src / copied).read_bytes()
        # the hook recorded where this version came from, for continuations of it to walk back; vai-train's
        # recorded arguments tell the same (the fallback for versions made without that record)
        assert (own / "source.json").is_file()
        folder, start = read_source(branch.run_dir)
        assert folder.resolve() == src.resolve() and start == int(load) + 1
        (own / "source.json").unlink()
        folder, start = read_source(branch.run_dir)
        assert folder.resolve() == src.resolve() and start == int(load) + 1


def test_persistent_workers_get_the_refreshed_labels(tmp_path):
    """With --persistent-workers the refresh's rebuilt train loader replaces the old one: the run trains
    as the one without workers does (that replaced loaders' workers are stopped at once is tested in
    vai-train's test_persistent_workers.py)."""
    from vai_train import run_train

    args = _points_args(tmp_path)
    before = set(multiprocessing.active_children())
    plain = run_train(args + ["-w", "0", "-v", "0"]).summary
    kept = run_train(args + ["-w", "2", "--persistent-workers", "-v", "1"]).summary
    assert len(plain) == len(kept) >= 3  # refreshes at epochs 1 and 3
    for a, b in zip(plain, kept, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6) and a["val_loss"] == b["val_loss"]
    assert set(multiprocessing.active_children()) <= before
