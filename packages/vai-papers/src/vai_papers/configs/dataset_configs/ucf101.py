# UCF-101 (splits 1-3): 101 classes. Prepared with `vai-data splits ucf101` (train<k>.csv, test<k>.csv for
# k = 1, 2, 3; classes.txt in classInd.txt's order); data in $VAI_UCF101_ROOT, else $VAI_DATA_ROOT/ucf101.
# $VAI_SPLITNUM (1, 2 or 3; default 1) picks the split, as for hmdb.
dataset_name = "ucf101"
task = "single_label"
num_classes = 101

dataset_title = "UCF-101"
include("_three_split_lists.py")
horizontal_flip = True  # as upstream
storages = ("frames", "video", "gulp", "packed", "lmdb")
prepare_command = "vai-data splits ucf101 ucfTrainTestlist -o {splits} --frames-root {root}/frames"

include("_prepared_dataset.py")
