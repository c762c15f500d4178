# Something-Something v2: 174 classes (the template without brackets), .webm videos (the official
# download). Prepared with `vai-data splits something-v2` (train.csv, val.csv, classes.txt in labels.json's
# order; test.csv too with --test-answers); data in $VAI_SOMETHING_V2_ROOT, else $VAI_DATA_ROOT/something_v2.
from vai_data.transforms.augment import flip_label_map_from_names

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
# upstream trains Something-Something without flipping: a mirrored "left to right" is "right to left"
horizontal_flip = False
split_notes = {"test": "written only with --test-answers test-answers.csv"}
storages = ("video", "frames", "gulp", "packed", "lmdb")
prepare_command = "vai-data splits something-v2 LABELS_DIR -o {splits} --videos-root {root}/videos"
prepare_note = "LABELS_DIR: labels.json, train.json, validation.json"

include("_prepared_dataset.py")


def flip_label_map() -> dict:
    """Mirror classes for a horizontal flip ("... left to right" <-> "... right to left"), from the class
    names; used only by exp configs that turn horizontal_flip on."""
    return flip_label_map_from_names(read_class_keys())
