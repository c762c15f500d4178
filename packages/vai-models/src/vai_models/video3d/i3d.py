"""I3D ResNet-50 and I3D-NL ResNet-50 in PySlowFast's 8×8 setting (``I3D_8x8_R50``, ``I3D_NLN_8x8_R50``).

conv1 is 5×7×7; res2 blocks use temporal kernel 3; res3/res4 alternate 3,1; res5 alternates 1,3;
a 2×1×1 temporal max-pool follows res2 (as in PySlowFast and video-nonlocal-net). The non-local
variant adds blocks after res3 blocks 1, 3 and res4 blocks 1, 3, 5; ``i3d_nopool_resnet50`` drops the
temporal pool (upstream PyVideoAI's ``i3dnopool_resnet50``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..checks import check_clip
from ..registry import register_model
from ._common import (
    CAFFE2_MEAN,
    CAFFE2_STD,
    ClassifierMixin,
    init_conv_bn,
    init_options,
    make_classifier,
    video_cfg,
)
from .pyslowfast import PySlowFastCheckpointMixin
from .resnet3d import STAGE_BLOCKS_R50, ResNet3dTrunk, expand_kernels, zero_init_residual_bn

# PySlowFast's ``_TEMPORAL_KERNEL_BASIS["i3d"]``: stem, then per stage the cycle of block kernels.
I3D_STEM_KERNEL = 5
I3D_STAGE_BASIS = ((3,), (3, 1), (3, 1), (1, 3))
I3D_NL_INDICES = ((), (1, 3), (1, 3, 5), ())


class I3DResNet(ClassifierMixin, PySlowFastCheckpointMixin, ResNet3dTrunk):
    """Inflated 3D ResNet: stem, res2, temporal max-pool, res3–res5, global average pool, dropout, fc.

    Keys match torchvision's ``resnet50`` (plus ``.nl`` non-local modules), so
    :func:`vai_models.video3d.inflate_resnet2d_state_dict` maps an ImageNet checkpoint one-to-one.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        stage_blocks: Sequence[int] = STAGE_BLOCKS_R50,
        width: int = 64,
        stem_kernel: int = I3D_STEM_KERNEL,
        stage_basis: Sequence[Sequence[int]] = I3D_STAGE_BASIS,
        nonlocal_indices: Sequence[Sequence[int]] = ((), (), (), ()),
        nonlocal_mode: str = "softmax",
        temporal_pool: bool = True,
        dropout: float = 0.5,
        zero_init_residual: bool = True,
    ) -> None:
        kernels = [expand_kernels(b, n) for b, n in zip(stage_basis, stage_blocks, strict=True)]
        super().__init__(
            in_channels,
            stem_kernel,
            kernels,
            width=width,
            nonlocal_indices=nonlocal_indices,
            nonlocal_mode=nonlocal_mode,
        )
        self.in_channels = in_channels
        self.pool2 = nn.MaxPool3d((2, 1, 1), (2, 1, 1)) if temporal_pool else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.num_features = self.out_channels
        self.dropout = nn.Dropout(dropout)
        init_conv_bn(self)
        zero_init_residual_bn(self, bottlenecks=zero_init_residual)
        self.fc = make_classifier(self.num_features, num_classes)

    def forward_feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The res5 output ``(N, num_features, T', H', W')`` before pooling (T' = T/2 with the temporal pool)."""
        check_clip(x, self, self.in_channels)
        x = self.layer1(self.stem(x))
        x = self.pool2(x)
        return self.layer4(self.layer3(self.layer2(x)))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled res5 features ``(N, num_features)``."""
        return self.avgpool(self.forward_feature_map(x)).flatten(1)


I3D_OPTIONS = init_options(I3DResNet, "crop_size")


def _i3d_cfg(name: str, num_frames: int, in_channels: int, crop_size: int) -> dict:
    # caffe2 K-400 weights (I3D_8x8_R50.pkl) expect raw [0, 255] RGB normalised by 114.75 / 57.375
    return video_cfg(
        name,
        num_frames,
        crop_size,
        in_channels,
        mean=CAFFE2_MEAN,
        std=CAFFE2_STD,
        input_range=255.0,
        test_input_size=(4, 32, 32),
    )


@register_model(options=I3D_OPTIONS, default_num_frames=8)
def i3d_resnet50(num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any) -> I3DResNet:
    """I3D ResNet-50, PySlowFast ``I3D_8x8_R50`` (8 frames, stride 8, 224² crop)."""
    crop_size = kwargs.pop("crop_size", 224)
    model = I3DResNet(num_classes, in_channels, **kwargs)
    model.default_cfg = _i3d_cfg("i3d_resnet50", num_frames, in_channels, crop_size)
    return model


@register_model(options=I3D_OPTIONS, default_num_frames=8)
def i3d_nopool_resnet50(num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any) -> I3DResNet:
    """I3D ResNet-50 without the temporal max-pool after res2 (upstream's ``i3dnopool_resnet50``): T kept to res5."""
    crop_size = kwargs.pop("crop_size", 224)
    kwargs.setdefault("temporal_pool", False)
    model = I3DResNet(num_classes, in_channels, **kwargs)
    model.default_cfg = _i3d_cfg("i3d_nopool_resnet50", num_frames, in_channels, crop_size)
    return model


@register_model(options=I3D_OPTIONS, default_num_frames=8)
def i3d_nonlocal_resnet50(
    num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any
) -> I3DResNet:
    """I3D-NL ResNet-50, PySlowFast ``I3D_NLN_8x8_R50``: softmax non-local after res3.{1,3}, res4.{1,3,5}."""
    crop_size = kwargs.pop("crop_size", 224)
    kwargs.setdefault("nonlocal_indices", I3D_NL_INDICES)
    model = I3DResNet(num_classes, in_channels, **kwargs)
    model.default_cfg = _i3d_cfg("i3d_nonlocal_resnet50", num_frames, in_channels, crop_size)
    return model
