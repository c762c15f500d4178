"""Clip transforms (uint8 ``(T, C, H, W)`` in, same random parameters for every frame) and normalisation."""

from .augment import (
    ColorJitter,
    MultiScaleCrop,
    RandAugment,
    RandomGrayscale,
    RandomResizedCrop,
    flip_label_map_from_names,
    grey_clip,
)
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
from .collate import collate_clips, is_channels_last_clip, stack_channels_last
from .mix import MixupCutmix, MixupCutmixCollate, soft_targets
from .normalize import GREY_COEFFS, DeviceNormalize, Normalize, rgb_to_grey

__all__ = [
    "ColorJitter",
    "MixupCutmix",
    "MixupCutmixCollate",
    "MultiScaleCrop",
    "RandAugment",
    "RandomGrayscale",
    "RandomResizedCrop",
    "flip_label_map_from_names",
    "grey_clip",
    "soft_targets",
    "collate_clips",
    "is_channels_last_clip",
    "stack_channels_last",
    "NUM_SPATIAL_CROPS",
    "GREY_COEFFS",
    "CenterCrop",
    "ClipTransform",
    "Compose",
    "DeviceNormalize",
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
