"""Single-positive multi-label losses of the verb-ambiguity paper (BMVC 2022), one ``nn.Module`` each.

Every loss takes logits ``(N, C)`` and a target that is either class indices ``(N,)`` (an integer tensor:
the single positive of each sample) or an ``(N, C)`` tensor of values in [0, 1] (one-hot, multi-hot,
soft). Only :class:`MaskedBinaryCrossEntropyLoss` also accepts ``-1`` entries (pseudo-positives it leaves
out); for any other loss a negative target is an error. Losses are summed over classes and averaged over
the batch, except :class:`BinaryFocalLoss` (torchvision's mean over all ``N * C`` entries). They are
computed in float32 (or float64) from ``logsigmoid`` / ``log_softmax``, so logits of any size keep finite
values and gradients (upstream added ``1e-6`` inside ``log(sigmoid(z))``; this does not).

A misconfigured target is one clear ValueError. Its shape and dtype are checked on every call; its values
(class range, finiteness, at most 1, no -1 unless masking) on every call on CPU, but on a GPU (any non-CPU
device) only on each loss instance's first call: each value read waits for the device, so later steps
skip them and never sync (see :mod:`vai_papers.value_checks`).
"""

from __future__ import annotations

import inspect
import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from ..value_checks import run_value_checks

__all__ = [
    "LOSS_TYPES",
    "PSEUDO_LABEL_LOSSES",
    "AssumeNegativeLoss",
    "BinaryFocalLoss",
    "BinaryLabelSmoothLoss",
    "BinaryNegativeLabelSmoothLoss",
    "EntropyMaximiseLoss",
    "MaskedBinaryCrossEntropyLoss",
    "PseudoSingleBinaryCELoss",
    "SinglePositiveLoss",
    "SoftmaxCrossEntropyLoss",
    "WeakAssumeNegativeLoss",
    "base_loss_type",
    "criterion_for_split",
    "make_loss",
]


