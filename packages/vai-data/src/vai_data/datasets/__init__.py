"""Datasets returning the DESIGN.md sample dict."""

from .resilience import BAD_SAMPLE_POLICIES, BadSampleTracker, sample_seed
from .video_clip import VideoClipDataset

__all__ = ["BAD_SAMPLE_POLICIES", "BadSampleTracker", "VideoClipDataset", "sample_seed"]
