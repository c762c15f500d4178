# Kinetics-400: 400 classes, labels in sorted class-name order. Prepared with `vai-data splits kinetics400`
# (train.csv, val.csv, and test.csv when its csv has labels; classes.txt); data in $VAI_KINETICS400_ROOT,
# else $VAI_DATA_ROOT/kinetics400. The generator has no gulp mode.
dataset_name = "kinetics400"
task = "single_label"
num_classes = 400
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
horizontal_flip = True
split_notes = {"test": "written only from a test.csv with a label column"}
storages = ("video", "frames", "packed", "lmdb")
prepare_command = "vai-data splits kinetics400 k400/annotations -o {splits} --videos-root {root}/videos"
prepare_note = "k400/annotations: the official train.csv, validate.csv (or val.csv), test.csv"

include("_prepared_dataset.py")
