# CATER task 2 (actions_order_uniq): 301 multi-label classes "<action> <before|during|after> <action>".
# Prepared with `vai-data splits cater ... --task 2` (train.csv, val.csv, and train_subsetT.csv /
# train_subsetV.csv when the lists folder has them; header 301, labels "3,17"; classes.txt from CATER's
# class definitions); data in $VAI_CATER_TASK2_ROOT, else $VAI_DATA_ROOT/cater_task2.
dataset_name = "cater_task2"
task = "multi_label"
num_classes = 301
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
    "vai-data splits cater CATER/lists/actions_order_uniq --task 2 -o {splits} --frames-root {root}/frames"
)

include("_prepared_dataset.py")


def flip_label_map() -> dict:
    """No class changes under a horizontal flip."""
    return {}
