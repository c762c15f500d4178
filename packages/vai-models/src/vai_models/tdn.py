"""TDN (Wang et al., CVPR 2021): Temporal Difference Networks on a torchvision ResNet.

Input (N, C, 5·S, H, W): S segments of 5 consecutive frames each (upstream's ``tdn`` sampling).
- Short-term TDM (S-TDM): the 4 RGB differences of a segment's 5 frames are stacked (4·C channels),
  average-pooled 2×, encoded by a 7×7 conv + BN + ReLU + max-pool and a copy of ``layer1``; both
  outputs are fused into the centre frame's path after the stem and after ``layer1``:
  ``x = alpha·x + beta·upsample(diff)`` (alpha, beta = 0.5, 0.5 for 8 segments, else 0.75, 0.25).
- Long-term TDM (L-TDM) in every block of layer2-4, between conv1 and conv2: a squeeze conv (C/16),
  forward and backward differences between neighbouring segments (next segment through a depthwise
  3×3 conv), refined at full and 1/2 resolution, expanded back and used as a sigmoid-0.5 excitation
  ``x + x·y``, followed by a learnable channel-wise temporal conv initialised as TSM's shift.
Simplifications against the reference code: one torchvision ResNet (``bias=False`` convs) instead of
two fbresnets; the backward branch uses its own difference at full resolution (the reference code
reuses the forward one there, a typo); ResNet-18/34 get L-TDM on their BasicBlocks at the same place.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import build_resnet, imagenet_cfg
from .registry import register_model
from .segment import Segment2DModel, reject_unknown_kwargs

TDN_DROPOUT = 0.5  # upstream tdn_resnet50 config
FRAMES_PER_SEGMENT = 5
TDN_OPTIONS = ("dropout", "partial_bn", "crop_size")


class LongTermTDM(nn.Module):
    """Multi-scale temporal-difference excitation between neighbouring segments plus a learnable shift."""

    def __init__(self, channels: int, num_segments: int, reduction: int = 16, shift_div: int = 8) -> None:
        super().__init__()
        self.num_segments = num_segments
        r = max(channels // reduction, 1)
        self.squeeze = nn.Conv2d(channels, r, 1, bias=False)
        self.squeeze_bn = nn.BatchNorm2d(r)
        self.neighbour = nn.Conv2d(r, r, 3, padding=1, groups=r, bias=False)
        self.refine_half = nn.Sequential(nn.Conv2d(r, r, 3, padding=1, bias=False), nn.BatchNorm2d(r))
        self.refine_full = nn.Sequential(nn.Conv2d(r, r, 3, padding=1, bias=False), nn.BatchNorm2d(r))
        self.expand = nn.Sequential(nn.Conv2d(r, channels, 1, bias=False), nn.BatchNorm2d(channels))
        # channel-wise temporal conv, initialised to TSM's shift (1/8 left, 1/8 right, rest identity)
        self.shift = nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0), groups=channels, bias=False)
        fold = channels // shift_div
        with torch.no_grad():
            w = torch.zeros_like(self.shift.weight)
            w[:fold, 0, 2] = 1
            w[fold : 2 * fold, 0, 0] = 1
            w[2 * fold :, 0, 1] = 1
            self.shift.weight.copy_(w)

    def _excite(self, diff: torch.Tensor) -> torch.Tensor:
        half = F.avg_pool2d(diff, 2) if min(diff.shape[-2:]) >= 2 else diff
        half = F.interpolate(self.refine_half(half), size=diff.shape[-2:])
        y = self.expand((diff + half + self.refine_full(diff)) / 3)
        return torch.sigmoid(y) - 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        t = self.num_segments
        b = self.squeeze_bn(self.squeeze(x))
        nb = self.neighbour(b)
        b5, nb5 = b.view(nt // t, t, *b.shape[1:]), nb.view(nt // t, t, *nb.shape[1:])
        zero = torch.zeros_like(b5[:, :1])
        fwd = torch.cat([nb5[:, 1:] - b5[:, :-1], zero], dim=1).flatten(0, 1)  # next - current
        bwd = torch.cat([zero, nb5[:, :-1] - b5[:, 1:]], dim=1).flatten(0, 1)  # previous - current
        y = 0.5 * self._excite(fwd) + 0.5 * self._excite(bwd)
        x = x + x * y
        v = x.view(nt // t, t, c, h, w).transpose(1, 2)  # N, C, T, H, W
        return self.shift(v).transpose(1, 2).reshape(nt, c, h, w)


class TDMConv2d(nn.Conv2d):
    """A Conv2d preceded by a :class:`LongTermTDM` (keeps plain conv key names for ImageNet loading)."""

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, num_segments: int) -> TDMConv2d:
        new = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
        )
        new.load_state_dict(conv.state_dict())
        new.tdm = LongTermTDM(conv.in_channels, num_segments)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.tdm(x))


class TDNBackbone(nn.Module):
    """ResNet trunk with S-TDM fusion after the stem and layer1, and L-TDM in layer2-4.

    Takes (B, 5, C, H, W) (B = N·S segments) and returns pooled features (B, D).
    """

    def __init__(self, resnet: nn.Module, num_segments: int, in_channels: int = 3) -> None:
        super().__init__()
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"):
            setattr(self, name, getattr(resnet, name))
        self.alpha, self.beta = (0.5, 0.5) if num_segments == 8 else (0.75, 0.25)
        stem_out = resnet.conv1.out_channels
        self.diff_stem = nn.Sequential(
            nn.Conv2d(in_channels * (FRAMES_PER_SEGMENT - 1), stem_out, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(stem_out),
            nn.ReLU(inplace=True),
        )
        self.diff_layer1 = copy.deepcopy(resnet.layer1)
        for stage in (self.layer2, self.layer3, self.layer4):
            for block in stage:
                block.conv2 = TDMConv2d.from_conv(block.conv2, num_segments)

    def backbone_init_keys(self) -> list[str]:
        """State-dict keys :meth:`init_from_backbone` fills: the difference stem's conv and ``diff_layer1``
        (the stem's BatchNorm keeps its fresh init, as upstream)."""
        return ["diff_stem.0.weight"] + [f"diff_layer1.{k}" for k in self.diff_layer1.state_dict()]

    @torch.no_grad()
    def init_from_backbone(self) -> None:
        """Initialise the S-TDM branch from the (ImageNet-loaded) RGB stem and layer1, as upstream does:
        the difference stem's kernel is the RGB ``conv1`` kernel averaged over its input channels and
        repeated over the 4·C difference channels, and ``diff_layer1`` is a copy of ``layer1``."""
        w = self.conv1.weight.mean(dim=1, keepdim=True)
        self.diff_stem[0].weight.copy_(w.expand_as(self.diff_stem[0].weight))
        self.diff_layer1.load_state_dict(self.layer1.state_dict())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, k, c, h, w = x.shape
        diffs = (x[:, 1:] - x[:, :-1]).reshape(b, (k - 1) * c, h, w)
        d0 = self.maxpool(self.diff_stem(F.avg_pool2d(diffs, 2)))
        d1 = self.diff_layer1(d0)
        y = self.maxpool(self.relu(self.bn1(self.conv1(x[:, k // 2]))))
        y = self.alpha * y + self.beta * F.interpolate(d0, size=y.shape[-2:])
        y = self.layer1(y)
        y = self.alpha * y + self.beta * F.interpolate(d1, size=y.shape[-2:])
        y = self.layer4(self.layer3(self.layer2(y)))
        return torch.flatten(self.avgpool(y), 1)


class TDN(Segment2DModel):
    """Temporal Difference Network: TDN backbone per segment, average consensus over segments."""

    @property
    def input_frames(self) -> int:
        return self.num_frames * FRAMES_PER_SEGMENT

    def _frames_remedy(self, t: int) -> str:
        k = FRAMES_PER_SEGMENT
        rebuild = f"create it with num_frames={t // k} or " if t > 0 and t % k == 0 else ""
        return (
            f"num_frames={self.num_frames} counts segments of {k} frames each, so T must be "
            f"{k}*num_frames: {rebuild}sample {self.input_frames} frames"
        )

    def forward_frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-segment features, shape (N, S, num_features)."""
        self._check_input(x)
        n, c, _, h, w = x.shape
        s = self.num_frames
        seg = x.transpose(1, 2).reshape(n * s, FRAMES_PER_SEGMENT, c, h, w)
        return self.backbone(seg).view(n, s, -1)

    def backbone_init_keys(self) -> list[str]:
        """Model keys that :meth:`init_from_backbone` fills (reported as derived, not missing)."""
        return [f"backbone.{k}" for k in self.backbone.backbone_init_keys()]

    def init_from_backbone(self) -> None:
        """Hook run after an ImageNet ResNet load (``create_model(..., pretrained=...)``,
        :func:`vai_models.load_pretrained` or :func:`vai_models.load_backbone_imagenet`): initialises
        the difference branch from the loaded stem and layer1."""
        self.backbone.init_from_backbone()


def _tdn(depth: int, num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TDN:
    name = f"tdn_resnet{depth}"
    resnet, nf = build_resnet(depth, in_channels)
    backbone = TDNBackbone(resnet, num_frames, in_channels)
    cfg = imagenet_cfg(name, num_frames * FRAMES_PER_SEGMENT, in_channels, kw.pop("crop_size", 224))
    cfg.update(num_segments=num_frames, frames_per_segment=FRAMES_PER_SEGMENT)
    dropout, partial_bn = kw.pop("dropout", TDN_DROPOUT), kw.pop("partial_bn", False)
    reject_unknown_kwargs(name, kw, TDN_OPTIONS)
    return TDN(backbone, nf, num_classes, num_frames, dropout, cfg, partial_bn=partial_bn)


@register_model(options=TDN_OPTIONS)
def tdn_resnet18(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TDN:
    """TDN, ResNet-18; ``num_frames`` = segments, input has 5 frames per segment."""
    return _tdn(18, num_classes, num_frames, in_channels, **kw)


@register_model(options=TDN_OPTIONS)
def tdn_resnet34(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TDN:
    """TDN, ResNet-34; ``num_frames`` = segments, input has 5 frames per segment."""
    return _tdn(34, num_classes, num_frames, in_channels, **kw)


@register_model(options=TDN_OPTIONS)
def tdn_resnet50(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TDN:
    """TDN, ResNet-50; ``num_frames`` = segments, input has 5 frames per segment."""
    return _tdn(50, num_classes, num_frames, in_channels, **kw)


@register_model(options=TDN_OPTIONS)
def tdn_resnet101(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TDN:
    """TDN, ResNet-101; ``num_frames`` = segments, input has 5 frames per segment."""
    return _tdn(101, num_classes, num_frames, in_channels, **kw)
