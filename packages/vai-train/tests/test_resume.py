"""Resume: a run SIGKILLed mid-epoch and resumed with -l -1 ends exactly like an uninterrupted run;
-l N branches a new version; a NaN loss stops the run with the last good checkpoint intact."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from vai_train import run_eval, run_train
from vai_train.cli import main
from vai_train.engine.checkpoint import load_checkpoint
from vai_train.summary import best_row, read_summary, update_row

SRC = Path(__file__).resolve().parents[1] / "src"
COMPARE = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")


def _args(base_args: list[str], exp: str, root: Path) -> list[str]:
    out = [a if a != "base" else exp for a in base_args]
    out[out.index("-R") + 1] = str(root)
    return out


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(
        os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1"
    )
    env.update(extra)
    return env


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches(base_args: list[str], tmp_path: Path) -> None:
    ref = run_train(_args(base_args, "resume", tmp_path / "ref"))
    killed_args = _args(base_args, "resume", tmp_path / "killed")
    proc = subprocess.run(
        [sys.executable, "-m", "vai_train.cli", "train", *killed_args],
        env=_subprocess_env(VAI_TEST_KILL_EPOCH="3"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    rd = Path(ref.run_dir.as_posix().replace(str(tmp_path / "ref"), str(tmp_path / "killed")))
    assert [r["epoch"] for r in read_summary(rd / "logs" / "summary.csv")] == [1, 2]
    assert load_checkpoint(rd / "weights" / "last.pth")["epoch"] == 2
    resumed = run_train(killed_args + ["-l", "-1"])
    assert resumed.run_dir == rd
    assert [r["epoch"] for r in resumed.summary] == [1, 2, 3, 4]
    for a, b in zip(ref.summary, resumed.summary, strict=True):
        for key in COMPARE:
            assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-9), (a["epoch"], key)


def test_load_epoch_n_branches_new_version(base_args: list[str]) -> None:
    first = run_train(base_args + ["-e", "3", "-s", "all"])
    branched = run_train(base_args + ["-e", "4", "-l", "1"])
    assert first.run_dir.name == "version_000" and branched.run_dir.name == "version_001"
    assert [r["epoch"] for r in branched.summary] == [1, 2, 3, 4]
    assert branched.summary[0] == first.summary[0]  # copied and clipped to epoch 1, then continued
    # no weights copied but those of the copied summary's best epoch (here epoch 1), hard-linked
    carried = branched.run_dir / "weights" / "epoch_0001.pth"
    assert carried.stat().st_ino == (first.run_dir / "weights" / "epoch_0001.pth").stat().st_ino
    # -l -1 on a finished run just resumes at the end (nothing left to do)
    again = run_train(base_args + ["-e", "4", "-l", "-1"])
    assert again.run_dir == branched.run_dir and len(again.summary) == 4
    # -l -2: a new version continuing from the best epoch of version 0
    best = run_train(base_args + ["-e", "4", "-l", "-2", "-v", "0"])
    assert best.run_dir.name == "version_002"
    assert best.summary[: first.best_epoch] == first.summary[: first.best_epoch]


def test_branched_version_keeps_its_best_checkpoint(base_args: list[str]) -> None:
    """train -l N: the best epoch of the copied summary is linked into the new version as best.pth, so
    eval -l -2 there loads that epoch's weights."""
    first = run_train(base_args + ["-e", "3", "-s", "all"])
    best = best_row(first.summary[:2], "val_acc", True)["epoch"]  # epoch 1 here (a tie with epoch 2)
    branched = run_train(base_args + ["-e", "2", "-l", "2"])  # nothing left to train: only the branch
    weights = branched.run_dir / "weights"
    assert branched.run_dir.name == "version_001"
    assert (weights / "best.pth").resolve() == weights / f"epoch_{best:04d}.pth"
    assert load_checkpoint(weights / "best.pth")["epoch"] == best
    res = run_eval(base_args + ["-l", "-2"])  # the last version: the branched one
    assert res.run_dir == branched.run_dir and res.best_epoch == best
    assert res.metrics["val_acc"] == first.summary[best - 1]["val_acc"]
    assert res.metrics["val_loss"] == pytest.approx(first.summary[best - 1]["val_loss"], rel=1e-6)


