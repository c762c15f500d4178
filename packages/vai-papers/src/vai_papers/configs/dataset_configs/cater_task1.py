# CATER task 1 (actions_present): 14 multi-label classes, the atomic actions "<object>_<movement>".
# Prepared with `vai-data splits cater ... --task 1` (train.csv, val.csv, and train_subsetT.csv /
# train_subsetV.csv when the lists folder has them; header 14, labels "3,13"; classes.txt from CATER's
# class definitions); data in $VAI_CATER_TASK1_ROOT, else $VAI_DATA_ROOT/cater_task1.
dataset_name = "cater_task1"
task = "multi_label"
num_classes = 14
split_file_basename = {
    "train": "train.csv",
    "val": "val.csv",
    "multicropval": "val.csv",
    "traindata_testmode": "train.csv",
    "train_subsetT": "train_subsetT.csv",
    "train_subsetV": "train_subsetV.csv",
}
split2mode = {
    "train": "train",
    "val": "test",
    "multicropval": "test",
    "traindata_testmode": "test",
    "train_subsetT": "train",
    "train_subsetV": "test",
}
horizontal_flip = True  # as upstream: no class names a direction
split_notes = {
    "train_subsetT": "written only when the lists folder has train_subsetT.txt",
    "train_subsetV": "written only when the lists folder has train_subsetV.txt",
}
storages = ("frames", "video", "gulp", "packed", "lmdb")
prepare_command = (
    "vai-data splits cater CATER/lists/actions_present --task 1 -o {splits} --frames-root {root}/frames"
)

include("_prepared_dataset.py")


def flip_label_map() -> dict:
    """No class changes under a horizontal flip."""
    return {}
