"""Wrappers giving torchvision's video models (r3d_18, r2plus1d_18, s3d, mvit_v2_s, swin3d_t/s/b) the vai interface.

Each wrapper adopts the torchvision model's sub-modules under their torchvision names and replaces
only the classifier with vai's ``dropout`` + ``fc``, so a torchvision Kinetics checkpoint loads
after :meth:`TorchvisionVideo.checkpoint_filter_fn` renames its classifier keys. Weights are never
downloaded: the models are built with ``weights=None``.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torchvision.models import video as tvv

from ..checks import check_clip
from ..registry import register_model
from ._common import (
    KINETICS_MEAN,
    KINETICS_STD,
    ClassifierMixin,
    make_classifier,
    video_cfg,
)

# torchvision's Kinetics-400 statistics for the r3d/r2plus1d/s3d recipes (mvit_v2_s uses 0.45/0.225)
TV_KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
TV_KINETICS_STD = (0.22803, 0.22145, 0.216989)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _replace_conv_input(conv: nn.Conv3d, in_channels: int) -> nn.Conv3d:
    """A copy of ``conv`` taking ``in_channels`` inputs (fresh init), or ``conv`` itself for 3 channels."""
    if in_channels == conv.in_channels:
        return conv
    new = nn.Conv3d(
        in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        bias=conv.bias is not None,
    )
    nn.init.kaiming_normal_(new.weight, mode="fan_out", nonlinearity="relu")
    if new.bias is not None:
        nn.init.zeros_(new.bias)
    return new


class TorchvisionVideo(ClassifierMixin, nn.Module):
    """Base wrapper: the torchvision model's children minus its classifier, plus ``dropout`` and ``fc``.

    ``classifier_keys`` maps the torchvision classifier's state_dict keys to ``fc`` keys for
    :meth:`checkpoint_filter_fn`.
    """

    classifier_name = "fc"
    classifier_keys: dict[str, str] = {"fc.weight": "fc.weight", "fc.bias": "fc.bias"}

    def __init__(
        self, tv_model: nn.Module, num_features: int, num_classes: int, in_channels: int, dropout: float
    ):
        super().__init__()
        for name, child in tv_model.named_children():
            if name != self.classifier_name:
                self.add_module(name, child)
        self.in_channels = in_channels
        self.num_features = num_features
        self.dropout = nn.Dropout(dropout)
        self.fc = make_classifier(num_features, num_classes)

    def checkpoint_filter_fn(self, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Rename a torchvision checkpoint's classifier keys to ``fc`` (1×1×1 conv weights become Linear)."""
        out = {}
        for key, value in state_dict.items():
            key = key.removeprefix("module.")
            if key in self.classifier_keys:
                key = self.classifier_keys[key]
                value = value.flatten(1) if value.dim() > 2 else value
            out[key] = value
        return out


class VideoResNetWrapper(TorchvisionVideo):
    """r3d_18 / r2plus1d_18: stem, four residual stages, global pool → 512-d features."""

    def __init__(self, tv_model: nn.Module, num_classes: int, in_channels: int, dropout: float) -> None:
        tv_model.stem[0] = _replace_conv_input(tv_model.stem[0], in_channels)
        super().__init__(tv_model, tv_model.fc.in_features, num_classes, in_channels, dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self, self.in_channels)
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.avgpool(x).flatten(1)


