"""End-to-end single-process training on the tiny config: run dir, summary.csv, weights, CLI, API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from vai_train import run_train
from vai_train.cli import main
from vai_train.engine.checkpoint import load_checkpoint
from vai_train.summary import read_summary


def test_train_writes_run_dir(base_args: list[str], tmp_path: Path) -> None:
    result = run_train(base_args + ["-e", "3", "--plot-period", "2"])
    rd = result.run_dir
    assert rd == tmp_path / "exp" / "tiny" / "tinynet" / "base" / "version_000"
    for sub in ("configs", "logs", "weights", "tensorboard", "plots", "predictions"):
        assert (rd / sub).is_dir()
    rows = read_summary(rd / "logs" / "summary.csv")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    for key in ("train_loss", "train_runtime_sec", "val_loss", "val_acc", "val_acc_top5", "train_acc"):
        assert key in rows[0]
    assert result.summary == rows and result.best_metric_field == "val_acc"
    assert result.best_metric == max(r["val_acc"] for r in rows)
    assert result.best_metric >= 0.5  # 4 classes, chance 0.25
    assert (rd / "weights" / "last.pth").exists() and (rd / "weights" / "best.pth").exists()
    last = load_checkpoint(rd / "weights" / "last.pth")
    assert last["epoch"] == 3 and "model_state" in last and "optimiser_state" in last
    args = json.loads((rd / "configs" / "args.json").read_text())
    assert args["dataset"] == "tiny" and args["num_epochs"] == 3
    assert (rd / "configs" / "exp_configs" / "tinynet-base.py").is_file()
    assert (rd / "logs" / "train_INFO.log").read_text().count("epoch 3:") == 1
    assert (rd / "plots" / "loss.png").is_file() and (rd / "plots" / "accuracy.png").is_file()
    assert any((rd / "tensorboard" / "val").iterdir())


def test_second_run_is_new_version(base_args: list[str]) -> None:
    a = run_train(base_args + ["-e", "1"])
    b = run_train(base_args + ["-e", "1"])
    assert a.run_dir.name == "version_000" and b.run_dir.name == "version_001"


def test_cli_prints_result_line(base_args: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main(["train", *base_args, "-e", "1", "-S", "sub"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "best val_acc" in out[0] and "/base/sub/version_000" in out[0]


def test_cli_config_error_is_one_line(base_args: list[str], capsys: pytest.CaptureFixture) -> None:
    args = [a if a != "base" else "nolr" for a in base_args]
    assert main(["train", *args, "-e", "1"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "vai-train train: error" in line]
    assert len(err) == 1 and "required item 'get_torch_dataset'" in err[0]


def test_save_policy_all_and_higher(base_args: list[str]) -> None:
    rd = run_train(base_args + ["-e", "3", "-s", "all"]).run_dir
    assert sorted(p.name for p in (rd / "weights").glob("epoch_*.pth")) == [
        "epoch_0001.pth",
        "epoch_0002.pth",
        "epoch_0003.pth",
    ]
    rd = run_train(base_args + ["-e", "3", "-s", "higher"]).run_dir
    rows = read_summary(rd / "logs" / "summary.csv")
    kept = {int(p.stem.split("_")[1]) for p in (rd / "weights").glob("epoch_*.pth")}
    best = -1.0
    improving = set()
    for r in rows:
        if r["val_acc"] > best:
            best, _ = r["val_acc"], improving.add(r["epoch"])
    assert kept == improving
    assert torch.load(rd / "weights" / "best.pth", weights_only=True)["epoch"] == max(improving)


def test_plateau_ema_accum_clip_and_early_stop(base_args: list[str]) -> None:
    args = [a if a != "base" else "plateau" for a in base_args]
    result = run_train(args + ["-e", "8"])
    rows = result.summary
    ckpt = load_checkpoint(result.run_dir / "weights" / "last.pth")
    assert ckpt["ema_state"] is not None and ckpt["scheduler_state"]["best_metric"] > 0
    assert all(r["lr"] <= 0.05 + 1e-12 for r in rows)
    if result.stopped_early:
        assert len(rows) < 8


def test_multi_label_defaults(base_args: list[str]) -> None:
    args = [a if a != "tiny" else "tiny_multi" for a in base_args]
    res = run_train(args + ["-e", "2", "-t", "2"])
    row = res.summary[-1]
    assert res.best_metric_field == "val_mAP" and 0.0 <= row["val_mAP"] <= 1.0
    assert "multicropval_vid_mAP" in row and "val_acc" not in row
    ckpt = load_checkpoint(res.run_dir / "weights" / "last.pth")
    assert ckpt["early_stopping_state"]["best_metric_epoch"] in (1, 2)


def test_training_speed_faster_skips_train_metrics(base_args: list[str]) -> None:
    """--training_speed faster (upstream): training outputs are not gathered, so no train metrics; the
    train loss is still exact, and validation is unchanged."""
    standard = run_train(base_args + ["-e", "1"]).summary[0]
    faster = run_train(base_args + ["-e", "1", "--training_speed", "faster"]).summary[0]
    assert "train_acc" in standard and "train_acc" not in faster and "train_acc_top5" not in faster
    assert faster["train_loss"] == pytest.approx(standard["train_loss"], rel=1e-6)
    assert faster["val_acc"] == standard["val_acc"]
