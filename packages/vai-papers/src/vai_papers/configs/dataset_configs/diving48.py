# Diving48 (V1 labels, as upstream's `diving48` config; diving48_v2 has the cleaned V2 labels): 48 dive
# classes, trimmed videos rgb/<vid_name>.mp4. Prepared with `vai-data splits diving48 --version 1`
# (train.csv, test.csv; classes.txt from Diving48_vocab.json); data in $VAI_DIVING48_ROOT, else
# $VAI_DATA_ROOT/diving48.
dataset_name = "diving48"
task = "single_label"
num_classes = 48
# Diving48 has no separate validation set: val is the official test list, as upstream
split_file_basename = {
    "train": "train.csv",
    "val": "test.csv",
    "multicropval": "test.csv",
    "traindata_testmode": "train.csv",
}
split2mode = {"train": "train", "val": "test", "multicropval": "test", "traindata_testmode": "test"}
horizontal_flip = True  # as upstream
storages = ("video", "frames", "gulp", "packed", "lmdb")
prepare_command = (
    "vai-data splits diving48 ANNOTATIONS_DIR --version 1 -o {splits} --videos-root {root}/videos"
)
prepare_note = "ANNOTATIONS_DIR: Diving48_{train,test}.json and Diving48_vocab.json"
classes_hint = " (it is written only when Diving48_vocab.json lies next to the json lists)"

include("_prepared_dataset.py")


def flip_label_map() -> dict:
    """No class changes under a horizontal flip."""
    return {}
