# Confusing-HMDB-102, the verb-ambiguity benchmark built from HMDB-51: every class c has a twin c + 51;
# each train clip is labelled with one of the two at random (seed 12), each test clip with both.
# Prepared with `vai-data splits hmdb51 --confusion 2` (train<k>.csv with header 0, test<k>.csv multi-label
# with header 102 and labels "c,c+51"; classes.txt: the 51 names, then <name>_2); data in
# $VAI_CONFUSING_HMDB_102_ROOT, else $VAI_DATA_ROOT/confusing_hmdb_102: its media are HMDB-51's (make
# frames/ a symlink to the hmdb folder's). $VAI_SPLITNUM (1, 2 or 3; default 1) picks the split.
# task is single_label as upstream: training sees one positive per clip, and the verb-ambiguity exp configs
# set their own criterion and metrics for the multi-label val rows.
dataset_name = "confusing_hmdb_102"
task = "single_label"
num_classes = 102

dataset_title = "Confusing-HMDB-102"
include("_three_split_lists.py")
horizontal_flip = True  # as upstream (hmdb)
storages = ("frames", "video", "gulp", "packed", "lmdb")
prepare_command = (
    "vai-data splits hmdb51 testTrainMulti_7030_splits --confusion 2 -o {splits} --frames-root {root}/frames"
)

include("_prepared_dataset.py")