class S3DWrapper(TorchvisionVideo):
    """S3D: separable-conv Inception trunk; features are the global average of the 1024-d map.

    torchvision averages 2×7×7 windows before its 1×1×1 classifier; a global average accepts any
    input of at least 5 frames and 17×17 pixels (smaller clips pool to nothing and are refused with
    one line) and equals it up to border weighting.
    """

    classifier_name = "classifier"
    classifier_keys = {"classifier.1.weight": "fc.weight", "classifier.1.bias": "fc.bias"}

    def __init__(self, tv_model: nn.Module, num_classes: int, in_channels: int, dropout: float) -> None:
        stem = tv_model.features[0][0]
        stem[0] = _replace_conv_input(stem[0], in_channels)
        super().__init__(tv_model, tv_model.classifier[1].in_channels, num_classes, in_channels, dropout)
        self.avgpool = nn.AdaptiveAvgPool3d(1)

    #: the smallest clip the trunk's strided convs and pools leave non-empty: T is halved 3 times
    #: (the last 2×2×2 pool floors, so T >= 5) and H, W 5 times (H, W >= 17)
    min_frames, min_size = 5, 17

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self, self.in_channels)
        t, h, w = x.shape[2:]
        if t < self.min_frames or h < self.min_size or w < self.min_size:
            raise ValueError(
                f"s3d needs clips of at least {self.min_frames} frames and {self.min_size}x{self.min_size} "
                f"pixels (its pooling halves T 3 times and H, W 5 times), got T={int(t)}, H={int(h)}, "
                f"W={int(w)}; sample more frames or use a larger crop"
            )
        return self.avgpool(self.features(x)).flatten(1)


class MViTWrapper(TorchvisionVideo):
    """MViTv2-S: the class token after the last block and norm (768-d).

    The token grid is read from the patch embedding's output, so any clip size works: torchvision
    interpolates the relative-position tables (built for 16×224²) to the actual grid.
    """

    classifier_name = "head"
    classifier_keys = {"head.1.weight": "fc.weight", "head.1.bias": "fc.bias"}

    def __init__(self, tv_model: nn.Module, num_classes: int, in_channels: int, dropout: float) -> None:
        tv_model.conv_proj = _replace_conv_input(tv_model.conv_proj, in_channels)
        super().__init__(tv_model, tv_model.head[1].in_features, num_classes, in_channels, dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self, self.in_channels)
        x = self.conv_proj(x)
        thw = tuple(x.shape[2:])
        x = self.pos_encoding(x.flatten(2).transpose(1, 2))
        for block in self.blocks:
            x, thw = block(x, thw)
        return self.norm(x)[:, 0]


class Swin3DWrapper(TorchvisionVideo):
    """Video Swin-T/S/B: patch embedding (2×4×4), four shifted-window stages, norm, global pool (768-d for
    T and S, 1024-d for B)."""

    classifier_name = "head"
    classifier_keys = {"head.weight": "fc.weight", "head.bias": "fc.bias"}

    def __init__(self, tv_model: nn.Module, num_classes: int, in_channels: int, dropout: float) -> None:
        tv_model.patch_embed.proj = _replace_conv_input(tv_model.patch_embed.proj, in_channels)
        super().__init__(tv_model, tv_model.head.in_features, num_classes, in_channels, dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self, self.in_channels)
        x = self.norm(self.features(self.pos_drop(self.patch_embed(x))))
        return self.avgpool(x.permute(0, 4, 1, 2, 3)).flatten(1)


def _tv_options(model_cls: type, *names: str) -> tuple[str, ...]:
    """``crop_size`` and ``dropout`` (vai's head) plus the torchvision constructor keywords ``names``
    that the torchvision builder lets through (those it does not fix itself), as far as this
    torchvision version has them."""
    params = inspect.signature(model_cls.__init__).parameters
    return ("crop_size", "dropout", *(n for n in names if n in params))


def _build(
    name: str,
    wrapper: Callable[..., TorchvisionVideo],
    factory: Callable[..., nn.Module],
    num_classes: int,
    num_frames: int,
    in_channels: int,
    kwargs: dict[str, Any],
    *,
    crop_size: int = 224,
    dropout: float = 0.0,
    mean: tuple[float, ...] = TV_KINETICS_MEAN,
    std: tuple[float, ...] = TV_KINETICS_STD,
    test_input_size: tuple[int, int, int] = (4, 32, 32),
) -> TorchvisionVideo:
    """Build torchvision's ``factory(weights=None)`` and wrap it; ``crop_size``/``dropout`` kwargs override."""
    crop_size = kwargs.pop("crop_size", crop_size)
    dropout = kwargs.pop("dropout", dropout)
    model = wrapper(factory(weights=None, **kwargs), num_classes, in_channels, dropout)
    model.default_cfg = video_cfg(
        name, num_frames, crop_size, in_channels, mean=mean, std=std, test_input_size=test_input_size
    )
    return model


