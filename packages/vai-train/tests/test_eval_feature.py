"""``vai-train eval``/``feature``/``list``: summary row update, predictions and feature files, listing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from vai_train import run_eval, run_feature, run_train
from vai_train.cli import main
from vai_train.reporting import load_predictions
from vai_train.summary import read_summary


@pytest.fixture
def trained(base_args: list[str]) -> Path:
    return run_train(base_args + ["-e", "2", "-s", "all", "-t", "2"]).run_dir


def test_eval_reproduces_val_and_writes_row(base_args: list[str], trained: Path) -> None:
    before = read_summary(trained / "logs" / "summary.csv")
    res = run_eval(base_args + ["-l", "1", "-p"])
    assert res.best_epoch == 1 and res.metrics["val_acc"] == pytest.approx(before[0]["val_acc"])
    assert res.metrics["val_loss"] == pytest.approx(before[0]["val_loss"], rel=1e-5)
    after = read_summary(trained / "logs" / "summary.csv")
    assert after[0]["val_runtime_sec"] != before[0]["val_runtime_sec"]  # eval rewrote epoch 1's row
    assert after[1] == before[1]
    pred = load_predictions(trained / "predictions" / "epoch_0001_val_oneclip.npz")
    assert pred["probs"].shape == (24, 4) and np.allclose(pred["probs"].sum(1), 1, atol=1e-5)


def test_eval_multicrop_other_split_and_best(base_args: list[str], trained: Path) -> None:
    res = run_eval(base_args + ["-l", "-2", "-m", "multicrop"])
    assert "multicropval_vid_acc" in res.metrics
    res = run_eval(base_args + ["-l", "-1", "-s", "test"])
    rows = read_summary(trained / "logs" / "summary.csv")
    assert rows[-1]["test_acc"] == pytest.approx(res.metrics["test_acc"])


def test_a_multicrop_split_without_m_is_evaluated_per_video(base_args: list[str], trained: Path) -> None:
    """-s multicropval alone scores videos as -m multicrop does (it scored each crop as a clip), and
    names its predictions file as train -p -t and confusion do; -m oneclip still asks for per-clip."""
    res = run_eval(base_args + ["-l", "-1", "-s", "multicropval", "-p"])
    assert "multicropval_vid_acc" in res.metrics
    assert (trained / "predictions" / "epoch_0002_multicropval_multicrop.npz").is_file()
    clips = run_eval(base_args + ["-l", "-1", "-s", "multicropval", "-m", "oneclip"])
    assert "multicropval_vid_acc" not in clips.metrics and "multicropval_acc" in clips.metrics


def test_eval_missing_epoch_is_clear(
    base_args: list[str], trained: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["eval", *base_args, "-l", "9"]) == 1
    err = capsys.readouterr().err
    assert "epoch_0009.pth does not exist" in err and "1, 2" in err


def test_feature_saves_per_video_arrays(base_args: list[str], trained: Path) -> None:
    res = run_feature(base_args + ["-l", "-1", "-s", "multicropval", "-m", "multicrop"])
    data = np.load(res.metrics["path"], allow_pickle=False)
    assert data["features"].shape == (24, 8) and data["clip_features"].shape == (48, 8)
    assert list(data["video_ids"]) == list(range(24))
    vid0 = data["clip_features"][data["clip_video_ids"] == 0].mean(0)
    assert np.allclose(vid0, data["features"][0], atol=1e-6)
    assert sorted(set(data["spatial_idx"].tolist())) == [0, 1]
    res = run_feature(base_args + ["-l", "-1", "-f", "logits"])
    assert np.load(res.metrics["path"])["logits"].shape == (24, 4)


def test_list_shows_sources(config_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["list", "--config-root", str(config_root)]) == 0
    out = capsys.readouterr().out
    assert "tiny/tinynet-plateau" in out and "[--config-root]" in out and "ch_alt/tiny" in out


def test_eval_uses_ema_weights_like_validation(base_args: list[str]) -> None:
    args = [a if a != "base" else "plateau" for a in base_args]
    trained = run_train(args + ["-e", "2"])
    last = trained.summary[-1]
    res = run_eval(args + ["-l", "-1"])
    assert res.metrics["val_loss"] == pytest.approx(last["val_loss"], rel=1e-6)
    assert res.metrics["val_acc"] == pytest.approx(last["val_acc"])


def test_tuple_batches_train_eval_and_extract_features(base_args: list[str]) -> None:
    """Upstream-style tuple samples go through the default unpack: training, eval and feature extraction
    work, and the spatial/temporal indices a tuple batch does not name are saved as zeros."""
    args = [a if a != "base" else "tuple" for a in base_args]
    trained = run_train(args)
    res = run_eval(args + ["-l", "-1"])
    assert res.metrics["val_acc"] == trained.summary[-1]["val_acc"]
    data = np.load(run_feature(args + ["-l", "-1"]).metrics["path"], allow_pickle=False)
    assert data["features"].shape == (24, 8) and list(data["video_ids"]) == list(range(24))
    assert data["spatial_idx"].tolist() == [0] * 24 and data["temporal_idx"].tolist() == [0] * 24


def test_inference_without_index_keys_records_zeros() -> None:
    """A custom unpack whose ``extra`` lacks the indices (or is not a dict) gives zeros, not a KeyError."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    from vai_train.engine.distributed import DistInfo
    from vai_train.engine.loop import run_inference

    ds = TensorDataset(torch.randn(5, 3), torch.arange(5), torch.zeros(5, dtype=torch.long))
    for extra in ({}, None):
        out = run_inference(
            torch.nn.Linear(3, 2),
            DataLoader(ds, batch_size=2),
            DistInfo(),
            lambda b, extra=extra: (b[0], b[1], b[2], extra),
            lambda x: x,
            None,
            progress=False,
            extra_keys=("spatial_idx", "temporal_idx"),
        )
        assert out["spatial_idx"].tolist() == [0] * 5 and out["temporal_idx"].tolist() == [0] * 5


