"""LR schedulers for exp configs: per-iteration builders (step, multistep, cosine with restarts), a
warmup wrapper (also around plateau schedulers) and upstream's ReduceLROnPlateauMultiple.

The engine steps non-plateau schedulers after every optimiser step, so an exp config's
``scheduler(optimiser, iters_per_epoch, last_epoch)`` converts epochs to iterations (the builders here
do it for you). Plateau schedulers are stepped once per validation with ``val_loss`` (and the best
metric for ReduceLROnPlateauMultiple); a WarmupScheduler around one gets both calls.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import (
    CosineAnnealingWarmRestarts,
    LRScheduler,
    MultiStepLR,
    ReduceLROnPlateau,
    StepLR,
)


def is_plateau_scheduler(s: Any) -> bool:
    """True if ``s`` is stepped on validation results (``step(val_loss[, metric])``) once per epoch."""
    if isinstance(s, WarmupScheduler):
        return is_plateau_scheduler(s.after_scheduler)
    return isinstance(s, ReduceLROnPlateau)


def steps_per_iteration(s: Any) -> bool:
    """True if ``s.step()`` is called after every optimiser step: every scheduler but a bare plateau one
    (a WarmupScheduler around a plateau scheduler warms up per iteration, then waits for validations)."""
    return isinstance(s, WarmupScheduler) or not isinstance(s, ReduceLROnPlateau)


def step_per_iteration_scheduler(s: Any) -> None:
    """``s.step()`` after an optimiser step, as the engine calls it. Under fp16 AMP the GradScaler skips
    the optimiser steps whose gradients overflowed (the first few, while it finds its scale), which makes
    PyTorch warn that the scheduler stepped before the optimiser; the schedule counts iterations
    (upstream's too), so that warning is expected there and left out. Only where PyTorch would give it (a
    torch scheduler's first step, its optimiser not yet stepped): entering ``warnings.catch_warnings``
    resets the warnings each module has shown once, so doing it on every iteration would repeat any other
    once-only warning every iteration."""
    inner = s.after_scheduler if isinstance(s, WarmupScheduler) else s
    may_warn = (  # PyTorch's condition: the scheduler's first step, its optimiser never stepped
        isinstance(inner, LRScheduler)
        and getattr(inner, "_step_count", 0) == 1
        and not getattr(inner.optimizer, "_opt_called", False)
    )
    if not may_warn:
        s.step()
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before")
        s.step()


def step_lr(
    optimiser: Optimizer, iters_per_epoch: int, step_epochs: int, gamma: float = 0.1, last_epoch: int = -1
) -> StepLR:
    """StepLR decaying by ``gamma`` every ``step_epochs`` epochs (stepped per iteration)."""
    return StepLR(optimiser, step_size=step_epochs * iters_per_epoch, gamma=gamma, last_epoch=last_epoch)


def multistep_lr(
    optimiser: Optimizer,
    iters_per_epoch: int,
    milestone_epochs: list[int],
    gamma: float = 0.1,
    last_epoch: int = -1,
) -> MultiStepLR:
    """MultiStepLR with milestones given in epochs (stepped per iteration)."""
    return MultiStepLR(
        optimiser, [m * iters_per_epoch for m in milestone_epochs], gamma=gamma, last_epoch=last_epoch
    )


def cosine_with_restarts(
    optimiser: Optimizer,
    iters_per_epoch: int,
    first_cycle_epochs: int,
    cycle_mult: int = 1,
    eta_min: float = 0.0,
    last_epoch: int = -1,
) -> CosineAnnealingWarmRestarts:
    """Cosine annealing with warm restarts; cycle lengths in epochs (stepped per iteration)."""
    return CosineAnnealingWarmRestarts(
        optimiser,
        T_0=first_cycle_epochs * iters_per_epoch,
        T_mult=cycle_mult,
        eta_min=eta_min,
        last_epoch=last_epoch,
    )


class WarmupScheduler:
    """Linear warmup from ``start_factor × lr`` to ``lr`` over ``warmup_iters`` iterations, then hand over.

    ``after_scheduler`` may be a per-iteration scheduler (stepped per iteration after warmup) or a
    plateau scheduler (stepped on validation once warmup is over); None keeps the LR constant.
    """

    def __init__(
        self, optimiser: Optimizer, warmup_iters: int, after_scheduler: Any = None, start_factor: float = 0.01
    ):
        if warmup_iters < 1:
            raise ValueError(f"warmup_iters must be >= 1, got {warmup_iters}")
        self.optimizer = optimiser
        self.warmup_iters = warmup_iters
        self.after_scheduler = after_scheduler
        self.start_factor = start_factor
        self.base_lrs = [g["lr"] for g in optimiser.param_groups]
        self.iteration = 0
        self._apply()

    def _apply(self) -> None:
        if self.iteration >= self.warmup_iters:
            return
        frac = self.start_factor + (1.0 - self.start_factor) * self.iteration / self.warmup_iters
        for g, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            g["lr"] = base * frac

    @property
    def in_warmup(self) -> bool:
        return self.iteration < self.warmup_iters

    def step(self, *metrics: Any) -> None:
        """Per-iteration call (no args) or, for a wrapped plateau scheduler, the validation call."""
        if metrics:
            if not self.in_warmup and self.after_scheduler is not None:
                self.after_scheduler.step(*metrics)
            return
        if self.in_warmup:
            self.iteration += 1
            if self.iteration == self.warmup_iters:
                for g, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
                    g["lr"] = base
            else:
                self._apply()
        elif self.after_scheduler is not None and not isinstance(self.after_scheduler, ReduceLROnPlateau):
            self.after_scheduler.step()

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        after = self.after_scheduler.state_dict() if self.after_scheduler is not None else None
        return {"iteration": self.iteration, "base_lrs": list(self.base_lrs), "after_scheduler": after}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iteration = int(state["iteration"])
        self.base_lrs = list(state["base_lrs"])
        if self.after_scheduler is not None and state.get("after_scheduler") is not None:
            self.after_scheduler.load_state_dict(state["after_scheduler"])


class ReduceLROnPlateauMultiple(ReduceLROnPlateau):
    """Upstream's plateau rule on two signals: an epoch is bad only if neither ``val_loss`` improves
    (lower) nor the best metric improves (higher if ``metric_mode="max"``).

    Call ``step(val_loss, metric_value)`` once per validation.
    """

    def __init__(self, optimizer: Optimizer, metric_mode: str = "max", **kwargs: Any):
        kwargs.setdefault("mode", "min")
        super().__init__(optimizer, **kwargs)
        if metric_mode not in ("min", "max"):
            raise ValueError(f"metric_mode must be 'min' or 'max', got {metric_mode!r}")
        self.metric_mode = metric_mode
        self.best_metric = -math.inf if metric_mode == "max" else math.inf

    def _metric_better(self, value: float) -> bool:
        if self.threshold_mode == "rel":
            rel = 1.0 + self.threshold if self.metric_mode == "max" else 1.0 - self.threshold
            ref = self.best_metric * rel if math.isfinite(self.best_metric) else self.best_metric
        else:
            ref = self.best_metric + (self.threshold if self.metric_mode == "max" else -self.threshold)
        return value > ref if self.metric_mode == "max" else value < ref

    def step(self, metrics: float, metric_value: float | None = None, epoch: int | None = None) -> None:  # type: ignore[override]
        loss = float(metrics)
        self.last_epoch += 1
        improved = False
        if self._is_better(loss, self.best):
            self.best = loss
            improved = True
        if metric_value is not None and self._metric_better(float(metric_value)):
            self.best_metric = float(metric_value)
            improved = True
        self.num_bad_epochs = 0 if improved else self.num_bad_epochs + 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr(self.last_epoch)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


__all__ = [
    "LRScheduler",
    "ReduceLROnPlateau",
    "ReduceLROnPlateauMultiple",
    "WarmupScheduler",
    "cosine_with_restarts",
    "is_plateau_scheduler",
    "multistep_lr",
    "step_lr",
    "step_per_iteration_scheduler",
    "steps_per_iteration",
]
