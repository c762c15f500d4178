# Something-Something v2: 174 classes (the template without brackets), .webm videos (the official
# download). Prepared with `vai-data splits something-v2` (train.csv, val.csv, classes.txt in labels.json's
# order; test.csv too with --test-answers); data in $VAI_SOMETHING_V2_ROOT, else $VAI_DATA_ROOT/something_v2.
dataset_name = "something_v2"
task = "single_label"
num_classes = 174
split_file_basename = {
    "train": "train.csv",
    "val": "val.csv",
    "multicropval": "val.csv",
    "traindata_testmode": "train.csv",
    "test": "test.csv",
}
split2mode = {
    "train": "train",
    "val": "test",
    "multicropval": "test",
    "traindata_testmode": "test",
    "test": "test",
}
split_notes = {"test": "written only with --test-answers test-answers.csv"}
storages = ("video", "frames", "gulp", "packed", "lmdb")
prepare_command = "vai-data splits something-v2 LABELS_DIR -o {splits} --videos-root {root}/videos"
prepare_note = "LABELS_DIR: labels.json, train.json, validation.json"

include("_prepared_dataset.py")
include("_something_something.py")  # horizontal_flip = False, flip_label_map()
