"""The papers' full-scale exp configs train an epoch through vai-train on the tiny fake prepared datasets
(the ``fake`` fixture of conftest.py): one channel-sampling config and one feature-run config per
verb-ambiguity dataset."""

from __future__ import annotations

import math

import pytest
import torch
from vai_papers_test_paper_configs import MULTILABEL_FIELDS, ROOT
from vai_train import run_train


def test_channel_sampling_config_trains_an_epoch_on_the_fake_dataset(fake, tmp_path):
    seen = []

    def record(module, args):
        if args and isinstance(args[0], torch.Tensor) and args[0].ndim == 5:
            seen.append(tuple(args[0].shape))

    handle = torch.nn.modules.module.register_module_forward_pre_hook(record)
    try:
        args = ["-D", "something_v1", "-M", "tsn_resnet50", "-c:e", "tcgrey", "-E", "TCPlus2_8frame"]
        args += ["-R", str(tmp_path), "-e", "1", "-w", "0", "--no-progress", "--config-root", str(ROOT)]
        result = run_train(args)
    finally:
        handle.remove()
    row = result.summary[-1]
    assert row["epoch"] == 1 and math.isfinite(float(row["val_loss"])) and "val_acc" in row
    assert float(row["lr"]) == pytest.approx(5e-5 * 32)
    assert (2, 3, 8, 224, 224) in seen  # 10 sampled frames reordered into the model's 8 segments


@pytest.mark.parametrize(
    "dataset,loss,best",
    [
        ("confusing_hmdb_102", "mask_binary_ce", "val_iou_accuracy"),
        ("epic100_verb", "pseudo_single_binary_ce", "holdoutval_acc"),
    ],
)
def test_feature_run_trains_an_epoch_on_fake_features_with_pseudo_labels(
    dataset, loss, best, fake, tmp_path, monkeypatch
):
    monkeypatch.setenv("VAI_FEATURES_DIR", str(fake["features"][dataset]))
    if dataset == "epic100_verb":
        monkeypatch.setenv("VAI_NUM_NEIGHBOURS", "1")  # the fake EK training split has 2 videos
    args = ["-D", dataset, "-M", "feature_mlp", "-c:e", "verbambig", "-E", loss]
    args += ["-R", str(tmp_path), "-e", "1", "-w", "0", "--no-progress", "--config-root", str(ROOT)]
    result = run_train(args)
    row = result.summary[-1]
    assert result.best_metric_field == best and math.isfinite(float(row["val_loss"]))
    if dataset == "epic100_verb":  # EK-100-SPMV: val predictions scored on the hold-out and multi-verb clips
        fields = ["holdoutval_acc", "holdoutval_acc_top5"] + [
            f"multilabeltest_{f}" for f in MULTILABEL_FIELDS
        ]
    else:
        fields = [f"val_{f}" for f in MULTILABEL_FIELDS]
    assert all(row[f] != "" and 0.0 <= float(row[f]) <= 1.0 for f in fields), row
