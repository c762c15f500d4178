"""The training criterion as the engine handles it: its device, how it is stepped (``counter``), the
run's length it is told (``set_total_steps``) and its state in checkpoints (``criterion_state``)."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)

#: when a training criterion with a ``step()`` method is advanced (its ``counter`` attribute)
CRITERION_COUNTERS = ("iteration", "epoch")


def criterion_step_counter(criterion: Any) -> str | None:
    """How the engine advances a stateful training criterion: None when it has no callable ``step``,
    else its ``counter`` ("iteration": after every optimiser step, the default; "epoch": after every
    training epoch). Any other value is a one-line ValueError."""
    if not callable(getattr(criterion, "step", None)):
        return None
    counter = getattr(criterion, "counter", "iteration")
    if not (isinstance(counter, str) and counter in CRITERION_COUNTERS):
        raise ValueError(
            f"train criterion {type(criterion).__name__} has counter = {counter!r}; use 'iteration' (step()"
            " after every optimiser step) or 'epoch' (step() after every training epoch)"
        )
    return counter


def criterion_on_device(criterion: Any, device: torch.device) -> Any:
    """A criterion that is an ``nn.Module`` moved to the training device (its buffers: class weights, a
    stateful loss's time), so a config may build it on the CPU; other callables are returned as they are."""
    return criterion.to(device) if isinstance(criterion, nn.Module) else criterion


def run_total_steps(counter: str | None, steps_per_epoch: int, num_epochs: int) -> int:
    """The steps a criterion counts over a whole run of ``num_epochs`` epochs (from epoch 1)."""
    return num_epochs if counter == "epoch" else steps_per_epoch * num_epochs


def prepare_train_criterion(
    criterion: Any, device: torch.device, steps_per_epoch: int, num_epochs: int
) -> Any:
    """Ready the train criterion for a run: on ``device``, its ``counter`` checked, and, when it has a
    ``set_total_steps(n)``, told the steps of the whole run (optimiser steps, or epochs for
    ``counter="epoch"``) — e.g. ProSelfLC's time span. Called before a version exists, so an error
    raised here stops the run without leaving one."""
    criterion = criterion_on_device(criterion, device)
    counter = criterion_step_counter(criterion)
    if callable(getattr(criterion, "set_total_steps", None)):
        criterion.set_total_steps(run_total_steps(counter, steps_per_epoch, max(0, num_epochs)))
    return criterion


def criterion_state(criterion: Any) -> dict[str, Any] | None:
    """The train criterion's ``state_dict`` for the checkpoint (``criterion_state``) when it is a stepped
    (``step()``) ``nn.Module`` with buffers: a stateful loss such as ProSelfLC keeps its time there. None
    otherwise: a loss's fixed tensors (class weights) come from the config, not from a checkpoint."""
    if not isinstance(criterion, nn.Module) or not callable(getattr(criterion, "step", None)):
        return None
    return criterion.state_dict() or None


def restore_criterion(criterion: Any, state: dict[str, Any] | None, source: str) -> None:
    """Load a checkpoint's ``criterion_state`` into the train criterion; checkpoints without one (saved
    before the key existed, or by a stateless criterion) leave it as ``get_criterion('train')`` built it."""
    name = type(criterion).__name__
    has_state = criterion_state(criterion) is not None
    if state is None:
        if has_state:  # a stepped one: its time restarts
            logger.warning(
                "%s holds no criterion_state: the train criterion %s starts from its initial state",
                source,
                name,
            )
        return
    if not has_state:
        logger.warning(
            "%s holds a criterion_state (%s) but the train criterion %s is not a stepped loss with state;"
            " not restored",
            source,
            ", ".join(state),
            name,
        )
        return
    try:
        criterion.load_state_dict(state)
    except (RuntimeError, ValueError) as e:
        detail = " ".join(str(e).split())
        raise RuntimeError(
            f"{source}: its criterion_state does not fit the train criterion {name} (did get_criterion('train')"
            f" change since it was saved?): {detail}"
        ) from e


def prepare_eval_criterion(
    criterion: Any, device: torch.device, ckpt: dict[str, Any] | None, source: str, split: str = "train"
) -> Any:
    """The criterion ``eval`` scores a split with, on the device. Only the ``train`` split's is the train
    criterion the checkpoint's entries belong to; another split's is moved to the device only, as in
    training. On ``train``, a stepped one (``step()``) with a
    ``set_total_steps`` is told the run's length the checkpoint records (``criterion_run``), and a stepped
    one gets the checkpoint's ``criterion_state`` (e.g. ProSelfLC's time), so the loss is the one training
    computed at that checkpoint. Where the checkpoint records no length (``load_pretrained()`` weights, a
    checkpoint from before the key existed) the criterion is left as the config built it: one that needs
    the length raises its own error when scoring (ProSelfLC without ``total_time``)."""
    criterion = criterion_on_device(criterion, device)
    if split != "train" or criterion_step_counter(criterion) is None or not ckpt:
        return criterion
    run = ckpt.get("criterion_run")
    if run is not None and callable(getattr(criterion, "set_total_steps", None)):
        criterion = prepare_train_criterion(criterion, device, int(run[0]), int(run[1]))
    if ckpt.get("criterion_state") is not None:
        restore_criterion(criterion, ckpt["criterion_state"], source)
    return criterion
