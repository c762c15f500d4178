# CATER task 1 (actions_present): 14 multi-label classes, the atomic actions "<object>_<movement>".
# Prepared with `vai-data splits cater ... --task 1` (train.csv, val.csv, and train_subsetT.csv /
# train_subsetV.csv when the lists folder has them; header 14, labels "3,13"; classes.txt from CATER's
# class definitions); data in $VAI_CATER_TASK1_ROOT, else $VAI_DATA_ROOT/cater_task1.
dataset_name = "cater_task1"
num_classes = 14
cater_task = 1
cater_lists = "actions_present"

include("_cater.py")
