"""What the CLI says: the final line (multi-crop headline, early stop), nothing-to-do warnings, and
one-line errors for --device cuda without CUDA and feature -p."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from vai_train import run_eval, run_train
from vai_train.cli import main


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_multicrop_eval_headlines_the_video_level_metric(
    base_args: list[str], capsys: pytest.CaptureFixture
) -> None:
    run_train(base_args + ["-e", "1"])
    res = run_eval(base_args + ["-l", "-1", "-m", "multicrop"])
    assert res.best_metric_field == "multicropval_vid_acc"
    assert res.best_metric == res.metrics["multicropval_vid_acc"]
    assert run_eval(base_args + ["-l", "-1"]).best_metric_field == "val_acc"  # oneclip: unchanged
    capsys.readouterr()
    assert main(["eval", *base_args, "-l", "-1", "-m", "multicrop"]) == 0
    assert capsys.readouterr().out.startswith("eval multicropval_vid_acc = ")


def test_nothing_to_do_says_so(
    base_args: list[str], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    res = run_train(base_args + ["-e", "0"])
    assert res.run_dir is None and not Path(base_args[base_args.index("-R") + 1]).exists()
    assert _warnings(caplog) == [
        "nothing trained: 0 epochs asked for (-e or the exp config's num_epochs); no run directory created"
    ]
    run_train(base_args + ["-e", "2"])
    caplog.clear()
    res = run_train(base_args + ["-l", "-1", "-e", "1"])
    assert [r["epoch"] for r in res.summary] == [1, 2]
    assert _warnings(caplog) == [
        "nothing trained: version_000 is already at epoch 2 and the run asks for 1 epochs (-e or the exp"
        " config's num_epochs); raise -e to train further"
    ]
    assert main(["train", *base_args, "-e", "-1"]) == 1
    assert "-e -1: the number of epochs cannot be negative" in capsys.readouterr().err


def test_early_stopped_run_says_where_it_stopped(base_args: list[str], capsys: pytest.CaptureFixture) -> None:
    args = [a if a != "base" else "worse" for a in base_args]
    assert main(["train", *args, "-e", "8"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "; stopped early at epoch " in line and " — results in " in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_cuda_is_one_line(base_args: list[str], capsys: pytest.CaptureFixture) -> None:
    args = list(base_args)
    args[args.index("--device") + 1] = "cuda"
    assert main(["train", *args, "-e", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vai-train train: error: --device cuda: CUDA is not available")
    assert "use --device cpu, or --device auto" in err[0]


def test_feature_refuses_p(base_args: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main(["feature", *base_args, "-p"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "vai-train feature: error: -p: feature always saves its features to predictions/*.npz;"
        " -p (save predictions) is for eval"
    ]
    assert not Path(base_args[base_args.index("-R") + 1]).exists()


def test_the_error_that_ends_a_run_is_in_its_log_files(
    base_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The one line the CLI prints is also the run's ERROR (and WARNING...) log record; the traceback is in
    the DEBUG file; the console shows it once."""
    from vai_train_test_configs import exp_variant

    hook = (
        "include({base!r})\n\n\ndef epoch_start_script(epoch, exp, args, rank, world_size, kit):\n"
        "    if epoch == 2:\n        raise RuntimeError('the hook broke at epoch 2')\n"
    )
    args = exp_variant(tmp_path, base_args, "broken", hook)
    assert main(["train", *args, "-e", "2"]) == 1
    err = capsys.readouterr().err
    assert err.count("the hook broke at epoch 2") == 1
    assert err.strip().splitlines()[-1] == "vai-train train: error: the hook broke at epoch 2"
    logs = tmp_path / "exp" / "tiny" / "tinynet" / "broken" / "version_000" / "logs"
    for level in ("ERROR", "WARNING", "INFO"):
        text = (logs / f"train_{level}.log").read_text()
        assert text.count("vai-train train failed: the hook broke at epoch 2") == 1, level
    assert "Traceback" in (logs / "train_DEBUG.log").read_text()
    assert "Traceback" not in (logs / "train_ERROR.log").read_text()


def test_list_takes_only_config_roots(capsys: pytest.CaptureFixture) -> None:
    """Every channel folder is listed anyway: list has no channel (or log level) flags to ignore."""
    for flag in (["-c:d", "image"], ["-L", "DEBUG"]):
        with pytest.raises(SystemExit) as stop:
            main(["list", *flag])
        assert stop.value.code == 2
        assert "unrecognized arguments" in capsys.readouterr().err
