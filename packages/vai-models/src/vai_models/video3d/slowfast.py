"""SlowFast ResNet-50 in PySlowFast's 8×8 setting (``SLOWFAST_8x8_R50``: alpha 4, beta 1/8).

The model takes one ``(N, C, T, H, W)`` clip (T = 32 by default): the Fast pathway sees every frame,
the Slow pathway ``T / alpha`` frames picked by evenly spaced indices (PySlowFast's ``PackPathway``).
After the stem and res2–res4 a time-strided ``7×1×1`` convolution maps Fast features to
``2 × channels`` at the Slow frame rate and they are concatenated onto the Slow pathway.
"""

from __future__ import annotations

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
from .resnet3d import STAGE_BLOCKS_R50, ResNet3dTrunk, expand_kernels, zero_init_residual_bn

# PySlowFast's ``_TEMPORAL_KERNEL_BASIS["slowfast"]``: (stem, res2, res3, res4, res5) per pathway.
SLOW_KERNELS = (1, 1, 1, 3, 3)
FAST_KERNELS = (5, 3, 3, 3, 3)


class FuseFastToSlow(nn.Module):
    """Lateral connection: ``ReLU(BN(Conv3d(c, ratio·c, (k,1,1), stride=(alpha,1,1))))`` of Fast features."""

    def __init__(self, channels: int, alpha: int, ratio: int = 2, kernel: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv3d(
            channels,
            channels * ratio,
            (kernel, 1, 1),
            stride=(alpha, 1, 1),
            padding=(kernel // 2, 0, 0),
            bias=False,
        )
        self.bn = nn.BatchNorm3d(channels * ratio)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        lateral = self.relu(self.bn(self.conv(fast)))
        if lateral.shape[2] != slow.shape[2]:
            raise ValueError(
                f"SlowFast lateral has {lateral.shape[2]} frames but the Slow pathway {slow.shape[2]}; "
                "use a clip length divisible by alpha"
            )
        return torch.cat([slow, lateral], dim=1)


class SlowFast(ClassifierMixin, PySlowFastCheckpointMixin, nn.Module):
    """Two ResNet-50 pathways (``slow``, ``fast``) with lateral fusions ``fuse_stem``, ``fuse_layer1..3``.

    Features are the concatenated global average pools of both pathways: 2048 + 256 = 2304 for R50.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        alpha: int = 4,
        beta_inv: int = 8,
        fusion_ratio: int = 2,
        fusion_kernel: int = 7,
        width: int = 64,
        stage_blocks: tuple[int, ...] = STAGE_BLOCKS_R50,
        dropout: float = 0.5,
        zero_init_residual: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.alpha = alpha
        fast_width = width // beta_inv
        self.fast = ResNet3dTrunk(
            in_channels,
            FAST_KERNELS[0],
            [[k] * n for k, n in zip(FAST_KERNELS[1:], stage_blocks, strict=True)],
            fast_width,
        )
        fast_channels = [fast_width, *self.fast.stage_out_channels[:3]]  # fused after stem, res2, res3, res4
        self.slow = ResNet3dTrunk(
            in_channels,
            SLOW_KERNELS[0],
            [expand_kernels([k], n) for k, n in zip(SLOW_KERNELS[1:], stage_blocks, strict=True)],
            width,
            extra_in_channels=[c * fusion_ratio for c in fast_channels],
        )
        names = ("fuse_stem", "fuse_layer1", "fuse_layer2", "fuse_layer3")
        for name, channels in zip(names, fast_channels, strict=True):
            self.add_module(name, FuseFastToSlow(channels, alpha, fusion_ratio, fusion_kernel))
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.num_features = self.slow.out_channels + self.fast.out_channels
        self.dropout = nn.Dropout(dropout)
        init_conv_bn(self)
        zero_init_residual_bn(self, bottlenecks=zero_init_residual)
        self.fc = make_classifier(self.num_features, num_classes)

    def split_pathways(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(slow, fast)`` inputs: ``T // alpha`` evenly spaced frames, and the whole clip."""
        t = x.shape[2]
        if t < self.alpha or t % self.alpha:
            raise ValueError(f"SlowFast needs a clip length divisible by alpha={self.alpha}, got T={t}")
        index = torch.linspace(0, t - 1, t // self.alpha, device=x.device).long()
        return x.index_select(2, index), x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenated pooled Slow and Fast res5 features ``(N, num_features)``."""
        check_clip(x, self, self.in_channels)
        slow, fast = self.split_pathways(x)
        slow, fast = self.slow.stem(slow), self.fast.stem(fast)
        fusions = (self.fuse_stem, self.fuse_layer1, self.fuse_layer2, self.fuse_layer3)
        for fuse, slow_stage, fast_stage in zip(fusions, self.slow.stages(), self.fast.stages(), strict=True):
            slow = slow_stage(fuse(slow, fast))
            fast = fast_stage(fast)
        return torch.cat([self.avgpool(slow).flatten(1), self.avgpool(fast).flatten(1)], dim=1)


@register_model(options=init_options(SlowFast, "crop_size"), default_num_frames=32)  # 8x8: 32 Fast frames
def slowfast_resnet50(num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any) -> SlowFast:
    """SlowFast 8×8 ResNet-50 (32-frame input, Slow pathway 8 frames); PySlowFast ``SLOWFAST_8x8_R50``."""
    crop_size = kwargs.pop("crop_size", 224)
    model = SlowFast(num_classes, in_channels, **kwargs)
    model.default_cfg = video_cfg(
        "slowfast_resnet50", num_frames, crop_size, in_channels, test_input_size=(8, 32, 32)
    )
    return model