def _check_real(owner: str, name: str, value: object) -> float:
    """``value`` as a float; anything but a finite real number (bools included) is a one-line ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}")
    return float(value)


class SinglePositiveLoss(nn.Module):
    """Base class: checks logits and turns the target into a float ``(N, C)`` tensor before ``_loss``."""

    loss_type = ""
    #: whether negative target entries (``-1``) mean "leave this class out"
    masks = False

    def __init__(self, num_classes: int | None = None) -> None:
        super().__init__()
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1
        ):
            raise ValueError(
                f"{type(self).__name__}: num_classes must be a positive integer, got {num_classes!r}"
            )
        self.num_classes = None if num_classes is None else int(num_classes)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The scalar loss of ``logits`` (N, C) against ``target`` (N,) class indices or (N, C) values."""
        logits = self._check_logits(logits)
        return self._loss(logits, self._target(logits, target))

    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _check_logits(self, logits: torch.Tensor) -> torch.Tensor:
        name = type(self).__name__
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or not logits.is_floating_point():
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"{name}: logits must be a float tensor of shape (N, C), got {shape}")
        if self.num_classes is not None and logits.shape[1] != self.num_classes:
            raise ValueError(
                f"{name}: logits have {logits.shape[1]} classes but the loss was built for {self.num_classes}"
            )
        # half-precision logits (AMP) are scored in float32: the sums over classes need the range
        return logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits

    def _target(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The target as a float (N, C) tensor in logits' dtype (checked: shape and dtype on every call; class
        range and values on every CPU call, on another device on the first call only)."""
        name = type(self).__name__
        target = torch.as_tensor(target, device=logits.device)
        n, c = logits.shape
        if target.ndim == 1:
            if target.is_floating_point() or target.dtype == torch.bool:
                raise ValueError(
                    f"{name}: a 1-D target must hold integer class indices, got dtype {target.dtype} "
                    f"(give an (N, C) tensor for label vectors)"
                )
            if target.shape[0] != n:
                raise ValueError(f"{name}: {target.shape[0]} class indices for {n} samples of logits")
            if n:
                run_value_checks(self, target, lambda t: self._check_indices(t, c))
            return F.one_hot(target.long(), c).to(logits.dtype)
        if target.ndim != 2 or tuple(target.shape) != (n, c):
            raise ValueError(
                f"{name}: target must be class indices ({n},) or label vectors ({n}, {c}) like the logits, "
                f"got shape {tuple(target.shape)}"
            )
        target = target.to(logits.dtype)
        if n:
            run_value_checks(self, target, self._check_values)
        return target

    def _check_indices(self, target: torch.Tensor, c: int) -> None:
        """Class indices within ``0..c-1`` (reads values: see :func:`~vai_papers.value_checks.run_value_checks`)."""
        if int(target.min()) < 0 or int(target.max()) >= c:
            bad = int(target[(target < 0) | (target >= c)][0])
            raise ValueError(
                f"{type(self).__name__}: class index {bad} is outside the {c} classes of the logits"
            )

    def _check_values(self, target: torch.Tensor) -> None:
        """(N, C) values finite, at most 1, and negative (-1 mask) only for a masking loss (reads values)."""
        name = type(self).__name__
        low, high = float(target.min()), float(target.max())
        if not (math.isfinite(low) and math.isfinite(high)) or high > 1.0:
            raise ValueError(f"{name}: target values must be finite and at most 1, got range [{low}, {high}]")
        if low < 0.0 and not self.masks:
            raise ValueError(
                f"{name} ({self.loss_type}) cannot mask classes but the target holds negative (-1 mask) "
                "entries; use loss_type 'mask_binary_ce' for masked pseudo-labels"
            )


def _binary_ce(logits: torch.Tensor, target: torch.Tensor, neg_weight: float = 1.0) -> torch.Tensor:
    """Element-wise ``-(t log sigma(z) + w (1 - t) log sigma(-z))`` from logsigmoid (stable)."""
    return -(target * F.logsigmoid(logits) + neg_weight * (1.0 - target) * F.logsigmoid(-logits))


def _sum_mean(loss: torch.Tensor) -> torch.Tensor:
    """Summed over classes, averaged over the batch (0 for an empty batch)."""
    return loss.sum(dim=1).mean() if loss.shape[0] else loss.sum()


class SoftmaxCrossEntropyLoss(SinglePositiveLoss):
    """``ce``: softmax cross-entropy ``-sum_c t_c log softmax(z)_c`` (class indices or soft targets)."""

    loss_type = "ce"

    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return _sum_mean(-target * F.log_softmax(logits, dim=1))


class AssumeNegativeLoss(SinglePositiveLoss):
    """``assume_negative``: binary CE treating every unlabelled class as negative."""

    loss_type = "assume_negative"

    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return _sum_mean(_binary_ce(logits, target))


class PseudoSingleBinaryCELoss(AssumeNegativeLoss):
    """``pseudo_single_binary_ce``: assume-negative BCE on targets with GT and pseudo-positives set to 1."""

    loss_type = "pseudo_single_binary_ce"


class WeakAssumeNegativeLoss(SinglePositiveLoss):
    """``weak_assume_negative``: assume-negative BCE with negatives weighted ``gamma = 1 / (C - 1)``."""

    loss_type = "weak_assume_negative"

    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        c = logits.shape[1]
        if c < 2:
            raise ValueError(f"{type(self).__name__}: needs at least 2 classes (gamma = 1/(C-1)), got {c}")
        return _sum_mean(_binary_ce(logits, target, 1.0 / (c - 1)))


class BinaryLabelSmoothLoss(SinglePositiveLoss):
    """``binary_labelsmooth``: BCE against ``t (1 - eps) + eps / C`` (eps = 0.1)."""

    loss_type = "binary_labelsmooth"

    def __init__(self, num_classes: int | None = None, smoothing: float = 0.1) -> None:
        super().__init__(num_classes)
        smoothing = _check_real(type(self).__name__, "smoothing", smoothing)
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"{type(self).__name__}: smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = smoothing

    def smooth(self, target: torch.Tensor) -> torch.Tensor:
        """The smoothed target (positives and negatives moved towards ``eps / C``)."""
        eps, c = self.smoothing, target.shape[1]
        return target * (1.0 - eps) + eps / c

    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return _sum_mean(_binary_ce(logits, self.smooth(target)))


class BinaryNegativeLabelSmoothLoss(BinaryLabelSmoothLoss):
    """``binary_negative_labelsmooth``: BCE with positives kept at 1 and negatives raised to ``eps / C``."""

    loss_type = "binary_negative_labelsmooth"

    def smooth(self, target: torch.Tensor) -> torch.Tensor:
        """The target with only its negatives smoothed: ``t + (1 - t) eps / C``."""
        eps, c = self.smoothing, target.shape[1]
        return target + (1.0 - target) * (eps / c)


class BinaryFocalLoss(SinglePositiveLoss):
    """``binary_focal``: torchvision's ``sigmoid_focal_loss`` (alpha 0.25, gamma 2), mean over N * C."""

    loss_type = "binary_focal"

    def __init__(self, num_classes: int | None = None, alpha: float = 0.25, gamma: float = 2.0) -> None:
        super().__init__(num_classes)
        alpha = _check_real(type(self).__name__, "alpha", alpha)
        gamma = _check_real(type(self).__name__, "gamma", gamma)
        if not (alpha < 0 or 0.0 <= alpha <= 1.0):
            raise ValueError(
                f"{type(self).__name__}: alpha must be in [0, 1] (or negative: off), got {alpha}"
            )
        if gamma < 0:
            raise ValueError(f"{type(self).__name__}: gamma must be >= 0, got {gamma}")
        self.alpha, self.gamma = alpha, gamma

    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        from torchvision.ops import sigmoid_focal_loss

        if logits.numel() == 0:
            return logits.sum()
        return sigmoid_focal_loss(logits, target, alpha=self.alpha, gamma=self.gamma, reduction="mean")


