"""Shared fixtures: tiny synthetic videos and frame folders generated once per session."""

from __future__ import annotations

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


def gradient_frames(num_frames: int = 12, h: int = 48, w: int = 64) -> np.ndarray:
    """Frames whose content identifies the frame number (a bright bar at x = 4*t) on a gradient."""
    out = np.zeros((num_frames, h, w, 3), dtype=np.uint8)
    out[..., 1] = np.linspace(0, 120, w, dtype=np.uint8)[None, None, :]
    for t in range(num_frames):
        out[t, :, (4 * t) % w : (4 * t) % w + 4, 0] = 255
        out[t, :4, :, 2] = (20 * t) % 256
    return out


@pytest.fixture(scope="session")
def frames_array() -> np.ndarray:
    return gradient_frames()


@pytest.fixture(scope="session")
def make_gradient_frames():
    """``gradient_frames`` as a fixture (tests must not import conftest: the name clashes across packages)."""
    return gradient_frames


@pytest.fixture(scope="session")
def video_file(tmp_path_factory, frames_array) -> str:
    from vai_data.synth import write_mp4

    path = tmp_path_factory.mktemp("vid") / "clip.mp4"
    write_mp4(str(path), frames_array)
    return str(path)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> str:
    from vai_data import make_synthetic_dataset

    root = tmp_path_factory.mktemp("synth")
    make_synthetic_dataset(root, num_videos=16, num_frames=8, size=(32, 32), seed=3, fmt="both")
    return str(root)
