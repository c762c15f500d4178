# What the two Diving48 dataset configs share (diving48.py: V1 labels, diving48_v2.py: the cleaned V2 labels):
# 48 dive classes, trimmed videos rgb/<vid_name>.mp4, prepared with `vai-data splits diving48 --version N`
# (train.csv, test.csv; classes.txt from Diving48_vocab.json). A config sets dataset_name and
# diving48_version, then includes this file.
_v2 = "_V2" if diving48_version == 2 else ""
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
prepare_command = f"vai-data splits diving48 ANNOTATIONS_DIR --version {diving48_version} -o {{splits}} --videos-root {{root}}/videos"
prepare_note = f"ANNOTATIONS_DIR: Diving48{_v2}_{{train,test}}.json and Diving48_vocab.json"
classes_hint = " (it is written only when Diving48_vocab.json lies next to the json lists)"

include("_prepared_dataset.py")
