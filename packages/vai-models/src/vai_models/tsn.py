"""TSN (average consensus) and TSM (TSN + temporal shift) on torchvision ResNets."""

from __future__ import annotations

from .backbones import build_resnet, imagenet_cfg
from .registry import register_model
from .segment import Segment2DModel, reject_unknown_kwargs
from .temporal_shift import insert_temporal_shift

TSN_DROPOUT = 0.7  # upstream PyVideoAI tsn_resnet50 config (models/epic/tsn.py)
TSM_DROPOUT = 0.8  # upstream tsm_resnet50 config (the `_nopartialbn` config used 0.5)
TSM_SHIFT_DIV = 8
TSN_OPTIONS = ("dropout", "partial_bn", "crop_size")
TSM_OPTIONS = ("dropout", "partial_bn", "shift_div", "crop_size")


class TSN(Segment2DModel):
    """Temporal Segment Network: a 2D net on every frame, logits averaged over frames. Any T works."""

    fixed_num_frames = False


class TSM(Segment2DModel):
    """Temporal Shift Module network: TSN whose residual blocks shift channels along time."""


def _tsn(depth: int, num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TSN:
    backbone, nf = build_resnet(depth, in_channels)
    cfg = imagenet_cfg(f"tsn_resnet{depth}", num_frames, in_channels, kw.pop("crop_size", 224))
    dropout, partial_bn = kw.pop("dropout", TSN_DROPOUT), kw.pop("partial_bn", False)
    reject_unknown_kwargs(f"tsn_resnet{depth}", kw, TSN_OPTIONS)
    return TSN(backbone, nf, num_classes, num_frames, dropout, cfg, partial_bn=partial_bn)


def _tsm(depth: int, num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TSM:
    backbone, nf = build_resnet(depth, in_channels)
    shift_div = kw.pop("shift_div", TSM_SHIFT_DIV)
    insert_temporal_shift(backbone, num_frames, shift_div)
    cfg = imagenet_cfg(f"tsm_resnet{depth}", num_frames, in_channels, kw.pop("crop_size", 224))
    cfg["shift_div"] = shift_div
    dropout, partial_bn = kw.pop("dropout", TSM_DROPOUT), kw.pop("partial_bn", False)
    reject_unknown_kwargs(f"tsm_resnet{depth}", kw, TSM_OPTIONS)
    return TSM(backbone, nf, num_classes, num_frames, dropout, cfg, partial_bn=partial_bn)


@register_model(options=TSN_OPTIONS)
def tsn_resnet18(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TSN:
    """TSN, ResNet-18 backbone."""
    return _tsn(18, num_classes, num_frames, in_channels, **kw)


@register_model(options=TSN_OPTIONS)
def tsn_resnet34(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TSN:
    """TSN, ResNet-34 backbone."""
    return _tsn(34, num_classes, num_frames, in_channels, **kw)


@register_model(options=TSN_OPTIONS)
def tsn_resnet50(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TSN:
    """TSN, ResNet-50 backbone."""
    return _tsn(50, num_classes, num_frames, in_channels, **kw)


@register_model(options=TSN_OPTIONS)
def tsn_resnet101(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TSN:
    """TSN, ResNet-101 backbone."""
    return _tsn(101, num_classes, num_frames, in_channels, **kw)


@register_model(options=TSM_OPTIONS)
def tsm_resnet18(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TSM:
    """TSM (shift_div 8, blockres), ResNet-18 backbone."""
    return _tsm(18, num_classes, num_frames, in_channels, **kw)


@register_model(options=TSM_OPTIONS)
def tsm_resnet34(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TSM:
    """TSM (shift_div 8, blockres), ResNet-34 backbone."""
    return _tsm(34, num_classes, num_frames, in_channels, **kw)


@register_model(options=TSM_OPTIONS)
def tsm_resnet50(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TSM:
    """TSM (shift_div 8, blockres), ResNet-50 backbone."""
    return _tsm(50, num_classes, num_frames, in_channels, **kw)


@register_model(options=TSM_OPTIONS)
def tsm_resnet101(num_classes: int, num_frames: int, in_channels: int = 3, **kw) -> TSM:
    """TSM (shift_div 8, blockres, every other block as upstream), ResNet-101 backbone."""
    return _tsm(101, num_classes, num_frames, in_channels, **kw)