def test_branch_from_a_version_without_the_best_checkpoint_says_so(
    base_args: list[str], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    first = run_train(base_args + ["-e", "2", "-s", "all"])
    update_row(first.run_dir / "logs" / "summary.csv", 1, {"val_acc": 1.0})  # epoch 1 is the best
    (first.run_dir / "weights" / "epoch_0001.pth").unlink()  # as if the save policy had not kept it
    caplog.set_level(logging.WARNING)
    branched = run_train(base_args + ["-e", "2", "-l", "2"])
    assert not (branched.run_dir / "weights" / "best.pth").exists()
    assert "the best epoch so far (1, val_acc = 1.0) was not kept by version_000's save policy" in caplog.text
    assert main(["eval", *base_args, "-l", "-2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the run's console log
    assert (
        err.startswith("vai-train eval: error: the best epoch 1: ") and "epoch_0001.pth does not exist" in err
    )


def test_unknown_save_policy_is_one_line(base_args: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main(["train", *base_args, "-s", "best"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "vai-train train: error: save policy -s 'best' unknown; use one of all, higher, last_and_peaks"
    ]
    assert not Path(base_args[base_args.index("-R") + 1]).exists()  # nothing was created


def test_nan_loss_stops_with_last_good_checkpoint(
    base_args: list[str], capsys: pytest.CaptureFixture
) -> None:
    args = [a if a != "base" else "nan" for a in base_args]
    assert main(["train", *args, "-e", "3"]) == 1
    err = capsys.readouterr().err
    assert "non-finite training loss" in err and "epoch 2" in err and "last good checkpoint: " in err
    assert "epoch_0001.pth" in err
    root = Path(args[args.index("-R") + 1])
    rd = root / "tiny" / "tinynet" / "nan" / "version_000"
    ckpt = load_checkpoint(rd / "weights" / "last.pth")
    assert ckpt["epoch"] == 1
    assert [r["epoch"] for r in read_summary(rd / "logs" / "summary.csv")] == [1]


def _plateau_kit(losses: list[float]) -> tuple[dict, dict]:
    """A plateau run over ``losses`` (patience 0, cooldown 1, halving) and its checkpoint after them."""
    import torch
    from vai_train.engine.restore import step_plateau as _step_plateau
    from vai_train.schedulers import ReduceLROnPlateau

    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = ReduceLROnPlateau(opt, patience=0, cooldown=1, factor=0.5)
    rows = []
    for epoch, loss in enumerate(losses, 1):
        _step_plateau(sched, loss, None)
        rows.append({"epoch": epoch, "val_loss": loss})
    ckpt = {
        "epoch": len(losses),
        "model_state": model.state_dict(),
        "optimiser_state": opt.state_dict(),
        "scheduler_state": sched.state_dict(),
    }
    return {"scheduler": sched, "summary": rows}, ckpt


def _resume(ckpt: dict, rows: list[dict], load_optimiser: bool, load_scheduler: bool) -> dict:
    from types import SimpleNamespace

    import torch
    from vai_train.engine.distributed import DistInfo
    from vai_train.engine.trainer import _restore
    from vai_train.schedulers import ReduceLROnPlateau

    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    kit = {
        "model": model,
        "optimiser": opt,
        "scheduler": ReduceLROnPlateau(opt, patience=0, cooldown=1, factor=0.5),
        "summary": rows,
        "best_field": "val_acc",
        "scaler": torch.amp.GradScaler("cpu", enabled=False),
        "ema": None,
    }
    cfg = SimpleNamespace(load_optimiser_state=load_optimiser, load_scheduler_state=load_scheduler)
    _restore(kit, ckpt, cfg, DistInfo())
    return kit


def test_plateau_resume_restores_or_replays_once() -> None:
    """The LR is cut once: summary.csv is replayed only for a checkpoint without scheduler state, and
    only the counters when the restored optimiser already holds the reduced LR."""
    ref, ckpt = _plateau_kit([2.0, 1.0, 1.0, 1.0, 1.0])
    counters = ("best", "num_bad_epochs", "cooldown_counter", "last_epoch")
    expect = {k: getattr(ref["scheduler"], k) for k in counters}
    assert ref["scheduler"].optimizer.param_groups[0]["lr"] == 0.25 and expect["cooldown_counter"] == 1

    kit = _resume(ckpt, ref["summary"], load_optimiser=True, load_scheduler=True)  # state restored
    assert kit["optimiser"].param_groups[0]["lr"] == 0.25
    assert {k: getattr(kit["scheduler"], k) for k in counters} == expect

    kit = _resume(ckpt, ref["summary"], load_optimiser=True, load_scheduler=False)  # fresh scheduler
    assert kit["optimiser"].param_groups[0]["lr"] == 0.25
    assert kit["scheduler"].last_epoch == 0 and kit["scheduler"].num_bad_epochs == 0

    no_state = {**ckpt, "scheduler_state": None}  # replayed: counters only, the LR is the optimiser's
    kit = _resume(no_state, ref["summary"], load_optimiser=True, load_scheduler=True)
    assert kit["optimiser"].param_groups[0]["lr"] == 0.25
    assert {k: getattr(kit["scheduler"], k) for k in counters} == expect
    assert kit["scheduler"].get_last_lr() == [0.25]

    kit = _resume(no_state, ref["summary"], load_optimiser=False, load_scheduler=True)  # LR replayed too
    assert kit["optimiser"].param_groups[0]["lr"] == 0.25
    assert {k: getattr(kit["scheduler"], k) for k in counters} == expect


def test_warmup_plateau_replay_does_not_warm_up_again() -> None:
    """A warmup-wrapped plateau scheduler rebuilt from summary.csv (checkpoint without scheduler state)
    stands where the uninterrupted one stood: warmup over, plateau counters and LR replayed."""
    from types import SimpleNamespace

    import torch
    from vai_train.engine.distributed import DistInfo
    from vai_train.engine.restore import step_plateau as _step_plateau
    from vai_train.engine.trainer import _restore
    from vai_train.schedulers import ReduceLROnPlateau, WarmupScheduler

    iters = 2  # per epoch; the warmup lasts 3 iterations, so it ends in epoch 2

    def build() -> tuple:
        model = torch.nn.Linear(2, 2)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        plateau = ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=1e9, threshold_mode="abs")
        return model, opt, WarmupScheduler(opt, 3, plateau, start_factor=0.0)

    def epoch(opt, sched) -> tuple[float, float]:  # (LR after training, LR after validation)
        for _ in range(iters):
            opt.step()
            sched.step()
        trained_lr = opt.param_groups[0]["lr"]
        _step_plateau(sched, 1.0, None)  # never improves after the first: each validation halves the LR
        return trained_lr, opt.param_groups[0]["lr"]

    model, opt, sched = build()
    for _ in range(3):
        epoch(opt, sched)
    ckpt = {"epoch": 3, "model_state": model.state_dict(), "optimiser_state": opt.state_dict()}
    counters = ("best", "num_bad_epochs", "last_epoch")
    expect = (sched.iteration, {k: getattr(sched.after_scheduler, k) for k in counters})
    expect_epoch4 = epoch(opt, sched)
    assert expect_epoch4 == (0.5, 0.25)
    rows = [{"epoch": e, "val_loss": 1.0} for e in (1, 2, 3)]
    for load_optimiser in (True, False):
        model2, opt2, sched2 = build()
        kit = {
            "model": model2,
            "optimiser": opt2,
            "scheduler": sched2,
            "summary": rows,
            "best_field": "val_acc",
            "scaler": torch.amp.GradScaler("cpu", enabled=False),
            "ema": None,
        }
        cfg = SimpleNamespace(load_optimiser_state=load_optimiser, load_scheduler_state=True)
        _restore(kit, ckpt, cfg, DistInfo(), iters_per_epoch=iters)
        assert (sched2.iteration, {k: getattr(sched2.after_scheduler, k) for k in counters}) == expect
        assert epoch(opt2, sched2) == expect_epoch4, load_optimiser


def test_warmup_plateau_resume_without_scheduler_state(base_args: list[str]) -> None:
    """Through the engine: epoch 5 after resuming a checkpoint without scheduler state has the LR of the
    uninterrupted run (0.05 warmed up over 2 epochs, then halved by the validations of epochs 3 and 4)."""
    from vai_train.engine.checkpoint import atomic_torch_save

    args = [a if a != "base" else "warmup" for a in base_args]
    first = run_train(args)
    last = (first.run_dir / "weights" / "last.pth").resolve()
    ckpt = load_checkpoint(last)
    atomic_torch_save({**ckpt, "scheduler_state": None}, last)
    resumed = run_train(args + ["-e", "5", "-l", "-1"])
    assert [r["lr"] for r in resumed.summary] == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.0125])
