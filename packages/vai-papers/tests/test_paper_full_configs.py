"""The papers' full-scale exp configs (channel sampling, verb ambiguity, ProSelfLC) on the real datasets'
configs: every shipped file loads against a tiny fake prepared dataset without unknown names, and its key
settings are the paper's (frames sampled per mode, optimiser, scheduler, criteria, metrics, best metric);
one channel-sampling config and one feature-run config train an epoch through vai-train
(test_paper_full_training.py)."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch
from torch import nn
from vai_data import read_split_file
from vai_papers.channel_sampling import InputReshape, frames_to_sample
from vai_papers.proselflc import ProSelfLC
from vai_papers.verb_ambiguity import (
    AssumeNegativeLoss,
    PseudoLabelRefresher,
    base_loss_type,
    make_loss,
)
from vai_papers_test_paper_configs import FEATURE_DIM, MULTILABEL_FIELDS, ROOT, _loaded_model_call
from vai_train.config import discover_roots, load_exp_config
from vai_train.config.known_names import unknown_names
from vai_train.engine.builders import best_metric_info, split_metrics
from vai_train.schedulers import ReduceLROnPlateau, ReduceLROnPlateauMultiple

EXP_DIR = ROOT / "exp_configs"
DATASETS = {
    "tcgrey": ("something_v1", "something_v2", "cater_task2"),
    "verbambig": ("epic100_verb", "confusing_hmdb_102"),
    "proselflc": ("hmdb",),
}
SHIPPED = sorted(
    (channel, dataset, *path.stem.split("-", 1))
    for channel, datasets in DATASETS.items()
    for dataset in datasets
    for path in (EXP_DIR / f"ch_{channel}" / dataset).glob("*-*.py")
)
MODES = ("RGB", "TC", "TCPlus2", "GreyST")
SS_PLATEAU = ("tsn_resnet50", "trn_resnet50", "mtrn_resnet50")
SS_NOPARTIALBN = {"tsm_resnet50": [20, 40], "mvf_resnet50": [10, 30, 40, 45, 55, 65, 75, 85, 95, 105]}
VERB_LOSSES = (
    "ce",
    "assume_negative",
    "weak_assume_negative",
    "binary_labelsmooth",
    "binary_negative_labelsmooth",
    "binary_focal",
    "entropy_maximise",
    "mask_binary_ce",
    "pseudo_single_binary_ce",
)
IDEAL_LOSSES = ("ideal_mask_binary_ce", "ideal_pseudo_single_binary_ce")


def _load(channel, dataset, model, exp):
    roots = discover_roots([ROOT], use_entry_points=False)
    return load_exp_config(roots, dataset, model, exp, exp_channel=channel)


def _sgd(cfg):
    opt = cfg.optimiser([nn.Parameter(torch.zeros(1))])
    assert type(opt) is torch.optim.SGD
    group = opt.param_groups[0]
    assert (group["momentum"], group["weight_decay"]) == (0.9, 5e-4)
    return opt, group["lr"]


def _val_fields(cfg):
    return [f for m in split_metrics(cfg, "val") for f in m.fields()]


# ------------------------------------------------------------------------------------------------ shipped set


def test_every_paper_setting_is_shipped():
    names = {(c, d, m, e) for c, d, m, e in SHIPPED}
    want = set()
    for dataset in ("something_v1", "something_v2"):
        for model in (*SS_PLATEAU, *SS_NOPARTIALBN):
            want |= {("tcgrey", dataset, model, f"{mode}_8frame") for mode in MODES}
    for model in ("tsm_resnet50", "mvf_resnet50"):
        want |= {("tcgrey", "cater_task2", model, f"{mode}_32frame") for mode in MODES}
    for loss in VERB_LOSSES:
        for model in ("tsm_resnet50", "feature_mlp"):
            want.add(("verbambig", "epic100_verb", model, loss))
    for loss in (*VERB_LOSSES, *IDEAL_LOSSES):
        for model in ("tsm_resnet50", "feature_mlp"):
            want.add(("verbambig", "confusing_hmdb_102", model, loss))
    want |= {("proselflc", "hmdb", "tsm_resnet50", loss) for loss in ("ce", "proselflc")}
    assert names == want
    for channel, dataset, model, exp in SHIPPED:  # 3-line files: the setting, then the dataset's base
        lines = (EXP_DIR / f"ch_{channel}" / dataset / f"{model}-{exp}.py").read_text().splitlines()
        assert len(lines) == 3 and lines[0].startswith("# ") and lines[2].startswith('include("_')


# ------------------------------------------------------------------------------------------------ loading


@pytest.mark.parametrize("channel,dataset,model,exp", SHIPPED, ids=["/".join(s) for s in SHIPPED])
def test_config_loads_cleanly_with_the_papers_settings(
    channel, dataset, model, exp, fake, caplog, monkeypatch
):
    mp = monkeypatch
    if model == "feature_mlp":
        mp.setenv("VAI_FEATURES_DIR", str(fake["features"][dataset]))
        mp.setenv("VAI_NUM_NEIGHBOURS", "1" if dataset == "epic100_verb" else "15")  # EK's fake has 2 videos
    with caplog.at_level(logging.WARNING):
        cfg = _load(channel, dataset, model, exp)
    assert unknown_names(cfg.exp_cfg) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert cfg.use_amp is False  # off by default, as upstream's exp configs: --amp turns it on
    {"tcgrey": _check_channel_sampling, "verbambig": _check_verb_ambiguity, "proselflc": _check_proselflc}[
        channel
    ](cfg, dataset, model, exp, mp)


def _check_channel_sampling(cfg, dataset, model, exp, mp):
    mode, frames = exp.split("_")
    t = 32 if dataset == "cater_task2" else 8
    assert frames == f"{t}frame" and cfg.input_frame_length == t
    want = {"RGB": (t, False), "TC": (t, False), "TCPlus2": (t + 2, False), "GreyST": (3 * t, True)}[mode]
    assert tuple(cfg.exp_cfg.channel_frames) == want == tuple(frames_to_sample(mode, t))
    reshape = cfg.get_input_reshape_func("train")
    assert isinstance(reshape, InputReshape) and (reshape.mode, reshape.num_frames) == (mode, t)
    # data: largejit train crops, val at 256 with 1 crop, multicropval 10 crops only where the dataset flips
    train, val, multi = (cfg.get_torch_dataset(s) for s in ("train", "val", "multicropval"))
    assert train.num_frames == val.num_frames == want[0]
    assert (train.crop_size, tuple(train.scale_jitter)) == (224, (224, 336))
    assert (val.test_scale, val.num_spatial_crops, multi.test_scale) == (256, 1, 256)
    assert multi.num_spatial_crops == (10 if dataset == "cater_task2" else 1)
    assert train.horizontal_flip is (dataset == "cater_task2")
    # optimisation
    opt, lr = _sgd(cfg)
    sched = cfg.scheduler(opt, 10)
    nopartialbn = dataset != "cater_task2" and model in SS_NOPARTIALBN
    batch = 12 if dataset == "cater_task2" else 32
    assert cfg.batch_size == batch
    if nopartialbn:
        assert lr == pytest.approx(0.01 / 64 * batch)
        assert type(sched) is torch.optim.lr_scheduler.MultiStepLR
        assert sorted(sched.milestones) == [10 * e for e in SS_NOPARTIALBN[model]] and sched.gamma == 0.1
        assert cfg.clip_grad_max_norm == 20
    else:
        assert lr == pytest.approx(min(5e-5 * batch, 5e-5 * 256))
        kind = ReduceLROnPlateauMultiple if dataset == "cater_task2" else ReduceLROnPlateau
        assert type(sched) is kind and (sched.factor, sched.patience) == (0.1, 10)
        assert cfg.clip_grad_max_norm is None
    mp.setenv("WORLD_SIZE", "4")  # linear in the number of processes (upstream's world_size**2 was a bug)
    assert _sgd(cfg)[1] == pytest.approx(lr * 4)
    mp.delenv("WORLD_SIZE")
    assert cfg.exp_cfg.early_stopping_patience == 20 and cfg.num_epochs == 1000
    args, kwargs = _loaded_model_call(cfg)[0]
    assert args == (cfg.num_classes, t)
    assert kwargs == ({"partial_bn": False, "dropout": 0.5} if nopartialbn else {"partial_bn": True})
    # task defaults: cross-entropy and top-1 (Something-Something), BCE and mAP (CATER)
    multi_label = dataset == "cater_task2"
    crit = nn.BCEWithLogitsLoss if multi_label else nn.CrossEntropyLoss
    assert type(cfg.get_criterion("train")) is crit and type(cfg.get_criterion("val")) is crit
    assert best_metric_info(cfg, split_metrics(cfg, "val")) == ("val_mAP" if multi_label else "val_acc", True)


def _check_verb_ambiguity(cfg, dataset, model, exp, mp):
    loss = exp
    base = base_loss_type(loss)
    pseudo = base in ("mask_binary_ce", "pseudo_single_binary_ce")
    ek = dataset == "epic100_verb"
    assert type(cfg.get_criterion("train")) is type(make_loss(base))
    assert type(cfg.get_criterion("val")) is (AssumeNegativeLoss if pseudo else type(make_loss(base)))
    assert cfg.exp_cfg.last_activation == "sigmoid"
    assert cfg.exp_cfg.early_stopping_patience == 20
    assert cfg.num_epochs == (500 if ek else 1000)
    fields = _val_fields(cfg)
    if ek:
        assert fields == ["holdoutval_acc", "holdoutval_acc_top5"] + [
            f"multilabeltest_{f}" for f in MULTILABEL_FIELDS
        ]
        assert best_metric_info(cfg, split_metrics(cfg, "val"))[0] == "holdoutval_acc"
        holdout, multi = cfg.exp_cfg.spmv_labels("holdoutval"), cfg.exp_cfg.spmv_labels("multilabeltest")
        assert len(holdout) == 2 and [np.flatnonzero(v).tolist() for v in multi.values()] == [[0, 1]]
    else:
        assert fields == [f"val_{f}" for f in MULTILABEL_FIELDS]
        best = "val_topset_multilabel_accuracy" if model == "tsm_resnet50" else "val_iou_accuracy"
        assert best_metric_info(cfg, split_metrics(cfg, "val"))[0] == best
    assert [m.fields() for m in split_metrics(cfg, "train")] == ([] if pseudo else [["train_acc"]])
    if model == "tsm_resnet50":
        _check_end_to_end(cfg, dataset, loss, pseudo)
    else:
        _check_feature_run(cfg, dataset, loss, pseudo)


def _check_end_to_end(cfg, dataset, loss, pseudo):
    ek = dataset == "epic100_verb"
    batch = 16 if ek else 32
    assert cfg.batch_size == batch and cfg.input_frame_length == 8
    opt, lr = _sgd(cfg)
    assert lr == pytest.approx(min(5e-6 * batch, 5e-6 * 256))
    sched = cfg.scheduler(opt, 10)
    assert type(sched) is ReduceLROnPlateau and (sched.factor, sched.patience, sched.mode) == (0.1, 10, "min")
    calls = _loaded_model_call(cfg)
    model_kwargs = {"partial_bn": True, "dropout": 0.7} if ek else {"partial_bn": False, "dropout": 0.5}
    assert calls == [((cfg.num_classes, 8), model_kwargs), (("reset_classifier", cfg.num_classes), {})]
    hook = cfg.exp_cfg.__dict__.get("epoch_start_script")
    if pseudo and not loss.startswith("ideal_"):
        assert isinstance(hook, PseudoLabelRefresher)
        assert (hook.loss_type, hook.period, hook.k, hook.threshold) == (loss, 5, 15, 0.1)
        assert hook.feature_split == "traindata_testmode"
    else:
        assert hook is None
    train, val, multi = (cfg.get_torch_dataset(s) for s in ("train", "val", "multicropval"))
    assert train.num_frames == 8 and (train.crop_size, tuple(train.scale_jitter)) == (224, (224, 336))
    assert (val.test_scale, val.num_spatial_crops, multi.num_spatial_crops) == (256, 1, 10)
    if loss.startswith("ideal_"):  # the true twin c +- 51 is the pseudo-positive
        row = read_split_file(cfg.dataset_cfg.split_file("train")).rows[0]
        target = np.asarray(train.video_id_to_label[row.video_id])
        twin = (row.label + 51) % 102
        assert target[row.label] == 1 and target[twin] == (-1 if "mask" in loss else 1)
        assert np.count_nonzero(target) == 2


def _check_feature_run(cfg, dataset, loss, pseudo):
    assert cfg.batch_size == 64
    opt = cfg.optimiser([nn.Parameter(torch.zeros(1))])
    assert type(opt) is torch.optim.Adam and opt.param_groups[0]["lr"] == 5e-6
    assert cfg.scheduler(opt, 10) is None
    calls = _loaded_model_call(cfg)
    assert calls == [
        ((cfg.num_classes,), {"input_feature_dim": FEATURE_DIM, "num_layers": 2, "num_units": 1024})
    ]
    train = cfg.get_torch_dataset("train")
    val = cfg.get_torch_dataset("val")
    assert train.features.shape[1] == val.features.shape[1] == FEATURE_DIM
    labels = torch.as_tensor(train.labels)
    if pseudo:  # pseudo-labels computed once from the training features (or the ideal twins)
        assert labels.shape == (len(train), cfg.num_classes)
        assert ((labels == 1).sum(1) >= 1).all()
        if "mask" in loss:
            assert ((labels == 1).sum(1) == 1).all() and labels.min() >= -1
        if loss.startswith("ideal_"):
            assert (labels != 0).sum(1).eq(2).all()
    else:
        assert labels.ndim == 1


def _check_proselflc(cfg, dataset, model, exp, mp):
    assert cfg.batch_size == 32 and cfg.num_epochs == 60
    assert getattr(cfg.exp_cfg, "early_stopping_patience", None) is None
    opt, lr = _sgd(cfg)
    assert lr == pytest.approx(5e-6 * 32)
    assert type(cfg.scheduler(opt, 10)) is ReduceLROnPlateau
    crit = cfg.get_criterion("train")
    assert type(cfg.get_criterion("val")) is nn.CrossEntropyLoss
    if exp == "ce":
        assert type(crit) is nn.CrossEntropyLoss
    else:  # B = 1 (upstream's last use); Γ unset: vai-train sets it to the optimiser steps of the run
        assert type(crit) is ProSelfLC and crit.total_time is None and crit.exp_base == 1.0
        steps = math.ceil(len(cfg.get_torch_dataset("train")) / 32)
        crit.set_total_steps(steps * 60)  # what vai-train passes for a run of num_epochs (60)
        assert crit.total_time == steps * 60
    assert best_metric_info(cfg, split_metrics(cfg, "val")) == ("val_acc", True)


def test_feature_runs_without_features_name_the_command_that_writes_them(fake, monkeypatch):
    mp = monkeypatch
    mp.delenv("VAI_FEATURES_DIR", raising=False)
    cfg = _load("verbambig", "epic100_verb", "feature_mlp", "ce")
    with pytest.raises(FileNotFoundError) as info:
        cfg.get_torch_dataset("train")
    message = str(info.value)
    assert "\n" not in message and "VAI_FEATURES_DIR is not set" in message
    assert "`vai-train feature -D epic100_verb -M tsm_resnet50 -c:e verbambig -E ce -l -2 -s " in message
    empty = fake["base"] / "no_features"
    empty.mkdir(exist_ok=True)
    mp.setenv("VAI_FEATURES_DIR", str(empty))
    cfg = _load("verbambig", "confusing_hmdb_102", "feature_mlp", "ce")
    with pytest.raises(FileNotFoundError, match=r"no features_epoch_NNNN_traindata_testmode_oneclip\.npz"):
        cfg.get_torch_dataset("train")


def test_feature_runs_name_a_bad_epoch_a_broken_file_and_the_flow_source(fake, monkeypatch, tmp_path):
    folder = tmp_path / "features"
    folder.mkdir()
    monkeypatch.setenv("VAI_FEATURES_DIR", str(folder))
    broken = folder / "features_epoch_0003_traindata_testmode_oneclip.npz"
    broken.write_bytes(b"")  # an interrupted copy
    monkeypatch.setenv("VAI_FEATURES_EPOCH", "best")
    cfg = _load("verbambig", "confusing_hmdb_102", "feature_mlp", "ce")
    with pytest.raises(ValueError, match=r"^VAI_FEATURES_EPOCH='best': give the epoch number"):
        cfg.get_torch_dataset("train")
    monkeypatch.setenv("VAI_FEATURES_EPOCH", "3")
    cfg = _load("verbambig", "confusing_hmdb_102", "feature_mlp", "ce")
    with pytest.raises(ValueError, match=rf"^{broken}: not a readable features file"):
        cfg.get_torch_dataset("train")
    np.savez(broken, video_ids=np.arange(3), labels=np.zeros(3, dtype=np.int64))  # no features array
    with pytest.raises(ValueError, match=r"missing arrays \['features'\]"):
        cfg.get_torch_dataset("train")
    np.savez(broken, video_ids=np.arange(3), labels=np.zeros(3, dtype=np.int64), features=np.ones((3, 4)))
    monkeypatch.setenv("VAI_FLOW_FEATURES_DIR", str(tmp_path / "no_flow"))
    cfg = _load("verbambig", "confusing_hmdb_102", "feature_mlp", "ce")
    with pytest.raises(FileNotFoundError) as info:
        cfg.get_torch_dataset("train")
    assert "your own optical-flow model's `ce` run (vai ships no flow config)" in str(info.value)
    assert "-M tsm_resnet50" not in str(info.value)  # not the RGB command
