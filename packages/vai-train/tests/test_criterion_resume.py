"""Stateful training criteria across checkpoints: the engine saves the criterion's buffers as
``criterion_state`` in each checkpoint and restores them on ``-l -1``/``-l N`` (also in DDP, and for a
criterion the epoch_start_script puts in place); a loss's fixed tensors stay the config's."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from vai_train import run_train
from vai_train.engine.checkpoint import load_checkpoint
from vai_train.engine.criterion import criterion_state, restore_criterion
from vai_train_test_criteria import (
    CONFIG_ROOT,
    ITERS,
    SRC,
    SWAP_EXP,
    Counting,
    _counting_args,
    _log,
    _steps,
    _swap_args,
)


def test_count_survives_resume(tmp_path: Path, base_args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    args = _counting_args(tmp_path, base_args)
    first = run_train(args + ["-e", "2", "-s", "all"])
    resumed = run_train(args + ["-e", "3", "-l", "-1"])  # same version, from last.pth (epoch 2)
    assert resumed.run_dir == first.run_dir
    assert _log(log)[-1] == {"epoch": 3, "rank": 0, "steps": 2 * ITERS}  # restored before epoch 3
    assert _steps(resumed.run_dir, 3) == 3 * ITERS
    branched = run_train(args + ["-e", "2", "-l", "1", "-v", "0"])  # a new version from epoch 1
    assert branched.run_dir.name == "version_001"
    assert _log(log)[-1] == {"epoch": 2, "rank": 0, "steps": ITERS}
    assert _steps(branched.run_dir, 2) == 2 * ITERS


def test_checkpoint_without_criterion_state_still_resumes(
    tmp_path: Path, base_args: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A checkpoint written before the key existed: the criterion starts from its initial state."""
    args = _counting_args(tmp_path, base_args)
    first = run_train(args + ["-e", "1"])
    path = first.run_dir / "weights" / "epoch_0001.pth"
    old = load_checkpoint(path)
    del old["criterion_state"]
    torch.save(old, path)
    with caplog.at_level(logging.WARNING, logger="vai_train"):
        resumed = run_train(args + ["-e", "2", "-l", "-1"])
    assert _steps(resumed.run_dir, 2) == ITERS
    assert any("holds no criterion_state" in r.getMessage() for r in caplog.records)


def test_stateless_criterion_saves_none(base_args: list[str]) -> None:
    res = run_train(base_args + ["-e", "1"])
    assert load_checkpoint(res.run_dir / "weights" / "last.pth")["criterion_state"] is None


