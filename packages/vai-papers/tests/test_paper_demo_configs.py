"""The verb-ambiguity and ProSelfLC demo configs: their derived synthetic datasets (Confusing synthetic
motion, noisy synthetic motion), the exp configs' losses and metrics, and one short run of each kind."""

from __future__ import annotations

import csv
import logging
import math
from collections import Counter

import pytest
import torch
import vai_papers
from vai_data import read_split_file
from vai_papers.proselflc import ProSelfLC
from vai_papers.verb_ambiguity import PSEUDO_LABEL_LOSSES, AssumeNegativeLoss, make_loss
from vai_train import run_train
from vai_train.config import discover_roots, load_exp_config
from vai_train.config.known_names import unknown_names
from vai_train.config.loader import ConfigError, exec_config
from vai_train.engine.checkpoint import load_checkpoint

CONFIGS = vai_papers.config_root()
VERBAMBIG_DIR = CONFIGS / "exp_configs" / "ch_verbambig" / "confusing_synthetic_motion"
PROSELFLC_DIR = CONFIGS / "exp_configs" / "ch_proselflc" / "noisy_synthetic_motion"
VERBAMBIG = sorted(p.stem.split("-", 1)[1] for p in VERBAMBIG_DIR.glob("tsm_resnet18-*.py"))
PROSELFLC = sorted(p.stem.split("-", 1)[1] for p in PROSELFLC_DIR.glob("tsm_resnet18-*.py"))


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """One tiny synthetic dataset shared by the config checks."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VAI_DATA_ROOT", str(tmp_path_factory.mktemp("data")))
        mp.setenv("VAI_SYNTH_NUM_VIDEOS", "40")
        mp.delenv("VAI_NOISE_RATE", raising=False)
        yield


def _dataset_cfg(name: str):
    return exec_config(CONFIGS / "dataset_configs" / f"{name}.py", f"test_{name}")


def _load(dataset: str, exp: str, channel: str):
    roots = discover_roots([CONFIGS], use_entry_points=False)
    return load_exp_config(roots, dataset, "tsm_resnet18", exp, exp_channel=channel)


def test_confusing_dataset_gives_each_video_one_of_two_twins_and_validates_on_both(tiny_data):
    cfg = _dataset_cfg("confusing_synthetic_motion")
    assert cfg.num_classes == 16 and cfg.task == "multi_label"
    assert cfg.class_keys[8] == "moving_left_2" and cfg.class_keys[:8] == cfg._base_classes
    root = cfg.ensure_data()
    splits = root / "splits"
    base = {r.video_id: r.label for r in read_split_file(splits / "train.csv").rows}
    train = read_split_file(splits / "confusing2_train.csv")
    assert train.num_classes == 0 and len(train) == len(base)
    twins = Counter(r.label >= 8 for r in train.rows)
    assert twins[True] > 0 and twins[False] > 0  # both copies are drawn
    assert all(r.label % 8 == base[r.video_id] for r in train.rows)
    val_base = {r.video_id: r.label for r in read_split_file(splits / "val.csv").rows}
    val = read_split_file(splits / "confusing2_val.csv")
    assert val.num_classes == 16
    assert all(r.label == (val_base[r.video_id], val_base[r.video_id] + 8) for r in val.rows)
    # the draw is fixed: a second preparation writes the same file
    first = (splits / "confusing2_train.csv").read_bytes()
    cfg.ensure_data()
    assert (splits / "confusing2_train.csv").read_bytes() == first
    # the flip swaps left/right within each copy
    flip = cfg.flip_label_map()
    assert flip[0] == 1 and flip[8] == 9 and flip[12] == 13 and 2 not in flip and 10 not in flip


def test_noisy_dataset_flips_the_given_fraction_to_other_classes(tiny_data):
    cfg = _dataset_cfg("noisy_synthetic_motion")
    assert cfg.noise_rate == 0.4 and cfg.split_file_basename["train"] == "noisy40_train.csv"
    labels = [i % 8 for i in range(4000)]
    noisy = cfg.noisy_labels(labels)
    changed = [(a, b) for a, b in zip(labels, noisy, strict=True) if a != b]
    assert 0.37 < len(changed) / len(labels) < 0.43
    # symmetric: a flipped label never keeps its class and reaches every other class about equally
    to = Counter((b - a) % 8 for a, b in changed)
    assert set(to) == set(range(1, 8)) and min(to.values()) > 0.75 * max(to.values())
    assert cfg.noisy_labels(labels) == noisy  # seeded
    assert cfg.noisy_labels(labels, rate=0.0) == labels
    root = cfg.ensure_data()
    clean = read_split_file(root / "splits" / "train.csv").rows
    written = read_split_file(root / "splits" / "noisy40_train.csv").rows
    assert [r.label for r in written] == cfg.noisy_labels([r.label for r in clean])
    assert [r.path for r in written] == [r.path for r in clean]


@pytest.mark.parametrize("value", ["x", "1.0", "-0.1", "0.395", "0.0001"])
def test_noisy_dataset_rejects_a_bad_rate_naming_the_variable(value, monkeypatch):
    monkeypatch.setenv("VAI_NOISE_RATE", value)
    with pytest.raises(ConfigError, match="VAI_NOISE_RATE") as e:
        _dataset_cfg("noisy_synthetic_motion")
    assert "\n" not in str(e.value)


def test_noisy_dataset_rate_is_a_whole_percentage_naming_its_split_file(monkeypatch):
    """Rates that rounded to one percent (0.395, 0.4) shared a split file: only whole percentages load."""
    monkeypatch.setenv("VAI_NOISE_RATE", "0.395")
    with pytest.raises(ConfigError, match=r"VAI_NOISE_RATE='0\.395' is not a whole percentage"):
        _dataset_cfg("noisy_synthetic_motion")
    for value, percent in (("0.07", 7), ("0.29", 29), ("0.4", 40), ("0", 0), ("0.99", 99)):
        monkeypatch.setenv("VAI_NOISE_RATE", value)
        cfg = _dataset_cfg("noisy_synthetic_motion")
        assert cfg.split_file_basename["train"] == f"noisy{percent}_train.csv"
        assert cfg.noise_rate == percent / 100


def test_every_paper_loss_has_a_demo_config():
    assert set(VERBAMBIG) == {
        f"{loss}_demo"
        for loss in (
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
    }
    assert PROSELFLC == ["ce_demo", "proselflc_demo"]


@pytest.mark.parametrize("exp", VERBAMBIG)
def test_verbambig_config_uses_its_loss_and_multilabel_metrics(exp, tiny_data, caplog):
    with caplog.at_level(logging.WARNING):
        cfg = _load("confusing_synthetic_motion", exp, "verbambig")
    assert unknown_names(cfg.exp_cfg) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    loss = exp.removesuffix("_demo")
    assert type(cfg.get_criterion("train")) is type(make_loss(loss, 16))
    if loss in PSEUDO_LABEL_LOSSES:  # validated as upstream validates them
        assert isinstance(cfg.get_criterion("val"), AssumeNegativeLoss)
        assert callable(cfg.exp_cfg.epoch_start_script)
    else:
        assert not hasattr(cfg.exp_cfg, "epoch_start_script")
    assert cfg.exp_cfg.last_activation == ("softmax" if loss == "ce" else "sigmoid")
    names = [type(m).__name__ for m in cfg.exp_cfg.metrics["val"]]
    assert names[0] == "ClipTopSetMultilabelAccuracy" and "ClipIOUAccuracy" in names
    assert cfg.exp_cfg.metrics["train"] == []


@pytest.mark.parametrize("exp", PROSELFLC)
def test_proselflc_config_spans_the_whole_run(exp, tiny_data):
    cfg = _load("noisy_synthetic_motion", exp, "proselflc")
    assert unknown_names(cfg.exp_cfg) == []
    train, val = cfg.get_criterion("train"), cfg.get_criterion("val")
    assert isinstance(val, torch.nn.CrossEntropyLoss)
    if exp == "ce_demo":
        assert isinstance(train, torch.nn.CrossEntropyLoss)
        return
    assert isinstance(train, ProSelfLC) and train.exp_base == 8.0
    # Γ is left to vai-train, which sets it from the run's real length (num_epochs or -e)
    assert train.total_time is None and train.given_total_time is None


def test_pseudo_label_demo_trains_and_saves_its_pseudo_labels(demo_env):
    root = demo_env / "exp"
    args = ["-D", "confusing_synthetic_motion", "-M", "tsm_resnet18", "-c:e", "verbambig"]
    args += [
        "-E",
        "mask_binary_ce_demo",
        "-R",
        str(root),
        "-e",
        "1",
        "-w",
        "0",
        "--config-root",
        str(CONFIGS),
    ]
    result = run_train(args)
    with (result.run_dir / "logs" / "summary.csv").open() as f:
        row = list(csv.DictReader(f))[0]
    for field in ("val_topset_multilabel_accuracy", "val_iou_accuracy", "val_f1_measure", "val_mAP"):
        assert 0.0 <= float(row[field]) <= 1.0, field
    saved = list((result.run_dir / "predictions" / "pseudo_labels").glob("epoch_0001.npz"))
    assert len(saved) == 1


def test_proselflc_demo_advances_its_time_once_per_iteration(demo_env, monkeypatch):
    gammas = []
    original = ProSelfLC.set_total_steps

    def record(self, n):
        original(self, n)
        gammas.append(self.total_time)

    monkeypatch.setattr(ProSelfLC, "set_total_steps", record)
    root = demo_env / "exp"
    args = ["-D", "noisy_synthetic_motion", "-M", "tsm_resnet18", "-c:e", "proselflc"]
    args += ["-E", "proselflc_demo", "-R", str(root), "-e", "1", "-w", "0", "--config-root", str(CONFIGS)]
    result = run_train(args)
    ckpt = load_checkpoint(result.run_dir / "weights" / "epoch_0001.pth")
    n_train = len(read_split_file(demo_env / "data" / "synthetic_motion" / "splits" / "noisy40_train.csv"))
    steps = math.ceil(n_train / 16)
    assert gammas == [steps]  # Γ from the run (-e 1), not from the config's num_epochs
    assert int(ckpt["criterion_state"]["cur_time"]) == steps


def test_pseudo_label_demo_under_two_gloo_processes(demo_env):
    """torchrun with 2 processes: features are extracted on both ranks, rank 0 builds the pseudo-labels
    and saves them once, both ranks train with them, and the epoch's metrics are written."""
    import os
    import subprocess
    import sys

    root = demo_env / "exp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = ["-D", "confusing_synthetic_motion", "-M", "tsm_resnet18", "-c:e", "verbambig"]
    args += ["-E", "mask_binary_ce_demo", "-R", str(root), "-e", "1", "-w", "0", "--no-progress"]
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
        + ["-m", "vai_train.cli", "train", *args, "--config-root", str(CONFIGS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = (
        root
        / "confusing_synthetic_motion"
        / "tsm_resnet18"
        / "ch_verbambig_mask_binary_ce_demo"
        / "version_000"
    )
    assert [p.name for p in (run_dir / "predictions" / "pseudo_labels").iterdir()] == ["epoch_0001.npz"]
    with (run_dir / "logs" / "summary.csv").open() as f:
        row = list(csv.DictReader(f))[0]
    assert 0.0 <= float(row["val_iou_accuracy"]) <= 1.0
