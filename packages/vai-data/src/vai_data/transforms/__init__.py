"""Clip transforms (uint8 ``(T, C, H, W)`` in, same random parameters for every frame) and normalisation."""

from .clip import (
    NUM_SPATIAL_CROPS,
    CenterCrop,
    ClipTransform,
    Compose,
    RandomCrop,
    RandomHorizontalFlip,
    RandomShortSideScale,
    ShortSideScale,
    SpatialCrop,
    scaled_random_crop,
    short_side_size,
    spatial_crop,
    to_tchw,
    to_thwc,
)
from .normalize import GREY_COEFFS, Normalize, rgb_to_grey

__all__ = [
    "NUM_SPATIAL_CROPS",
    "GREY_COEFFS",
    "CenterCrop",
    "ClipTransform",
    "Compose",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomShortSideScale",
    "ShortSideScale",
    "SpatialCrop",
    "rgb_to_grey",
    "scaled_random_crop",
    "short_side_size",
    "spatial_crop",
    "to_tchw",
    "to_thwc",
]
