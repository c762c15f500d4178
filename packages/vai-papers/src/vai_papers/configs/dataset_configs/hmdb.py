# HMDB-51 (splits 1-3): 51 classes. Prepared with `vai-data splits hmdb51` (train<k>.csv, test<k>.csv for
# k = 1, 2, 3; classes.txt in sorted order); data in $VAI_HMDB_ROOT, else $VAI_DATA_ROOT/hmdb.
# $VAI_SPLITNUM (1, 2 or 3; default 1) picks the split, as upstream's verb-ambiguity configs.
dataset_name = "hmdb"
task = "single_label"
num_classes = 51

dataset_title = "HMDB-51"
include("_three_split_lists.py")
horizontal_flip = True  # as upstream
storages = ("frames", "video", "gulp", "packed", "lmdb")
prepare_command = "vai-data splits hmdb51 testTrainMulti_7030_splits -o {splits} --frames-root {root}/frames"

include("_prepared_dataset.py")
