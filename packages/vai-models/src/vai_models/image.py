"""Image classifiers ``resnet18/34/50/101`` (torchvision ResNets) for ImageNet-style training: the
T = 1 case of the clip layout. They accept (N, C, 1, H, W) or (N, C, H, W)."""

from __future__ import annotations

import logging

import torch

from .backbones import build_resnet, imagenet_cfg
from .checks import check_clip
from .registry import register_model
from .segment import Segment2DModel, reject_unknown_kwargs

logger = logging.getLogger(__name__)

IMAGE_OPTIONS = ("dropout", "crop_size")


class ImageResNet(Segment2DModel):
    """A torchvision ResNet with the uniform vai interface; state_dict keys are ``backbone.*`` + ``fc.*``."""

    frames_from_num_frames = False
    accepts_images = True

    def forward_frame_features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:  # plain image batch: checked here, where its own layout is still visible
            check_clip(x, self, self.in_channels, images=True)
            x = x.unsqueeze(2)
        return super().forward_frame_features(x)


def _image(depth: int, num_classes: int, num_frames: int = 1, in_channels: int = 3, **kw) -> ImageResNet:
    name = f"resnet{depth}"
    if num_frames != 1:
        logger.debug("%s is an image model: num_frames=%d ignored (T = 1)", name, num_frames)
    backbone, nf = build_resnet(depth, in_channels)
    cfg = imagenet_cfg(name, 1, in_channels, kw.pop("crop_size", 224))
    dropout = kw.pop("dropout", 0.0)
    reject_unknown_kwargs(name, kw, IMAGE_OPTIONS)
    return ImageResNet(backbone, nf, num_classes, 1, dropout, cfg)


@register_model(options=IMAGE_OPTIONS, default_num_frames=1)
def resnet18(num_classes: int, num_frames: int = 1, in_channels: int = 3, **kw) -> ImageResNet:
    """ResNet-18 image classifier (T = 1)."""
    return _image(18, num_classes, num_frames, in_channels, **kw)


@register_model(options=IMAGE_OPTIONS, default_num_frames=1)
def resnet34(num_classes: int, num_frames: int = 1, in_channels: int = 3, **kw) -> ImageResNet:
    """ResNet-34 image classifier (T = 1)."""
    return _image(34, num_classes, num_frames, in_channels, **kw)


@register_model(options=IMAGE_OPTIONS, default_num_frames=1)
def resnet50(num_classes: int, num_frames: int = 1, in_channels: int = 3, **kw) -> ImageResNet:
    """ResNet-50 image classifier (T = 1)."""
    return _image(50, num_classes, num_frames, in_channels, **kw)


@register_model(options=IMAGE_OPTIONS, default_num_frames=1)
def resnet101(num_classes: int, num_frames: int = 1, in_channels: int = 3, **kw) -> ImageResNet:
    """ResNet-101 image classifier (T = 1)."""
    return _image(101, num_classes, num_frames, in_channels, **kw)