def test_restore_criterion_rules(caplog: pytest.LogCaptureFixture) -> None:
    crit = Counting()
    crit.steps.fill_(5)
    state = criterion_state(crit)
    fresh = Counting()
    restore_criterion(fresh, state, "ckpt")
    assert int(fresh.steps) == 5
    assert criterion_state(nn.CrossEntropyLoss()) is None and criterion_state(lambda a, b: 0) is None
    with caplog.at_level(logging.WARNING, logger="vai_train"):
        restore_criterion(nn.CrossEntropyLoss(), state, "ckpt")  # the config dropped the stateful loss
    assert "not restored" in caplog.text
    # a loss's fixed tensors (class weights) are the config's: not checkpoint state
    assert criterion_state(nn.CrossEntropyLoss(weight=torch.ones(3))) is None

    class OtherStepped(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("time", torch.zeros(()))

        def step(self) -> None:
            pass

    with pytest.raises(RuntimeError, match="criterion_state does not fit the train criterion") as e:
        restore_criterion(OtherStepped(), state, "ckpt")
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_ddp_ranks_step_alike_and_resume(tmp_path: Path, base_args: list[str]) -> None:
    """2 gloo processes: each rank counts its own 4 steps per epoch (32 clips each), and both resume
    from the checkpoint's count."""
    args = _counting_args(tmp_path, base_args)
    log = tmp_path / "hooks.jsonl"
    env = dict(
        os.environ,
        PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        OMP_NUM_THREADS="1",
        VAI_TEST_HOOK_LOG=str(log),
    )
    for extra in (["-e", "2"], ["-e", "3", "-l", "-1"]):
        proc = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
            + ["-m", "vai_train.cli", "train", *args, *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    seen = sorted((r["epoch"], r["rank"], r["steps"]) for r in _log(log))
    assert seen == [(1, 0, 0), (1, 1, 0), (2, 0, 4), (2, 1, 4), (3, 0, 8), (3, 1, 8)]
    rd = Path(base_args[base_args.index("-R") + 1]) / "tiny" / "tinynet" / "count" / "version_000"
    assert _steps(rd, 3) == 12


def test_criterion_put_in_place_by_the_hook_is_readied_and_resumed(
    tmp_path: Path, base_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    args = _swap_args(tmp_path, base_args, swap=True)
    first = run_train(args + ["-e", "3", "-s", "all"])
    assert [_steps(first.run_dir, e) for e in (2, 3)] == [ITERS, 2 * ITERS]  # counted from epoch 2
    assert _log(log)[-1]["total"] == 3 * ITERS  # the swapped-in criterion was told the run's length
    resumed = run_train(args + ["-e", "4", "-l", "-1"])  # the hook puts a fresh one in place at epoch 4
    assert _steps(resumed.run_dir, 4) == 3 * ITERS  # ... which got the checkpoint's count first
    assert _log(log)[-1] == {"epoch": 4, "source": None, "total": None}  # (the hook ran before the swap)
    branched = run_train(args + ["-e", "3", "-l", "2", "-v", "0"])
    assert branched.run_dir.name == "version_001"
    assert _steps(branched.run_dir, 3) == 2 * ITERS
    assert _log(log)[-1]["source"] == "version_000"  # exp.extra["source_run_dir"] of a -l N run


WEIGHTED_EXP = """
import os

import torch
from torch import nn


def get_criterion(split):
    return nn.CrossEntropyLoss(weight=torch.full((4,), float(os.environ["VAI_TEST_WEIGHT"])))


def epoch_start_script(epoch, exp, args, rank, world_size, train_kit):
    with open(os.environ["VAI_TEST_HOOK_LOG"], "a") as f:
        f.write(str(float(train_kit["criterions"]["train"].weight[0])) + "\\n")
"""


def test_class_weights_come_from_the_config_on_resume(
    tmp_path: Path, base_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loss's fixed tensors are not checkpoint state: a resumed run uses the config's current weights."""
    root = tmp_path / "override_weighted"
    (root / "exp_configs" / "tiny").mkdir(parents=True)
    (root / "exp_configs" / "tiny" / "tinynet-weighted.py").write_text(
        f"include({str(CONFIG_ROOT / 'exp_configs' / 'tiny' / 'tinynet-base.py')!r})\n" + WEIGHTED_EXP
    )
    args = ["--config-root", str(root), *[a if a != "base" else "weighted" for a in base_args]]
    log = tmp_path / "weights.txt"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    monkeypatch.setenv("VAI_TEST_WEIGHT", "1")
    first = run_train(args + ["-e", "1"])
    assert load_checkpoint(first.run_dir / "weights" / "last.pth")["criterion_state"] is None
    monkeypatch.setenv("VAI_TEST_WEIGHT", "5")
    run_train(args + ["-e", "2", "-l", "-1"])
    assert log.read_text().split() == ["1.0", "5.0"]


def test_resume_when_the_hook_swaps_one_stepped_loss_for_another(
    tmp_path: Path, base_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """get_criterion builds a stepped loss of one kind and the hook swaps in another: the checkpoint's
    state fits only the swapped-in one, which gets it after the hook runs (no error)."""
    body = SWAP_EXP.format(counter="iteration", accum=1, limit=10**6, swap=True).replace(
        'return Spanned() if split == "train" and not True else nn.CrossEntropyLoss()',
        'return Early() if split == "train" else nn.CrossEntropyLoss()',
    )
    assert "return Early()" in body
    body += """

class Early(nn.CrossEntropyLoss):
    def __init__(self):
        super().__init__()
        self.register_buffer("other", torch.zeros(3))

    def step(self):
        pass
"""
    root = tmp_path / "override_swap2"
    (root / "exp_configs" / "tiny").mkdir(parents=True)
    (root / "exp_configs" / "tiny" / "tinynet-swap.py").write_text(
        f"include({str(CONFIG_ROOT / 'exp_configs' / 'tiny' / 'tinynet-base.py')!r})\n" + body
    )
    args = ["--config-root", str(root), *[a if a != "base" else "swap" for a in base_args]]
    first = run_train(args + ["-e", "2", "-s", "all"])
    assert _steps(first.run_dir, 2) == ITERS
    resumed = run_train(args + ["-e", "3", "-l", "-1"])
    assert _steps(resumed.run_dir, 3) == 2 * ITERS
