"""``vai-train confusion``: which predictions file it reads, what it writes, and its one-line refusals."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import ConcatDataset, Subset, TensorDataset
from vai_train import run_confusion, run_train
from vai_train.cli import main
from vai_train.dataset_hooks import dataset_labels
from vai_train.metrics import confusion_matrix
from vai_train.reporting import load_predictions, save_predictions
from vai_train.summary import read_summary
from vai_train.tools.confusion import class_names_of, sort_keys, train_class_counts


@pytest.fixture
def trained(base_args: list[str]) -> Path:
    """Two epochs with val predictions saved every epoch (``train -p``)."""
    return run_train(base_args + ["-e", "2", "-p"]).run_dir


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_newest_predictions_every_order_and_figures(base_args: list[str], trained: Path) -> None:
    res = run_confusion(base_args)
    pred = load_predictions(trained / "predictions" / "epoch_0002_val_oneclip.npz")
    assert res.best_epoch == 2 and res.metrics["predictions"].endswith("epoch_0002_val_oneclip.npz")
    out = trained / "plots" / "per_class_accuracy" / "epoch_0002_val_oneclip"
    assert Path(res.metrics["out_dir"]) == out
    assert sorted(p.name for p in out.iterdir()) == [
        "sort_accuracy",
        "sort_class_id",
        "sort_train_freq",
        "sort_val_freq",
    ]
    for folder in out.iterdir():
        assert {p.name for p in folder.iterdir()} == {
            "confusion.png",
            "confusion.pdf",
            "per_class_accuracy.csv",
        }
    # the CSV's numbers are the predictions' confusion matrix; class names from class_keys; n_train counts
    cm = confusion_matrix(torch.as_tensor(pred["probs"]), torch.as_tensor(pred["labels"]).long(), 4)
    rows = _csv(out / "sort_class_id" / "per_class_accuracy.csv")
    assert [r["class"] for r in rows] == ["a", "b", "c", "d"]
    assert [int(r["correct"]) for r in rows] == cm.diagonal().tolist()
    assert [int(r["n_val"]) for r in rows] == cm.sum(1).tolist()
    assert [int(r["n_train"]) for r in rows] == [16, 16, 16, 16]
    acc = [float(r["acc"]) for r in _csv(out / "sort_accuracy" / "per_class_accuracy.csv")]
    assert acc == sorted(acc, reverse=True)
    # top-1 agrees with the epoch's val_acc; the figure went to the version's TensorBoard
    assert res.metrics["top1"] == pytest.approx(read_summary(trained / "logs" / "summary.csv")[1]["val_acc"])
    assert list((trained / "tensorboard" / "figures").glob("events.out.tfevents.*"))
    assert "top-1" in res.summary_line() and str(out) in res.summary_line()


def test_without_matplotlib_the_csvs_are_written(
    base_args: list[str], trained: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    res = run_confusion(base_args)
    out = Path(res.metrics["out_dir"])
    for folder in out.iterdir():
        assert [p.name for p in folder.iterdir()] == ["per_class_accuracy.csv"]
    assert len(_csv(out / "sort_class_id" / "per_class_accuracy.csv")) == 4
    assert "matplotlib is not installed, so only the per-class accuracy CSVs are written" in caplog.text
    assert "per-class accuracy CSVs in" in res.summary_line()
    assert not list((trained / "tensorboard" / "figures").glob("events.out.tfevents.*"))


def test_load_epoch_picks_last_best_and_n(base_args: list[str], trained: Path) -> None:
    rows = read_summary(trained / "logs" / "summary.csv")
    best = max(rows, key=lambda r: (r["val_acc"], -r["epoch"]))["epoch"]
    assert run_confusion(base_args + ["-l", "-2"]).best_epoch == best
    assert run_confusion(base_args + ["-l", "-1"]).best_epoch == 2
    res = run_confusion(base_args + ["-l", "1", "--sort", "val_freq", "--no-tensorboard"])
    assert Path(res.metrics["out_dir"]).name == "epoch_0001_val_oneclip"
    assert {Path(p).parent.name for p in res.metrics["files"]} == {"sort_val_freq"}


def test_missing_predictions_say_how_to_make_them(
    base_args: list[str], trained: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["confusion", *base_args, "-l", "7"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(err) == 1
    err = err[0]
    assert "epoch_0007_val_oneclip.npz does not exist" in err and "1, 2" in err and "eval ... -l 7" in err
    assert main(["confusion", *base_args, "-m", "multicrop"]) == 1
    err = capsys.readouterr().err
    assert "no multicropval multicrop predictions" in err and "-m multicrop -s multicropval -p" in err


def test_multicrop_splits_default_to_multicrop_files_and_hints(
    base_args: list[str], trained: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_train(base_args + ["-e", "3", "-l", "-1", "-p", "-t", "1"])  # epoch 3 adds multicropval -p files
    res = run_confusion(base_args + ["-s", "multicropval"])  # no -m: the split's own mode
    assert res.metrics["predictions"].endswith("epoch_0003_multicropval_multicrop.npz")
    assert main(["confusion", *base_args, "-s", "multicropval", "-m", "oneclip", "-l", "3"]) == 1
    err = capsys.readouterr().err
    assert "multicropval multicrop predictions exist for epochs 3 (-m multicrop)" in err
    assert main(["confusion", *base_args, "-l", "0"]) == 1  # epoch 0: load_pretrained(), eval without -l
    assert "save them with `vai-train eval ... -s val -p`" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["confusion", *base_args]) == 1
    assert "confusion runs as one process: start it without torchrun" in capsys.readouterr().err


def test_no_version_is_one_line(base_args: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main(["confusion", *base_args]) == 1
    assert "no version_NNN under" in capsys.readouterr().err


def test_no_train_counts_and_train_freq_refusal(
    base_args: list[str], trained: Path, capsys: pytest.CaptureFixture
) -> None:
    res = run_confusion(base_args + ["--no-train-counts"])
    out = Path(res.metrics["out_dir"])
    assert "sort_train_freq" not in {p.name for p in out.iterdir()}
    assert "n_train" not in _csv(out / "sort_class_id" / "per_class_accuracy.csv")[0]
    assert main(["confusion", *base_args, "--no-train-counts", "--sort", "train_freq"]) == 1
    assert (
        "--sort train_freq needs the train counts that --no-train-counts leaves out"
        in capsys.readouterr().err
    )


def test_predictions_file_outside_a_version(base_args: list[str], trained: Path, tmp_path: Path) -> None:
    probs = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 1]]
    path = save_predictions(tmp_path / "mine.npz", np.arange(5), probs, np.array([0, 1, 2, 3, 0]))
    res = run_confusion(base_args + ["--predictions", str(path), "--sort", "class_id"])
    assert res.run_dir is None and res.metrics["top1"] == pytest.approx(0.8)
    assert res.metrics["mean_class_accuracy"] == pytest.approx((0.5 + 1 + 1 + 1) / 4)
    assert Path(res.metrics["out_dir"]) == tmp_path / "per_class_accuracy" / "mine"


def test_another_datasets_class_count_is_a_warning(
    base_args: list[str], trained: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The tiny dataset has 4 classes; a 6-class file is still drawn, with a WARNING saying so."""
    probs = np.eye(6, dtype=np.float32)[[0, 5, 2]]
    path = save_predictions(tmp_path / "other.npz", np.arange(3), probs, np.array([0, 5, 1]))
    caplog.set_level("WARNING", logger="vai_train")
    res = run_confusion(base_args + ["--predictions", str(path), "--sort", "class_id"])
    assert res.metrics["top1"] == pytest.approx(2 / 3)
    assert f"{path} holds 6 classes but " in caplog.text
    assert "tiny.py has num_classes = 4: are these predictions of -D tiny?" in caplog.text
    caplog.clear()
    run_confusion(base_args + ["-l", "-1"])  # the run's own predictions: no such warning
    assert "holds" not in caplog.text


