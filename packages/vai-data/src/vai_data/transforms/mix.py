"""Mixup and CutMix for video batches, as a DataLoader ``collate_fn``.

The batch is the sample-dict batch (``video`` ``(N, C, T, H, W)``); each sample is mixed with its mirror
in the batch (``N-1-i``), labels become soft targets ``(N, num_classes)`` (with optional label
smoothing), and a CutMix box is the same for every frame of a clip so motion stays coherent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..arguments import is_int
from .collate import collate_clips
from .normalize import FLIP_PENDING, hflip_flagged
from .pending_resize import RESIZE_PENDING, apply_pending_resize


def soft_targets(label: torch.Tensor, num_classes: int, smoothing: float = 0.0) -> torch.Tensor:
    """Integer labels ``(N,)`` or multi-hot ``(N, K)`` -> float targets ``(N, K)`` with label smoothing."""
    if label.ndim == 1 and label.is_floating_point():  # (not a shape problem: say what is wrong)
        raise TypeError(
            f"class-index labels must be an integer tensor, got {label.dtype} labels of shape "
            f"{tuple(label.shape)} (multi-hot labels are (N, {num_classes}))"
        )
    if label.ndim == 1:
        if label.numel() and (int(label.min()) < 0 or int(label.max()) >= num_classes):
            raise ValueError(f"labels must be in [0, {num_classes}), got {label.tolist()}")
        target = torch.nn.functional.one_hot(label.long(), num_classes).float()
    elif label.ndim == 2 and label.shape[1] == num_classes:
        target = label.float()
    else:
        raise ValueError(
            f"labels of shape {tuple(label.shape)} are neither class indices (N,) nor multi-hot (N, {num_classes})"
        )
    if smoothing:
        target = target * (1.0 - smoothing) + smoothing / num_classes
    return target


def cutmix_box(height: int, width: int, lam: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A box ``(y0, y1, x0, x1)`` of area about ``(1 - lam)`` of the frame at a uniform random centre, clipped."""
    cut = math.sqrt(1.0 - lam)
    ch, cw = int(height * cut), int(width * cut)
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, height)
    x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, width)
    return y0, y1, x0, x1


class MixupCutmix:
    """Mix a video batch with its reversed self: mixup (Beta(``mixup_alpha``)) or CutMix (Beta(``cutmix_alpha``)).

    With probability ``prob`` a batch is mixed; when both alphas are positive, CutMix is chosen with
    probability ``switch_prob``. CutMix's ``lam`` is corrected to the box's true area. Random draws come
    from ``generator`` (or the global torch RNG) so runs are reproducible. Clips with
    a ``resize_pending`` row must be resized first (``apply_pending_resize``), then those flagged in
    ``flip_pending`` mirrored (``hflip_flagged``; in that order: mirroring a padded region moves it);
    ``MixupCutmixCollate`` does both.
    """

    def __init__(
        self,
        num_classes: int,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.1,
        generator: torch.Generator | None = None,
    ):
        if not is_int(num_classes):
            hint = f" (use int({num_classes!r}))" if isinstance(num_classes, float) else ""
            raise TypeError(f"num_classes must be a positive int, got {num_classes!r}{hint}")
        if num_classes <= 0:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        if mixup_alpha < 0 or cutmix_alpha < 0:
            raise ValueError(f"mixup_alpha and cutmix_alpha must be >= 0, got {mixup_alpha}, {cutmix_alpha}")
        if not 0 <= prob <= 1 or not 0 <= switch_prob <= 1 or not 0 <= label_smoothing < 1:
            raise ValueError("prob and switch_prob must be in [0, 1] and label_smoothing in [0, 1)")
        self.num_classes = num_classes
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.prob = prob
        self.switch_prob = switch_prob
        self.label_smoothing = label_smoothing
        self.generator = generator

    def _rng(self) -> np.random.Generator:
        seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
        return np.random.default_rng(seed)

    def __call__(
        self, video: torch.Tensor, label: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, float, tuple[int, int, int, int] | None]:
        """Return ``(mixed_video, soft_targets, lam, box)``; ``box`` is None unless CutMix was applied."""
        if video.ndim < 3 or video.shape[0] != label.shape[0]:
            raise ValueError(
                f"video {tuple(video.shape)} and labels {tuple(label.shape)} must share the batch dimension"
            )
        target = soft_targets(label, self.num_classes, self.label_smoothing)
        rng = self._rng()
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha == 0 or rng.random() < self.switch_prob)
        if rng.random() >= self.prob or (self.mixup_alpha == 0 and self.cutmix_alpha == 0):
            return video, target, 1.0, None
        flipped = video.flip(0)
        box = None
        if use_cutmix:
            lam = float(rng.beta(self.cutmix_alpha, self.cutmix_alpha))
            h, w = video.shape[-2:]
            box = cutmix_box(h, w, lam, rng)
            y0, y1, x0, x1 = box
            video = video.clone()
            video[..., y0:y1, x0:x1] = flipped[..., y0:y1, x0:x1]
            lam = 1.0 - (y1 - y0) * (x1 - x0) / float(h * w)
        else:
            lam = float(rng.beta(self.mixup_alpha, self.mixup_alpha))
            if not video.is_floating_point():  # uint8 clips mix into float [0, 255]
                video, flipped = video.float(), flipped.float()
            video = video * lam + flipped * (1.0 - lam)  # (fp16/bf16 clips stay in their dtype)
        target = target * lam + target.flip(0) * (1.0 - lam)
        return video, target, lam, box


