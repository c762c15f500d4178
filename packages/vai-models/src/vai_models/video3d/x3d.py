"""X3D (Feichtenhofer 2020) as in PySlowFast's ``X3D_XS/S/M/L`` configs (XS, S and M share one network).

Base widths 24/48/96/192 (``DIM_C1`` 12 × width factor 2), depths ``ceil(2.2 × [1, 2, 5, 3])`` =
3/5/11/7, inner width 2.25 × the stage width, channel-wise 3×3×3 convolutions, squeeze-excitation
on every other block, swish after the depthwise conv, and a 1×1×1 "conv5" + 2048-d "lin5" head.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..checks import check_clip
from ..registry import register_model
from ._common import (
    ClassifierMixin,
    init_conv_bn,
    init_options,
    make_classifier,
    video_cfg,
)
from .pyslowfast import PySlowFastCheckpointMixin


def round_width(width: float, multiplier: float, divisor: int = 8) -> int:
    """Scale ``width`` and round to a multiple of ``divisor`` without losing more than 10%."""
    width *= multiplier
    new = max(divisor, int(width + divisor / 2) // divisor * divisor)
    if new < 0.9 * width:
        new += divisor
    return int(new)


class SqueezeExcite3d(nn.Module):
    """Channel gating: global pool → 1×1×1 conv → ReLU → 1×1×1 conv → sigmoid → scale."""

    def __init__(self, channels: int, ratio: float = 0.0625) -> None:
        super().__init__()
        hidden = round_width(channels, ratio)
        self.fc1 = nn.Conv3d(channels, hidden, 1)
        self.fc2 = nn.Conv3d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3, 4), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))


class X3DBlock(nn.Module):
    """1×1×1 expand → BN-ReLU → channel-wise 3×3×3 (spatial stride) → BN [→ SE] → swish → 1×1×1 → BN, + skip."""

    def __init__(self, in_channels: int, out_channels: int, inner: int, stride: int, use_se: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(in_channels, inner, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(inner)
        self.conv2 = nn.Conv3d(
            inner, inner, 3, stride=(1, stride, stride), padding=1, groups=inner, bias=False
        )
        self.bn2 = nn.BatchNorm3d(inner)
        self.se = SqueezeExcite3d(inner) if use_se else None
        self.conv3 = nn.Conv3d(inner, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.swish = nn.SiLU()
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 1, stride=(1, stride, stride), bias=False),
                nn.BatchNorm3d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.se is not None:
            out = self.se(out)
        out = self.bn3(self.conv3(self.swish(out)))
        return self.relu(out + identity)


class X3DStem(nn.Module):
    """1×3×3 conv (spatial stride 2) followed by a channel-wise ``kt×1×1`` conv, BN, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, temporal_kernel: int = 5) -> None:
        super().__init__()
        self.conv_xy = nn.Conv3d(
            in_channels, out_channels, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False
        )
        self.conv_t = nn.Conv3d(
            out_channels,
            out_channels,
            (temporal_kernel, 1, 1),
            padding=(temporal_kernel // 2, 0, 0),
            groups=out_channels,
            bias=False,
        )
        self.bn = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv_t(self.conv_xy(x))))


class X3D(ClassifierMixin, PySlowFastCheckpointMixin, nn.Module):
    """X3D network: stem, four stages ``layer1..4`` of :class:`X3DBlock`, conv5 + lin5 head, dropout, fc."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        width_factor: float = 2.0,
        depth_factor: float = 2.2,
        bottleneck_factor: float = 2.25,
        dim_c1: int = 12,
        dim_c5: int = 2048,
        se_ratio: float = 0.0625,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        stem_width = round_width(dim_c1, width_factor)
        self.stem = X3DStem(in_channels, stem_width)
        channels = stem_width
        base = dim_c1
        for i, repeats in enumerate((1, 2, 5, 3)):
            base = base if i == 0 else round_width(base, 2.0)
            out = round_width(base, width_factor)
            inner = int(bottleneck_factor * out)
            if inner < 1:
                raise ValueError(
                    f"bottleneck_factor={bottleneck_factor} gives stage {i + 1}'s {out} channels a bottleneck of"
                    f" 0 channels: use bottleneck_factor >= {1 / out:.3g}"
                )
            blocks = [
                X3DBlock(
                    channels if j == 0 else out, out, inner, 2 if j == 0 else 1, se_ratio > 0 and j % 2 == 0
                )
                for j in range(math.ceil(depth_factor * repeats))
            ]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            channels = out
        self.conv5 = nn.Conv3d(channels, inner, 1, bias=False)
        self.bn5 = nn.BatchNorm3d(inner)
        self.lin5 = nn.Conv3d(inner, dim_c5, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.num_features = dim_c5
        self.dropout = nn.Dropout(dropout)
        init_conv_bn(self)
        for m in self.modules():  # zero the last BN of each residual branch (PySlowFast default)
            if isinstance(m, X3DBlock):
                nn.init.zeros_(m.bn3.weight)
        self.fc = make_classifier(self.num_features, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """conv5 features pooled over space-time, then the 2048-d lin5 projection ``(N, 2048)``."""
        check_clip(x, self, self.in_channels)
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        x = self.avgpool(self.relu(self.bn5(self.conv5(x))))
        return self.relu(self.lin5(x)).flatten(1)


X3D_OPTIONS = init_options(X3D, "crop_size")


def _x3d(name: str, num_classes: int, num_frames: int, in_channels: int, crop: int, kwargs: dict) -> X3D:
    crop_size = kwargs.pop("crop_size", crop)
    model = X3D(num_classes, in_channels, **kwargs)
    model.default_cfg = video_cfg(name, num_frames, crop_size, in_channels, test_input_size=(4, 32, 32))
    return model


@register_model(options=X3D_OPTIONS, default_num_frames=4)  # the PySlowFast recipe's clip
def x3d_xs(num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any) -> X3D:
    """X3D-XS: the X3D-M network on 4 frames (sampling rate 12) at 160² (PySlowFast ``X3D_XS``)."""
    return _x3d("x3d_xs", num_classes, num_frames, in_channels, 160, kwargs)


@register_model(options=X3D_OPTIONS, default_num_frames=13)  # the PySlowFast recipe's clip
def x3d_s(num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any) -> X3D:
    """X3D-S: the X3D-M network on 13 frames (sampling rate 6) at 160² (PySlowFast ``X3D_S``)."""
    return _x3d("x3d_s", num_classes, num_frames, in_channels, 160, kwargs)


@register_model(options=X3D_OPTIONS, default_num_frames=16)  # the PySlowFast recipe's clip
def x3d_m(num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any) -> X3D:
    """X3D-M: 16 frames (sampling rate 5), 224² crop, Kinetics statistics on [0, 1] input."""
    return _x3d("x3d_m", num_classes, num_frames, in_channels, 224, kwargs)


@register_model(options=X3D_OPTIONS, default_num_frames=16)  # the PySlowFast recipe's clip
def x3d_l(num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any) -> X3D:
    """X3D-L: depth factor 5.0 (stages of 5/10/25/15 blocks), 16 frames at 312² (PySlowFast ``X3D_L``)."""
    kwargs.setdefault("depth_factor", 5.0)
    return _x3d("x3d_l", num_classes, num_frames, in_channels, 312, kwargs)
