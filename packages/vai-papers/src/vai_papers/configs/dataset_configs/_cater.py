# What the two CATER dataset configs share (cater_task1.py: actions_present, cater_task2.py:
# actions_order_uniq): multi-label, prepared with `vai-data splits cater ... --task N` (train.csv, val.csv,
# and train_subsetT.csv / train_subsetV.csv when the lists folder has them; classes.txt from CATER's class
# definitions). A config sets dataset_name, num_classes, cater_task and cater_lists, then includes this file.
task = "multi_label"
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
prepare_command = f"vai-data splits cater CATER/lists/{cater_lists} --task {cater_task} -o {{splits}} --frames-root {{root}}/frames"

include("_prepared_dataset.py")
