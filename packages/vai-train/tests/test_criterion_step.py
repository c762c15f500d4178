"""Stateful training criteria: the engine calls ``criterion.step()`` after every optimiser step
(``counter = "iteration"``) or after every training epoch (``"epoch"``), saves the criterion's buffers
as ``criterion_state`` in each checkpoint and restores them on ``-l -1``/``-l N``; any other counter is
a one-line error before a version is created."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, SequentialSampler
from vai_train import run_train
from vai_train.cli import main
from vai_train.config.experiment import default_unpack
from vai_train.engine.checkpoint import load_checkpoint
from vai_train.engine.criterion import (
    criterion_on_device,
    criterion_state,
    criterion_step_counter,
    restore_criterion,
)
from vai_train.engine.distributed import DistInfo
from vai_train.engine.loop import AmpSettings, train_one_epoch

SRC = Path(__file__).resolve().parents[1] / "src"
CONFIG_ROOT = Path(__file__).parent / "configs_tiny"
ITERS = 8  # the tiny train split: 64 clips in batches of 8

# the exp config body: a CrossEntropyLoss that counts its step() calls in a buffer; each rank's
# epoch_start_script logs the count it starts the epoch with (JSON lines in $VAI_TEST_HOOK_LOG)
COUNTING_EXP = """
import json
import os

import torch
from torch import nn

COUNTER = {counter!r}
grad_accum_steps = {accum}


class StepCountingLoss(nn.CrossEntropyLoss):
    def __init__(self):
        super().__init__()
        self.counter = COUNTER
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def step(self):
        self.steps += 1


def get_criterion(split):
    return StepCountingLoss() if split == "train" else nn.CrossEntropyLoss()


def epoch_start_script(epoch, exp, args, rank, world_size, train_kit):
    log = os.environ.get("VAI_TEST_HOOK_LOG")
    if log:
        steps = int(train_kit["criterions"]["train"].steps)
        with open(log, "a") as f:
            f.write(json.dumps({{"epoch": epoch, "rank": rank, "steps": steps}}) + "\\n")
"""


def _counting_args(
    tmp_path: Path, base_args: list[str], counter: str = "iteration", accum: int = 1
) -> list[str]:
    """base_args with an extra first config root holding exp_configs/tiny/tinynet-count.py."""
    root = tmp_path / "override"
    (root / "exp_configs" / "tiny").mkdir(parents=True, exist_ok=True)
    (root / "exp_configs" / "tiny" / "tinynet-count.py").write_text(
        f"include({str(CONFIG_ROOT / 'exp_configs' / 'tiny' / 'tinynet-base.py')!r})\n"
        + COUNTING_EXP.format(counter=counter, accum=accum)
    )
    return ["--config-root", str(root), *[a if a != "base" else "count" for a in base_args]]


def _steps(run_dir: Path, epoch: int) -> int:
    return int(load_checkpoint(run_dir / "weights" / f"epoch_{epoch:04d}.pth")["criterion_state"]["steps"])


def _log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


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


class Counting(nn.CrossEntropyLoss):
    def __init__(self, counter: str = "iteration", scale: float = 1.0):
        super().__init__()
        self.counter, self.scale = counter, scale
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.seen: list[int] = []  # the count each forward saw

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.seen.append(int(self.steps))
        return super().forward(logits, labels) * self.scale

    def step(self) -> None:
        self.steps += 1


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


# ---- the run's length, criteria put in place by epoch_start_script, the -l N source ---------------------

SWAP_EXP = """
import json
import os

import torch
from torch import nn

grad_accum_steps = {accum}


class Spanned(nn.CrossEntropyLoss):
    '''Counts its steps and records the run length the engine tells it (or refuses it).'''

    def __init__(self):
        super().__init__()
        self.counter = {counter!r}
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.total = None

    def step(self):
        self.steps += 1

    def set_total_steps(self, n):
        if n > {limit}:
            raise ValueError(f"Spanned: the run has {{n}} steps, more than {limit}")
        self.total = n


def get_criterion(split):
    return Spanned() if split == "train" and not {swap} else nn.CrossEntropyLoss()


def epoch_start_script(epoch, exp, args, rank, world_size, train_kit):
    crit = train_kit["criterions"]["train"]
    out = None
    if {swap} and epoch >= 2 and not isinstance(crit, Spanned):  # a stateful loss from epoch 2 on
        out = {{"criterions": {{**train_kit["criterions"], "train": Spanned()}}}}
    log = os.environ.get("VAI_TEST_HOOK_LOG")
    if log:
        source = exp.extra.get("source_run_dir")
        with open(log, "a") as f:
            f.write(json.dumps({{"epoch": epoch, "source": source.path.name if source else None,
                                 "total": getattr(crit, "total", None)}}) + "\\n")
    return out
"""


def _swap_args(
    tmp_path: Path,
    base_args: list[str],
    *,
    swap: bool,
    counter: str = "iteration",
    accum: int = 1,
    limit: int = 10**6,
) -> list[str]:
    root = tmp_path / "override_swap"
    (root / "exp_configs" / "tiny").mkdir(parents=True, exist_ok=True)
    (root / "exp_configs" / "tiny" / "tinynet-swap.py").write_text(
        f"include({str(CONFIG_ROOT / 'exp_configs' / 'tiny' / 'tinynet-base.py')!r})\n"
        + SWAP_EXP.format(counter=counter, accum=accum, limit=limit, swap=swap)
    )
    return ["--config-root", str(root), *[a if a != "base" else "swap" for a in base_args]]


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
