"""torchvision ResNet trunks for the 2D temporal models: ImageNet key names, pooled (B, D) output."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torchvision import models as tvm

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_RESNETS: dict[int, Callable[..., tvm.ResNet]] = {
    18: tvm.resnet18,
    34: tvm.resnet34,
    50: tvm.resnet50,
    101: tvm.resnet101,
}


def build_resnet(depth: int, in_channels: int = 3) -> tuple[tvm.ResNet, int]:
    """A randomly initialised torchvision ResNet with ``fc`` replaced by Identity, and its feature width.

    Keeping torchvision's module names means ImageNet state_dicts load with no renaming.
    """
    if depth not in _RESNETS:
        raise ValueError(f"unsupported ResNet depth {depth}; choose one of {sorted(_RESNETS)}")
    net = _RESNETS[depth](weights=None)
    if in_channels != 3:
        old = net.conv1
        net.conv1 = nn.Conv2d(in_channels, old.out_channels, 7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    num_features = net.fc.in_features
    net.fc = nn.Identity()
    return net, num_features


def imagenet_cfg(architecture: str, num_frames: int, in_channels: int = 3, crop_size: int = 224) -> dict:
    """The ``default_cfg`` dict of a model using ImageNet-normalised RGB input in [0, 1]."""
    if in_channels == 3:
        mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
    else:  # e.g. optical flow stacks or greyscale: one shared statistic per channel
        mean, std = [0.5] * in_channels, [0.226] * in_channels
    return {
        "architecture": architecture,
        "mean": mean,
        "std": std,
        "input_range": 1.0,
        "bgr": False,
        "crop_size": crop_size,
        "num_frames": num_frames,
        "in_channels": in_channels,
    }
