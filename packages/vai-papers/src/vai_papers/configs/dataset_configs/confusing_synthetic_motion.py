# Confusing synthetic motion: the verb-ambiguity benchmark built from the synthetic motion dataset the
# way Confusing-HMDB-102 is built from HMDB-51 (see docs/datasets.md). Every class c gets a twin c + 8:
# each training video is labelled c or c + 8 at random (one positive of two correct ones), and the
# validation videos carry both (multi-label).  The videos are the synthetic dataset's; only split files
# are added, next to its own (splits/confusing2_*.csv).
import random

from vai_data import SplitRow, read_split_file, write_split_file

include("synthetic_motion.py")

task = "multi_label"
confusion = 2  # copies of each class (Confusing-HMDB-102: 2 x 51)
_base_classes = list(class_keys)
_num_base = len(_base_classes)
class_keys = _base_classes + [f"{k}_{copy + 1}" for copy in range(1, confusion) for k in _base_classes]
num_classes = len(class_keys)
label_seed = 12  # upstream's --seed for Confusing-HMDB

split_file_basename = {
    "train": "confusing2_train.csv",
    "traindata_testmode": "confusing2_train.csv",
    "val": "confusing2_val.csv",
    "multicropval": "confusing2_val.csv",
}
split2mode = {"train": "train", "traindata_testmode": "test", "val": "test", "multicropval": "test"}

_base_ensure_data = ensure_data
_base_flip_label_map = flip_label_map


def ensure_data():
    """The synthetic videos plus the confusing split files (rewritten atomically; same content each time)."""
    root = _base_ensure_data()
    splits = root / "splits"
    train = read_split_file(splits / "train.csv")
    rng = random.Random(label_seed)
    relabelled = [
        SplitRow(
            r.path,
            r.video_id,
            r.label + _num_base * rng.randint(0, confusion - 1),
            r.start,
            r.end,
            r.width,
            r.height,
        )
        for r in train.rows
    ]
    write_split_file(splits / split_file_basename["train"], relabelled, train.fmt, 0)
    val = read_split_file(splits / "val.csv")
    twins = [
        SplitRow(
            r.path,
            r.video_id,
            tuple(r.label + _num_base * copy for copy in range(confusion)),
            r.start,
            r.end,
            r.width,
            r.height,
        )
        for r in val.rows
    ]
    write_split_file(splits / split_file_basename["val"], twins, val.fmt, num_classes)
    return root


def flip_label_map():
    """The synthetic flip map applied within every copy of the classes (c + 8 -> flip(c) + 8)."""
    base = _base_flip_label_map()
    return {c + _num_base * copy: base[c] + _num_base * copy for copy in range(confusion) for c in base}
