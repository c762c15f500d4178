"""plot_summary families / files, summary reading, confusion figure and the missing-matplotlib error."""

import builtins

import pytest
import torch
from vai_train.reporting import family_basename, plot_confusion_matrix, plot_summary, read_summary
from vai_train.reporting import plots as plots_module

SUMMARY = """epoch,train_runtime_sec,train_loss,train_acc,val_runtime_sec,val_loss,val_acc,val_acc_top5,multicropval_vid_acc
0,10.0,2.0,0.1,2.0,1.9,0.20,0.50,
1,11.0,1.5,0.3,2.0,1.6,0.35,0.70,0.40
2,12.0,1.2,0.5,2.5,1.7,0.30,0.75,
"""


@pytest.fixture
def summary_csv(tmp_path):
    path = tmp_path / "logs" / "summary.csv"
    path.parent.mkdir()
    path.write_text(SUMMARY)
    return path


def test_read_summary(summary_csv):
    s = read_summary(summary_csv)
    assert s.epochs == [0, 1, 2]
    assert s.columns["multicropval_vid_acc"] == [None, 0.4, None]
    assert s.split_of("multicropval_vid_acc") == ("multicropval", "vid_acc")
    assert s.split_of("val_acc_top5") == ("val", "acc_top5")
    assert s.best("val_loss", higher_is_better=False) == (1, 1.6)
    assert s.best("val_acc", higher_is_better=True) == (1, 0.35)
    assert s.last("multicropval_vid_acc") == (1, 0.4)


def test_read_summary_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_summary(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("val_acc\n0.1\n")
    with pytest.raises(ValueError, match="missing 'epoch' column"):
        read_summary(bad)
    bad.write_text("epoch,val_acc\nx,0.1\n")
    with pytest.raises(ValueError, match=r"bad.csv:2: epoch 'x'"):
        read_summary(bad)


def test_family_basename():
    assert family_basename("acc") == "accuracy"
    assert family_basename("vid_acc_top5") == "accuracy_top5"
    assert family_basename("vid_mAP") == "mAP"
    assert family_basename("loss") == "loss"


def test_plot_summary_one_figure_per_family(summary_csv, tmp_path):
    paths = plot_summary(summary_csv, tmp_path / "plots")
    names = sorted(p.name for p in paths)
    assert names == sorted(
        f"{f}.{ext}" for f in ("loss", "accuracy", "accuracy_top5") for ext in ("png", "pdf")
    )
    for p in paths:
        assert p.stat().st_size > 1000
    assert (tmp_path / "plots" / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "plots" / "accuracy.pdf").read_bytes()[:4] == b"%PDF"


def test_plot_summary_header_only(tmp_path):
    path = tmp_path / "summary.csv"
    path.write_text("epoch,train_loss\n")
    assert plot_summary(path, tmp_path / "plots") == []


def test_confusion_matrix_outputs(tmp_path):
    cm = torch.tensor([[3, 1, 0], [0, 2, 2], [1, 0, 5]])
    paths = plot_confusion_matrix(cm, tmp_path / "per_class_accuracy", ["a", "b", "c"], sort_by="accuracy")
    assert [p.name for p in paths] == ["confusion.png", "confusion.pdf", "per_class_accuracy.csv"]
    assert all(p.parent.name == "sort_accuracy" for p in paths)
    rows = paths[2].read_text().splitlines()
    assert rows[1].startswith("c,83.33") and rows[3].startswith("b,50.00")


def test_confusion_matrix_shrinked_version(tmp_path):
    cm = torch.diag(torch.arange(1, 6)) * 10  # classes 0..4 with 10..50 samples
    paths = plot_confusion_matrix(cm, tmp_path, sort_by="val_freq", shrink_top=2, shrink_min_samples=25)
    assert [p.name for p in paths] == [
        "confusion.png",
        "confusion.pdf",
        "confusion_shrinked.png",
        "confusion_shrinked.pdf",
        "per_class_accuracy.csv",
    ]


def test_missing_matplotlib_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install matplotlib \(vai-train's \[plots\] extra\)"):
        plots_module._figure()
