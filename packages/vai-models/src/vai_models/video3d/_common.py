"""Pieces shared by the 3D video models: ``default_cfg`` records, the classifier head, input checks, init."""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
from torch import nn

from ..checks import check_int

KINETICS_MEAN = (0.45, 0.45, 0.45)  # PySlowFast's Kinetics statistics for [0, 1] input
KINETICS_STD = (0.225, 0.225, 0.225)
CAFFE2_MEAN = (114.75, 114.75, 114.75)  # the same statistics for raw [0, 255] input (caffe2 I3D weights)
CAFFE2_STD = (57.375, 57.375, 57.375)


def video_cfg(
    architecture: str,
    num_frames: int,
    crop_size: int,
    in_channels: int = 3,
    *,
    mean: Sequence[float] = KINETICS_MEAN,
    std: Sequence[float] = KINETICS_STD,
    input_range: float = 1.0,
    bgr: bool = False,
    test_input_size: tuple[int, int, int] | None = None,
) -> dict:
    """The ``default_cfg`` dict of a 3D model: input statistics, value range, crop and clip length.

    Statistics given for RGB are repeated/averaged to ``in_channels`` so a grey or flow model still
    gets one value per channel.
    """
    mean, std = list(mean), list(std)
    if in_channels != len(mean):
        mean = [sum(mean) / len(mean)] * in_channels
        std = [sum(std) / len(std)] * in_channels
    cfg = {
        "architecture": architecture,
        "mean": mean,
        "std": std,
        "input_range": float(input_range),
        "bgr": bool(bgr),
        "crop_size": int(crop_size),
        "num_frames": int(num_frames),
        "in_channels": int(in_channels),
    }
    if test_input_size is not None:
        cfg["test_input_size"] = tuple(int(v) for v in test_input_size)
    return cfg


def init_options(cls: type, *extra: str) -> tuple[str, ...]:
    """Builder keywords of a model class: ``extra`` (e.g. ``crop_size``) plus its constructor's
    parameters other than ``num_classes`` and ``in_channels`` (for ``create_model``'s option check)."""
    skip = {"self", "num_classes", "in_channels"}
    params = inspect.signature(cls.__init__).parameters.values()
    names = [p.name for p in params if p.name not in skip and p.kind is not p.VAR_KEYWORD]
    return (*extra, *(n for n in names if n not in extra))


def make_classifier(num_features: int, num_classes: int) -> nn.Module:
    """``Linear(num_features, num_classes)`` (std-0.01 init), or Identity when ``num_classes`` is 0."""
    if num_classes <= 0:
        return nn.Identity()
    fc = nn.Linear(num_features, num_classes)
    nn.init.normal_(fc.weight, std=0.01)
    nn.init.zeros_(fc.bias)
    return fc


class ClassifierMixin:
    """``forward``/``get_classifier``/``reset_classifier`` over a subclass's ``forward_features``, ``dropout`` and ``fc``.

    List it before ``nn.Module`` in the bases. Subclasses define ``forward_features`` and set
    ``num_features``, ``dropout`` (an ``nn.Dropout``) and ``fc`` (via ``make_classifier``).
    """

    num_features: int
    dropout: nn.Module
    fc: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` (no softmax: the loss/engine applies it)."""
        return self.fc(self.dropout(self.forward_features(x)))

    def get_classifier(self) -> nn.Module:
        """The final classification layer (``fc``; an Identity when built with 0 classes)."""
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with a fresh one for ``num_classes`` (0 gives pooled features)."""
        num_classes = check_int("num_classes", num_classes, minimum=0)
        ref = next(self.parameters())  # type: ignore[attr-defined]
        self.fc = make_classifier(self.num_features, num_classes).to(device=ref.device, dtype=ref.dtype)


def init_conv_bn(model: nn.Module) -> None:
    """MSRA (fan-out) init for convolutions, unit/zero init for norms, as PySlowFast's ``init_weights``."""
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