def test_eval_p_without_a_version_gives_the_new_one_logs_and_configs(
    base_args: list[str], tmp_path: Path
) -> None:
    res = run_eval(base_args + ["-p"])  # load_pretrained() weights, no version yet: -p creates one
    version = res.run_dir
    assert (version / "predictions" / "epoch_0000_val_oneclip.npz").is_file()
    assert "predictions saved to" in (version / "logs" / "eval_INFO.log").read_text()
    assert (version / "configs" / "eval_args.json").is_file() and not (
        version / "configs" / "args.json"
    ).exists()


@pytest.mark.parametrize("command", ["train", "eval", "feature", "predict"])
def test_load_epoch_below_minus_two_is_one_line(
    base_args: list[str], command: str, capsys: pytest.CaptureFixture
) -> None:
    extra = ["x.mp4"] if command == "predict" else []
    assert main([command, *base_args, *extra, "-l", "-3"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(err) == 1 and "-l -3: use -1 (" in err[0] and "or an epoch number N >= 1" in err[0]
    assert main([command, *base_args, *extra, "-l", "0"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(err) == 1 and "-l 0: epochs are numbered from 1; leave -l out to " in err[0]


def test_eval_of_the_train_split_leaves_trainings_record(base_args: list[str], trained: Path, caplog) -> None:
    """eval -s train reports the train split in eval mode but does not overwrite the epoch's train_*
    columns, which hold what training measured (plots and early stopping read them)."""
    caplog.set_level("INFO", logger="vai_train")
    summary = trained / "logs" / "summary.csv"
    before = summary.read_text()
    res = run_eval(base_args + ["-l", "1", "-s", "train", "-p"])
    assert res.metrics["train_loss"] > 0 and "train_acc" in res.metrics
    assert summary.read_text() == before
    assert "summary.csv left as training wrote it" in caplog.text
    assert (trained / "predictions" / "epoch_0001_train_oneclip.npz").is_file()
