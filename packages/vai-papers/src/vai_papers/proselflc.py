"""ProSelfLC: progressive self label correction (Wang et al., CVPR 2021), as PyVideoAI used it.

The target is corrected towards the model's own prediction, the more so the later in training and the
more confident the prediction:

- ``p = softmax(z)`` (not detached: gradients also flow through the corrected target, as upstream);
- global trust ``g = sigmoid(B · (t/Γ − 0.5))`` with ``t`` the criterion's time, ``Γ`` the run's total
  time and ``B`` ``exp_base``;
- local trust ``l = 1 − H(p) / log C`` per sample, ``H(p) = −Σ_c p_c log(p_c + 1e-6)``;
- ``ε = g · l``, ``q̃ = (1 − ε) q + ε p`` and the loss ``mean_i Σ_c −q̃_ic log(p_ic + 1e-6)``.

The time ``t`` is a buffer (so it is in ``state_dict()`` and vai-train's checkpoints) advanced by
``step()``; vai-train calls it after every optimiser step (``counter="iteration"``) or after every
training epoch (``counter="epoch"``). ``Γ`` is not state: left unset (``total_time=None``), vai-train
sets it from the run's real length before training (``set_total_steps``), so ``-e`` and resumed longer
runs work; outside vai-train give ``total_time``, e.g. ``total_time_for_run(...)``.

A misconfigured target is one clear ValueError: its shape and dtype are checked on every call, its values
(index range; finite, non-negative rows summing to 1) on every call on CPU but, on a GPU (any non-CPU
device), only on each loss instance's first call, and ``step()`` reads ``t`` back only at its first
step there: each such read waits for the device, so later steps never sync (see
:mod:`vai_papers.value_checks`).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .distributed import world_size as _world_size
from .value_checks import reads_sync, run_value_checks

__all__ = ["COUNTERS", "MaskedProSelfLC", "ProSelfLC", "total_time_for_run"]

COUNTERS = ("iteration", "epoch")
_LOG_EPS = 1e-6  # upstream's log(p + 1e-6)
_MASK_EPS = 1e-6  # upstream's MaskedProSelfLC keeps the classes whose target is >= -1e-6
_SUM_TOL = 1e-3  # an (N, C) target row must sum to 1 within this


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

    ``total_time`` (Γ): the time ``t`` at the end of training. Leave it None under vai-train, which
    calls :meth:`set_total_steps` with the run's length (optimiser steps, or epochs) before training;
    elsewhere give it, e.g. ``total_time_for_run(...)``. An explicit value must cover the run.
    ``exp_base`` (B > 0): how sharply the global trust rises around ``t = Γ/2`` (upstream's last use: 1);
    ``counter``: what one unit of time is, ``"iteration"`` (an optimiser step) or ``"epoch"``.
    """

    def __init__(
        self, total_time: int | None = None, exp_base: float = 1.0, counter: str = "iteration"
    ) -> None:
        super().__init__()
        #: the total_time given to the constructor (None: set by set_total_steps)
        self.given_total_time = None if total_time is None else _check_positive_int(total_time, "total_time")
        self._total_time = self.given_total_time
        if (
            isinstance(exp_base, bool)
            or not isinstance(exp_base, numbers.Real)
            or not (math.isfinite(exp_base) and exp_base > 0)
        ):
            raise ValueError(f"ProSelfLC exp_base = {exp_base!r}; it must be a finite number > 0")
        self.exp_base = float(exp_base)
        self.counter = _check_counter(counter)
        # only the time is state: Γ belongs to the run (a resumed, longer run sets a larger one)
        self.register_buffer("cur_time", torch.zeros((), dtype=torch.long))
        # (buffer, its version counter, t) after step()'s write: step() on a GPU need not read t back
        self._time_written: tuple[torch.Tensor, int, int] | None = None

    def extra_repr(self) -> str:
        return f"total_time={self.total_time}, exp_base={self.exp_base}, counter={self.counter!r}"

    @property
    def total_time(self) -> int | None:
        """Γ: the given ``total_time``, else the run length ``set_total_steps`` set; None while unknown."""
        return self._total_time

    def set_total_steps(self, n: int) -> None:
        """Called by vai-train before training with the run's length ``n`` (its optimiser steps from
        epoch 1 to the last epoch, or its epochs for ``counter="epoch"``): Γ = n unless ``total_time``
        was given, which must then be at least n (else a one-line ValueError)."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"ProSelfLC set_total_steps({n!r}): the run's length must be an integer >= 0")
        n = int(n)
        given = self.given_total_time
        if given is None:
            self._total_time = n if n > 0 else None  # a run of no steps trains nothing
        elif given < n:
            unit = "optimiser steps" if self.counter == "iteration" else "epochs"
            raise ValueError(
                f"ProSelfLC total_time = {given} is less than this run's {n} {unit} (counter="
                f"{self.counter!r}): its time would pass Γ mid-run; leave total_time unset so vai-train"
                " sets Γ from the run's length"
            )

    def _gamma(self) -> int:
        if self._total_time is None:
            raise RuntimeError(
                "ProSelfLC total_time (Γ) is unknown: give total_time (e.g. total_time_for_run(...)) or train"
                " through vai-train, which sets it from the run's length"
            )
        return self._total_time

    @property
    def time(self) -> int:
        """The current time ``t`` (0 before the first ``step()``)."""
        return int(self.cur_time)

    def _step_time(self) -> int:
        """``t`` for :meth:`step`: on a non-CPU device the value its last ``step()`` wrote while the buffer is
        that very tensor, unmodified since (no read, so no wait for the device); else read from it."""
        buf, seen = self.cur_time, getattr(self, "_time_written", None)  # None: a module pickled before it
        if seen is not None and seen[0] is buf and reads_sync(buf):
            try:
                if seen[1] == buf._version:
                    return seen[2]
            except RuntimeError:  # an inference tensor keeps no version counter
                pass
        return self.time

    def step(self) -> None:
        """Advance ``t`` by one; past Γ is an error (Γ did not cover the run). On a GPU the time is read
        from the buffer only at the first step (and after it was loaded or written), not every step."""
        gamma = self._gamma()
        t = self._step_time() + 1
        if t > gamma:
            unit = (
                "optimiser steps (iterations per epoch × epochs)" if self.counter == "iteration" else "epochs"
            )
            raise RuntimeError(
                f"ProSelfLC time {t} would pass total_time = {gamma} (counter={self.counter!r}):"
                f" total_time must cover the whole run, i.e. at least its {unit}; leave it unset under"
                " vai-train (it sets Γ from the run's length), else compute it with"
                " vai_papers.proselflc.total_time_for_run"
            )
        self.cur_time.fill_(t)
        try:
            self._time_written = (self.cur_time, self.cur_time._version, t)
        except RuntimeError:
            self._time_written = None

    def global_trust(self) -> torch.Tensor:
        """``g = sigmoid(B · (t/Γ − 0.5))`` as a float64 scalar tensor on the buffer's device."""
        ratio = self.cur_time.to(torch.float64) / self._gamma()
        return torch.sigmoid(self.exp_base * (ratio - 0.5))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        t = state_dict.get(prefix + "cur_time")
        gamma = self._total_time
        if isinstance(t, torch.Tensor) and t.numel() == 1:
            if int(t) < 0 or (gamma is not None and int(t) > gamma):
                raise ValueError(
                    f"ProSelfLC state has time {int(t)}, outside 0..total_time = {gamma}; the run must be at"
                    " least as long as the one that saved it (leave total_time unset under vai-train)"
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
        """q (N, C) from class indices (N,) or a distribution (N, C) (checked: shape and dtype on every call;
        index range, >= 0 and rows summing to 1 on every CPU call, on another device on the first call only)."""
        n, c = p.shape
        if not isinstance(target, torch.Tensor):
            raise ValueError(f"ProSelfLC: target must be a tensor, got {type(target).__name__}")
        if target.shape == (n,):
            if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
                raise ValueError(
                    f"ProSelfLC: a (N,) target holds class indices and must be an integer tensor, got {target.dtype}"
                )
            if target.numel():
                run_value_checks(self, target, lambda t: self._check_indices(t, c))
            return torch.zeros_like(p).scatter_(1, target.long().unsqueeze(1), 1.0)
        if target.shape == (n, c) and not target.is_complex():
            q = target.to(p.dtype)
            if n:
                run_value_checks(self, q, self._check_distribution)
            return q
        raise ValueError(
            f"ProSelfLC: target must be class indices ({n},) or a distribution ({n}, {c}) for logits"
            f" ({n}, {c}), got {tuple(target.shape)}"
        )

    @staticmethod
    def _check_indices(target: torch.Tensor, c: int) -> None:
        """Class indices within ``0..c-1`` (reads values: see :func:`~vai_papers.value_checks.run_value_checks`)."""
        if bool(((target < 0) | (target >= c)).any()):
            raise ValueError(
                f"ProSelfLC: class indices must be in 0..{c - 1}, got {int(target.min())}..{int(target.max())}"
            )

    @staticmethod
    def _check_distribution(q: torch.Tensor) -> None:
        """(N, C) rows finite, non-negative and summing to 1 (reads values)."""
        if not bool(torch.isfinite(q).all()):
            raise ValueError("ProSelfLC: the (N, C) target holds NaN or inf values")
        if bool((q < 0).any()):
            raise ValueError(
                f"ProSelfLC: the (N, C) target holds negative entries (min {float(q.min())}), e.g. -1"
                " mask targets; use MaskedProSelfLC to drop those classes"
            )
        sums = q.sum(1)
        bad = (sums - 1.0).abs() > _SUM_TOL
        if bool(bad.any()):
            i = int(bad.nonzero()[0])
            raise ValueError(
                f"ProSelfLC: each (N, C) target row must be a distribution summing to 1 (±{_SUM_TOL}),"
                f" row {i} sums to {float(sums[i]):.6g} ({int(bad.sum())} such rows)"
            )

    def _loss(
        self,
        p: torch.Tensor,
        log_p: torch.Tensor,
        q: torch.Tensor,
        log_c: torch.Tensor,
        has_trust: Any = None,
    ) -> torch.Tensor:
        """The corrected cross-entropy, given p, its log, q (N, C) and log C per sample (N,) or a scalar."""
        entropy = -(p * log_p).sum(1)
        local = 1.0 - entropy / log_c
        if has_trust is not None:  # samples whose local trust is undefined (fewer than 2 classes) get none
            local = torch.where(has_trust, local, torch.zeros_like(local))
        eps = (self.global_trust().to(p) * local).unsqueeze(1)
        q_corrected = (1.0 - eps) * q + eps * p
        return -(q_corrected * log_p).sum(1).mean()

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        c = self._check_logits(logits)
        self._gamma()
        p = F.softmax(_float_logits(logits), dim=1)
        q = self._target_distribution(target, p)
        # filled on the device: torch.tensor(..., device=) copies from the host, which waits for the device
        log_c = torch.full((), math.log(c), dtype=p.dtype, device=p.device)
        return self._loss(p, torch.log(p + _LOG_EPS), q, log_c)


class MaskedProSelfLC(ProSelfLC):
    """ProSelfLC over each sample's own class subset: target ``(N, C)`` entries < 0 mark classes to drop.

    As upstream's ``MaskedProSelfLC``: a class whose target is below ``-1e-6`` is removed from the
    sample's softmax (its probability is 0 and the others sum to 1), from its local trust (``log C_i``
    with ``C_i`` the sample's kept classes) and from its target; the kept target entries are used as
    they are. Unlike ``ProSelfLC`` (upstream's ``log(p + 1e-6)``), the entropy and the loss use the
    exact ``log_softmax`` over the kept classes, so a confidently wrong sample's loss and gradient are
    not capped (at ~13.8). A sample with one kept class has no local trust (``l = 0``: plain
    cross-entropy, 0 when its one target is 1; upstream's 0/0 gave NaN there); a sample with none adds
    0 (upstream's 1/0 raised ZeroDivisionError). The mean is over all N samples.
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
        self._gamma()
        z = _float_logits(logits)
        keep = target >= -_MASK_EPS
        kept = keep.sum(1)
        zero = torch.zeros((), dtype=z.dtype, device=z.device)
        # dropped classes get -inf before the softmax; a row with nothing kept gets 0s (masked out below)
        z = z.masked_fill(~keep, float("-inf")).masked_fill((kept == 0).unsqueeze(1), 0.0)
        log_p = torch.where(keep, F.log_softmax(z, dim=1), zero)  # exact: no +1e-6, no -inf left
        p = torch.where(keep, log_p.exp(), zero)
        q = torch.where(keep, target.to(p.dtype), zero)
        log_c = kept.clamp(min=2).to(p.dtype).log()  # clamped: no 0/0 in the branch torch.where drops
        return self._loss(p, log_p, q, log_c, has_trust=kept >= 2)


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
            world_size = _world_size()
        ws = _check_positive_int(world_size, "world_size")
        batches = math.ceil(math.ceil(samples / ws) / bs)
    else:
        raise ValueError(
            "total_time_for_run: give iters_per_epoch, train_loader, or num_samples and batch_size"
        )
    accum = _check_positive_int(grad_accum_steps, "grad_accum_steps")
    return math.ceil(batches / accum) * epochs
