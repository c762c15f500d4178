"""Stateful training criteria, stepping: the engine calls ``criterion.step()`` after every optimiser step
(``counter = "iteration"``) or after every training epoch (``"epoch"``); any other counter is a one-line
error before a version is created. Saving and restoring the criterion's state: test_criterion_resume.py;
the run's length: test_criterion_run_length.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, SequentialSampler
from vai_train import run_train
from vai_train.cli import main
from vai_train.config.experiment import default_unpack
from vai_train.engine.criterion import criterion_on_device, criterion_step_counter
from vai_train.engine.distributed import DistInfo
from vai_train.engine.loop import AmpSettings, train_one_epoch
from vai_train_test_criteria import ITERS, Counting, _counting_args, _log, _steps


@pytest.mark.parametrize(("accum", "per_epoch"), [(1, ITERS), (3, 3)])  # 8 batches, windows of 3: 3 steps
def test_iteration_counter_steps_after_every_optimiser_step(
    tmp_path: Path, base_args: list[str], accum: int, per_epoch: int
) -> None:
    res = run_train(_counting_args(tmp_path, base_args, "iteration", accum) + ["-e", "2", "-s", "all"])
    assert [_steps(res.run_dir, e) for e in (1, 2)] == [per_epoch, 2 * per_epoch]


def test_epoch_counter_steps_once_per_epoch(
    tmp_path: Path, base_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    res = run_train(_counting_args(tmp_path, base_args, "epoch") + ["-e", "3", "-s", "all"])
    assert [_steps(res.run_dir, e) for e in (1, 2, 3)] == [1, 2, 3]
    assert [r["steps"] for r in _log(log)] == [0, 1, 2]  # the count each epoch trained with


def test_bad_counter_is_one_line_and_creates_no_version(
    tmp_path: Path, base_args: list[str], capsys: pytest.CaptureFixture
) -> None:
    args = _counting_args(tmp_path, base_args, "batch")
    assert main(["train", *args, "-e", "1"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(err) == 1
    assert "StepCountingLoss has counter = 'batch'" in err[0] and "'iteration'" in err[0]
    assert not (Path(base_args[base_args.index("-R") + 1]) / "tiny" / "tinynet" / "count").exists()


def test_counter_rules() -> None:
    assert criterion_step_counter(nn.CrossEntropyLoss()) is None  # nothing to step

    class Stepped(nn.Module):
        def step(self) -> None:
            pass

    assert criterion_step_counter(Stepped()) == "iteration"  # the default
    s = Stepped()
    s.counter = "epoch"
    assert criterion_step_counter(s) == "epoch"
    s.counter = None
    with pytest.raises(ValueError, match="counter = None; use 'iteration'"):
        criterion_step_counter(s)


# ---- train_one_epoch in isolation ---------------------------------------------------------------------


class Samples(torch.utils.data.Dataset):
    def __init__(self, n: int):
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(n, 3, 1, 2, 2, generator=g), torch.arange(n) % 3

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return {"video": self.x[i], "label": int(self.y[i]), "video_id": i}


def _kit(model: nn.Module, criterion: nn.Module, n: int, batch: int, scaler: bool = False) -> dict:
    ds = Samples(n)
    return {
        "model": model,
        "optimiser": torch.optim.SGD(model.parameters(), lr=0.5),
        "scheduler": None,
        "criterions": {"train": criterion},
        "data_unpack_funcs": {"train": default_unpack},
        "input_reshape_funcs": {"train": lambda x: x.flatten(1)},
        "train_loader": DataLoader(ds, batch_size=batch, sampler=SequentialSampler(ds)),
        "scaler": torch.amp.GradScaler("cpu", enabled=scaler),
        "ema": None,
    }


def _opts(**kw) -> dict:
    return {"amp": AmpSettings(False), "progress": False, "activation": lambda x: x.softmax(1), **kw}


def test_accumulation_windows_share_one_time() -> None:
    """5 micro-batches, windows of 2: steps after micro-batches 2, 4 and 5 (the short last window)."""
    crit = Counting()
    train_one_epoch(_kit(nn.Linear(12, 3), crit, 10, 2), 1, DistInfo(), _opts(grad_accum_steps=2))
    assert crit.seen == [0, 0, 1, 1, 2] and int(crit.steps) == 3
    crit = Counting("epoch")
    train_one_epoch(_kit(nn.Linear(12, 3), crit, 10, 2), 1, DistInfo(), _opts())
    assert crit.seen == [0] * 5 and int(crit.steps) == 1


def test_amp_overflow_skipped_steps_still_count() -> None:
    """fp16 GradScaler overflow: the optimiser skips the step, the criterion's time still advances
    (as upstream, and as the per-iteration LR scheduler), so Γ = iterations × epochs stays exact."""
    model = nn.Linear(12, 3)
    before = [p.detach().clone() for p in model.parameters()]
    crit = Counting(scale=1e35)  # finite loss, inf once the scaler multiplies it
    kit = _kit(model, crit, 8, 2, scaler=True)
    train_one_epoch(kit, 1, DistInfo(), _opts())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))  # all skipped
    assert kit["scaler"].get_scale() < 2.0**16 and int(crit.steps) == 4


def test_criterion_modules_are_moved_to_the_run_device():
    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("w", torch.ones(3, dtype=torch.float64))
            self.moved_to = None

        def _apply(self, fn, recurse=True):
            self.moved_to = fn(torch.zeros(1)).device  # what .to(device) applies to the buffers
            return super()._apply(fn, recurse)

    crit = Recorder()
    assert criterion_on_device(crit, torch.device("cpu")) is crit
    assert crit.moved_to == torch.device("cpu") and crit.w.dtype == torch.float64  # dtype kept

    def plain(logits, labels):  # a plain function is handed back untouched
        return logits.sum()

    assert criterion_on_device(plain, torch.device("cpu")) is plain
