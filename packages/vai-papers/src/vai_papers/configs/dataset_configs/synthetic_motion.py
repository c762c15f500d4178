# Built-in synthetic motion dataset: classes that only motion tells apart (see vai_data.synth).
# Data lives in $VAI_DATA_ROOT/synthetic_motion (default ./data) and is generated on first use.
import os
from pathlib import Path

from vai_data.synth import SYNTH_CLASSES, SYNTH_FLIP_LABEL_MAP, make_synthetic_dataset

task = "single_label"
class_keys = list(SYNTH_CLASSES)
num_classes = len(class_keys)
# a mirrored clip of "moving left" is "moving right": the flip swaps such labels (flip_label_map)
horizontal_flip = True

split_file_basename = {"train": "train.csv", "val": "val.csv", "multicropval": "val.csv"}
split2mode = {"train": "train", "val": "test", "multicropval": "test"}

# generation parameters: small frames so that the demo trains from scratch on CPU in minutes
try:
    num_videos = int(os.environ.get("VAI_SYNTH_NUM_VIDEOS", "600"))
except ValueError:
    raise ValueError(
        f"VAI_SYNTH_NUM_VIDEOS={os.environ['VAI_SYNTH_NUM_VIDEOS']!r} is not a whole number of videos"
    ) from None
num_video_frames = 16
frame_size = (48, 48)
seed = 0


def data_dir() -> Path:
    """Where the dataset lives: $VAI_DATA_ROOT/synthetic_motion (default ./data/synthetic_motion)."""
    return Path(os.environ.get("VAI_DATA_ROOT", "./data")).expanduser().resolve() / "synthetic_motion"


def ensure_data() -> Path:
    """Generate the dataset if it is missing or half-written; return its directory."""
    out = data_dir()
    if out.parent.exists() and not out.parent.is_dir():
        raise NotADirectoryError(f"VAI_DATA_ROOT={str(out.parent)!r} is a file, not a directory")
    make_synthetic_dataset(
        out, num_videos=num_videos, num_frames=num_video_frames, size=frame_size, seed=seed, fmt="video"
    )
    return out


def flip_label_map() -> dict:
    """Label permutation applied together with a horizontal flip (left<->right, cw<->anticlockwise)."""
    return dict(SYNTH_FLIP_LABEL_MAP)
