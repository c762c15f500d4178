"""TensorBoardLogger writes one run per split with split-stripped tags, lr and figures."""

import math

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from vai_train.reporting import TensorBoardLogger, confusion_matrix_figure


def _load(path):
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_scalars_per_split_lr_and_figure(tmp_path):
    with TensorBoardLogger(tmp_path / "tensorboard") as tb:
        tb.log_scalars("train", {"train_loss": 1.5, "train_acc": 0.2}, step=0)
        tb.log_scalars(
            "val", {"val_loss": 1.2, "val_acc": 0.3, "val_vid_acc": math.nan, "other": None}, step=0
        )
        tb.log_scalars("val", {"val_loss": 1.0}, step=1)
        tb.log_lr(0.1, step=0)
        tb.log_lr({"backbone": 0.01, "head": 0.1}, step=1)
        tb.log_figure("confusion", confusion_matrix_figure([[2, 0], [1, 1]]), step=1)
    val = _load(tmp_path / "tensorboard" / "val")
    assert sorted(val.Tags()["scalars"]) == ["acc", "loss"]
    assert [(e.step, round(e.value, 4)) for e in val.Scalars("loss")] == [(0, 1.2), (1, 1.0)]
    train = _load(tmp_path / "tensorboard" / "train")
    assert sorted(train.Tags()["scalars"]) == ["acc", "loss", "lr", "lr/backbone", "lr/head"]
    figures = _load(tmp_path / "tensorboard" / "figures")
    assert figures.Tags()["images"] == ["confusion"]
