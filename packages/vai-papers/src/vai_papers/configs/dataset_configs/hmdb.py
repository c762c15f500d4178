# HMDB-51 (splits 1-3): 51 classes. Prepared with `vai-data splits hmdb51` (train<k>.csv, test<k>.csv for
# k = 1, 2, 3; classes.txt in sorted order); data in $VAI_HMDB_ROOT, else $VAI_DATA_ROOT/hmdb.
# $VAI_SPLITNUM (1, 2 or 3; default 1) picks the split, as upstream's verb-ambiguity configs.
import os

dataset_name = "hmdb"
task = "single_label"
num_classes = 51

_splitnum = os.environ.get("VAI_SPLITNUM", "").strip() or "1"
if _splitnum not in ("1", "2", "3"):
    raise ValueError(f"VAI_SPLITNUM={_splitnum!r}: HMDB-51 has splits 1, 2 and 3")
split_num = int(_splitnum)
# val is the official test list, as upstream
split_file_basename = {
    "train": f"train{split_num}.csv",
    "val": f"test{split_num}.csv",
    "multicropval": f"test{split_num}.csv",
    "traindata_testmode": f"train{split_num}.csv",
}
split2mode = {"train": "train", "val": "test", "multicropval": "test", "traindata_testmode": "test"}
horizontal_flip = True  # as upstream
storages = ("frames", "video", "gulp", "packed", "lmdb")
prepare_command = "vai-data splits hmdb51 testTrainMulti_7030_splits -o {splits} --frames-root {root}/frames"

include("_prepared_dataset.py")


def flip_label_map() -> dict:
    """No class changes under a horizontal flip."""
    return {}