class EntropyMaximiseLoss(SinglePositiveLoss):
    """``entropy_maximise``: ``-sum_c [t log sigma(z) + alpha (1 - t) H(sigma(z))]`` (alpha 0.2, H binary)."""

    loss_type = "entropy_maximise"

    def __init__(self, num_classes: int | None = None, alpha: float = 0.2) -> None:
        super().__init__(num_classes)
        alpha = _check_real(type(self).__name__, "alpha", alpha)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"{type(self).__name__}: alpha must be in [0, 1], got {alpha}")
        self.alpha = alpha

    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p, log_q = F.logsigmoid(logits), F.logsigmoid(-logits)
        entropy = -(torch.sigmoid(logits) * log_p + torch.sigmoid(-logits) * log_q)
        return _sum_mean(-(target * log_p + self.alpha * (1.0 - target) * entropy))


class MaskedBinaryCrossEntropyLoss(SinglePositiveLoss):
    """``mask_binary_ce``: BCE over the classes whose target is not negative (``-1`` = pseudo-positive,
    left out); summed over the kept classes, averaged over the batch."""

    loss_type = "mask_binary_ce"
    masks = True

    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        masked = target < 0
        loss = F.binary_cross_entropy_with_logits(logits, target.clamp(min=0.0), reduction="none")
        return _sum_mean(torch.where(masked, torch.zeros_like(loss), loss))


_LOSSES: dict[str, type[SinglePositiveLoss]] = {
    cls.loss_type: cls
    for cls in (
        SoftmaxCrossEntropyLoss,
        AssumeNegativeLoss,
        WeakAssumeNegativeLoss,
        BinaryLabelSmoothLoss,
        BinaryNegativeLabelSmoothLoss,
        BinaryFocalLoss,
        EntropyMaximiseLoss,
        MaskedBinaryCrossEntropyLoss,
        PseudoSingleBinaryCELoss,
    )
}
#: every ``loss_type`` of the paper (``ideal_<name>`` is also accepted: the same loss, other data)
LOSS_TYPES: tuple[str, ...] = tuple(_LOSSES)
#: the losses trained on pseudo-labels; validation scores them with ``assume_negative``
PSEUDO_LABEL_LOSSES = ("mask_binary_ce", "pseudo_single_binary_ce")


def base_loss_type(loss_type: str) -> str:
    """``loss_type`` without an ``ideal_`` prefix (Confusing-HMDB's ideal pseudo-labels: only the data differs)."""
    if not isinstance(loss_type, str):
        raise TypeError(f"loss_type must be a string, got {type(loss_type).__name__}")
    base = loss_type[len("ideal_") :] if loss_type.startswith("ideal_") else loss_type
    if base not in _LOSSES or (base != loss_type and base not in PSEUDO_LABEL_LOSSES):
        valid = list(LOSS_TYPES) + [f"ideal_{t}" for t in PSEUDO_LABEL_LOSSES]
        raise ValueError(f"unknown loss_type {loss_type!r}; choose one of {', '.join(valid)}")
    return base


def make_loss(loss_type: str, num_classes: int | None = None, **hyper: float) -> SinglePositiveLoss:
    """The loss module of ``loss_type`` (``hyper``: e.g. ``smoothing``, ``alpha``, ``gamma``)."""
    cls = _LOSSES[base_loss_type(loss_type)]
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "num_classes")]
    unknown = sorted(set(hyper) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no hyper-parameters"
        raise TypeError(f"make_loss({loss_type!r}): unknown hyper-parameter {unknown[0]!r}; it takes {takes}")
    return cls(num_classes, **hyper)


def criterion_for_split(
    loss_type: str, split: str, num_classes: int | None = None, **hyper: float
) -> SinglePositiveLoss:
    """A ``get_criterion(split)`` body: ``loss_type`` for ``train``; on other splits the pseudo-label
    losses (``mask_binary_ce``, ``pseudo_single_binary_ce``, their ``ideal_`` forms) become
    ``assume_negative``, as upstream validates them, and the rest stay themselves."""
    base = base_loss_type(loss_type)
    if split != "train" and base in PSEUDO_LABEL_LOSSES:
        return AssumeNegativeLoss(num_classes)
    return make_loss(base, num_classes, **hyper)
