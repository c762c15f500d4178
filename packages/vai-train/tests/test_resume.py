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
