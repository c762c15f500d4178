"""ProSelfLC: progressive self label correction (Wang et al., CVPR 2021), as PyVideoAI used it.

The target is corrected towards the model's own prediction, the more so the later in training and the
more confident the prediction:

- ``p = softmax(z)`` (not detached: gradients also flow through the corrected target, as upstream);
- global trust ``g = sigmoid(B · (t/Γ − 0.5))`` with ``t`` the criterion's time, ``Γ`` ``total_time``
  and ``B`` ``exp_base``;
- local trust ``l = 1 − H(p) / log C`` per sample, ``H(p) = −Σ_c p_c log(p_c + 1e-6)``;
- ``ε = g · l``, ``q̃ = (1 − ε) q + ε p`` and the loss ``mean_i Σ_c −q̃_ic log(p_ic + 1e-6)``.

The time ``t`` is a buffer (so it is in ``state_dict()`` and vai-train's checkpoints) advanced by
``step()``; vai-train calls it after every optimiser step (``counter="iteration"``) or after every
training epoch (``counter="epoch"``). ``total_time_for_run`` gives ``Γ`` for a run.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["COUNTERS", "MaskedProSelfLC", "ProSelfLC", "total_time_for_run"]

COUNTERS = ("iteration", "epoch")
_LOG_EPS = 1e-6  # upstream's log(p + 1e-6)


def _check_counter(counter: Any) -> str:
    if not (isinstance(counter, str) and counter in COUNTERS):
        raise ValueError(f"ProSelfLC counter = {counter!r}; use 'iteration' or 'epoch'")
    return counter


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"ProSelfLC {name} = {value!r}; it must be a positive integer")
    return int(value)


def _float_logits(logits: torch.Tensor) -> torch.Tensor:
    """float32 for half-precision (AMP) logits; float32/float64 as they are."""
    return logits if logits.dtype in (torch.float32, torch.float64) else logits.float()


class ProSelfLC(nn.Module):
    """ProSelfLC loss on logits ``(N, C)`` and targets: class indices ``(N,)`` or a distribution ``(N, C)``.

    ``total_time`` (Γ): the time ``t`` at the end of training, e.g. ``total_time_for_run(...)``;
    ``exp_base`` (B > 0): how sharply the global trust rises around ``t = Γ/2`` (upstream's last use: 1);
    ``counter``: what one unit of time is, ``"iteration"`` (an optimiser step) or ``"epoch"``.
    """

    def __init__(self, total_time: int, exp_base: float = 1.0, counter: str = "iteration") -> None:
        super().__init__()
        self.total_time = _check_positive_int(total_time, "total_time")
        if (
            isinstance(exp_base, bool)
            or not isinstance(exp_base, numbers.Real)
            or not (math.isfinite(exp_base) and exp_base > 0)
        ):
            raise ValueError(f"ProSelfLC exp_base = {exp_base!r}; it must be a finite number > 0")
        self.exp_base = float(exp_base)
        self.counter = _check_counter(counter)
        self.register_buffer("cur_time", torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return f"total_time={self.total_time}, exp_base={self.exp_base}, counter={self.counter!r}"

    @property
    def time(self) -> int:
        """The current time ``t`` (0 before the first ``step()``)."""
        return int(self.cur_time)

    def step(self) -> None:
        """Advance ``t`` by one; past ``total_time`` is an error (Γ did not cover the run)."""
        t = self.time + 1
        if t > self.total_time:
            unit = (
                "optimiser steps (iterations per epoch × epochs)" if self.counter == "iteration" else "epochs"
            )
            raise RuntimeError(
                f"ProSelfLC time {t} would pass total_time = {self.total_time} (counter={self.counter!r}):"
                f" total_time must cover the whole run, i.e. at least its {unit}"
                " (vai_papers.proselflc.total_time_for_run computes it); raise it or train fewer epochs"
            )
        self.cur_time.fill_(t)

    def global_trust(self) -> torch.Tensor:
        """``g = sigmoid(B · (t/Γ − 0.5))`` as a float64 scalar tensor on the buffer's device."""
        ratio = self.cur_time.to(torch.float64) / self.total_time
        return torch.sigmoid(self.exp_base * (ratio - 0.5))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        t = state_dict.get(prefix + "cur_time")
        if isinstance(t, torch.Tensor) and t.numel() == 1 and not 0 <= int(t) <= self.total_time:
            raise ValueError(
                f"ProSelfLC state has time {int(t)}, outside 0..total_time = {self.total_time}; build the loss"
                " with the total_time of the run that saved it (or a larger one)"
            )
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)

    # ---- the loss ------------------------------------------------------------------------------------
    def _check_logits(self, logits: torch.Tensor) -> int:
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or not logits.is_floating_point():
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"{type(self).__name__}: logits must be a float tensor (N, C), got {shape}")
        if logits.shape[1] < 2:
            raise ValueError(
                f"{type(self).__name__}: needs at least 2 classes, got logits {tuple(logits.shape)}"
            )
        return logits.shape[1]

    def _target_distribution(self, target: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """q (N, C) from class indices (N,) or a distribution (N, C)."""
        n, c = p.shape
        if not isinstance(target, torch.Tensor):
            raise ValueError(f"ProSelfLC: target must be a tensor, got {type(target).__name__}")
        if target.shape == (n,):
            if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
                raise ValueError(
                    f"ProSelfLC: a (N,) target holds class indices and must be an integer tensor, got {target.dtype}"
                )
            if target.numel() and bool(((target < 0) | (target >= c)).any()):
                raise ValueError(
                    f"ProSelfLC: class indices must be in 0..{c - 1}, got"
                    f" {int(target.min())}..{int(target.max())}"
                )
            return torch.zeros_like(p).scatter_(1, target.long().unsqueeze(1), 1.0)
        if target.shape == (n, c) and not target.is_complex():
            return target.to(p.dtype)
        raise ValueError(
            f"ProSelfLC: target must be class indices ({n},) or a distribution ({n}, {c}) for logits"
            f" ({n}, {c}), got {tuple(target.shape)}"
        )

    def _loss(
        self, p: torch.Tensor, q: torch.Tensor, log_c: torch.Tensor, has_trust: Any = None
    ) -> torch.Tensor:
        """The corrected cross-entropy, given p, q (N, C) and log C per sample (N,) or as a scalar."""
        log_p = torch.log(p + _LOG_EPS)
        entropy = -(p * log_p).sum(1)
        local = 1.0 - entropy / log_c
        if has_trust is not None:  # samples whose local trust is undefined (fewer than 2 classes) get none
            local = torch.where(has_trust, local, torch.zeros_like(local))
        eps = (self.global_trust().to(p) * local).unsqueeze(1)
        q_corrected = (1.0 - eps) * q + eps * p
        return -(q_corrected * log_p).sum(1).mean()

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        c = self._check_logits(logits)
        p = F.softmax(_float_logits(logits), dim=1)
        q = self._target_distribution(target, p)
        return self._loss(p, q, torch.tensor(math.log(c), dtype=p.dtype, device=p.device))


class MaskedProSelfLC(ProSelfLC):
    """ProSelfLC over each sample's own class subset: target ``(N, C)`` entries < 0 mark classes to drop.

    A dropped class is removed from the sample's softmax (its probability is 0 and the others sum to
    1), from its local trust (``log C_i`` with ``C_i`` the sample's kept classes) and from its target;
    the kept target entries are used as they are. Without negative entries this equals ``ProSelfLC``.
    A sample with one kept class has no local trust (``l = 0``, plain cross-entropy: its one
    probability is 1, so it adds ~0); a sample with none adds 0. The mean is over all N samples.
    (Upstream's version could not run; it meant the same per-sample softmax over the kept classes.)
    """

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        c = self._check_logits(logits)
        n = logits.shape[0]
        if not isinstance(target, torch.Tensor) or target.shape != (n, c) or target.is_complex():
            shape = tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__
            raise ValueError(
                f"MaskedProSelfLC: target must be ({n}, {c}) like the logits, with entries < 0 for the classes"
                f" to drop; got {shape}"
            )
        z = _float_logits(logits)
        keep = target >= 0
        kept = keep.sum(1)
        # dropped classes get -inf before the softmax; a row with nothing kept gets 0s (then p = 0 there)
        z = z.masked_fill(~keep, float("-inf")).masked_fill((kept == 0).unsqueeze(1), 0.0)
        p = torch.where(keep, F.softmax(z, dim=1), torch.zeros((), dtype=z.dtype, device=z.device))
        q = torch.where(keep, target.to(p.dtype), torch.zeros((), dtype=p.dtype, device=p.device))
        log_c = kept.clamp(min=2).to(p.dtype).log()  # clamped: no 0/0 in the branch torch.where drops
        return self._loss(p, q, log_c, has_trust=kept >= 2)


def total_time_for_run(
    num_epochs: int,
    *,
    iters_per_epoch: int | None = None,
    train_loader: Any = None,
    num_samples: int | None = None,
    batch_size: int | None = None,
    world_size: int | None = None,
    grad_accum_steps: int = 1,
    counter: str = "iteration",
) -> int:
    """Γ for a run of ``num_epochs``: ``num_epochs`` for ``counter="epoch"``; for ``"iteration"`` the
    optimiser steps of the whole run, ``ceil(batches per epoch / grad_accum_steps) · num_epochs``.

    Batches per epoch (one rank's): ``iters_per_epoch``, else ``len(train_loader)``, else from
    ``num_samples`` and ``batch_size`` as vai-train's train loader batches them (a DistributedSampler
    over ``world_size`` ranks, last batch kept); ``world_size`` defaults to torch.distributed's, else
    ``$WORLD_SIZE``, else 1. Upstream's last use: Γ = (train size // batch size) · epochs with B = 1.
    """
    epochs = _check_positive_int(num_epochs, "num_epochs")
    if _check_counter(counter) == "epoch":
        return epochs
    if iters_per_epoch is not None:
        batches = _check_positive_int(iters_per_epoch, "iters_per_epoch")
    elif train_loader is not None:
        batches = _check_positive_int(len(train_loader), "len(train_loader)")
    elif num_samples is not None and batch_size is not None:
        samples = _check_positive_int(num_samples, "num_samples")
        bs = _check_positive_int(batch_size, "batch_size")
        if world_size is None:
            dist = torch.distributed
            ready = dist.is_available() and dist.is_initialized()
            world_size = dist.get_world_size() if ready else int(os.environ.get("WORLD_SIZE", "1"))
        ws = _check_positive_int(world_size, "world_size")
        batches = math.ceil(math.ceil(samples / ws) / bs)
    else:
        raise ValueError(
            "total_time_for_run: give iters_per_epoch, train_loader, or num_samples and batch_size"
        )
    accum = _check_positive_int(grad_accum_steps, "grad_accum_steps")
    return math.ceil(batches / accum) * epochs
