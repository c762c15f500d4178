# CATER task 2 (actions_order_uniq): 301 multi-label classes "<action> <before|during|after> <action>".
# Prepared with `vai-data splits cater ... --task 2` (train.csv, val.csv, and train_subsetT.csv /
# train_subsetV.csv when the lists folder has them; header 301, labels "3,17"; classes.txt from CATER's
# class definitions); data in $VAI_CATER_TASK2_ROOT, else $VAI_DATA_ROOT/cater_task2.
dataset_name = "cater_task2"
num_classes = 301
cater_task = 2
cater_lists = "actions_order_uniq"

include("_cater.py")
