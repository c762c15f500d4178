"""Stateful training criteria and the run's length: the engine tells the train criterion the whole run's
steps (``set_total_steps``) before training; a criterion refusing it stops the run before a version is
created."""

from __future__ import annotations

from pathlib import Path

import pytest
from vai_train import run_train
from vai_train.cli import main
from vai_train_test_criteria import ITERS, _log, _swap_args


@pytest.mark.parametrize(
    ("counter", "accum", "total"), [("iteration", 1, 3 * ITERS), ("iteration", 3, 9), ("epoch", 1, 3)]
)
def test_criterion_is_told_the_whole_runs_steps(
    tmp_path: Path,
    base_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    counter: str,
    accum: int,
    total: int,
) -> None:
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    run_train(_swap_args(tmp_path, base_args, swap=False, counter=counter, accum=accum) + ["-e", "3"])
    assert {r["total"] for r in _log(log)} == {total}  # -e 3: steps of epochs 1..3


def test_a_criterion_refusing_the_runs_length_stops_before_a_version(
    tmp_path: Path, base_args: list[str], capsys: pytest.CaptureFixture
) -> None:
    args = _swap_args(tmp_path, base_args, swap=False, limit=ITERS)
    assert main(["train", *args, "-e", "2"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(err) == 1 and f"the run has {2 * ITERS} steps, more than {ITERS}" in err[0]
    assert not (Path(base_args[base_args.index("-R") + 1]) / "tiny" / "tinynet" / "swap").exists()
