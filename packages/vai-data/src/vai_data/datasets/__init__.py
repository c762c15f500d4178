"""Datasets returning the DESIGN.md sample dict."""

from .feature import FeatureDataset
from .image import ImageDataset
from .resilience import BAD_SAMPLE_POLICIES, BadSampleTracker, sample_seed
from .storage import detect_storage
from .video_clip import VideoClipDataset

__all__ = [
    "BAD_SAMPLE_POLICIES",
    "BadSampleTracker",
    "FeatureDataset",
    "ImageDataset",
    "VideoClipDataset",
    "detect_storage",
    "sample_seed",
]
