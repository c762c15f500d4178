"""Resuming keeps what the version recorded: its save policy (-s), the checkpoints an earlier phase
kept, every invocation's args, and which version -l -1 continues."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from vai_train import run_train
from vai_train.engine.checkpoint import checkpoint_epochs


def _peaks(rows: list[dict]) -> set[int]:
    best, peaks = -1.0, set()
    for r in rows:
        if r["val_acc"] > best:
            best, _ = r["val_acc"], peaks.add(r["epoch"])
    return peaks


def _kept(run_dir: Path) -> list[int]:
    return checkpoint_epochs(run_dir / "weights")


def test_resume_keeps_the_versions_save_policy_and_its_checkpoints(base_args: list[str]) -> None:
    """-s all for 3 epochs, then -l -1 without -s: still 'all' (nothing deleted); then -l -1 with
    -s last_and_peaks: the 'all' phase's files stay, only the new policy's own non-peak last goes."""
    first = run_train(base_args + ["-s", "all", "-e", "3"])
    resumed = run_train(base_args + ["-l", "-1", "-e", "5"])
    assert resumed.run_dir == first.run_dir
    assert _kept(first.run_dir) == [1, 2, 3, 4, 5]
    switched = run_train(base_args + ["-l", "-1", "-e", "7", "-s", "last_and_peaks"])
    peaks = _peaks(switched.summary)
    assert _kept(first.run_dir) == sorted({1, 2, 3, 4, 5, 7} | (peaks & {6}))


def test_every_invocation_keeps_its_args(base_args: list[str]) -> None:
    first = run_train(base_args + ["-s", "all", "-e", "1", "--seed", "5"])
    run_train(base_args + ["-l", "-1", "-e", "2", "--seed", "5"])
    configs = first.run_dir / "configs"
    original = json.loads((configs / "args.json").read_text())
    again = json.loads((configs / "args_1.json").read_text())
    assert (original["num_epochs"], original["save_mode"], original["load_epoch"]) == (1, "all", None)
    assert (again["num_epochs"], again["save_mode"], again["load_epoch"]) == (2, "all", -1)


def test_resume_passes_over_a_version_never_started_in(
    base_args: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    first = run_train(base_args + ["-e", "1"])
    (first.run_dir.parent / "version_001" / "logs").mkdir(parents=True)  # an empty leftover
    caplog.set_level(logging.INFO)
    resumed = run_train(base_args + ["-l", "-1", "-e", "2"])
    assert resumed.run_dir == first.run_dir and [r["epoch"] for r in resumed.summary] == [1, 2]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("-l -1: resuming")]
    assert lines == ["-l -1: resuming version_000 (passing over version_001: never started)"]


def test_resume_restarts_a_version_that_crashed_before_its_first_checkpoint(base_args: list[str]) -> None:
    """Never continues an older, finished version in its place (with the newer run's config)."""
    first = run_train(base_args + ["-e", "1"])
    crashed = first.run_dir.parent / "version_001"
    (crashed / "configs").mkdir(parents=True)
    (crashed / "configs" / "args.json").write_text("{}")  # started, died in epoch 1
    resumed = run_train(base_args + ["-l", "-1", "-e", "1"])
    assert resumed.run_dir == crashed and [r["epoch"] for r in resumed.summary] == [1]
    assert [r["epoch"] for r in run_train(base_args + ["-l", "-1", "-v", "0", "-e", "1"]).summary] == [1]
