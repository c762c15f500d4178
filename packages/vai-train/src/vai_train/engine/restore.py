"""Restore a run's state from a checkpoint (``-l``): model, optimiser, scheduler (or its replay from
summary.csv when the checkpoint has no scheduler state), AMP scaler, EMA, the train criterion's buffers
and per-rank RNG states."""

from __future__ import annotations

import logging
from typing import Any

import torch

from vai_train.engine import builders as B
from vai_train.engine.criterion import criterion_state, restore_criterion
from vai_train.engine.distributed import DistInfo
from vai_train.engine.rng import set_rng_state
from vai_train.schedulers import ReduceLROnPlateauMultiple, WarmupScheduler, is_plateau_scheduler

logger = logging.getLogger(__name__)


def step_plateau(scheduler: Any, val_loss: float | None, metric_value: float | None) -> None:
    """One validation step of a plateau scheduler (bare or inside a WarmupScheduler)."""
    target = scheduler.after_scheduler if isinstance(scheduler, WarmupScheduler) else scheduler
    if val_loss is None:
        return
    if isinstance(target, ReduceLROnPlateauMultiple):
        scheduler.step(val_loss, metric_value)
    else:
        scheduler.step(val_loss)


def _advance_warmup(warmup: WarmupScheduler, iterations: int) -> None:
    """Step the warmup (not its plateau scheduler) up to ``iterations`` steps, as training had done."""
    while warmup.iteration < min(iterations, warmup.warmup_iters):
        warmup.step()


def replay_plateau(
    kit: dict[str, Any], keep_lr: bool, done_epochs: int, iters_per_epoch: int | None = None
) -> None:
    """Upstream: rebuild a plateau scheduler's history from summary.csv (``kit["summary"]``, the same rows
    on every rank) when the checkpoint has no scheduler state. ``keep_lr``: the restored optimiser already
    holds the reduced LR, so only the counters (best, num_bad_epochs, cooldown_counter, last_epoch) are
    replayed. A WarmupScheduler around the plateau scheduler is advanced by ``iters_per_epoch`` per epoch
    as in the uninterrupted run: validations during its warmup are ignored and it does not warm up again."""
    optimiser, scheduler = kit["optimiser"], kit["scheduler"]
    lrs = [g["lr"] for g in optimiser.param_groups]
    warmup = scheduler if isinstance(scheduler, WarmupScheduler) else None
    if warmup is not None and iters_per_epoch is None:
        raise ValueError("replaying a WarmupScheduler needs iters_per_epoch")
    for row in sorted(kit["summary"], key=lambda r: r["epoch"]):
        if warmup is not None:
            _advance_warmup(warmup, int(row["epoch"]) * iters_per_epoch)
        step_plateau(scheduler, row.get("val_loss"), row.get(kit["best_field"]))
    if warmup is not None:
        _advance_warmup(warmup, done_epochs * iters_per_epoch)
    if keep_lr:
        for g, lr in zip(optimiser.param_groups, lrs, strict=True):
            g["lr"] = lr
        target = warmup.after_scheduler if warmup is not None else scheduler
        target._last_lr = lrs


def match_state_layouts(optimiser: torch.optim.Optimizer) -> int:
    """Give every per-parameter optimiser state tensor (momentum, Adam's moments) its parameter's memory
    layout; returns how many moved. A loaded state keeps the checkpoint's strides, so a run resumed with
    ``--channels-last`` switched on or off would hold states in the other layout: the foreach and
    single-tensor optimisers cope, but the fused ones (``fused=True``) update the wrong elements, silently."""
    moved = 0
    for group in optimiser.param_groups:
        for p in group["params"]:
            state = optimiser.state.get(p, {})
            for key, value in state.items():
                if (
                    isinstance(value, torch.Tensor)
                    and value.shape == p.shape
                    and value.stride() != p.stride()
                ):
                    state[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)
                    moved += 1
    return moved


def restore_state(
    kit: dict[str, Any],
    ckpt: dict[str, Any],
    cfg: Any,
    info: DistInfo,
    iters_per_epoch: int | None = None,
) -> None:
    """Load ``ckpt`` into the kit (``cfg``: ``load_optimiser_state``/``load_scheduler_state``)."""
    B.unwrap(kit["model"]).load_state_dict(ckpt["model_state"])
    optimiser_restored = cfg.load_optimiser_state and ckpt.get("optimiser_state") is not None
    if optimiser_restored:
        kit["optimiser"].load_state_dict(ckpt["optimiser_state"])
        match_state_layouts(kit["optimiser"])
    # load_scheduler_state=False keeps the scheduler as the config built it (fresh, no replay)
    if kit["scheduler"] is not None and cfg.load_scheduler_state:
        if ckpt.get("scheduler_state") is not None:
            kit["scheduler"].load_state_dict(ckpt["scheduler_state"])
        elif is_plateau_scheduler(kit["scheduler"]):
            replay_plateau(kit, optimiser_restored, int(ckpt["epoch"]), iters_per_epoch)
    if ckpt.get("amp_scaler_state"):
        kit["scaler"].load_state_dict(ckpt["amp_scaler_state"])
    if kit["ema"] is not None and ckpt.get("ema_state") is not None:
        kit["ema"].load_state_dict(ckpt["ema_state"])
    if "train" in kit.get("criterions", {}):
        where = f"checkpoint of epoch {ckpt.get('epoch')}"
        state, crit = ckpt.get("criterion_state"), kit["criterions"]["train"]
        if not hasattr(getattr(cfg, "exp_cfg", None), "epoch_start_script"):
            restore_criterion(crit, state, where)
        else:  # the hook may put another criterion in place: the one in force after it gets the state
            restored = None
            if state is not None and criterion_state(crit) is not None:
                try:  # loaded now too, so the hook itself sees the resumed state
                    restore_criterion(crit, state, where)
                    restored = crit
                except RuntimeError:  # it may belong to the criterion the hook puts in place
                    logger.debug("%s: criterion_state left for the criterion epoch_start_script sets", where)
            kit["pending_criterion_state"] = (state, where, restored)
    states = ckpt.get("rng_states") or []
    if len(states) == info.world_size:
        set_rng_state(states[info.rank])
    elif states:
        logger.warning(
            "checkpoint has RNG states for %d ranks, running %d; RNG not restored",
            len(states),
            info.world_size,
        )
