"""Schedulers (warmup wrapper, epoch->iteration builders, ReduceLROnPlateauMultiple) and early stopping."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from vai_train import run_train
from vai_train.early_stopping import ExperimentView, best_epoch, make_condition, standard_rule
from vai_train.schedulers import (
    ReduceLROnPlateau,
    ReduceLROnPlateauMultiple,
    WarmupScheduler,
    cosine_with_restarts,
    is_plateau_scheduler,
    multistep_lr,
    step_lr,
    step_per_iteration_scheduler,
)


def _opt(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def _lrs(sched, opt, n: int) -> list[float]:
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_epoch_builders_step_per_iteration() -> None:
    opt = _opt()
    assert _lrs(step_lr(opt, iters_per_epoch=2, step_epochs=1, gamma=0.5), opt, 5) == [1, 1, 0.5, 0.5, 0.25]
    opt = _opt()
    assert _lrs(multistep_lr(opt, 2, [1, 3], gamma=0.1), opt, 7) == pytest.approx(
        [1, 1, 0.1, 0.1, 0.1, 0.1, 0.01]
    )
    opt = _opt()
    lrs = _lrs(cosine_with_restarts(opt, 2, first_cycle_epochs=1), opt, 4)
    assert lrs[0] == 1 and lrs[1] == pytest.approx(0.5) and lrs[2] == 1  # restart after 2 iterations


def test_warmup_then_after_scheduler_and_state() -> None:
    opt = _opt()
    sched = WarmupScheduler(
        opt, warmup_iters=4, after_scheduler=step_lr(opt, 1, 1, gamma=0.5), start_factor=0.0
    )
    lrs = _lrs(sched, opt, 7)
    assert lrs == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 0.25])
    state = sched.state_dict()
    opt2 = _opt()
    sched2 = WarmupScheduler(opt2, 4, step_lr(opt2, 1, 1, gamma=0.5), start_factor=0.0)
    sched2.load_state_dict(state)
    assert sched2.iteration == 4 and sched2.after_scheduler.last_epoch == sched.after_scheduler.last_epoch
    plateau = WarmupScheduler(_opt(), 2, ReduceLROnPlateau(_opt()))
    assert is_plateau_scheduler(plateau) and not is_plateau_scheduler(sched)
    with pytest.raises(ValueError):
        WarmupScheduler(_opt(), 0)


def test_warmup_around_plateau_in_training(base_args: list[str]) -> None:
    """Through the engine: warmup steps per iteration (8 per epoch, 16 to warm up), then the plateau
    scheduler steps per validation (every validation after the first is bad: the LR halves)."""
    args = [a if a != "base" else "warmup" for a in base_args]
    first = run_train(args)
    assert [r["lr"] for r in first.summary] == pytest.approx([0.025, 0.05, 0.05, 0.025])
    resumed = run_train(args + ["-e", "5", "-l", "-1"])  # scheduler state restored from the checkpoint
    assert resumed.summary[-1]["lr"] == pytest.approx(0.0125)


def test_plateau_multiple_needs_both_to_stall() -> None:
    opt = _opt()
    s = ReduceLROnPlateauMultiple(opt, patience=1, factor=0.5)
    s.step(1.0, 0.5)  # both improve
    s.step(1.1, 0.6)  # metric improves -> not bad
    s.step(1.2, 0.6)  # bad 1
    assert opt.param_groups[0]["lr"] == 1.0
    s.step(0.9, 0.5)  # loss improves -> reset
    s.step(1.0, 0.5)  # bad 1
    s.step(1.0, 0.5)  # bad 2 > patience -> reduce
    assert opt.param_groups[0]["lr"] == 0.5
    restored = ReduceLROnPlateauMultiple(_opt(), patience=1, factor=0.5)
    restored.load_state_dict(s.state_dict())
    assert restored.best == 0.9 and restored.best_metric == 0.6
    with pytest.raises(ValueError):
        ReduceLROnPlateauMultiple(_opt(), metric_mode="up")


ROWS = [
    {"epoch": e, "val_loss": loss, "val_acc": acc}
    for e, loss, acc in [(1, 1.0, 0.1), (2, 0.8, 0.3), (3, 0.9, 0.2), (4, 0.85, 0.25), (5, 0.9, 0.3)]
]
INFO = {
    "best_metric_fieldname": "val_acc",
    "best_metric_higher_is_better": True,
    "val_loss_fieldname": "val_loss",
}


def test_standard_rule() -> None:
    assert best_epoch(ROWS, "val_acc", True) == 2 and best_epoch(ROWS, "val_loss", False) == 2
    assert best_epoch(ROWS, "val_acc", True, latest_on_ties=True) == 5  # 0.3 reached again at epoch 5
    assert standard_rule(ROWS[:4], INFO, patience=2)  # both bests at epoch 2 <= 4 - 2
    assert not standard_rule(ROWS[:4], INFO, patience=3)
    assert not standard_rule(ROWS, INFO, patience=3)  # the best val_acc was reached again at epoch 5
    rows = ROWS + [{"epoch": 6, "val_loss": 2.0, "val_acc": 0.9}]
    assert not standard_rule(rows, INFO, patience=3)  # metric improved recently
    assert not standard_rule([], INFO, 1)
    assert make_condition(None, None) is None
    cond = make_condition(None, 2)
    assert cond(ExperimentView(ROWS[:4]), INFO)
    custom = make_condition(lambda exp, info: len(exp.summary) >= 2, 3)
    assert custom(ExperimentView(ROWS[:2]), INFO)


def _rows(losses: list, accs: list) -> list[dict]:
    return [
        {"epoch": e, "val_loss": v, "val_acc": a}
        for e, (v, a) in enumerate(zip(losses, accs, strict=True), 1)
    ]


@pytest.mark.parametrize(
    ("losses", "accs", "patience", "stop"),
    [
        # upstream's best_value_within_lastN(allow_same=True): a value reached again is "within"
        ([1.0, 1.1, 1.2], [0.75, 0.5, 0.75], 2, False),  # val_acc tie at the last epoch
        ([1.0, 1.1, 1.0], [0.75, 0.5, 0.6], 2, False),  # val_loss tie at the last epoch
        ([1.0, 1.1, 1.2], [0.5, 0.6, 0.75], 2, False),  # strictly better at the last epoch
        ([1.0, 1.1, 1.2], [0.75, 0.5, 0.6], 2, True),  # both worse for 2 epochs
        ([1.0, 1.1, 1.2, 1.3], [0.75, 0.75, 0.5, 0.6], 3, False),  # tie at the window's first epoch
        ([1.0, 1.1, 1.2, 1.3], [0.75, 0.75, 0.5, 0.6], 2, True),  # tie just before the window
        ([1.0, 1.1], [0.75, 0.5], 3, False),  # fewer epochs than the patience
        ([1.0, 1.1, 1.2], [0.75, None, float("nan")], 2, True),  # missing values count as epochs
        ([None, None, None], [0.75, 0.5, 0.5], 2, True),  # no val_loss: the metric alone decides
        ([None, None, None], [None, None, None], 1, False),  # nothing to decide on
    ],
)
def test_standard_rule_matches_upstream_on_ties(losses: list, accs: list, patience: int, stop: bool) -> None:
    assert standard_rule(_rows(losses, accs), INFO, patience) is stop
    lower_is_better = {**INFO, "best_metric_higher_is_better": False}  # same rule with the signs flipped
    flipped = _rows(losses, [None if a is None else -a for a in accs])
    assert standard_rule(flipped, lower_is_better, patience) is stop


def test_early_stop_in_training_and_before_resume(base_args: list[str]) -> None:
    args = [a if a != "base" else "worse" for a in base_args] + ["-e", "30"]
    first = run_train(args)
    rows = first.summary
    assert first.stopped_early and len(rows) < 30
    assert standard_rule(rows, INFO, patience=2) and not standard_rule(rows[:-1], INFO, patience=2)
    again = run_train(args + ["-l", "-1"])  # condition already met: resumes nothing
    assert again.stopped_early and len(again.summary) == len(rows)
    assert all(math.isfinite(r["lr"]) for r in rows)


def test_a_run_that_stopped_early_under_save_policy_higher_is_not_trained_again(base_args: list[str]) -> None:
    """With -s higher, last.pth is the last improving epoch, before the epochs that stopped the run: -l -1
    keeps summary.csv whole and stops at once (it clipped the rows and trained them again, every time)."""
    args = [a if a != "base" else "worse" for a in base_args] + ["-e", "30", "-s", "higher"]
    first = run_train(args)
    assert first.stopped_early
    summary_csv = first.run_dir / "logs" / "summary.csv"
    before = summary_csv.read_text()
    last = int(torch.load(first.run_dir / "weights" / "last.pth", weights_only=False)["epoch"])
    assert last < first.last_epoch  # the premise: rows after last.pth's epoch
    again = run_train(args + ["-l", "-1"])
    assert again.stopped_early and again.last_epoch == first.last_epoch
    assert summary_csv.read_text() == before  # nothing clipped, nothing trained


def test_a_step_the_grad_scaler_skipped_does_not_warn() -> None:
    """A scheduler stepped after an optimiser step fp16 AMP skipped: no PyTorch ordering warning, and the
    schedule still counts the iteration; other warnings still pass."""
    opt = _opt()
    sched = step_lr(opt, iters_per_epoch=1, step_epochs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        step_per_iteration_scheduler(sched)  # opt.step() never called: as a GradScaler skip
    assert caught == [] and sched.last_epoch == 1 and opt.param_groups[0]["lr"] == pytest.approx(0.1)

    # other warnings still pass where the filter is entered (a torch scheduler's first step)
    noisy = step_lr(_opt(), iters_per_epoch=1, step_epochs=1)
    noisy.get_lr = lambda: warnings.warn("something else", UserWarning, stacklevel=2) or [0.1]
    with pytest.warns(UserWarning, match="something else"):
        step_per_iteration_scheduler(noisy)


def _filters_entered(steps) -> int:
    entered = []
    real = warnings.catch_warnings.__enter__

    def spy(self):
        entered.append(1)
        return real(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(warnings.catch_warnings, "__enter__", spy)
        steps()
    return len(entered)


@pytest.mark.parametrize("after", ["step_lr", "plateau", "none"])
def test_the_order_warning_filter_is_entered_only_where_pytorch_would_warn(after) -> None:
    """Entering catch_warnings resets once-only warnings: only a torch scheduler's first step before any
    optimiser step may enter it, never every iteration (a warmup around a plateau scheduler, or none)."""
    opt = _opt()
    inner = {
        "step_lr": lambda: step_lr(opt, iters_per_epoch=1, step_epochs=10),
        "plateau": lambda: ReduceLROnPlateau(opt),
        "none": lambda: None,
    }[after]()
    sched = WarmupScheduler(opt, warmup_iters=3, after_scheduler=inner)

    def train(n):
        for _ in range(n):
            opt.step()
            step_per_iteration_scheduler(sched)

    assert _filters_entered(lambda: train(10)) == 0
    plain = step_lr(_opt(), iters_per_epoch=1, step_epochs=1)
    assert _filters_entered(lambda: [step_per_iteration_scheduler(plain) for _ in range(5)]) == 1


def test_cpu_bf16_amp_trains(base_args: list[str]) -> None:
    res = run_train(base_args + ["-e", "1", "--amp"])
    assert math.isfinite(res.summary[0]["train_loss"]) and res.summary[0]["val_acc"] is not None


def test_fp16_grad_scaler_saved_and_restored(base_args: list[str]) -> None:
    from vai_train.engine.checkpoint import load_checkpoint

    args = [a if a != "base" else "fp16" for a in base_args]
    first = run_train(args + ["-e", "2"])
    scaler = load_checkpoint(first.run_dir / "weights" / "last.pth")["amp_scaler_state"]
    assert scaler["_growth_tracker"] == 16  # 8 optimiser steps per epoch without overflow
    resumed = run_train(args + ["-e", "3", "-l", "-1"])
    assert (
        load_checkpoint(resumed.run_dir / "weights" / "last.pth")["amp_scaler_state"]["_growth_tracker"] == 24
    )
    assert math.isfinite(resumed.summary[-1]["train_loss"])