_RESNET_OPTIONS = _tv_options(tvv.VideoResNet, "zero_init_residual")
_S3D_OPTIONS = _tv_options(sys.modules[tvv.s3d.__module__].S3D, "norm_layer")
# (spatial_size and temporal_size: mvit_v2_s sets them itself, from crop_size and the clip length)
_MVIT_OPTIONS = _tv_options(
    tvv.MViT,
    "attention_dropout",
    "stochastic_depth_prob",
    "norm_layer",
    "block",
    "patch_embed_kernel",
    "patch_embed_stride",
    "patch_embed_padding",
)
_SWIN_OPTIONS = _tv_options(
    tvv.SwinTransformer3d,
    "mlp_ratio",
    "attention_dropout",
    "norm_layer",
    "block",
    "downsample_layer",
    "patch_embed",
)


@register_model(options=_RESNET_OPTIONS, default_num_frames=16)
def r3d_18(num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any) -> TorchvisionVideo:
    """torchvision R3D-18 (3×3×3 ResNet-18), 112² crop, 16 frames in its Kinetics recipe."""
    return _build(
        "r3d_18", VideoResNetWrapper, tvv.r3d_18, num_classes, num_frames, in_channels, kwargs, crop_size=112
    )


@register_model(options=_RESNET_OPTIONS, default_num_frames=16)
def r2plus1d_18(num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any) -> TorchvisionVideo:
    """torchvision R(2+1)D-18 (factorised 1×3×3 + 3×1×1 convs), 112² crop."""
    return _build(
        "r2plus1d_18",
        VideoResNetWrapper,
        tvv.r2plus1d_18,
        num_classes,
        num_frames,
        in_channels,
        kwargs,
        crop_size=112,
    )


@register_model(options=_S3D_OPTIONS, default_num_frames=16)
def s3d(num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any) -> TorchvisionVideo:
    """torchvision S3D (separable 3D Inception), 224² crop, dropout 0.2 as torchvision."""
    return _build(
        "s3d",
        S3DWrapper,
        tvv.s3d,
        num_classes,
        num_frames,
        in_channels,
        kwargs,
        dropout=0.2,
        test_input_size=(16, 32, 32),
    )


@register_model(options=_MVIT_OPTIONS, default_num_frames=16)
def mvit_v2_s(num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any) -> TorchvisionVideo:
    """torchvision MViTv2-S (16×224² in its recipe; other clip sizes interpolate the relative positions)."""
    return _build(
        "mvit_v2_s",
        MViTWrapper,
        tvv.mvit_v2_s,
        num_classes,
        num_frames,
        in_channels,
        kwargs,
        dropout=0.5,
        mean=KINETICS_MEAN,
        std=KINETICS_STD,
    )


def _swin_builder(name: str, doc: str) -> Callable[..., TorchvisionVideo]:
    """Register torchvision's Video Swin ``name`` (ImageNet statistics, 224² crop, 32 frames) as a builder."""
    factory = getattr(tvv, name)

    def builder(num_classes: int, num_frames: int, in_channels: int = 3, **kwargs: Any) -> TorchvisionVideo:
        return _build(
            name,
            Swin3DWrapper,
            factory,
            num_classes,
            num_frames,
            in_channels,
            kwargs,
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
        )

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = doc
    return register_model(builder, options=_SWIN_OPTIONS, default_num_frames=32)


swin3d_t = _swin_builder(
    "swin3d_t", "torchvision Video Swin-T (patch 2×4×4, window 8×7×7), ImageNet statistics."
)
swin3d_s = _swin_builder("swin3d_s", "torchvision Video Swin-S (Swin-T's widths, 18 blocks in stage 3).")
swin3d_b = _swin_builder("swin3d_b", "torchvision Video Swin-B (embedding 128, 1024-d features).")
