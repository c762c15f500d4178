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
    with pytest.raises(OSError, match="disk full"):
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
    for epoch, best in [(1, True), (2, False), (3, True), (4, False), (5, False)]:
        peaks += [epoch] if best else []
        ck.save_epoch_checkpoint(
            w, epoch, {"epoch": epoch, "peak_epochs": list(peaks)}, best, "last_and_peaks"
        )
    assert ck.checkpoint_epochs(w) == [1, 3, 5]
    assert (
        ck.load_checkpoint(w / "best.pth")["epoch"] == 3 and ck.load_checkpoint(w / "last.pth")["epoch"] == 5
    )
    h = tmp_path / "h"
    for epoch, best in [(1, True), (2, False), (3, True), (4, False)]:
        ck.save_epoch_checkpoint(h, epoch, {"epoch": epoch}, best, "higher")
    assert ck.checkpoint_epochs(h) == [1, 3] and ck.load_checkpoint(h / "last.pth")["epoch"] == 3
    with pytest.raises(ValueError, match="save policy"):
        ck.save_epoch_checkpoint(h, 5, {}, True, "sometimes")


def test_rng_state_roundtrip_weights_only(tmp_path: Path) -> None:
    import random

    import numpy as np

    state = get_rng_state()
    ck.atomic_torch_save({"rng": state}, tmp_path / "r.pth")
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    set_rng_state(ck.load_checkpoint(tmp_path / "r.pth")["rng"])
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected
