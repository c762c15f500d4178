# Verb ambiguity (BMVC 2022) on Confusing-HMDB-102, feature runs at full scale: the feature MLP on the `ce`
# model's TSM features, one single-positive loss per file (`loss_type`, ideal_* included), 1000 epochs at
# most; recipe, feature files and their variables in ../_verbambig_features_base.py. Validation on `val`
# (test<k>.csv features, multi-label "c,c+51"): top-set, top-1 multi-label, IoU (the best metric for feature
# runs, as upstream), F1 and mAP. $VAI_SPLITNUM picks the split, as for the ce run the features came from.
#   vai-train feature -D confusing_hmdb_102 -M tsm_resnet50 -c:e verbambig -E ce -l -2 -s traindata_testmode
#   vai-train feature -D confusing_hmdb_102 -M tsm_resnet50 -c:e verbambig -E ce -l -2 -s val
#   export VAI_FEATURES_DIR=<that ce run>/predictions
#   vai-train train -D confusing_hmdb_102 -M feature_mlp -c:e verbambig -E ideal_mask_binary_ce
num_epochs = 1000

include("../_verbambig_features_base.py")

metrics = {"train": train_metrics(), "val": multilabel_metrics("val")}
best_metric = "val_iou_accuracy"