class MixupCutmixCollate:
    """A DataLoader ``collate_fn``: collate sample dicts, then mix ``video`` and turn ``label`` into soft targets.

    The batch gains ``hard_label`` (the original labels, for accuracy metrics) and ``mix_lambda``.
    Use only for training; evaluation keeps the default collate. uint8 clips (``normalise_on_device``)
    come out as float in [0, 255] after mixup; normalising them afterwards gives the batch of mixing
    normalised clips (normalisation is affine), up to float rounding (~5e-7); CutMix keeps uint8.
    Resizes and flips a dataset left to the device (``resize_pending``, ``flip_pending``) are done here
    first, before clips are mixed; the batch then has nothing left pending (flags all False, every
    ``resize_pending`` row ``(out_h, out_w, out_h, out_w)``).
    """

    def __init__(
        self,
        num_classes: int,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.1,
        generator: torch.Generator | None = None,
        collate_fn: Callable[[Sequence[Any]], Any] = collate_clips,
    ):
        self.mix = MixupCutmix(
            num_classes, mixup_alpha, cutmix_alpha, prob, switch_prob, label_smoothing, generator
        )
        self.collate_fn = collate_fn

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        if len(samples) == 0:
            raise ValueError(
                "MixupCutmixCollate got an empty batch: mixing needs at least one sample (a sampler or "
                "dataset of length 0?)"
            )
        batch = self.collate_fn(samples)
        if not isinstance(batch, dict) or "video" not in batch or "label" not in batch:
            raise ValueError("MixupCutmixCollate expects samples as dicts with 'video' and 'label' keys")
        label = torch.as_tensor(batch["label"])
        video = batch["video"]
        if RESIZE_PENDING in batch:  # mix whole crops, not padded regions: resize them here first
            video = apply_pending_resize(video, batch[RESIZE_PENDING])
            rows = torch.as_tensor(batch[RESIZE_PENDING]).clone()
            rows[:, :2] = rows[:, 2:]
            batch[RESIZE_PENDING] = rows  # nothing left to resize on the device
        if FLIP_PENDING in batch:  # mix mirrored clips, not clips still to be mirrored with their partner
            video = hflip_flagged(video, batch[FLIP_PENDING])
            batch[FLIP_PENDING] = torch.zeros_like(torch.as_tensor(batch[FLIP_PENDING]))
        video, target, lam, _ = self.mix(video, label)
        batch["hard_label"] = label
        batch["video"], batch["label"], batch["mix_lambda"] = video, target, lam
        return batch
