"""MVFNet (Wu et al., AAAI 2021): multi-view fusion before ``conv1`` of residual blocks.

For a fraction ``alpha`` (0.5) of the block's input channels, channel-wise (depthwise) 3-tap convs
along T, H and W are summed, batch-normalised and passed through hard-swish; the other channels pass
unchanged. Stages are chosen by ``mvf_freq`` (upstream PyVideoAI: (0, 0, 1, 1) = layer3 and layer4).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .backbones import build_resnet, imagenet_cfg
from .registry import register_model
from .segment import Segment2DModel, reject_unknown_kwargs
from .temporal_shift import conv2d_config

MVF_ALPHA = 0.5
MVF_FREQ = (0, 0, 1, 1)
MVF_DROPOUT = 0.8  # upstream MVFNet class default (the mvf_resnet50 config keeps it)
MVF_OPTIONS = ("dropout", "partial_bn", "mvf_alpha", "mvf_freq", "crop_size")


class MVFConv2d(nn.Conv2d):
    """A Conv2d preceded by a multi-view fusion of its first ``alpha`` fraction of input channels.

    The conv keeps its plain key names (``conv1.weight``) so ImageNet weights load unchanged; the
    fusion adds ``shift_conv``/``h_conv``/``w_conv``/``bn`` children.
    """

    def __init__(self, *args, num_segments: int = 8, alpha: float = MVF_ALPHA, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.num_segments = num_segments
        self.mvf_channels = int(self.in_channels * alpha)
        c = self.mvf_channels
        if c > 0:
            self.shift_conv = nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0), groups=c, bias=False)
            self.h_conv = nn.Conv3d(c, c, (1, 3, 1), padding=(0, 1, 0), groups=c, bias=False)
            self.w_conv = nn.Conv3d(c, c, (1, 1, 3), padding=(0, 0, 1), groups=c, bias=False)
            self.bn = nn.BatchNorm3d(c)
            self.act = nn.Hardswish()
            for conv in (self.shift_conv, self.h_conv, self.w_conv):  # upstream: He init over the 3 taps
                nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / (3 * c)))

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, num_segments: int, alpha: float) -> MVFConv2d:
        """Copy ``conv`` (configuration and weights) into a fusing conv."""
        new = cls(**conv2d_config(conv), num_segments=num_segments, alpha=alpha)
        new.weight.data.copy_(conv.weight.data)
        if conv.bias is not None:
            new.bias.data.copy_(conv.bias.data)
        return new

    def fuse(self, x: torch.Tensor) -> torch.Tensor:
        """The multi-view fusion alone, (N*T, C, H, W) -> (N*T, C, H, W)."""
        c = self.mvf_channels
        if c == 0:
            return x
        nt, ch, h, w = x.shape
        t = self.num_segments
        v = x.view(nt // t, t, ch, h, w).transpose(1, 2)  # N, C, T, H, W
        part = v[:, :c]
        fused = self.act(self.bn(self.shift_conv(part) + self.h_conv(part) + self.w_conv(part)))
        out = torch.cat([fused, v[:, c:]], dim=1)
        return out.transpose(1, 2).reshape(nt, ch, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.fuse(x))


def insert_mvf(
    resnet: nn.Module, num_segments: int, alpha: float = MVF_ALPHA, mvf_freq: tuple[int, ...] = MVF_FREQ
) -> int:
    """Replace ``conv1`` of every block in the stages flagged by ``mvf_freq``; returns the count."""
    if len(mvf_freq) != 4:
        raise ValueError(f"mvf_freq needs one flag per ResNet stage (4), got {mvf_freq!r}")
    count = 0
    for flag, stage in zip(
        mvf_freq, (resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4), strict=True
    ):
        if flag:
            for block in stage:
                block.conv1 = MVFConv2d.from_conv(block.conv1, num_segments, alpha)
                count += 1
    return count


class MVF(Segment2DModel):
    """MVFNet: TSN-style average consensus over a ResNet with multi-view fusion blocks."""


def _mvf(depth: int, num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> MVF:
    name = f"mvf_resnet{depth}"
    backbone, nf = build_resnet(depth, in_channels)
    alpha, freq = kw.pop("mvf_alpha", MVF_ALPHA), tuple(kw.pop("mvf_freq", MVF_FREQ))
    insert_mvf(backbone, num_frames, alpha, freq)
    cfg = imagenet_cfg(name, num_frames, in_channels, kw.pop("crop_size", 224))
    cfg.update(mvf_alpha=alpha, mvf_freq=freq)
    dropout, partial_bn = kw.pop("dropout", MVF_DROPOUT), kw.pop("partial_bn", False)
    reject_unknown_kwargs(name, kw, MVF_OPTIONS)
    return MVF(backbone, nf, num_classes, num_frames, dropout, cfg, partial_bn=partial_bn)


@register_model(options=MVF_OPTIONS)
def mvf_resnet18(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> MVF:
    """MVFNet (alpha 0.5, mvf_freq (0,0,1,1)), ResNet-18 backbone."""
    return _mvf(18, num_classes, num_frames, in_channels, **kw)


@register_model(options=MVF_OPTIONS)
def mvf_resnet34(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> MVF:
    """MVFNet (alpha 0.5, mvf_freq (0,0,1,1)), ResNet-34 backbone."""
    return _mvf(34, num_classes, num_frames, in_channels, **kw)


@register_model(options=MVF_OPTIONS)
def mvf_resnet50(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> MVF:
    """MVFNet (alpha 0.5, mvf_freq (0,0,1,1)), ResNet-50 backbone."""
    return _mvf(50, num_classes, num_frames, in_channels, **kw)


@register_model(options=MVF_OPTIONS)
def mvf_resnet101(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> MVF:
    """MVFNet (alpha 0.5, mvf_freq (0,0,1,1)), ResNet-101 backbone."""
    return _mvf(101, num_classes, num_frames, in_channels, **kw)
