"""Atomic checkpoint writes, weights_only loading, keep policies and best/last links."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from vai_train.engine import checkpoint as ck
from vai_train.engine.rng import get_rng_state, set_rng_state


def test_atomic_save_keeps_old_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "epoch_0001.pth"
    ck.atomic_torch_save({"epoch": 1, "w": torch.ones(2)}, path)

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ck.torch, "save", broken_save)
    with pytest.raises(OSError, match=rf"could not write {path} \(\d+ MiB free on its disk\): disk full"):
        ck.atomic_torch_save({"epoch": 2}, path)

    def full_disk(obj, f):  # what torch.save raises when the disk fills up during the write
        f.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 25904384 vs 25904280")

    monkeypatch.setattr(ck.torch, "save", full_disk)
    with pytest.raises(OSError, match=r"MiB free on its disk\): \[enforce fail at inline_container"):
        ck.atomic_torch_save({"epoch": 2}, path)
    monkeypatch.undo()
    assert ck.load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["epoch_0001.pth"]  # no temp file left behind


class Evil:
    """An arbitrary class: weights_only loading must refuse to unpickle it."""


def test_load_rejects_pickled_objects(tmp_path: Path) -> None:
    torch.save({"obj": Evil()}, tmp_path / "bad.pth")
    with pytest.raises(RuntimeError, match=r"cannot load checkpoint .*bad\.pth"):
        ck.load_checkpoint(tmp_path / "bad.pth")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        ck.load_checkpoint(tmp_path / "missing.pth")


def test_policies_and_links(tmp_path: Path) -> None:
    w = tmp_path / "w"
    peaks: list[int] = []
    previous = None
    for epoch, best in [(1, True), (2, False), (3, True), (4, False), (5, False)]:
        peaks += [epoch] if best else []
        ck.save_epoch_checkpoint(
            w, epoch, {"epoch": epoch, "peak_epochs": list(peaks)}, best, "last_and_peaks", previous
        )
        previous = epoch
    assert ck.checkpoint_epochs(w) == [1, 3, 5]
    assert ck.load_checkpoint(w / "epoch_0005.pth")["save_policy"] == "last_and_peaks"
    assert (
        ck.load_checkpoint(w / "best.pth")["epoch"] == 3 and ck.load_checkpoint(w / "last.pth")["epoch"] == 5
    )
    h = tmp_path / "h"
    for epoch, best in [(1, True), (2, False), (3, True), (4, False)]:
        ck.save_epoch_checkpoint(h, epoch, {"epoch": epoch}, best, "higher")
    assert ck.checkpoint_epochs(h) == [1, 3] and ck.load_checkpoint(h / "last.pth")["epoch"] == 3
    with pytest.raises(ValueError, match="save policy"):
        ck.save_epoch_checkpoint(h, 5, {}, True, "sometimes")


def test_last_and_peaks_drops_only_its_previous_last(tmp_path: Path) -> None:
    """Only the checkpoint this policy wrote last (``previous``) may go, never other epochs' files,
    e.g. those an earlier ``-s all`` phase kept."""
    w = tmp_path / "w"
    for epoch in (1, 2, 3):  # an "all" phase: epoch 1 is the only peak
        ck.save_epoch_checkpoint(w, epoch, {"epoch": epoch, "peak_epochs": [1]}, epoch == 1, "all")
    ck.save_epoch_checkpoint(w, 4, {"epoch": 4, "peak_epochs": [1]}, False, "last_and_peaks", None)
    ck.save_epoch_checkpoint(w, 5, {"epoch": 5, "peak_epochs": [1]}, False, "last_and_peaks", 4)
    assert ck.checkpoint_epochs(w) == [1, 2, 3, 5]
    # the resumed checkpoint may be dropped only if last_and_peaks wrote it in this very folder
    c4 = {"epoch": 4, "save_policy": "last_and_peaks"}
    assert ck.droppable_epoch(c4, w / "epoch_0004.pth", w) == 4
    assert ck.droppable_epoch({**c4, "save_policy": "all"}, w / "epoch_0004.pth", w) is None
    assert ck.droppable_epoch({"epoch": 4}, w / "epoch_0004.pth", w) is None  # older checkpoints
    assert ck.droppable_epoch(c4, tmp_path / "other" / "epoch_0004.pth", w) is None  # a -l N source


def test_rng_state_roundtrip_weights_only(tmp_path: Path) -> None:
    import random

    import numpy as np

    state = get_rng_state()
    ck.atomic_torch_save({"rng": state}, tmp_path / "r.pth")
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    set_rng_state(ck.load_checkpoint(tmp_path / "r.pth")["rng"])
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected


def test_a_checkpoint_from_before_save_policies_were_recorded_follows_the_versions_policy(tmp_path):
    from vai_train.engine.checkpoint import droppable_epoch

    weights = tmp_path / "weights"
    weights.mkdir()
    path = weights / "epoch_0003.pth"
    assert droppable_epoch({"epoch": 3}, path, weights, "last_and_peaks") == 3
    assert droppable_epoch({"epoch": 3}, path, weights, "all") is None
    assert droppable_epoch({"epoch": 3, "save_policy": "all"}, path, weights, "last_and_peaks") is None
    assert (
        droppable_epoch({"epoch": 3}, tmp_path / "elsewhere" / "epoch_0003.pth", weights, "last_and_peaks")
        is None
    )
