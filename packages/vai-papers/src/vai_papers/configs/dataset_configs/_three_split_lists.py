# The three official train/test splits of HMDB-51 and UCF-101 (and Confusing-HMDB-102): $VAI_SPLITNUM (1, 2
# or 3; default 1) picks one, as upstream's configs; val is its test list, as upstream. A dataset config
# sets `dataset_title` (for the error line) and includes this file before _prepared_dataset.py.
import os

_splitnum = os.environ.get("VAI_SPLITNUM", "").strip() or "1"
if _splitnum not in ("1", "2", "3"):
    raise ValueError(f"VAI_SPLITNUM={_splitnum!r}: {dataset_title} has splits 1, 2 and 3")
split_num = int(_splitnum)
split_file_basename = {
    "train": f"train{split_num}.csv",
    "val": f"test{split_num}.csv",
    "multicropval": f"test{split_num}.csv",
    "traindata_testmode": f"train{split_num}.csv",
}
split2mode = {"train": "train", "val": "test", "multicropval": "test", "traindata_testmode": "test"}
