# Something-Something v1: 174 object-interaction classes, 1-based JPEG frame folders (the official
# download). Prepared with `vai-data splits something-v1` (train.csv, val.csv, classes.txt in the labels
# file's order); data in $VAI_SOMETHING_V1_ROOT, else $VAI_DATA_ROOT/something_v1 (see _prepared_dataset.py).
dataset_name = "something_v1"
task = "single_label"
num_classes = 174
# no test split: its labels were never published
split_file_basename = {
    "train": "train.csv",
    "val": "val.csv",
    "multicropval": "val.csv",
    "traindata_testmode": "train.csv",
}
split2mode = {"train": "train", "val": "test", "multicropval": "test", "traindata_testmode": "test"}
storages = ("frames", "video", "gulp", "packed", "lmdb")
prepare_command = "vai-data splits something-v1 ANNOTATIONS_DIR -o {splits} --frames-root {root}/frames"
prepare_note = "ANNOTATIONS_DIR: something-something-v1-{labels,train,validation}.csv"

include("_prepared_dataset.py")
include("_something_something.py")  # horizontal_flip = False, flip_label_map()
