# Noisy synthetic motion: the synthetic motion dataset with symmetric label noise in its training split,
# for label-correction methods such as ProSelfLC (CVPR 2021). A fraction `noise_rate` of the training
# videos (chosen with a fixed seed) gets a label drawn uniformly from the *other* classes; validation
# labels stay clean. The videos are the synthetic dataset's; only split files are added, next to its own
# (splits/noisy<percent>_train.csv). $VAI_NOISE_RATE changes the rate (default 0.4): a whole percentage
# (0.00, 0.01, ..., 0.99), so each rate has its own split file.
import os
import random

from vai_data import SplitRow, read_split_file, write_split_file

include("synthetic_motion.py")

try:
    noise_rate = float(os.environ.get("VAI_NOISE_RATE", "0.4"))
except ValueError:
    raise ValueError(f"VAI_NOISE_RATE={os.environ['VAI_NOISE_RATE']!r} is not a number in [0, 1)") from None
if not 0.0 <= noise_rate < 1.0:
    raise ValueError(f"VAI_NOISE_RATE={noise_rate} must be in [0, 1)")
_noise_percent = round(noise_rate * 100)
if abs(noise_rate * 100 - _noise_percent) > 1e-9:
    raise ValueError(
        f"VAI_NOISE_RATE={os.environ['VAI_NOISE_RATE']!r} is not a whole percentage: use steps of 0.01 (e.g."
        f" {_noise_percent / 100}), the split file noisy<percent>_train.csv is named by it"
    )
noise_rate = _noise_percent / 100  # exactly the rate the file name says
noise_seed = 0

_noisy_basename = f"noisy{_noise_percent}_train.csv"
split_file_basename = {
    "train": _noisy_basename,
    "traindata_testmode": _noisy_basename,
    "val": "val.csv",
    "multicropval": "val.csv",
}
split2mode = {"train": "train", "traindata_testmode": "test", "val": "test", "multicropval": "test"}

_base_ensure_data = ensure_data


def noisy_labels(labels, rate=None, seed=None):
    """Each label replaced, with probability ``rate``, by one drawn uniformly from the other classes."""
    rate = noise_rate if rate is None else rate
    rng = random.Random(noise_seed if seed is None else seed)
    out = []
    for label in labels:
        if rng.random() < rate:
            label = rng.choice([c for c in range(num_classes) if c != label])
        out.append(label)
    return out


def ensure_data():
    """The synthetic videos plus the noisy training split (rewritten atomically; same content each time)."""
    root = _base_ensure_data()
    splits = root / "splits"
    train = read_split_file(splits / "train.csv")
    labels = noisy_labels([r.label for r in train.rows])
    rows = [
        SplitRow(r.path, r.video_id, y, r.start, r.end, r.width, r.height)
        for r, y in zip(train.rows, labels, strict=True)
    ]
    write_split_file(splits / _noisy_basename, rows, train.fmt, 0)
    return root
