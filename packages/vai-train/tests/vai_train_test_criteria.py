"""Shared by the stateful-criterion tests (test_criterion_step.py, test_criterion_resume.py,
test_criterion_run_length.py): exp configs with a stepped train criterion over the tiny base experiment,
their checkpoints' step counts and hook logs, and a counting loss for train_one_epoch in isolation.

A uniquely named module, not a test module and not conftest (tests must not import conftest; test
directories of several packages share one sys.path in a combined pytest run)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from vai_train.engine.checkpoint import load_checkpoint

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
