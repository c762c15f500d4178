"""After -l N (a new version copied from another) and -l -1, TensorBoard shows only the epochs of the
version's own history: later steps of the source, or epochs trained again, are purged."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from vai_train import run_train
from vai_train.summary import update_row


def _events(run_dir: Path, split: str = "val", tag: str = "loss") -> list[tuple[int, float]]:
    acc = EventAccumulator(str(run_dir / "tensorboard" / split), size_guidance={"scalars": 0})
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def _steps(run_dir: Path) -> dict[int, float]:
    events = _events(run_dir)
    assert len({s for s, _ in events}) == len(events), f"a step shows twice: {events}"
    return dict(events)


def _next_second() -> None:
    """Event files sort by their creation second: make the next run's files sort after these."""
    time.sleep(1.02 - time.time() % 1)


def test_branch_shows_only_its_own_epochs(base_args: list[str]) -> None:
    first = run_train(base_args + ["-e", "3", "-s", "all"])
    assert sorted(_steps(first.run_dir)) == [1, 2, 3]
    _next_second()
    branch = run_train(base_args + ["-e", "2", "-l", "1"])
    steps = _steps(branch.run_dir)
    assert sorted(steps) == [1, 2]
    assert steps[2] == pytest.approx(branch.summary[1]["val_loss"], rel=1e-6)
    assert steps[1] == pytest.approx(first.summary[0]["val_loss"], rel=1e-6)
    _next_second()
    only_branch = run_train(base_args + ["-e", "1", "-l", "1"])  # trains nothing: still no epochs 2, 3
    assert sorted(_steps(only_branch.run_dir)) == [1]


def test_resume_replaces_epochs_trained_again(base_args: list[str]) -> None:
    first = run_train(base_args + ["-e", "2"])
    # as if the run had died after logging epoch 3 but before its checkpoint
    update_row(first.run_dir / "logs" / "summary.csv", 3, {"val_loss": 99.0})
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(first.run_dir / "tensorboard" / "val")) as w:
        w.add_scalar("loss", 99.0, 3)
    _next_second()
    resumed = run_train(base_args + ["-e", "3", "-l", "-1"])
    steps = _steps(resumed.run_dir)
    assert sorted(steps) == [1, 2, 3] and steps[3] == pytest.approx(resumed.summary[2]["val_loss"], rel=1e-6)
