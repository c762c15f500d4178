# Verb ambiguity (BMVC 2022) on EPIC-Kitchens-100 verbs, feature runs at full scale: the feature MLP on the
# `ce` model's TSM features, one single-positive loss per file (`loss_type`), 500 epochs at most; recipe,
# feature files and their variables in ../_verbambig_features_base.py, metrics (EK-100-SPMV: holdoutval
# top-1 is the best metric) in _epic100_spmv_metrics.py.
#   vai-train feature -D epic100_verb -M tsm_resnet50 -c:e verbambig -E ce -l -2 -s traindata_testmode
#   vai-train feature -D epic100_verb -M tsm_resnet50 -c:e verbambig -E ce -l -2 -s val
#   export VAI_FEATURES_DIR=<that ce run>/predictions
#   vai-train train -D epic100_verb -M feature_mlp -c:e verbambig -E mask_binary_ce
num_epochs = 500

include("../_verbambig_features_base.py")
include("_epic100_spmv_metrics.py")