def test_multilabel_and_bad_labels_refused(
    base_args: list[str], trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    multi = save_predictions(tmp_path / "multi.npz", np.arange(2), np.full((2, 4), 0.5), np.eye(4)[:2])
    assert main(["confusion", *base_args, "--predictions", str(multi)]) == 1
    assert "needs single-label predictions" in capsys.readouterr().err
    bad = save_predictions(tmp_path / "bad.npz", np.arange(2), np.full((2, 4), 0.25), np.array([0, 9]))
    assert main(["confusion", *base_args, "--predictions", str(bad)]) == 1
    assert "labels range 0..9 outside 0..3" in capsys.readouterr().err
    assert main(["confusion", *base_args, "--predictions", str(tmp_path / "none.npz")]) == 1
    assert "predictions file not found" in capsys.readouterr().err


def test_class_names_of() -> None:
    assert class_names_of(SimpleNamespace(class_keys=["x", "y"]), 2) == ["x", "y"]
    assert class_names_of(SimpleNamespace(class_keys=["x"]), 2) is None  # does not name every class
    assert class_names_of(SimpleNamespace(), 2) is None
    assert class_names_of(SimpleNamespace(class_keys={1: "y", 0: "x"}), 2) == ["x", "y"]
    assert class_names_of(SimpleNamespace(class_keys={0: "x"}), 2) is None

    class Unprepared:
        @property
        def class_keys(self):
            raise FileNotFoundError("classes.txt missing")

    assert class_names_of(Unprepared(), 2) is None


def test_train_class_counts_and_sort_keys() -> None:
    ds = SimpleNamespace(labels=[0, 2, 2, (1, 2), 5])  # a multi-label row counts for each class; 5 ignored
    assert train_class_counts(lambda split: ds, 3) == [1, 1, 3]
    assert train_class_counts(lambda split: SimpleNamespace(), 3) is None

    def broken(split):
        raise FileNotFoundError("train.csv")

    assert train_class_counts(broken, 3) is None
    assert sort_keys("all", True) == ["class_id", "val_freq", "train_freq", "accuracy"]
    assert sort_keys("all", False) == ["class_id", "val_freq", "accuracy"]
    assert sort_keys("accuracy", False) == ["accuracy"]
    with pytest.raises(ValueError, match="could not be read"):
        sort_keys("train_freq", False)


def test_dataset_labels_through_wrappers() -> None:
    base = SimpleNamespace(labels=torch.tensor([3, 1, 2]))
    assert dataset_labels(base) == [3, 1, 2]
    assert dataset_labels(SimpleNamespace(labels=torch.tensor([[1.0, 0, 1], [0, 1, 0]]))) == [(0, 2), (1,)]

    class Labelled(TensorDataset):
        labels = [0, (1, 2)]

    part = Labelled(torch.zeros(2))
    assert dataset_labels(Subset(part, [1])) == [(1, 2)]
    assert dataset_labels(ConcatDataset([part, part])) == [0, (1, 2), 0, (1, 2)]
    assert dataset_labels(ConcatDataset([part, TensorDataset(torch.zeros(1))])) is None
    assert dataset_labels(TensorDataset(torch.zeros(1))) is None


def test_logs_reach_the_versions_files(base_args: list[str], trained: Path) -> None:
    run_confusion(base_args + ["-l", "2"])
    log = (trained / "logs" / "confusion_INFO.log").read_text()
    assert "lowest per-class accuracy" in log and "configs:" in log  # with what was logged before
