# UCF-101 (splits 1-3): 101 classes. Prepared with `vai-data splits ucf101` (train<k>.csv, test<k>.csv for
# k = 1, 2, 3; classes.txt in classInd.txt's order); data in $VAI_UCF101_ROOT, else $VAI_DATA_ROOT/ucf101.
# $VAI_SPLITNUM (1, 2 or 3; default 1) picks the split, as for hmdb.
import os

dataset_name = "ucf101"
task = "single_label"
num_classes = 101

_splitnum = os.environ.get("VAI_SPLITNUM", "").strip() or "1"
if _splitnum not in ("1", "2", "3"):
    raise ValueError(f"VAI_SPLITNUM={_splitnum!r}: UCF-101 has splits 1, 2 and 3")
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
prepare_command = "vai-data splits ucf101 ucfTrainTestlist -o {splits} --frames-root {root}/frames"

include("_prepared_dataset.py")


def flip_label_map() -> dict:
    """No class changes under a horizontal flip."""
    return {}
