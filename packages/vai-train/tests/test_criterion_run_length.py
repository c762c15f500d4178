"""Stateful training criteria and the run's length: the engine tells the train criterion the whole run's
steps (``set_total_steps``) before training; a criterion refusing it stops the run before a version is
created."""

from __future__ import annotations

from pathlib import Path

import pytest
from vai_train import run_eval, run_train
from vai_train.cli import main
from vai_train.summary import read_summary
from vai_train_test_criteria import CONFIG_ROOT, ITERS, _log, _swap_args


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


TIMED_EXP = """
import json
import torch
import os

from torch import nn


class Timed(nn.CrossEntropyLoss):
    '''Needs the run's length and logs the (time, length) each forward sees, as ProSelfLC would use them.'''

    def __init__(self, total=None):
        super().__init__()
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.total = total

    def step(self):
        self.steps += 1

    def set_total_steps(self, n):
        self.total = n

    def forward(self, logits, labels):
        if self.total is None:
            raise RuntimeError("Timed: the run's length is unknown")
        with open(os.environ["VAI_TEST_HOOK_LOG"], "a") as f:
            f.write(json.dumps({"steps": int(self.steps), "total": self.total}) + "\\n")
        return super().forward(logits, labels)


def get_criterion(split):
    if split == "train":
        return Timed(FIXED_TOTAL)
    return nn.CrossEntropyLoss() if VAL_TOTAL is None else Timed(VAL_TOTAL)
"""


def _timed_args(
    tmp_path: Path, base_args: list[str], fixed_total: int | None, val_total: int | None = None
) -> list[str]:
    root = tmp_path / f"timed{fixed_total}_{val_total}"
    (root / "exp_configs" / "tiny").mkdir(parents=True)
    (root / "exp_configs" / "tiny" / "tinynet-timed.py").write_text(
        f"include({str(CONFIG_ROOT / 'exp_configs' / 'tiny' / 'tinynet-base.py')!r})\n"
        f"FIXED_TOTAL = {fixed_total!r}\nVAL_TOTAL = {val_total!r}\n" + TIMED_EXP
    )
    return ["--config-root", str(root), *[a if a != "base" else "timed" for a in base_args]]


def test_eval_tells_a_stepped_criterion_the_checkpoints_run(
    tmp_path: Path, base_args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    args = _timed_args(tmp_path, base_args, None)
    run_train(args + ["-e", "2", "-s", "all"])
    log.write_text("")
    res = run_eval(args + ["-l", "1", "-s", "train"])
    # the loss of epoch 1's checkpoint: its time (ITERS steps) within the run's length (2 epochs)
    assert {(r["steps"], r["total"]) for r in _log(log)} == {(ITERS, 2 * ITERS)}
    assert res.metrics["train_loss"] > 0
    # load_pretrained() weights record no run: the criterion is left as built and its own error speaks
    assert main(["eval", *args, "-s", "train"]) == 1
    assert "Timed: the run's length is unknown" in capsys.readouterr().err
    assert main(["eval", *args, "-l", "2"]) == 0  # val: a plain loss, as before


def test_eval_keeps_a_criterions_own_length_without_a_recorded_run(
    tmp_path: Path, base_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A criterion given its length in the config (e.g. ProSelfLC(total_time=...)) scores load_pretrained()
    weights at time 0 and a checkpoint at its recorded time."""
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    args = _timed_args(tmp_path, base_args, 100)
    run_eval(args + ["-s", "train"])
    assert {(r["steps"], r["total"]) for r in _log(log)} == {(0, 100)}


def test_eval_of_another_split_leaves_its_criterion_as_training_did(
    tmp_path: Path, base_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint's run length and state are the train criterion's: a stepped val criterion is not
    given them (training only moved it to the device), so eval's val loss is training's."""
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    args = _timed_args(tmp_path, base_args, None, val_total=5)
    run_train(args + ["-e", "2", "-s", "all"])
    rows = read_summary(
        tmp_path / "exp" / "tiny" / "tinynet" / "timed" / "version_000" / "logs" / "summary.csv"
    )
    log.write_text("")
    res = run_eval(args + ["-l", "2"])
    assert {(r["steps"], r["total"]) for r in _log(log)} == {(0, 5)}
    assert res.metrics["val_loss"] == pytest.approx(rows[1]["val_loss"], rel=1e-5)
