"""Resume: a run SIGKILLed mid-epoch and resumed with -l -1 ends exactly like an uninterrupted run;
-l N branches a new version; a NaN loss stops the run with the last good checkpoint intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from vai_train import run_train
from vai_train.cli import main
from vai_train.engine.checkpoint import load_checkpoint
from vai_train.summary import read_summary

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
    assert not (branched.run_dir / "weights" / "epoch_0001.pth").exists()
    # -l -1 on a finished run just resumes at the end (nothing left to do)
    again = run_train(base_args + ["-e", "4", "-l", "-1"])
    assert again.run_dir == branched.run_dir and len(again.summary) == 4
    # -l -2: a new version continuing from the best epoch of version 0
    best = run_train(base_args + ["-e", "4", "-l", "-2", "-v", "0"])
    assert best.run_dir.name == "version_002"
    assert best.summary[: first.best_epoch] == first.summary[: first.best_epoch]


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
    from vai_train.engine.trainer import _step_plateau
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
