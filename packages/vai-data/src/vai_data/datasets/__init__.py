"""Datasets returning the DESIGN.md sample dict."""

from .feature import FeatureDataset
from .image import ImageDataset
from .resilience import BAD_SAMPLE_POLICIES, BadSampleTracker, sample_seed
from .video_clip import VideoClipDataset, detect_storage

__all__ = [
    "BAD_SAMPLE_POLICIES",
    "BadSampleTracker",
    "FeatureDataset",
    "ImageDataset",
    "VideoClipDataset",
    "detect_storage",
    "sample_seed",
]
